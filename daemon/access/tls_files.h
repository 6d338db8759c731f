// The PEM files of the TCP listener, read and checked at start-up with OpenSSL, so
// that a wrong path, a key of another certificate or an expired certificate is a
// start-up error that names the file, not a gRPC handshake failure each client sees.
#ifndef PVMD_DAEMON_ACCESS_TLS_FILES_H_
#define PVMD_DAEMON_ACCESS_TLS_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace pvm::access {

struct ServerTlsFiles {
  std::string cert_chain_pem;  // the server's certificate first, then intermediates
  std::string key_pem;
  std::string client_ca_pem;
  std::string subject;    // of the server certificate, RFC 2253, for the log
  std::string not_after;  // of the server certificate, for the log
};

// INVALID_ARGUMENT naming the option and file for: unreadable file, no PEM
// certificate (or key) in it, an encrypted key (pvmd cannot ask for a passphrase),
// a key that does not belong to the certificate, a server certificate that is
// expired or not valid yet.
absl::StatusOr<ServerTlsFiles> LoadServerTlsFiles(const std::string& cert_path,
                                                  const std::string& key_path,
                                                  const std::string& client_ca_path);

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_TLS_FILES_H_
