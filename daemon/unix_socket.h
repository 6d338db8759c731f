// The API's unix socket: its directory, a stale file left by a dead daemon, and
// its permissions.
#ifndef PVMD_DAEMON_UNIX_SOCKET_H_
#define PVMD_DAEMON_UNIX_SOCKET_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"

namespace pvm {

// Creates the parent directory and removes a socket file nobody listens on.
// FAILED_PRECONDITION when a live server answers there, or the path is not a socket.
absl::Status PrepareSocketPath(const std::string& path);

// A listening, non-blocking, close-on-exec unix stream socket bound at `path`
// (PrepareSocketPath first). The file has `mode` from the moment it exists (bound
// under a umask): pvmd accepts on it itself (FdAcceptor), so that every connection's
// peer credentials are read before gRPC serves it.
absl::StatusOr<vmm::UniqueFd> ListenOnUnixSocket(const std::string& path, unsigned mode);

// chown path to :gid, keeping the owner.
absl::Status SetSocketGroup(const std::string& path, gid_t gid);

}  // namespace pvm

#endif  // PVMD_DAEMON_UNIX_SOCKET_H_
