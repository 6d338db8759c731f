#include "daemon/access/tcp_listener.h"

#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "daemon/access/tls_files.h"

namespace pvm::access {

absl::StatusOr<std::optional<TcpListener>> PrepareTcpListener(const TcpOptions& tcp) {
  absl::StatusOr<std::optional<TcpSecurity>> security = CheckTcpOptions(tcp);
  if (!security.ok()) return security.status();
  if (!*security) return std::nullopt;
  TcpListener listener{.address = tcp.listen_address, .security = **security};
  if (listener.security == TcpSecurity::kInsecureLoopback) {
    listener.credentials = grpc::InsecureServerCredentials();
    listener.description = "plain TCP (--insecure-tcp): every local user has full access";
    return listener;
  }
  absl::StatusOr<ServerTlsFiles> files =
      LoadServerTlsFiles(tcp.tls_cert, tcp.tls_key, tcp.tls_client_ca);
  if (!files.ok()) return files.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = files->client_ca_pem;
  options.pem_key_cert_pairs.push_back(
      {.private_key = files->key_pem, .cert_chain = files->cert_chain_pem});
  listener.credentials = grpc::SslServerCredentials(options);
  listener.description =
      absl::StrCat("mutual TLS as ", files->subject, " (valid until ", files->not_after,
                   "); clients need a certificate from ", tcp.tls_client_ca);
  return listener;
}

}  // namespace pvm::access
