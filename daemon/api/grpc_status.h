// absl::Status <-> grpc::Status: the codes are the same numbers, the message stays.
#ifndef PVMD_DAEMON_API_GRPC_STATUS_H_
#define PVMD_DAEMON_API_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pvm::api {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_GRPC_STATUS_H_
