// The TCP listener for orchestrators, ready for grpc::ServerBuilder::AddListeningPort:
// its address and server credentials (mutual TLS, or plain TCP on loopback).
#ifndef PVMD_DAEMON_ACCESS_TCP_LISTENER_H_
#define PVMD_DAEMON_ACCESS_TCP_LISTENER_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/access/tcp_config.h"
#include "daemon/daemon_options.h"

namespace pvm::access {

struct TcpListener {
  std::string address;  // HOST:PORT as configured
  TcpSecurity security = TcpSecurity::kMutualTls;
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::string description;  // for the start-up log line
};

// nullopt without tcp.listen_address. INVALID_ARGUMENT (pvmd refuses to start) for
// the cases of CheckTcpOptions and LoadServerTlsFiles. With mutual TLS the
// handshake requires a client certificate that chains to tcp.tls_client_ca.
absl::StatusOr<std::optional<TcpListener>> PrepareTcpListener(const TcpOptions& tcp);

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_TCP_LISTENER_H_
