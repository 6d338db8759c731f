#include "daemon/api/host_service.h"

#include <sys/utsname.h>

namespace pvm::api {
namespace {

pvm::v1::ModuleState ToProto(host::ModuleState state) {
  switch (state) {
    case host::ModuleState::kBuiltin:
      return pvm::v1::MODULE_STATE_BUILTIN;
    case host::ModuleState::kLoaded:
      return pvm::v1::MODULE_STATE_LOADED;
    case host::ModuleState::kAbsent:
      return pvm::v1::MODULE_STATE_ABSENT;
    case host::ModuleState::kLoadFailed:
      return pvm::v1::MODULE_STATE_LOAD_FAILED;
  }
  return pvm::v1::MODULE_STATE_UNSPECIFIED;
}

}  // namespace

HostServiceImpl::HostServiceImpl(const vmm::Kvm& kvm, host::ModuleStatus module)
    : kvm_(kvm), module_(std::move(module)) {}

grpc::Status HostServiceImpl::GetHostInfo(grpc::ServerContext*, const pvm::v1::GetHostInfoRequest*,
                                          pvm::v1::HostInfo* response) {
  response->set_daemon_version(PVMD_VERSION);
  utsname uts{};
  if (uname(&uts) == 0) {
    response->set_kernel_release(uts.release);
  }
  pvm::v1::ModuleInfo* module = response->mutable_module();
  module->set_name(module_.name);
  module->set_state(ToProto(module_.state));
  module->set_detail(module_.detail);
  for (const auto& [name, value] : module_.parameters) {
    pvm::v1::ModuleParameter* parameter = module->add_parameters();
    parameter->set_name(name);
    parameter->set_value(value);
  }
  const vmm::KvmCapabilities& caps = kvm_.capabilities();
  pvm::v1::KvmCapabilities* kvm = response->mutable_kvm();
  kvm->set_api_version(caps.api_version);
  kvm->set_max_vcpus(caps.max_vcpus);
  kvm->set_guest_debug(caps.guest_debug);
  kvm->set_guest_debug2(caps.guest_debug2);
  kvm->set_num_debug_registers(caps.num_debug_registers);
  kvm->set_readonly_mem(caps.readonly_mem);
  kvm->set_sync_regs(caps.sync_regs);
  return grpc::Status::OK;
}

}  // namespace pvm::api
