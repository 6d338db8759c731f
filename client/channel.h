// Where and how the client reaches pvmd. Every channel is made here, so adding TCP
// with TLS later changes this file and its options, not the callers.
#ifndef PVMD_CLIENT_CHANNEL_H_
#define PVMD_CLIENT_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pvm::client {

inline constexpr absl::string_view kDefaultSocketPath = "/run/pvmd/pvmd.sock";

struct ConnectionOptions {
  // A gRPC target; today only "unix:PATH" (see UnixSocketTarget).
  std::string target;
  // Deadline of each unary call. Short by default so that a daemon that is not
  // running, or hung, gives an error instead of a waiting prompt.
  absl::Duration rpc_timeout = absl::Seconds(10);
};

// "unix:PATH": gRPC's spelling of a unix socket, relative or absolute.
std::string UnixSocketTarget(absl::string_view socket_path);

// Channels do not connect until the first call, so this fails only on options that
// can never work (an empty or unsupported target).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ConnectionOptions& options);

}  // namespace pvm::client

#endif  // PVMD_CLIENT_CHANNEL_H_
