// The debugger of one VM: guest-debug on/off, breakpoints in DR slots and as INT3
// patches, stops (all-stop or trace), stepping, registers, memory and the event
// log. Attached to the VM as its DebugExitHook; vCPU threads call OnDebugExit.
//
// Every change of debug state happens with all of the VM's vCPUs parked
// (Vm::WithAllParked), so vCPU threads read the breakpoint table without locks.
#ifndef PVMD_DAEMON_DEBUG_VM_DEBUGGER_H_
#define PVMD_DAEMON_DEBUG_VM_DEBUGGER_H_

#include <linux/kvm.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/debug/address_policy.h"
#include "daemon/debug/debug_types.h"
#include "daemon/debug/event_log.h"
#include "daemon/vmm/vm.h"

namespace pvm::debug {

class VmDebugger;

// How this host's module serves guest debugging, from pvmd's start-up probe.
struct DebugConfig {
  AddressPolicy policy;
  // Natively running code gives no debug exits (kvm-pvm here): catch the guest's
  // INT3 and TF traps at its IDT handlers, and serve execute breakpoints as INT3
  // patches. Off: the module's KVM_SET_GUEST_DEBUG does it all.
  bool intercept_native_exceptions = false;
  // DR7 data breakpoints never fire (kvm-pvm here): serve write and read/write
  // watchpoints by page protection (split memslots) instead.
  bool page_protection_watchpoints = false;
  // Debug events kept per VM (limits.event_ring_size; EventLog rounds it up to a
  // power of two). A subscriber further behind gets a gap record.
  size_t event_ring_size = 4096;
};

// The VM's debugger, attached on first use. Lives as long as the VM.
VmDebugger& DebuggerFor(vmm::Vm& vm, const DebugConfig& config);

class VmDebugger final : public vmm::DebugExitHook {
 public:
  VmDebugger(vmm::Vm& vm, DebugConfig config);
  ~VmDebugger() override;

  // Disabling removes every breakpoint and resumes the vCPUs it stopped.
  absl::Status SetEnabled(bool enabled, StopMode mode);
  DebugStateInfo State() const;

  // symbol_or_empty: when non-empty, the address is resolved from the image
  // ("name" or "name+0x10"), replacing spec.address.
  absl::StatusOr<BreakpointInfo> AddBreakpoint(BreakpointSpec spec,
                                               const std::string& symbol_or_empty);
  absl::Status RemoveBreakpoint(uint32_t id);
  absl::StatusOr<std::vector<BreakpointInfo>> ListBreakpoints() const;

  absl::Status Continue();
  // Returns once the vCPU stopped again or the deadline passed (DEADLINE_EXCEEDED;
  // the step goes on and ends in an event).
  absl::StatusOr<StepResult> Step(uint32_t vcpu, uint32_t count,
                                  std::chrono::steady_clock::time_point deadline);
  absl::Status Interrupt();

  enum class WaitResult { kAllStopped, kTimedOut, kDisabled, kShutDown };
  // Blocks until every vCPU is stopped by the debugger or has ended (halted or
  // failed), debugging is off (kDisabled at once when it already is), the VM shut
  // down, or the deadline passes. For a
  // debugger front end (the gdb stub) that resumed the VM and waits for its next
  // all-stop, whoever's breakpoint or interrupt causes it.
  WaitResult WaitForAllStopped(std::chrono::steady_clock::time_point deadline) const;

  absl::StatusOr<kvm_regs> GetRegs(uint32_t vcpu);
  absl::StatusOr<kvm_sregs> GetSregs(uint32_t vcpu);
  absl::StatusOr<kvm_debugregs> GetDebugRegs(uint32_t vcpu);
  absl::StatusOr<kvm_regs> SetRegs(uint32_t vcpu, const RegisterChange& change);
  // The configuration the debugger was made with: the address rule, the mechanisms.
  const DebugConfig& config() const;

  absl::StatusOr<std::vector<std::byte>> ReadMemory(AddressSpace space, uint64_t address,
                                                    size_t length, uint32_t vcpu);
  absl::Status WriteMemory(AddressSpace space, uint64_t address, const std::vector<std::byte>& data,
                           uint32_t vcpu);

  // Never null; closed when the VM shuts down. Shared so a subscriber outlives a
  // deleted VM safely.
  std::shared_ptr<EventLog> events() const;

  // vmm::DebugExitHook, on vCPU threads.
  std::optional<vmm::ExitDecision> OnDebugExit(uint32_t vcpu_id, vmm::VcpuFd& fd) override;
  std::optional<vmm::ExitDecision> OnInstructionExit(uint32_t vcpu_id, vmm::VcpuFd& fd) override;
  std::optional<vmm::ExitDecision> OnMmioExit(uint32_t vcpu_id, vmm::VcpuFd& fd) override;
  void OnVcpuEnded(uint32_t vcpu_id) override;
  void OnVmShutdown() override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_VM_DEBUGGER_H_
