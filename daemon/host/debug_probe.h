// What guest debugging this host's KVM module really delivers, found once at start-up
// by running a tiny probe VM: for code the module runs natively (CPL3 in 64-bit long
// mode) and for code it emulates (CPL0 under kvm-pvm), does a hardware execute
// breakpoint, single-step, a write watchpoint and INT3 reach pvmd, and does the module
// drop breakpoints on host addresses (the effective-DR7 rule)?
//
// KVM_CHECK_EXTENSION cannot answer this: kvm-pvm reports KVM_CAP_SET_GUEST_DEBUG and
// then gives no debug exit at all for natively running code.
#ifndef PVMD_DAEMON_HOST_DEBUG_PROBE_H_
#define PVMD_DAEMON_HOST_DEBUG_PROBE_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/vmm/kvm.h"
#include "pvm_debug.h"

namespace pvm::host {

// Where a guest debug event ended up.
enum class DebugDelivery {
  kDebugExit,         // KVM_EXIT_DEBUG to pvmd
  kEmulationFailure,  // KVM_EXIT_INTERNAL_ERROR, emulation failure on the 0xcc byte (INT3 only)
  kGuestIdt,          // delivered into the guest's own IDT handler
  kNone,              // the guest ran past it as if nothing was set
  kInconclusive,      // something else happened (see DebugCapabilities::notes)
};

// "debug exit", "emulation failure", "guest IDT", "none", "inconclusive".
const char* DebugDeliveryName(DebugDelivery delivery);

// One path: natively running code, or emulated code.
struct PathDebugCapabilities {
  DebugDelivery hw_exec_breakpoint = DebugDelivery::kInconclusive;  // DR0, USE_HW_BP
  DebugDelivery single_step = DebugDelivery::kInconclusive;         // KVM_GUESTDBG_SINGLESTEP
  DebugDelivery write_watchpoint = DebugDelivery::kInconclusive;    // DR0 R/W=01 LEN=8
  DebugDelivery int3 = DebugDelivery::kInconclusive;                // INT3 with USE_SW_BP

  bool operator==(const PathDebugCapabilities&) const = default;
};

struct DebugCapabilities {
  // "native": CPL3 in 64-bit long mode, which kvm-pvm runs on the CPU; "emulated":
  // CPL0, which kvm-pvm runs in KVM's instruction emulator. On a VMX/SVM host both
  // run in hardware; the names say how kvm-pvm treats them.
  PathDebugCapabilities native;
  PathDebugCapabilities emulated;

  // The module's effective-DR7 rule as far as the probe could see it: a breakpoint on
  // a host-half address (0xffff888000000000) and one on address 0 either fire or are
  // dropped. Without any path where hardware breakpoints exit, the rule cannot be seen.
  pvm_va_rule address_rule = PVM_VA_RULE_NONE;
  bool address_rule_known = false;
  std::string address_rule_evidence;  // how it was found, or why it could not be

  std::chrono::nanoseconds duration{0};  // the whole probe, VM creation to teardown
  // The checks alone: the part the probe bounds (ProbeOptions); the rest is what this
  // host's KVM takes to create and destroy a VM.
  std::chrono::nanoseconds checks_duration{0};
  std::vector<std::string> notes;  // anything unexpected, for people

  // The rule breakpoint validation should use: the measured one, or NONE (accept
  // every canonical address) when the probe could not tell.
  pvm_va_rule ValidationRule() const {
    return address_rule_known ? address_rule : PVM_VA_RULE_NONE;
  }
  // Lines a person understands: one per path (what the module delivers and the
  // mechanism pvmd uses for the rest), the address rule, the time.
  std::vector<std::string> SummaryLines() const;
  std::string Summary() const;  // SummaryLines() joined with newlines
  // One line for the log: every verdict in short words and the duration.
  std::string OneLine() const;
};

struct ProbeOptions {
  // A KVM_RUN that has not returned by then is kicked out (a timer signal) and the
  // check is inconclusive. The probe code ends in an OUT, so this never triggers on a
  // host that behaves; it bounds one that does not.
  std::chrono::milliseconds run_deadline{100};
  // Checks that would start after this much time spent on checks are skipped
  // (inconclusive). Creating and destroying the VM is not counted: that cost is the
  // host's (~1 ms here, ~0.4 s in the SVM test host, which is emulated by QEMU's TCG).
  std::chrono::milliseconds checks_budget{800};
};

// Builds a one-vCPU VM in memory (page tables, GDT, IDT, TSS, hand-assembled code),
// runs each check with a real KVM_RUN and tears the VM down. Errors: the VM could not
// be built or an ioctl other than KVM_RUN failed; a check whose outcome makes no
// sense is reported as kInconclusive with a note instead.
// Uses vmm::KickSignal() on the calling thread for the deadline; the thread's signal
// mask is restored afterwards.
absl::StatusOr<DebugCapabilities> ProbeGuestDebug(const vmm::Kvm& kvm,
                                                  const ProbeOptions& options = {});

}  // namespace pvm::host

#endif  // PVMD_DAEMON_HOST_DEBUG_PROBE_H_
