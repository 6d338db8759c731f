#include "daemon/vmm/exit_handler.h"

#include <linux/kvm.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/vmm/guest_abi.h"

namespace pvm::vmm {
namespace {

ExitDecision Fail(std::string reason) { return {ExitAction::kFail, std::move(reason)}; }

std::string Where(const kvm_run& run) {
  if ((run.kvm_valid_regs & KVM_SYNC_X86_REGS) != 0) {
    return absl::StrFormat(" at RIP 0x%x", run.s.regs.regs.rip);
  }
  return "";
}

ExitDecision HandlePortIo(kvm_run& run, ExitObserver& observer) {
  auto* data = reinterpret_cast<char*>(&run) + run.io.data_offset;
  const size_t length = static_cast<size_t>(run.io.size) * run.io.count;
  if (run.io.direction == KVM_EXIT_IO_OUT) {
    if (run.io.port == PVM_CONSOLE_PORT) {
      observer.OnConsoleOutput(std::string_view(data, length));
    }
    // Writes to ports without a device vanish, as on a machine with nothing there.
    return {};
  }
  // Reads from ports without a device float high.
  std::memset(data, 0xff, length);
  return {};
}

ExitDecision HandleMmio(kvm_run& run) {
  // Memory outside every slot: no device lives there. Reads see all-ones, writes
  // are dropped, like an unclaimed bus cycle.
  if (!run.mmio.is_write) {
    std::memset(run.mmio.data, 0xff, sizeof(run.mmio.data));
  }
  return {};
}

ExitDecision HandleInternalError(uint32_t vcpu_id, const kvm_run& run) {
  std::string reason;
  switch (run.internal.suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      reason = "KVM could not emulate an instruction";
      if (run.emulation_failure.ndata >= 3 &&
          (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
        const uint8_t first = run.emulation_failure.insn_bytes[0];
        absl::StrAppendFormat(&reason, " (first byte 0x%02x)", first);
      }
      break;
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      reason = "an exception hit while KVM delivered another";
      break;
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      reason = "KVM could not deliver an event to the guest";
      break;
    default:
      reason = absl::StrCat("KVM internal error, suberror ", run.internal.suberror);
  }
  return Fail(absl::StrCat(reason, " on vCPU ", vcpu_id, Where(run)));
}

}  // namespace

const char* ExitReasonName(uint32_t exit_reason) {
  switch (exit_reason) {
    case KVM_EXIT_UNKNOWN:
      return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION:
      return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO:
      return "KVM_EXIT_IO";
    case KVM_EXIT_DEBUG:
      return "KVM_EXIT_DEBUG";
    case KVM_EXIT_HLT:
      return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO:
      return "KVM_EXIT_MMIO";
    case KVM_EXIT_SHUTDOWN:
      return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY:
      return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR:
      return "KVM_EXIT_INTR";
    case KVM_EXIT_INTERNAL_ERROR:
      return "KVM_EXIT_INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT:
      return "KVM_EXIT_SYSTEM_EVENT";
    default:
      return "an unknown exit";
  }
}

ExitDecision HandleExit(uint32_t vcpu_id, VcpuFd& fd, ExitObserver& observer) {
  kvm_run& run = fd.run();
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
    case KVM_EXIT_MMIO: {
      ExitDecision decision;
      if (run.exit_reason == KVM_EXIT_IO) {
        decision = HandlePortIo(run, observer);
      } else if (std::optional<ExitDecision> claimed = observer.OnMmioExit(vcpu_id, fd)) {
        decision = *std::move(claimed);  // a watched page: the access is done
      } else {
        decision = HandleMmio(run);
      }
      if (decision.action == ExitAction::kContinue) {
        if (std::optional<ExitDecision> debug = observer.OnInstructionExit(vcpu_id, fd)) {
          return *std::move(debug);
        }
      }
      return decision;
    }
    case KVM_EXIT_HLT:
      return {ExitAction::kHalt, ""};
    case KVM_EXIT_INTR:
      return {};
    case KVM_EXIT_SHUTDOWN:
      return Fail(absl::StrCat("triple fault (KVM_EXIT_SHUTDOWN) on vCPU ", vcpu_id, Where(run)));
    case KVM_EXIT_FAIL_ENTRY:
      return Fail(absl::StrFormat("KVM could not enter vCPU %d (hardware reason 0x%x)", vcpu_id,
                                  run.fail_entry.hardware_entry_failure_reason));
    case KVM_EXIT_DEBUG:
      if (std::optional<ExitDecision> decision = observer.OnDebugExit(vcpu_id, fd)) {
        return *std::move(decision);
      }
      return Fail(
          absl::StrCat("debug exit on vCPU ", vcpu_id, Where(run), " with guest debugging off"));
    case KVM_EXIT_INTERNAL_ERROR:
      if (std::optional<ExitDecision> decision = observer.OnDebugExit(vcpu_id, fd)) {
        return *std::move(decision);
      }
      return HandleInternalError(vcpu_id, run);
    default:
      return Fail(absl::StrCat("vCPU ", vcpu_id, " stopped with ", ExitReasonName(run.exit_reason),
                               " (", run.exit_reason, "), which pvmd does not handle", Where(run)));
  }
}

}  // namespace pvm::vmm
