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

template <typename Response, typename Call>
absl::StatusOr<Response> PvmClient::CallUnary(Call call) {
  grpc::ClientContext context;
  SetDeadline(context);
  // Declared after the context, so it is gone before the context is.
  std::stop_callback cancel_on_stop(stop_, [&context] { context.TryCancel(); });
  Response response;
  const grpc::Status status = call(&context, &response);
  if (!status.ok()) return TranslateError(status);
  return response;
}

absl::StatusOr<v1::HostInfo> PvmClient::GetHostInfo() {
  return CallUnary<v1::HostInfo>([this](grpc::ClientContext* context, v1::HostInfo* response) {
    return host_stub_->GetHostInfo(context, v1::GetHostInfoRequest(), response);
  });
}

absl::StatusOr<v1::Vm> PvmClient::CreateVm(const v1::CreateVmRequest& request) {
  return CallUnary<v1::Vm>([this, &request](grpc::ClientContext* context, v1::Vm* response) {
    return vm_stub_->CreateVm(context, request, response);
  });
}

absl::StatusOr<v1::Vm> PvmClient::GetVm(absl::string_view name) {
  v1::GetVmRequest request;
  request.set_name(std::string(name));
  return CallUnary<v1::Vm>([this, &request](grpc::ClientContext* context, v1::Vm* response) {
    return vm_stub_->GetVm(context, request, response);
  });
}

absl::StatusOr<v1::ListVmsResponse> PvmClient::ListVms() {
  return CallUnary<v1::ListVmsResponse>(
      [this](grpc::ClientContext* context, v1::ListVmsResponse* response) {
        return vm_stub_->ListVms(context, v1::ListVmsRequest(), response);
      });
}

absl::StatusOr<v1::Vm> PvmClient::StartVm(absl::string_view name) {
  const v1::VmRef ref = MakeVmRef(name);
  return CallUnary<v1::Vm>([this, &ref](grpc::ClientContext* context, v1::Vm* response) {
    return vm_stub_->StartVm(context, ref, response);
  });
}

absl::StatusOr<v1::Vm> PvmClient::PauseVm(absl::string_view name) {
  const v1::VmRef ref = MakeVmRef(name);
  return CallUnary<v1::Vm>([this, &ref](grpc::ClientContext* context, v1::Vm* response) {
    return vm_stub_->PauseVm(context, ref, response);
  });
}

absl::StatusOr<v1::Vm> PvmClient::ResumeVm(absl::string_view name) {
  const v1::VmRef ref = MakeVmRef(name);
  return CallUnary<v1::Vm>([this, &ref](grpc::ClientContext* context, v1::Vm* response) {
    return vm_stub_->ResumeVm(context, ref, response);
  });
}

absl::Status PvmClient::DeleteVm(absl::string_view name) {
  const v1::VmRef ref = MakeVmRef(name);
  return CallUnary<v1::DeleteVmResponse>(
             [this, &ref](grpc::ClientContext* context, v1::DeleteVmResponse* response) {
               return vm_stub_->DeleteVm(context, ref, response);
             })
      .status();
}

template <typename Message, typename Handler>
absl::Status PvmClient::ReadStream(grpc::ClientContext& context,
                                   grpc::ClientReader<Message>& reader, Handler on_message) {
  absl::Status handler_status;
  Message message;
  while (reader.Read(&message)) {
    handler_status = on_message(message);
    if (!handler_status.ok()) {
      context.TryCancel();
      break;
    }
  }
  const grpc::Status status = reader.Finish();
  if (!handler_status.ok()) return handler_status;
  // The caller asked to stop: for a stream that is the normal end, not a failure.
  if (status.error_code() == grpc::StatusCode::CANCELLED && stop_.stop_requested()) {
    return absl::OkStatus();
  }
  return TranslateError(status);
}

absl::Status PvmClient::StreamConsole(absl::string_view name, bool follow,
                                      ConsoleChunkHandler on_chunk) {
  grpc::ClientContext context;
  if (!follow) SetDeadline(context);
  std::stop_callback cancel_on_stop(stop_, [&context] { context.TryCancel(); });

  v1::StreamConsoleRequest request;
  request.set_name(std::string(name));
  request.set_follow(follow);
  std::unique_ptr<grpc::ClientReader<v1::ConsoleChunk>> reader =
      vm_stub_->StreamConsole(&context, request);
  return ReadStream(context, *reader, on_chunk);
}

absl::StatusOr<v1::DebugState> PvmClient::SetGuestDebug(const v1::SetGuestDebugRequest& request) {
  return CallUnary<v1::DebugState>(
      [this, &request](grpc::ClientContext* context, v1::DebugState* response) {
        return debug_stub_->SetGuestDebug(context, request, response);
      });
}

