// API messages as a real pvmd sends them, shared by the formatting tests.
#ifndef PVMD_TESTS_UNIT_CLIENT_SAMPLE_MESSAGES_H_
#define PVMD_TESTS_UNIT_CLIENT_SAMPLE_MESSAGES_H_

#include "pvm/v1/host.pb.h"
#include "pvm/v1/vm.pb.h"

namespace pvm::testing {

// 2024-11-25 09:15:00.123 UTC
inline constexpr int64_t kCreatedUnixMs = 1732526100123;

inline v1::HostInfo SampleHostInfo() {
  v1::HostInfo info;
  info.set_daemon_version("0.1.0");
  info.set_kernel_release("6.7.0-pvm");
  v1::ModuleInfo* module = info.mutable_module();
  module->set_name("kvm_pvm");
  module->set_state(v1::MODULE_STATE_BUILTIN);
  module->set_detail("/sys/module/kvm_pvm exists without initstate");
  v1::ModuleParameter* parameter = module->add_parameters();
  parameter->set_name("nx_huge_pages");
  parameter->set_value("N");
  parameter = module->add_parameters();
  parameter->set_name("enable_pcid");
  parameter->set_value("Y");
  v1::KvmCapabilities* kvm = info.mutable_kvm();
  kvm->set_api_version(12);
  kvm->set_max_vcpus(1024);
  kvm->set_guest_debug(true);
  kvm->set_guest_debug2(0);
  kvm->set_num_debug_registers(4);
  kvm->set_readonly_mem(true);
  kvm->set_sync_regs(7);
  v1::DebugCapabilities* debug = info.mutable_debug_capabilities();
  debug->set_probed(true);
  v1::PathDebugCapabilities* native = debug->mutable_native();
  native->set_hw_exec_breakpoint(v1::DEBUG_DELIVERY_NONE);
  native->set_single_step(v1::DEBUG_DELIVERY_GUEST_IDT);
  native->set_write_watchpoint(v1::DEBUG_DELIVERY_NONE);
  native->set_int3(v1::DEBUG_DELIVERY_GUEST_IDT);
  v1::PathDebugCapabilities* emulated = debug->mutable_emulated();
  emulated->set_hw_exec_breakpoint(v1::DEBUG_DELIVERY_DEBUG_EXIT);
  emulated->set_single_step(v1::DEBUG_DELIVERY_DEBUG_EXIT);
  emulated->set_write_watchpoint(v1::DEBUG_DELIVERY_NONE);
  emulated->set_int3(v1::DEBUG_DELIVERY_EMULATION_FAILURE);
  debug->set_address_rule(v1::ADDRESS_RULE_NONE);
  debug->set_address_rule_known(true);
  debug->set_address_rule_evidence("a host-half breakpoint fired");
  debug->set_duration_us(2560);
  debug->set_checks_duration_us(1200);
  debug->add_summary("native code: no debug exits");
  debug->add_summary("emulated code: debug exits");
  return info;
}

inline v1::Vm SampleRunningVm() {
  v1::Vm vm;
  vm.set_name("vm-7");
  vm.set_state(v1::VM_STATE_RUNNING);
  vm.set_vcpus(2);
  vm.set_memory_mib(64);
  vm.set_image("builtin:counter");
  vm.set_entry_point(0x100000);
  vm.set_console_bytes(1234);
  vm.set_created_unix_ms(kCreatedUnixMs);
  v1::VcpuInfo* vcpu = vm.add_vcpu_info();
  vcpu->set_id(0);
  vcpu->set_state("running");
  vcpu->set_exits(42);
  vcpu->set_rip(0x100010);
  vcpu = vm.add_vcpu_info();
  vcpu->set_id(1);
  vcpu->set_state("halted");
  vcpu->set_exits(3);
  // Above 2^53, where a double would round: the JSON must carry it exactly.
  vcpu->set_rip(0xffffffff81000000);
  return vm;
}

inline v1::Vm SampleFailedVm() {
  v1::Vm vm;
  vm.set_name("vm-fault");
  vm.set_state(v1::VM_STATE_FAILED);
  vm.set_vcpus(1);
  vm.set_memory_mib(16);
  vm.set_image("/var/lib/pvmd/images/fault.elf");
  vm.set_entry_point(0x200000);
  vm.set_failure("triple fault (shutdown) on vcpu 0 at rip 0x200123");
  vm.set_created_unix_ms(kCreatedUnixMs + 60000);
  v1::VcpuInfo* vcpu = vm.add_vcpu_info();
  vcpu->set_id(0);
  vcpu->set_state("failed");
  vcpu->set_exits(1);
  vcpu->set_rip(0x200123);
  return vm;
}

}  // namespace pvm::testing

#endif  // PVMD_TESTS_UNIT_CLIENT_SAMPLE_MESSAGES_H_
