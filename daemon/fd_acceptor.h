// Serving an already listening socket: gRPC 1.51 cannot adopt one (socket
// activation hands pvmd exactly that), so a thread accepts each connection and
// gives it to the server as a channel (grpc::AddInsecureChannelFromFd).
#ifndef PVMD_DAEMON_FD_ACCEPTOR_H_
#define PVMD_DAEMON_FD_ACCEPTOR_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"

namespace pvm {

// The listening unix stream socket systemd passed (LISTEN_FDS), and its path; or
// nullopt when pvmd was not socket-activated. Errors: more than one fd, or not a
// listening unix stream socket.
struct ActivatedSocket {
  int fd = -1;  // owned by the service manager too: never unlinked or shut down
  std::string path;
};
absl::StatusOr<std::optional<ActivatedSocket>> TakeActivatedSocket();

class FdAcceptor {
 public:
  // Starts accepting on listen_fd (not owned) into server, which outlives this.
  FdAcceptor(int listen_fd, grpc::Server& server);
  FdAcceptor(const FdAcceptor&) = delete;
  FdAcceptor& operator=(const FdAcceptor&) = delete;
  // Stops accepting and joins the thread; connections handed over stay the
  // server's.
  ~FdAcceptor();

 private:
  void Run();

  const int listen_fd_;
  grpc::Server& server_;
  vmm::UniqueFd stop_;  // an eventfd the destructor signals
  std::thread thread_;
};

}  // namespace pvm

#endif  // PVMD_DAEMON_FD_ACCEPTOR_H_
