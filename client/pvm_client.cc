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

}  // namespace

PvmClient::PvmClient(std::shared_ptr<grpc::ChannelInterface> channel, absl::Duration rpc_timeout,
                     std::stop_token stop)
    : channel_(channel),
      host_stub_(v1::HostService::NewStub(channel)),
      vm_stub_(v1::VmService::NewStub(channel)),
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

  absl::Status handler_status;
  v1::ConsoleChunk chunk;
  while (reader->Read(&chunk)) {
    handler_status = on_chunk(chunk);
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

}  // namespace pvm::client
