#include "daemon/access/tcp_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pvm::access {

absl::string_view HostOfAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

absl::StatusOr<std::optional<TcpSecurity>> CheckTcpOptions(const TcpOptions& tcp) {
  if (tcp.listen_address.empty()) return std::nullopt;
  std::vector<std::string> given;
  std::vector<std::string> missing;
  for (const auto& [value, name] :
       {std::pair{&tcp.tls_cert, "--tls-cert (tcp.tls_cert)"},
        std::pair{&tcp.tls_key, "--tls-key (tcp.tls_key)"},
        std::pair{&tcp.tls_client_ca, "--tls-client-ca (tcp.tls_client_ca)"}}) {
    (value->empty() ? missing : given).push_back(name);
  }
  if (tcp.insecure_tcp) {
    if (!given.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure-tcp (tcp.insecure) and ", absl::StrJoin(given, ", "),
          " exclude each other: give the TLS files for mutual TLS, or --insecure-tcp alone"));
    }
    if (!IsLoopbackHost(HostOfAddress(tcp.listen_address))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure-tcp is accepted only on a loopback address (127.0.0.0/8, ::1, localhost), "
          "not on ",
          tcp.listen_address,
          ": whoever reaches it could run and debug VMs; use mutual TLS "
          "(--tls-cert, --tls-key, --tls-client-ca) there"));
    }
    return TcpSecurity::kInsecureLoopback;
  }
  if (given.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", tcp.listen_address,
        " needs mutual TLS: --tls-cert, --tls-key and --tls-client-ca (tcp.tls_cert, "
        "tcp.tls_key, tcp.tls_client_ca); plain TCP is only for loopback, with --insecure-tcp"));
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mutual TLS on ", tcp.listen_address, " needs ", absl::StrJoin(missing, ", "),
        " too: the server certificate, its key and the CA of the clients go together"));
  }
  return TcpSecurity::kMutualTls;
}

}  // namespace pvm::access
