// Which TCP listener the options ask for, and whether pvmd may start with it: mutual
// TLS with all three files, or plain TCP only where nobody off the host can reach it.
// Pure (no files read, no sockets): daemon/access/tls_files.h reads the files.
#ifndef PVMD_DAEMON_ACCESS_TCP_CONFIG_H_
#define PVMD_DAEMON_ACCESS_TCP_CONFIG_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/daemon_options.h"

namespace pvm::access {

enum class TcpSecurity {
  kMutualTls,         // clients need a certificate from tcp.tls_client_ca
  kInsecureLoopback,  // tcp.insecure_tcp on a loopback address: every local user
};

// nullopt: no TCP listener (tcp.listen_address empty). INVALID_ARGUMENT, saying what
// to change, for a listener without TLS files and without insecure_tcp, for only
// some of the three files, for insecure_tcp together with TLS files, and for
// insecure_tcp on an address that is not loopback.
absl::StatusOr<std::optional<TcpSecurity>> CheckTcpOptions(const TcpOptions& tcp);

// The HOST of "HOST:PORT" ("[::1]:7000" -> "::1"), as written.
absl::string_view HostOfAddress(absl::string_view address);

// 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and "localhost"; not 0.0.0.0, not
// other names (they could resolve anywhere).
bool IsLoopbackHost(absl::string_view host);

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_TCP_CONFIG_H_
