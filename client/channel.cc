#include "client/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pvm::client {

std::string UnixSocketTarget(absl::string_view socket_path) {
  return absl::StrCat("unix:", socket_path);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ConnectionOptions& options) {
  constexpr absl::string_view kUnixScheme = "unix:";
  if (!absl::StartsWith(options.target, kUnixScheme) ||
      options.target.size() == kUnixScheme.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported pvmd address '", options.target, "': expected unix:PATH"));
  }
  // A unix socket is guarded by file permissions; there is nothing to encrypt.
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  // Calls are fail-fast (gRPC's default; we never set wait_for_ready): when nothing
  // listens on the socket they end with UNAVAILABLE at once instead of waiting for
  // the daemon to appear.
  return grpc::CreateChannel(options.target, credentials);
}

}  // namespace pvm::client