absl::StatusOr<v1::DebugState> PvmClient::GetDebugState(absl::string_view name) {
  const v1::DebugRef ref = MakeDebugRef(name);
  return CallUnary<v1::DebugState>(
      [this, &ref](grpc::ClientContext* context, v1::DebugState* response) {
        return debug_stub_->GetDebugState(context, ref, response);
      });
}

absl::StatusOr<v1::Breakpoint> PvmClient::AddBreakpoint(const v1::AddBreakpointRequest& request) {
  return CallUnary<v1::Breakpoint>(
      [this, &request](grpc::ClientContext* context, v1::Breakpoint* response) {
        return debug_stub_->AddBreakpoint(context, request, response);
      });
}

absl::Status PvmClient::RemoveBreakpoint(absl::string_view name, uint32_t id) {
  v1::RemoveBreakpointRequest request;
  request.set_name(std::string(name));
  request.set_id(id);
  return CallUnary<v1::RemoveBreakpointResponse>(
             [this, &request](grpc::ClientContext* context,
                              v1::RemoveBreakpointResponse* response) {
               return debug_stub_->RemoveBreakpoint(context, request, response);
             })
      .status();
}

absl::StatusOr<v1::ListBreakpointsResponse> PvmClient::ListBreakpoints(absl::string_view name) {
  const v1::DebugRef ref = MakeDebugRef(name);
  return CallUnary<v1::ListBreakpointsResponse>(
      [this, &ref](grpc::ClientContext* context, v1::ListBreakpointsResponse* response) {
        return debug_stub_->ListBreakpoints(context, ref, response);
      });
}

absl::StatusOr<v1::DebugState> PvmClient::Continue(absl::string_view name) {
  const v1::DebugRef ref = MakeDebugRef(name);
  return CallUnary<v1::DebugState>(
      [this, &ref](grpc::ClientContext* context, v1::DebugState* response) {
        return debug_stub_->Continue(context, ref, response);
      });
}

absl::StatusOr<v1::StepResponse> PvmClient::Step(const v1::StepRequest& request) {
  return CallUnary<v1::StepResponse>(
      [this, &request](grpc::ClientContext* context, v1::StepResponse* response) {
        return debug_stub_->Step(context, request, response);
      });
}

absl::StatusOr<v1::DebugState> PvmClient::Interrupt(absl::string_view name) {
  const v1::DebugRef ref = MakeDebugRef(name);
  return CallUnary<v1::DebugState>(
      [this, &ref](grpc::ClientContext* context, v1::DebugState* response) {
        return debug_stub_->Interrupt(context, ref, response);
      });
}

absl::StatusOr<v1::Registers> PvmClient::GetRegisters(absl::string_view name, uint32_t vcpu) {
  v1::GetRegistersRequest request;
  request.set_name(std::string(name));
  request.set_vcpu(vcpu);
  return CallUnary<v1::Registers>(
      [this, &request](grpc::ClientContext* context, v1::Registers* response) {
        return debug_stub_->GetRegisters(context, request, response);
      });
}

absl::StatusOr<v1::Registers> PvmClient::SetRegisters(const v1::SetRegistersRequest& request) {
  return CallUnary<v1::Registers>(
      [this, &request](grpc::ClientContext* context, v1::Registers* response) {
        return debug_stub_->SetRegisters(context, request, response);
      });
}

absl::StatusOr<v1::MemoryData> PvmClient::ReadMemory(const v1::ReadMemoryRequest& request) {
  return CallUnary<v1::MemoryData>(
      [this, &request](grpc::ClientContext* context, v1::MemoryData* response) {
        return debug_stub_->ReadMemory(context, request, response);
      });
}

absl::Status PvmClient::WriteMemory(const v1::WriteMemoryRequest& request) {
  return CallUnary<v1::WriteMemoryResponse>(
             [this, &request](grpc::ClientContext* context, v1::WriteMemoryResponse* response) {
               return debug_stub_->WriteMemory(context, request, response);
             })
      .status();
}

absl::Status PvmClient::StreamEvents(const v1::StreamEventsRequest& request,
                                     EventBatchHandler on_batch) {
  grpc::ClientContext context;
  if (!request.follow()) SetDeadline(context);
  std::stop_callback cancel_on_stop(stop_, [&context] { context.TryCancel(); });
  std::unique_ptr<grpc::ClientReader<v1::EventBatch>> reader =
      debug_stub_->StreamEvents(&context, request);
  return ReadStream(context, *reader, on_batch);
}

}  // namespace pvm::client
