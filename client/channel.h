// Where and how the client reaches pvmd: its unix socket, or TCP (mutual TLS, or
// plain TCP to a daemon that serves it on loopback). Every channel is made here.
#ifndef PVMD_CLIENT_CHANNEL_H_
#define PVMD_CLIENT_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pvm::client {

inline constexpr absl::string_view kDefaultSocketPath = "/run/pvmd/pvmd.sock";

// PEM files for TLS over TCP. An empty `ca` trusts the system's roots; `cert` and
// `key` (both or neither) are the client certificate pvmd's --tls-client-ca signed.
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

struct ConnectionOptions {
  // A gRPC target: "unix:PATH" (see UnixSocketTarget), or HOST:PORT for TCP.
  std::string target;
  // TCP only: TLS with these files; nullopt is plain TCP (pvmd --insecure-tcp).
  std::optional<TlsFiles> tls;
  // Deadline of each unary call. Short by default so that a daemon that is not
  // running, or hung, gives an error instead of a waiting prompt.
  absl::Duration rpc_timeout = absl::Seconds(10);
};

// "unix:PATH": gRPC's spelling of a unix socket, relative or absolute.
std::string UnixSocketTarget(absl::string_view socket_path);

// Channels do not connect until the first call, so this fails only on options that
// can never work: an empty or unsupported target, TLS on a unix socket, half a
// certificate pair (INVALID_ARGUMENT), or a TLS file it cannot read (NOT_FOUND,
// PERMISSION_DENIED, ... with the file's name).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ConnectionOptions& options);

}  // namespace pvm::client

#endif  // PVMD_CLIENT_CHANNEL_H_
