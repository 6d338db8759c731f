// A small synchronous client of pvmd's API (pvm.v1 HostService, VmService and
// DebugService):
// one method per RPC, absl::Status results, a deadline on every unary call, and
// cancellation of in-flight calls through a std::stop_token.
#ifndef PVMD_CLIENT_PVM_CLIENT_H_
#define PVMD_CLIENT_PVM_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <stop_token>
#include <type_traits>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "pvm/v1/debug.grpc.pb.h"
#include "pvm/v1/host.grpc.pb.h"
#include "pvm/v1/vm.grpc.pb.h"

namespace pvm::client {

// Errors are the server's status with the same code and message, except one: a
// call that times out before a connection was ever up is UNAVAILABLE, because the
// daemon was not reached at all (a socket that accepts and never answers).
class PvmClient {
 public:
  // Called for each console chunk in order; an error stops the stream and is returned.
  using ConsoleChunkHandler = absl::FunctionRef<absl::Status(const v1::ConsoleChunk&)>;
  // Called for each event batch in order; an error stops the stream and is returned.
  using EventBatchHandler = absl::FunctionRef<absl::Status(const v1::EventBatch&)>;

  // `stop`: once requested, calls in flight and calls made later end with CANCELLED
  // (pvmctl requests it on SIGINT).
  PvmClient(std::shared_ptr<grpc::ChannelInterface> channel, absl::Duration rpc_timeout,
            std::stop_token stop = {});

  static absl::StatusOr<PvmClient> Connect(const ConnectionOptions& options,
                                           std::stop_token stop = {});

  absl::StatusOr<v1::HostInfo> GetHostInfo();

  absl::StatusOr<v1::Vm> CreateVm(const v1::CreateVmRequest& request);
  absl::StatusOr<v1::Vm> GetVm(absl::string_view name);
  absl::StatusOr<v1::ListVmsResponse> ListVms();
  absl::StatusOr<v1::Vm> StartVm(absl::string_view name);
  absl::StatusOr<v1::Vm> PauseVm(absl::string_view name);
  absl::StatusOr<v1::Vm> ResumeVm(absl::string_view name);
  absl::Status DeleteVm(absl::string_view name);

  // The console of VM `name`: what is buffered, then with `follow` what the guest
  // writes later. Returns OK when the server ends the stream (with `follow`: the VM
  // was deleted) or when `stop` is requested, which is how a follower stops.
  // Without `follow` the rpc_timeout applies; a follower waits as long as it takes.
  absl::Status StreamConsole(absl::string_view name, bool follow, ConsoleChunkHandler on_chunk);

  // pvm.v1.DebugService, one method per RPC.
  absl::StatusOr<v1::DebugState> SetGuestDebug(const v1::SetGuestDebugRequest& request);
  absl::StatusOr<v1::DebugState> GetDebugState(absl::string_view name);
  absl::StatusOr<v1::Breakpoint> AddBreakpoint(const v1::AddBreakpointRequest& request);
  absl::Status RemoveBreakpoint(absl::string_view name, uint32_t id);
  absl::StatusOr<v1::ListBreakpointsResponse> ListBreakpoints(absl::string_view name);
  absl::StatusOr<v1::DebugState> Continue(absl::string_view name);
  absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request);
  absl::StatusOr<v1::DebugState> Interrupt(absl::string_view name);
  absl::StatusOr<v1::Registers> GetRegisters(absl::string_view name, uint32_t vcpu);
  absl::StatusOr<v1::Registers> SetRegisters(const v1::SetRegistersRequest& request);
  absl::StatusOr<v1::MemoryData> ReadMemory(const v1::ReadMemoryRequest& request);
  absl::Status WriteMemory(const v1::WriteMemoryRequest& request);

  // The debug events of a VM, in batches; ends like StreamConsole: OK when the
  // server ends the stream or when `stop` is requested.
  absl::Status StreamEvents(const v1::StreamEventsRequest& request, EventBatchHandler on_batch);
  absl::StatusOr<v1::GdbServer> StartGdbServer(const v1::StartGdbServerRequest& request);
  absl::StatusOr<v1::GdbServer> StopGdbServer(absl::string_view name);

 private:
  // One unary RPC, `method` of `stub`, with the deadline and cancellation on stop.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> CallUnary(Stub& stub,
                                     grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                                     const std::type_identity_t<Request>& request);
  // A server-streaming RPC, `method` of `stub`, read to its end; the deadline applies
  // unless the caller follows the stream.
  template <typename Stub, typename Request, typename Message, typename Handler>
  absl::Status CallStream(Stub& stub,
                          std::unique_ptr<grpc::ClientReader<Message>> (Stub::*method)(
                              grpc::ClientContext*, const Request&),
                          const std::type_identity_t<Request>& request, bool follow,
                          Handler on_message);

  void SetDeadline(grpc::ClientContext& context) const;
  absl::Status TranslateError(const grpc::Status& status) const;

  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<v1::HostService::Stub> host_stub_;
  std::unique_ptr<v1::VmService::Stub> vm_stub_;
  std::unique_ptr<v1::DebugService::Stub> debug_stub_;
  absl::Duration rpc_timeout_;
  std::stop_token stop_;
};

}  // namespace pvm::client

#endif  // PVMD_CLIENT_PVM_CLIENT_H_
