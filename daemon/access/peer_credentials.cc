#include "daemon/access/peer_credentials.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::access {

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int socket_fd) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return vmm::ErrnoStatus(errno, "getsockopt(SO_PEERCRED)");
  }
  PeerCredentials peer{
      .pid = credentials.pid, .uid = credentials.uid, .gid = credentials.gid, .groups = {}};
  // ERANGE says how much room the list needs; a process has at most NGROUPS_MAX
  // (65536) groups, so this ends.
  peer.groups.resize(64);
  for (;;) {
    length = static_cast<socklen_t>(peer.groups.size() * sizeof(gid_t));
    if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, peer.groups.data(), &length) == 0) {
      peer.groups.resize(length / sizeof(gid_t));
      return peer;
    }
    if (errno != ERANGE || length / sizeof(gid_t) <= peer.groups.size()) {
      return vmm::ErrnoStatus(errno, "getsockopt(SO_PEERGROUPS)");
    }
    peer.groups.resize(length / sizeof(gid_t));
  }
}

void PeerRegistry::Record(int fd, PeerCredentials credentials) {
  std::lock_guard lock(mutex_);
  by_fd_.insert_or_assign(fd, std::move(credentials));
}

std::optional<PeerCredentials> PeerRegistry::Find(int fd) const {
  std::lock_guard lock(mutex_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

std::optional<int> FdOfPeer(absl::string_view peer) {
  constexpr absl::string_view kPrefix = "fd:";
  int fd = -1;
  if (!absl::StartsWith(peer, kPrefix) || !absl::SimpleAtoi(peer.substr(kPrefix.size()), &fd) ||
      fd < 0) {
    return std::nullopt;
  }
  return fd;
}

}  // namespace pvm::access
