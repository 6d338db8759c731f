// The API's unix socket: its directory, a stale file left by a dead daemon, and
// its permissions.
#ifndef PVMD_DAEMON_UNIX_SOCKET_H_
#define PVMD_DAEMON_UNIX_SOCKET_H_

#include <string>

#include "absl/status/status.h"

namespace pvm {

// Creates the parent directory and removes a socket file nobody listens on.
// FAILED_PRECONDITION when a live server answers there, or the path is not a socket.
absl::Status PrepareSocketPath(const std::string& path);

absl::Status SetSocketMode(const std::string& path, unsigned mode);

}  // namespace pvm

#endif  // PVMD_DAEMON_UNIX_SOCKET_H_
