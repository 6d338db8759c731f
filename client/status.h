// gRPC status -> absl::Status, so that callers of the client library deal with one
// error type and the daemon's message reaches the user unchanged.
#ifndef PVMD_CLIENT_STATUS_H_
#define PVMD_CLIENT_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pvm::client {

// Same code (both follow google.rpc.Code), same message. Codes outside the known
// range become kUnknown rather than an absl code that does not exist.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace pvm::client

#endif  // PVMD_CLIENT_STATUS_H_
