#include "client/format_json.h"

#include <string>
#include <vector>

#include "client/enum_names.h"

namespace pvm::ctl {
namespace {

// The probe's enum words are here rather than in enum_names.h: only JSON prints them
// (text prints the daemon's summary lines). Unknown values (a newer daemon) are
// "unknown".
const char* DebugDeliveryWord(v1::DebugDelivery delivery) {
  switch (delivery) {
    case v1::DEBUG_DELIVERY_UNSPECIFIED:
      return "unspecified";
    case v1::DEBUG_DELIVERY_DEBUG_EXIT:
      return "debug_exit";
    case v1::DEBUG_DELIVERY_EMULATION_FAILURE:
      return "emulation_failure";
    case v1::DEBUG_DELIVERY_GUEST_IDT:
      return "guest_idt";
    case v1::DEBUG_DELIVERY_NONE:
      return "none";
    case v1::DEBUG_DELIVERY_INCONCLUSIVE:
      return "inconclusive";
    default:
      return "unknown";
  }
}

const char* AddressRuleWord(v1::AddressRule rule) {
  switch (rule) {
    case v1::ADDRESS_RULE_UNSPECIFIED:
      return "unspecified";
    case v1::ADDRESS_RULE_NONE:
      return "none";
    case v1::ADDRESS_RULE_POSITIVE_OR_RANGES:
      return "positive_or_ranges";
    case v1::ADDRESS_RULE_NONNEG_OR_RANGES:
      return "nonneg_or_ranges";
    case v1::ADDRESS_RULE_LOWER_HALF:
      return "lower_half";
    default:
      return "unknown";
  }
}

Json PathJson(const v1::PathDebugCapabilities& path) {
  return Json{
      {"hw_exec_breakpoint", DebugDeliveryWord(path.hw_exec_breakpoint())},
      {"single_step", DebugDeliveryWord(path.single_step())},
      {"write_watchpoint", DebugDeliveryWord(path.write_watchpoint())},
      {"int3", DebugDeliveryWord(path.int3())},
  };
}

Json DebugCapabilitiesJson(const v1::DebugCapabilities& debug) {
  return Json{
      {"probed", debug.probed()},
      {"error", debug.error()},
      {"native", PathJson(debug.native())},
      {"emulated", PathJson(debug.emulated())},
      {"address_rule", AddressRuleWord(debug.address_rule())},
      {"address_rule_known", debug.address_rule_known()},
      {"address_rule_evidence", debug.address_rule_evidence()},
      {"duration_us", debug.duration_us()},
      {"checks_duration_us", debug.checks_duration_us()},
      {"summary", Json(std::vector<std::string>(debug.summary().begin(), debug.summary().end()))},
      {"notes", Json(std::vector<std::string>(debug.notes().begin(), debug.notes().end()))},
  };
}

}  // namespace

Json HostInfoJson(const v1::HostInfo& info) {
  const v1::ModuleInfo& module = info.module();
  // An object keyed by parameter name: what a script wants to look up.
  Json parameters = Json::object();
  for (const v1::ModuleParameter& parameter : module.parameters()) {
    parameters[parameter.name()] = parameter.value();
  }
  const v1::KvmCapabilities& kvm = info.kvm();
  return Json{
      {"daemon_version", info.daemon_version()},
      {"kernel_release", info.kernel_release()},
      {"module",
       {
           {"name", module.name()},
           {"state", ModuleStateName(module.state())},
           {"detail", module.detail()},
           {"parameters", std::move(parameters)},
       }},
      {"kvm",
       {
           {"api_version", kvm.api_version()},
           {"max_vcpus", kvm.max_vcpus()},
           {"guest_debug", kvm.guest_debug()},
           {"guest_debug2", kvm.guest_debug2()},
           {"num_debug_registers", kvm.num_debug_registers()},
           {"readonly_mem", kvm.readonly_mem()},
           {"sync_regs", kvm.sync_regs()},
       }},
      {"debug_capabilities", DebugCapabilitiesJson(info.debug_capabilities())},
  };
}

Json VmJson(const v1::Vm& vm) {
  Json vcpus = Json::array();
  for (const v1::VcpuInfo& vcpu : vm.vcpu_info()) {
    vcpus.push_back({
        {"id", vcpu.id()},
        {"state", vcpu.state()},
        {"exits", vcpu.exits()},
        {"rip", vcpu.rip()},
    });
  }
  return Json{
      {"name", vm.name()},
      {"state", VmStateName(vm.state())},
      {"failure", vm.failure()},
      {"vcpus", vm.vcpus()},
      {"memory_mib", vm.memory_mib()},
      {"image", vm.image()},
      {"entry_point", vm.entry_point()},
      {"console_bytes", vm.console_bytes()},
      {"created_unix_ms", vm.created_unix_ms()},
      {"vcpu_info", std::move(vcpus)},
  };
}

Json VmListJson(const v1::ListVmsResponse& list) {
  Json vms = Json::array();
  for (const v1::Vm& vm : list.vms()) vms.push_back(VmJson(vm));
  return Json{{"vms", std::move(vms)}};
}

Json VmDeletedJson(absl::string_view name) { return Json{{"name", name}, {"deleted", true}}; }

std::string DumpJson(const Json& json) {
  return json.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

}  // namespace pvm::ctl
