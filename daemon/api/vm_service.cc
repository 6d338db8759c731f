#include "daemon/api/vm_service.h"

#include <chrono>

#include "daemon/api/grpc_status.h"
#include "daemon/api/vm_proto.h"
#include "daemon/log.h"

namespace pvm::api {
namespace {

using LifecycleCall = absl::Status (vmm::Vm::*)();

// How long a follower sleeps in the console's condition variable before it looks
// whether its client went away.
constexpr auto kCancellationPoll = std::chrono::milliseconds(200);

grpc::Status Lifecycle(vmm::VmRegistry& registry, const std::string& name, LifecycleCall call,
                       const char* verb, pvm::v1::Vm* response) {
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry.Get(name);
  if (!vm.ok()) {
    return ToGrpcStatus(vm.status());
  }
  if (absl::Status s = ((**vm).*call)(); !s.ok()) {
    LogRefused(verb, name, s);
    return ToGrpcStatus(s);
  }
  // The new state is logged by the daemon's state observer.
  ToProto((*vm)->Snapshot(), response);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status VmServiceImpl::CreateVm(grpc::ServerContext* context,
                                     const pvm::v1::CreateVmRequest* request,
                                     pvm::v1::Vm* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  vmm::VmRequestSpec spec;
  spec.name = request->name();
  if (request->has_vcpus()) {
    spec.vcpus = request->vcpus();
  }
  if (request->has_memory_mib()) {
    spec.memory_mib = request->memory_mib();
  }
  spec.image = request->image();
  spec.cpu_affinity.assign(request->cpu_affinity().begin(), request->cpu_affinity().end());
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_.Create(spec);
  if (!vm.ok()) {
    LogRefused("create", spec.name, vm.status());
    return ToGrpcStatus(vm.status());
  }
  LogInfo(spec.name, "created from ", spec.image, " with ", (*vm)->vcpus().size(), " vCPU(s)");
  if (request->start()) {
    if (absl::Status s = (*vm)->Start(); !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  ToProto((*vm)->Snapshot(), response);
  return grpc::Status::OK;
}

grpc::Status VmServiceImpl::GetVm(grpc::ServerContext* context,
                                  const pvm::v1::GetVmRequest* request, pvm::v1::Vm* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_.Get(request->name());
  if (!vm.ok()) {
    return ToGrpcStatus(vm.status());
  }
  ToProto((*vm)->Snapshot(), response);
  return grpc::Status::OK;
}

grpc::Status VmServiceImpl::ListVms(grpc::ServerContext* context, const pvm::v1::ListVmsRequest*,
                                    pvm::v1::ListVmsResponse* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  for (const std::shared_ptr<vmm::Vm>& vm : registry_.List()) {
    ToProto(vm->Snapshot(), response->add_vms());
  }
  return grpc::Status::OK;
}

grpc::Status VmServiceImpl::StartVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                                    pvm::v1::Vm* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  return Lifecycle(registry_, request->name(), &vmm::Vm::Start, "start", response);
}

grpc::Status VmServiceImpl::PauseVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                                    pvm::v1::Vm* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  return Lifecycle(registry_, request->name(), &vmm::Vm::Pause, "pause", response);
}

grpc::Status VmServiceImpl::ResumeVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                                     pvm::v1::Vm* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  return Lifecycle(registry_, request->name(), &vmm::Vm::Resume, "resume", response);
}

grpc::Status VmServiceImpl::DeleteVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                                     pvm::v1::DeleteVmResponse*) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  if (absl::Status s = registry_.Delete(request->name()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  LogInfo(request->name(), "deleted");
  return grpc::Status::OK;
}

grpc::Status VmServiceImpl::StreamConsole(grpc::ServerContext* context,
                                          const pvm::v1::StreamConsoleRequest* request,
                                          grpc::ServerWriter<pvm::v1::ConsoleChunk>* writer) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_.Get(request->name());
  if (!vm.ok()) {
    return ToGrpcStatus(vm.status());
  }
  const vmm::ConsoleBuffer& console = (*vm)->console();
  uint64_t offset = 0;
  while (true) {
    const vmm::ConsoleRead read = console.ReadFrom(offset);
    if (!read.data.empty() || read.dropped != 0) {
      pvm::v1::ConsoleChunk chunk;
      chunk.set_data(read.data);
      chunk.set_offset(read.offset);
      chunk.set_dropped(read.dropped);
      if (!writer->Write(chunk)) {
        return grpc::Status::OK;  // the client went away
      }
      offset = read.offset + read.data.size();
    }
    if (!request->follow()) {
      return grpc::Status::OK;
    }
    while (!console.WaitBeyond(offset, std::chrono::steady_clock::now() + kCancellationPoll)) {
      if (context->IsCancelled()) {
        return grpc::Status::CANCELLED;
      }
      if (console.closed()) {
        return grpc::Status::OK;  // the VM was deleted: nothing more will come
      }
    }
  }
}

}  // namespace pvm::api
