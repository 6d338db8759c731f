// The credentials of the process at the other end of a connected unix socket, as
// the kernel recorded them when it connected: SO_PEERCRED (pid, uid, gid) and
// SO_PEERGROUPS (supplementary groups). Both come from the socket itself, so there is
// no /proc lookup that a process could race by exiting and being replaced.
#ifndef PVMD_DAEMON_ACCESS_PEER_CREDENTIALS_H_
#define PVMD_DAEMON_ACCESS_PEER_CREDENTIALS_H_

#include <mutex>
#include <optional>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/access/access_policy.h"

namespace pvm::access {

// Errors: not a connected unix socket, or a kernel without SO_PEERGROUPS (< 4.13).
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int socket_fd);

// The credentials of every connection the acceptor handed to gRPC, by fd number:
// what the call side sees of such a connection is its peer string "fd:N" (gRPC 1.51's
// name for a channel added with AddInsecureChannelFromFd).
//
// The acceptor records a connection before it hands the fd to gRPC, replacing what
// a closed connection with the same number left, so a call on "fd:N" finds the
// connection that is on N now. No call can find a previous owner of N either: gRPC
// closes a connection's fd only when its transport is destroyed, which waits for
// every call on it to end, and each call is checked when its handler starts.
class PeerRegistry {
 public:
  void Record(int fd, PeerCredentials credentials);
  std::optional<PeerCredentials> Find(int fd) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<int, PeerCredentials> by_fd_;
};

// N of a peer string "fd:N"; nullopt for any other peer ("ipv4:...", "unix:...").
std::optional<int> FdOfPeer(absl::string_view peer);

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_PEER_CREDENTIALS_H_
