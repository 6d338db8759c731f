#include "client/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pvm::client {
namespace {

constexpr absl::string_view kUnixScheme = "unix:";

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    return absl::ErrnoToStatus(
        error, absl::StrCat("cannot read ", flag, " ", path, ": ", strerror(error)));
  }
  std::ostringstream content;
  content << file.rdbuf();
  if (content.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, " is not a PEM file"));
  }
  return content.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(const TlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together: the client certificate and its key");
  }
  grpc::SslCredentialsOptions options;
  for (const auto& [path, flag, pem] :
       {std::tuple{&files.ca, "--tls-ca", &options.pem_root_certs},
        std::tuple{&files.cert, "--tls-cert", &options.pem_cert_chain},
        std::tuple{&files.key, "--tls-key", &options.pem_private_key}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> content = ReadPem(*path, flag);
    if (!content.ok()) return content.status();
    *pem = *std::move(content);
  }
  return grpc::SslCredentials(options);
}

}  // namespace

std::string UnixSocketTarget(absl::string_view socket_path) {
  return absl::StrCat(kUnixScheme, socket_path);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ConnectionOptions& options) {
  // Calls are fail-fast (gRPC's default; we never set wait_for_ready): when nothing
  // listens they end with UNAVAILABLE at once instead of waiting for the daemon.
  if (absl::StartsWith(options.target, kUnixScheme)) {
    if (options.target.size() == kUnixScheme.size()) {
      return absl::InvalidArgumentError("the pvmd socket path is empty");
    }
    if (options.tls) {
      return absl::InvalidArgumentError("TLS is for TCP (--address), not for the unix socket");
    }
    // pvmd checks the caller's uid and groups (SO_PEERCRED); there is nothing to
    // encrypt on the host.
    return grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  }
  const size_t colon = options.target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == options.target.size() ||
      absl::StrContains(options.target, "://") || absl::StrContains(options.target, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported pvmd address '", options.target,
                                                   "': expected unix:PATH or HOST:PORT"));
  }
  if (!options.tls) {
    return grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  }
  // gRPC checks the server's certificate against the HOST of the target (an IP
  // address needs an IP subjectAltName).
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      TlsCredentials(*options.tls);
  if (!credentials.ok()) return credentials.status();
  return grpc::CreateChannel(options.target, *credentials);
}

}  // namespace pvm::client
