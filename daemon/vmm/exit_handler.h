// Decodes a KVM exit into what the vCPU thread does next.
#ifndef PVMD_DAEMON_VMM_EXIT_HANDLER_H_
#define PVMD_DAEMON_VMM_EXIT_HANDLER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/vmm/vcpu_fd.h"

namespace pvm::vmm {

enum class ExitAction {
  kContinue,  // re-enter the guest
  kPark,      // stop here until the VM resumes this vCPU (the debugger's stops)
  kHalt,      // the guest halted this vCPU for good
  kFail,      // the VM cannot go on; `reason` says why
};

struct ExitDecision {
  ExitAction action = ExitAction::kContinue;
  std::string reason;
};

// The VM's side of its vCPUs. Called on the vCPU thread, never with vCPU locks held.
class ExitObserver {
 public:
  virtual ~ExitObserver() = default;
  virtual void OnConsoleOutput(std::string_view bytes) = 0;
  // KVM_EXIT_DEBUG, and KVM_EXIT_INTERNAL_ERROR before it counts as a failure (an
  // INT3 in emulated code arrives as one). nullopt: not the debugger's exit.
  virtual std::optional<ExitDecision> OnDebugExit(uint32_t vcpu_id, VcpuFd& fd) = 0;
  // After a port I/O or MMIO exit was handled: the instruction is complete, and a
  // single-step trap KVM would have raised for it is not coming. nullopt: go on.
  virtual std::optional<ExitDecision> OnInstructionExit(uint32_t vcpu_id, VcpuFd& fd) = 0;
  // KVM_EXIT_MMIO first goes here: a value means the access was completed (e.g. on a
  // page the debugger protects); nullopt gives it the no-device default.
  virtual std::optional<ExitDecision> OnMmioExit(uint32_t /*vcpu_id*/, VcpuFd& /*fd*/) {
    return std::nullopt;
  }
  virtual void OnVcpuHalted(uint32_t vcpu_id) = 0;
  virtual void OnVcpuFailed(uint32_t vcpu_id, const std::string& reason) = 0;
};

ExitDecision HandleExit(uint32_t vcpu_id, VcpuFd& fd, ExitObserver& observer);

// "KVM_EXIT_SHUTDOWN" and the like, for messages.
const char* ExitReasonName(uint32_t exit_reason);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_EXIT_HANDLER_H_
