#include "daemon/api/host_service.h"

#include <sys/utsname.h>

#include <chrono>

#include "absl/strings/str_cat.h"

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

pvm::v1::DebugDelivery ToProto(host::DebugDelivery delivery) {
  switch (delivery) {
    case host::DebugDelivery::kDebugExit:
      return pvm::v1::DEBUG_DELIVERY_DEBUG_EXIT;
    case host::DebugDelivery::kEmulationFailure:
      return pvm::v1::DEBUG_DELIVERY_EMULATION_FAILURE;
    case host::DebugDelivery::kGuestIdt:
      return pvm::v1::DEBUG_DELIVERY_GUEST_IDT;
    case host::DebugDelivery::kNone:
      return pvm::v1::DEBUG_DELIVERY_NONE;
    case host::DebugDelivery::kInconclusive:
      return pvm::v1::DEBUG_DELIVERY_INCONCLUSIVE;
  }
  return pvm::v1::DEBUG_DELIVERY_UNSPECIFIED;
}

pvm::v1::AddressRule ToProto(pvm_va_rule rule) {
  switch (rule) {
    case PVM_VA_RULE_NONE:
      return pvm::v1::ADDRESS_RULE_NONE;
    case PVM_VA_RULE_POSITIVE_OR_RANGES:
      return pvm::v1::ADDRESS_RULE_POSITIVE_OR_RANGES;
    case PVM_VA_RULE_NONNEG_OR_RANGES:
      return pvm::v1::ADDRESS_RULE_NONNEG_OR_RANGES;
    case PVM_VA_RULE_LOWER_HALF:
      return pvm::v1::ADDRESS_RULE_LOWER_HALF;
  }
  return pvm::v1::ADDRESS_RULE_UNSPECIFIED;
}

void ToProto(const host::PathDebugCapabilities& path, pvm::v1::PathDebugCapabilities* out) {
  out->set_hw_exec_breakpoint(ToProto(path.hw_exec_breakpoint));
  out->set_single_step(ToProto(path.single_step));
  out->set_write_watchpoint(ToProto(path.write_watchpoint));
  out->set_int3(ToProto(path.int3));
}

void ToProto(const absl::StatusOr<host::DebugCapabilities>& probe,
             pvm::v1::DebugCapabilities* out) {
  if (!probe.ok()) {
    out->set_probed(false);
    out->set_error(absl::StrCat("probe failed: ", probe.status().message()));
    // Validation then drops nothing, as without a probe.
    out->set_address_rule(pvm::v1::ADDRESS_RULE_NONE);
    return;
  }
  out->set_probed(true);
  ToProto(probe->native, out->mutable_native());
  ToProto(probe->emulated, out->mutable_emulated());
  out->set_address_rule(ToProto(probe->ValidationRule()));
  out->set_address_rule_known(probe->address_rule_known);
  out->set_address_rule_evidence(probe->address_rule_evidence);
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  out->set_duration_us(duration_cast<microseconds>(probe->duration).count());
  out->set_checks_duration_us(duration_cast<microseconds>(probe->checks_duration).count());
  for (std::string& line : probe->SummaryLines()) {
    out->add_summary(std::move(line));
  }
  for (const std::string& note : probe->notes) {
    out->add_notes(note);
  }
}

}  // namespace

HostServiceImpl::HostServiceImpl(const vmm::Kvm& kvm, host::ModuleStatus module,
                                 absl::StatusOr<host::DebugCapabilities> debug_capabilities)
    : kvm_(kvm), module_(std::move(module)), debug_capabilities_(std::move(debug_capabilities)) {}

grpc::Status HostServiceImpl::GetHostInfo(grpc::ServerContext* context,
                                          const pvm::v1::GetHostInfoRequest*,
                                          pvm::v1::HostInfo* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  response->set_daemon_version(PVMD_VERSION);
  utsname uts{};
  if (uname(&uts) == 0) {
    response->set_kernel_release(uts.release);
  }
  pvm::v1::ModuleInfo* module = response->mutable_module();
  module->set_name(module_.name);
  module->set_state(ToProto(module_.state));
  module->set_detail(module_.detail);
  module->set_action(module_.action);
  module->set_loaded_by_pvmd(module_.loaded_by_pvmd);
  module->set_requested_parameters(module_.requested_parameters);
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
  ToProto(debug_capabilities_, response->mutable_debug_capabilities());
  return grpc::Status::OK;
}

}  // namespace pvm::api
