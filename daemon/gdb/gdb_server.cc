#include "daemon/gdb/gdb_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>

#include "daemon/gdb/gdb_session.h"
#include "daemon/log.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::gdb {
namespace {

// How often an idle server checks that its VM still exists.
constexpr int kVmCheckMs = 1000;

// A unix peer must be pvmd's own user (or root): the socket's mode says the same,
// but the mode is only set after bind.
bool PeerMayDebug(int fd) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return false;
  }
  return credentials.uid == 0 || credentials.uid == ::geteuid();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GdbServer>> GdbServer::Start(std::string vm_name,
                                                            std::unique_ptr<GdbTarget> target,
                                                            const GdbEndpoint& endpoint,
                                                            bool allow_remote) {
  absl::StatusOr<BoundEndpoint> bound = Listen(endpoint, allow_remote);
  if (!bound.ok()) {
    return bound.status();
  }
  vmm::UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) {
    return vmm::ErrnoStatus(errno, "eventfd(gdb stub)");
  }
  std::string unix_path = endpoint.kind == GdbEndpoint::Kind::kUnix ? endpoint.path : "";
  return std::make_unique<GdbServer>(PassKey(), std::move(vm_name), std::move(target),
                                     *std::move(bound), std::move(stop), std::move(unix_path));
}

GdbServer::GdbServer(PassKey, std::string vm_name, std::unique_ptr<GdbTarget> target,
                     BoundEndpoint bound, vmm::UniqueFd stop, std::string unix_path)
    : vm_name_(std::move(vm_name)),
      target_(std::move(target)),
      listen_fd_(std::move(bound.fd)),
      stop_fd_(std::move(stop)),
      address_(std::move(bound.address)),
      unix_path_(std::move(unix_path)) {
  LogInfo(vm_name_, "gdb stub listening on ", address_);
  thread_ = std::thread([this] { Serve(); });
}

GdbServer::~GdbServer() {
  const uint64_t one = 1;
  // An eventfd write fails only on counter overflow, which one write cannot reach.
  [[maybe_unused]] const ssize_t written = ::write(stop_fd_.get(), &one, sizeof(one));
  thread_.join();
  if (!unix_path_.empty()) {
    ::unlink(unix_path_.c_str());
  }
  LogInfo(vm_name_, "gdb stub on ", address_, " stopped");
}

void GdbServer::Serve() {
  for (;;) {
    std::array<pollfd, 2> fds{{{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}}};
    int ready = ::poll(fds.data(), fds.size(), kVmCheckMs);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (fds[1].revents != 0) {
      return;
    }
    if (target_->events()->closed()) {
      break;  // the VM shut down: nothing left to debug
    }
    if (ready <= 0 || fds[0].revents == 0) {
      continue;
    }
    vmm::UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client.valid()) {
      ServeClient(std::move(client));
    }
  }
  finished_ = true;
}

void GdbServer::ServeClient(vmm::UniqueFd client) {
  if (!unix_path_.empty() && !PeerMayDebug(client.get())) {
    LogInfo(vm_name_, "gdb stub: refused a peer that is neither root nor pvmd's user");
    return;
  }
  if (unix_path_.empty()) {
    const int one = 1;  // one small packet per round trip: do not wait to coalesce
    (void)::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  client_connected_ = true;
  LogInfo(vm_name_, "gdb attached on ", address_);
  GdbSession session(*target_, client.get(), stop_fd_.get());
  absl::Status served = session.Run();
  client_connected_ = false;
  if (served.ok()) {
    LogInfo(vm_name_, "gdb left; the guest runs on");
  } else {
    LogRefused("gdb attach", vm_name_, served);
  }
}

}  // namespace pvm::gdb
