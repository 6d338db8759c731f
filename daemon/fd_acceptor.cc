#include "daemon/fd_acceptor.h"

#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace pvm {

absl::StatusOr<std::optional<ActivatedSocket>> TakeActivatedSocket() {
  // unset_environment: the VMs' threads and anything pvmd starts must not see them.
  const int count = sd_listen_fds(1);
  if (count < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the sockets systemd passed: ", std::strerror(-count)));
  }
  if (count == 0) {
    return std::nullopt;
  }
  if (count > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "systemd passed ", count, " sockets; pvmd.socket must have exactly one ListenStream="));
  }
  const int fd = SD_LISTEN_FDS_START;
  if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    return absl::FailedPreconditionError(
        "the socket systemd passed is not a listening unix stream socket (ListenStream=PATH)");
  }
  sockaddr_un address{};
  socklen_t length = sizeof(address);
  std::string path = "(unnamed)";
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
      length > offsetof(sockaddr_un, sun_path) && address.sun_path[0] != '\0') {
    path = address.sun_path;
  }
  return ActivatedSocket{fd, path};
}

FdAcceptor::FdAcceptor(int listen_fd, grpc::Server& server, access::PeerRegistry& peers)
    : listen_fd_(listen_fd), server_(server), peers_(peers), stop_(eventfd(0, EFD_CLOEXEC)) {
  thread_ = std::thread([this] { Run(); });
}

FdAcceptor::~FdAcceptor() {
  const uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof(one));
  thread_.join();
}

void FdAcceptor::Run() {
  pollfd fds[2] = {{.fd = listen_fd_, .events = POLLIN, .revents = 0},
                   {.fd = stop_.get(), .events = POLLIN, .revents = 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogDaemon(LogPriority::kError, "accepting connections: poll: ", std::strerror(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    if ((fds[0].revents & POLLIN) == 0) {
      continue;
    }
    const int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0) {
      // EAGAIN: another accept took it; ECONNABORTED: the client left; EMFILE and
      // ENFILE: out of fds for now, the client gets an error.
      if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) {
        LogDaemon(LogPriority::kWarning, "accept: ", std::strerror(errno));
      }
      continue;
    }
    absl::Cleanup close_connection = [connection] { ::close(connection); };
    absl::StatusOr<access::PeerCredentials> credentials = access::ReadPeerCredentials(connection);
    if (!credentials.ok()) {
      // Without credentials no call could be authorised: better no connection.
      LogDaemon(LogPriority::kWarning, "refusing a connection: ", credentials.status().message());
      continue;
    }
    // Before gRPC has the fd: a call on "fd:N" must never find what a closed
    // connection with the same number left behind.
    peers_.Record(connection, *std::move(credentials));
    std::move(close_connection).Cancel();
    grpc::AddInsecureChannelFromFd(&server_, connection);  // takes the fd
  }
}

}  // namespace pvm
