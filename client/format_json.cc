#include "client/format_json.h"

#include "client/enum_names.h"

namespace pvm::ctl {

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
