#include "client/pvm_client.h"

#include <grpcpp/client_context.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/status.h"

namespace pvm::client {
namespace {

v1::VmRef MakeVmRef(absl::string_view name) {
  v1::VmRef ref;
  ref.set_name(std::string(name));
  return ref;
}

v1::DebugRef MakeDebugRef(absl::string_view name) {
  v1::DebugRef ref;
  ref.set_name(std::string(name));
  return ref;
}

}  // namespace

PvmClient::PvmClient(std::shared_ptr<grpc::ChannelInterface> channel, absl::Duration rpc_timeout,
                     std::stop_token stop)
    : channel_(channel),
      host_stub_(v1::HostService::NewStub(channel)),
      vm_stub_(v1::VmService::NewStub(channel)),
      debug_stub_(v1::DebugService::NewStub(channel)),
      rpc_timeout_(rpc_timeout),
      stop_(std::move(stop)) {}

absl::StatusOr<PvmClient> PvmClient::Connect(const ConnectionOptions& options,
                                             std::stop_token stop) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateChannel(options);
  if (!channel.ok()) return channel.status();
  return PvmClient(*std::move(channel), options.rpc_timeout, std::move(stop));
}

void PvmClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + rpc_timeout_));
}

absl::Status PvmClient::TranslateError(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
    return absl::UnavailableError(absl::StrCat("no connection within ",
                                               absl::FormatDuration(rpc_timeout_), " (",
                                               status.error_message(), ")"));
  }
  return FromGrpcStatus(status);
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> PvmClient::CallUnary(
    Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const std::type_identity_t<Request>& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  // Declared after the context, so it is gone before the context is.
  std::stop_callback cancel_on_stop(stop_, [&context] { context.TryCancel(); });
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return TranslateError(status);
  return response;
}

absl::StatusOr<v1::HostInfo> PvmClient::GetHostInfo() {
  return CallUnary(*host_stub_, &v1::HostService::Stub::GetHostInfo, v1::GetHostInfoRequest());
}

absl::StatusOr<v1::Vm> PvmClient::CreateVm(const v1::CreateVmRequest& request) {
  return CallUnary(*vm_stub_, &v1::VmService::Stub::CreateVm, request);
}

absl::StatusOr<v1::Vm> PvmClient::GetVm(absl::string_view name) {
  v1::GetVmRequest request;
  request.set_name(std::string(name));
  return CallUnary(*vm_stub_, &v1::VmService::Stub::GetVm, request);
}

absl::StatusOr<v1::ListVmsResponse> PvmClient::ListVms() {
  return CallUnary(*vm_stub_, &v1::VmService::Stub::ListVms, v1::ListVmsRequest());
}

absl::StatusOr<v1::Vm> PvmClient::StartVm(absl::string_view name) {
  return CallUnary(*vm_stub_, &v1::VmService::Stub::StartVm, MakeVmRef(name));
}

absl::StatusOr<v1::Vm> PvmClient::PauseVm(absl::string_view name) {
  return CallUnary(*vm_stub_, &v1::VmService::Stub::PauseVm, MakeVmRef(name));
}

absl::StatusOr<v1::Vm> PvmClient::ResumeVm(absl::string_view name) {
  return CallUnary(*vm_stub_, &v1::VmService::Stub::ResumeVm, MakeVmRef(name));
}

absl::Status PvmClient::DeleteVm(absl::string_view name) {
  return CallUnary(*vm_stub_, &v1::VmService::Stub::DeleteVm, MakeVmRef(name)).status();
}

template <typename Stub, typename Request, typename Message, typename Handler>
absl::Status PvmClient::CallStream(Stub& stub,
                                   std::unique_ptr<grpc::ClientReader<Message>> (Stub::*method)(
                                       grpc::ClientContext*, const Request&),
                                   const std::type_identity_t<Request>& request, bool follow,
                                   Handler on_message) {
  grpc::ClientContext context;
  if (!follow) SetDeadline(context);
  std::stop_callback cancel_on_stop(stop_, [&context] { context.TryCancel(); });
  std::unique_ptr<grpc::ClientReader<Message>> reader = (stub.*method)(&context, request);
  absl::Status handler_status;
  Message message;
  while (reader->Read(&message)) {
    handler_status = on_message(message);
    if (!handler_status.ok()) {
      context.TryCancel();
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (!handler_status.ok()) return handler_status;
  // The caller asked to stop: for a stream that is the normal end, not a failure.
  if (status.error_code() == grpc::StatusCode::CANCELLED && stop_.stop_requested()) {
    return absl::OkStatus();
  }
  return TranslateError(status);
}

absl::Status PvmClient::StreamConsole(absl::string_view name, bool follow,
                                      ConsoleChunkHandler on_chunk) {
  v1::StreamConsoleRequest request;
  request.set_name(std::string(name));
  request.set_follow(follow);
  return CallStream(*vm_stub_, &v1::VmService::Stub::StreamConsole, request, follow, on_chunk);
}

absl::StatusOr<v1::DebugState> PvmClient::SetGuestDebug(const v1::SetGuestDebugRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::SetGuestDebug, request);
}

absl::StatusOr<v1::DebugState> PvmClient::GetDebugState(absl::string_view name) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::GetDebugState, MakeDebugRef(name));
}

absl::StatusOr<v1::Breakpoint> PvmClient::AddBreakpoint(const v1::AddBreakpointRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::AddBreakpoint, request);
}

absl::Status PvmClient::RemoveBreakpoint(absl::string_view name, uint32_t id) {
  v1::RemoveBreakpointRequest request;
  request.set_name(std::string(name));
  request.set_id(id);
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::RemoveBreakpoint, request).status();
}

absl::StatusOr<v1::ListBreakpointsResponse> PvmClient::ListBreakpoints(absl::string_view name) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::ListBreakpoints, MakeDebugRef(name));
}

absl::StatusOr<v1::DebugState> PvmClient::Continue(absl::string_view name) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::Continue, MakeDebugRef(name));
}

absl::StatusOr<v1::StepResponse> PvmClient::Step(const v1::StepRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::Step, request);
}

absl::StatusOr<v1::DebugState> PvmClient::Interrupt(absl::string_view name) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::Interrupt, MakeDebugRef(name));
}

absl::StatusOr<v1::Registers> PvmClient::GetRegisters(absl::string_view name, uint32_t vcpu) {
  v1::GetRegistersRequest request;
  request.set_name(std::string(name));
  request.set_vcpu(vcpu);
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::GetRegisters, request);
}

absl::StatusOr<v1::Registers> PvmClient::SetRegisters(const v1::SetRegistersRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::SetRegisters, request);
}

absl::StatusOr<v1::MemoryData> PvmClient::ReadMemory(const v1::ReadMemoryRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::ReadMemory, request);
}

absl::Status PvmClient::WriteMemory(const v1::WriteMemoryRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::WriteMemory, request).status();
}

absl::StatusOr<v1::GdbServer> PvmClient::StartGdbServer(const v1::StartGdbServerRequest& request) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::StartGdbServer, request);
}

absl::StatusOr<v1::GdbServer> PvmClient::StopGdbServer(absl::string_view name) {
  return CallUnary(*debug_stub_, &v1::DebugService::Stub::StopGdbServer, MakeDebugRef(name));
}

absl::Status PvmClient::StreamEvents(const v1::StreamEventsRequest& request,
                                     EventBatchHandler on_batch) {
  return CallStream(*debug_stub_, &v1::DebugService::Stub::StreamEvents, request, request.follow(),
                    on_batch);
}

}  // namespace pvm::client
