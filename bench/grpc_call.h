// One unary pvm.v1 call with a deadline, its grpc::Status as an absl::Status naming
// the call: the benchmarks that drive the real pvmd share it.
#ifndef PVMD_BENCH_GRPC_CALL_H_
#define PVMD_BENCH_GRPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pvm::bench {

inline constexpr auto kRpcDeadline = std::chrono::seconds(10);

inline absl::Status FromGrpc(const char* what, const grpc::Status& status) {
  if (status.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

// Call("StartVm", [&](auto* c) { return stub->StartVm(c, request, &response); }).
template <typename F>
absl::Status Call(const char* what, F&& rpc) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
  return FromGrpc(what, rpc(&context));
}

}  // namespace pvm::bench

#endif  // PVMD_BENCH_GRPC_CALL_H_
