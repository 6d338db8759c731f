#include "tests/unit/access/connect_as.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace pvm::testing {

std::string RootUnavailableReason() {
  if (geteuid() == 0) return "";
  return absl::StrCat("needs root to connect as other users (euid ", geteuid(), ")");
}

absl::StatusOr<Connection> ConnectAs(const std::string& path, const Identity& who) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) return absl::InvalidArgumentError("path too long");
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  vmm::UniqueFd ours(channel[0]);
  vmm::UniqueFd theirs(channel[1]);
  const pid_t child = fork();
  if (child < 0) return absl::ErrnoToStatus(errno, "fork");
  if (child == 0) {
    // Only system calls here: the parent may have threads (gRPC's), and raw calls
    // change the credentials of this one-thread child without glibc's setxid dance.
    int result = 0;
    if (syscall(SYS_setgroups, who.groups.size(), who.groups.data()) != 0 ||
        syscall(SYS_setresgid, who.gid, who.gid, who.gid) != 0 ||
        syscall(SYS_setresuid, who.uid, who.uid, who.uid) != 0) {
      result = -errno;  // negative: could not become `who`
      (void)!write(theirs.get(), &result, sizeof(result));
      _exit(1);
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      result = errno;
      (void)!write(theirs.get(), &result, sizeof(result));
      _exit(0);
    }
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec payload{.iov_base = &result, .iov_len = sizeof(result)};
    msghdr message{};
    message.msg_iov = &payload;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    _exit(sendmsg(theirs.get(), &message, 0) == sizeof(result) ? 0 : 2);
  }
  theirs.Reset();
  int result = 0;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec payload{.iov_base = &result, .iov_len = sizeof(result)};
  msghdr message{};
  message.msg_iov = &payload;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const ssize_t received = recvmsg(ours.get(), &message, MSG_CMSG_CLOEXEC);
  const int receive_errno = errno;
  int child_status = 0;
  waitpid(child, &child_status, 0);
  if (received != sizeof(result)) {
    return absl::InternalError(absl::StrCat("the connecting child said nothing (",
                                            std::strerror(receive_errno), "), status ",
                                            child_status));
  }
  if (result < 0) return absl::ErrnoToStatus(-result, "becoming the test identity");
  if (result > 0) return absl::ErrnoToStatus(result, absl::StrCat("connect ", path));
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) {
    return absl::InternalError("the connecting child sent no fd");
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return Connection{.fd = vmm::UniqueFd(fd), .pid = child};
}

}  // namespace pvm::testing
