// Serving a listening unix socket through pvmd's own accept: gRPC 1.51 cannot adopt
// a listening fd (socket activation hands pvmd exactly that), and it tells a handler
// nothing about a unix peer's credentials. So a thread accepts each connection,
// records its SO_PEERCRED/SO_PEERGROUPS (daemon/access/peer_credentials.h) and then
// gives it to the server as a channel (grpc::AddInsecureChannelFromFd), for the
// socket systemd passed and for the one pvmd creates alike.
#ifndef PVMD_DAEMON_FD_ACCEPTOR_H_
#define PVMD_DAEMON_FD_ACCEPTOR_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "daemon/access/peer_credentials.h"
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
  // Starts accepting on listen_fd (not owned) into server; each connection's
  // credentials go into peers before the server sees it. Both outlive this.
  FdAcceptor(int listen_fd, grpc::Server& server, access::PeerRegistry& peers);
  FdAcceptor(const FdAcceptor&) = delete;
  FdAcceptor& operator=(const FdAcceptor&) = delete;
  // Stops accepting and joins the thread; connections handed over stay the
  // server's.
  ~FdAcceptor();

 private:
  void Run();

  const int listen_fd_;
  grpc::Server& server_;
  access::PeerRegistry& peers_;
  vmm::UniqueFd stop_;  // an eventfd the destructor signals
  std::thread thread_;
};

}  // namespace pvm

#endif  // PVMD_DAEMON_FD_ACCEPTOR_H_
