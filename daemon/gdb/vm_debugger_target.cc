// GdbTarget over the VM's real debug engine: virtual addresses, all-stop.
#include <utility>

#include "daemon/gdb/gdb_target.h"

namespace pvm::gdb {
namespace {

class VmDebuggerTarget final : public GdbTarget {
 public:
  VmDebuggerTarget(std::shared_ptr<vmm::Vm> vm, debug::VmDebugger& debugger)
      : vm_(std::move(vm)), debugger_(debugger) {}

  debug::DebugStateInfo State() const override { return debugger_.State(); }
  absl::Status SetEnabled(bool enabled) override {
    return debugger_.SetEnabled(enabled, debug::StopMode::kAllStop);
  }
  absl::StatusOr<debug::BreakpointInfo> AddBreakpoint(const debug::BreakpointSpec& spec) override {
    return debugger_.AddBreakpoint(spec, "");
  }
  absl::Status RemoveBreakpoint(uint32_t id) override { return debugger_.RemoveBreakpoint(id); }
  absl::Status Continue() override { return debugger_.Continue(); }
  absl::StatusOr<debug::StepResult> Step(uint32_t vcpu, Deadline deadline) override {
    return debugger_.Step(vcpu, 1, deadline);
  }
  absl::Status Interrupt() override { return debugger_.Interrupt(); }
  WaitResult WaitForAllStopped(Deadline deadline) const override {
    return debugger_.WaitForAllStopped(deadline);
  }
  absl::StatusOr<kvm_regs> GetRegs(uint32_t vcpu) override { return debugger_.GetRegs(vcpu); }
  absl::StatusOr<kvm_sregs> GetSregs(uint32_t vcpu) override { return debugger_.GetSregs(vcpu); }
  absl::StatusOr<kvm_regs> SetRegs(uint32_t vcpu, const debug::RegisterChange& change) override {
    return debugger_.SetRegs(vcpu, change);
  }
  absl::StatusOr<std::vector<std::byte>> ReadMemory(uint64_t address, size_t length,
                                                    uint32_t vcpu) override {
    return debugger_.ReadMemory(debug::AddressSpace::kVirtual, address, length, vcpu);
  }
  absl::Status WriteMemory(uint64_t address, const std::vector<std::byte>& data,
                           uint32_t vcpu) override {
    return debugger_.WriteMemory(debug::AddressSpace::kVirtual, address, data, vcpu);
  }
  std::shared_ptr<debug::EventLog> events() const override { return debugger_.events(); }

 private:
  std::shared_ptr<vmm::Vm> vm_;
  debug::VmDebugger& debugger_;
};

}  // namespace

std::unique_ptr<GdbTarget> MakeVmDebuggerTarget(std::shared_ptr<vmm::Vm> vm,
                                                debug::VmDebugger& debugger) {
  return std::make_unique<VmDebuggerTarget>(std::move(vm), debugger);
}

}  // namespace pvm::gdb
