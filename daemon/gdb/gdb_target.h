// What the gdb stub needs of a VM's debugger. An interface so the session's protocol
// logic is unit-tested and fuzzed against a scripted target; in pvmd it is the VM's
// real debug engine (VmDebuggerTarget), shared with the gRPC API.
#ifndef PVMD_DAEMON_GDB_GDB_TARGET_H_
#define PVMD_DAEMON_GDB_GDB_TARGET_H_

#include <linux/kvm.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/debug/debug_types.h"
#include "daemon/debug/event_log.h"
#include "daemon/debug/vm_debugger.h"

namespace pvm::gdb {

using Deadline = std::chrono::steady_clock::time_point;
using WaitResult = debug::VmDebugger::WaitResult;

class GdbTarget {
 public:
  virtual ~GdbTarget() = default;

  virtual debug::DebugStateInfo State() const = 0;
  virtual absl::Status SetEnabled(bool enabled) = 0;  // all-stop
  virtual absl::StatusOr<debug::BreakpointInfo> AddBreakpoint(
      const debug::BreakpointSpec& spec) = 0;
  virtual absl::Status RemoveBreakpoint(uint32_t id) = 0;
  virtual absl::Status Continue() = 0;
  virtual absl::StatusOr<debug::StepResult> Step(uint32_t vcpu, Deadline deadline) = 0;
  virtual absl::Status Interrupt() = 0;
  virtual WaitResult WaitForAllStopped(Deadline deadline) const = 0;
  virtual absl::StatusOr<kvm_regs> GetRegs(uint32_t vcpu) = 0;
  virtual absl::StatusOr<kvm_sregs> GetSregs(uint32_t vcpu) = 0;
  virtual absl::StatusOr<kvm_regs> SetRegs(uint32_t vcpu, const debug::RegisterChange& change) = 0;
  virtual absl::StatusOr<std::vector<std::byte>> ReadMemory(uint64_t address, size_t length,
                                                            uint32_t vcpu) = 0;
  virtual absl::Status WriteMemory(uint64_t address, const std::vector<std::byte>& data,
                                   uint32_t vcpu) = 0;
  virtual std::shared_ptr<debug::EventLog> events() const = 0;
};

// The real thing: one VM's debugger. Holds the VM, so the debugger outlives the
// stub even when the VM is deleted meanwhile (the session then sees kShutDown).
std::unique_ptr<GdbTarget> MakeVmDebuggerTarget(std::shared_ptr<vmm::Vm> vm,
                                                debug::VmDebugger& debugger);

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_TARGET_H_
