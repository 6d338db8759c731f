// VmDebugger's state, shared by its control side (vm_debugger.cc, on API threads)
// and its exit side (debug_exits.cc, on vCPU threads).
//
// Two rules keep this lock-light:
// - The breakpoint table, the slots, `enabled_`, `mode_` and every VcpuDebug's
//   resume plan change only inside Vm::WithAllParked, so vCPU threads (which run
//   only outside it) read them without locks; the park handshake orders the two.
// - A vCPU's resume plan (mode, steps, disarmed slot) is otherwise touched only by
//   its own thread. Stop records are shared and guarded by stop_mu_, which is
//   never held while waiting for a vCPU.
#ifndef PVMD_DAEMON_DEBUG_VM_DEBUGGER_IMPL_H_
#define PVMD_DAEMON_DEBUG_VM_DEBUGGER_IMPL_H_

#include <linux/kvm.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/debug/address_policy.h"
#include "daemon/debug/debug_event.h"
#include "daemon/debug/debug_types.h"
#include "daemon/debug/event_log.h"
#include "daemon/debug/guest_range.h"
#include "daemon/debug/page_watch.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/vmm/vm.h"

namespace pvm::debug {

inline constexpr uint64_t kDr6StepBit = 1u << 14;  // DR6.BS
inline constexpr uint64_t kDr6Reserved = 0xffff0ff0;
inline constexpr uint8_t kInt3 = 0xcc;
inline constexpr uint64_t kRflagsTf = 1u << 8;
// With exception interception, DR2 and DR3 watch the guest's #DB and #BP handler
// entries; user breakpoints then use DR0 and DR1 only.
inline constexpr int kDbHandlerSlot = 2;
inline constexpr int kBpHandlerSlot = 3;
inline constexpr int kUserSlotsWhenIntercepting = 2;
// Accesses to watched pages that one instruction may make and pvmd completes.
inline constexpr size_t kMaxAccessesPerInstruction = 16;

struct Breakpoint {
  uint32_t id = 0;
  BreakpointSpec spec;
  int slot = -1;              // hardware kinds
  uint64_t dr7_bits = 0;      // hardware kinds: L_i, R/W_i, LEN_i
  bool page_watched = false;  // write/rw served by page protection: no DR
  uint64_t watch_gpa = 0;     // page_watched: the watched range's guest-physical start
  bool patched = false;       // served by an INT3 in guest memory (software, or exec on
                              // a host whose native code gives no debug exits)
  uint64_t gpa = 0;           // patched: where the INT3 byte lives
  uint8_t original = 0;       // software: the guest's byte under the INT3
  // patched: vCPUs stepping over it with the original byte in place (Impl::patch_mu_).
  // The INT3 goes back only when the last of them has stepped, or a second vCPU
  // resumed from the same breakpoint would meet the INT3 again before its step.
  uint32_t steppers = 0;
  std::string location;
  std::atomic<uint64_t> hits{0};
};

enum class StopCause { kNone, kBreakpoint, kWatchpoint, kStep, kInterrupt, kPeer };

struct VcpuDebug {
  // What the vCPU does when it next runs. See the file comment for who writes it.
  // kAwaitIdt: single-stepping a guest's boot until it has loaded its IDT, so
  // interception can be armed before any native code runs.
  enum class Mode { kRun, kStepOver, kUserStep, kAwaitIdt };
  uint32_t id = 0;  // the vCPU's index
  Mode mode = Mode::kRun;
  uint32_t steps_left = 0;
  uint32_t steps_done = 0;
  int disarmed_slot = -1;    // armed again after the next instruction
  uint32_t reinsert_id = 0;  // software breakpoint to re-patch after it
  bool tf_step = false;      // the step is RFLAGS.TF, caught at the #DB handler
  uint64_t guest_dr6 = 0;    // restored after a TF step, so the guest cannot tell
  uint32_t await_idt_steps = 0;
  bool park_after_step = false;  // a step-over done alone (Continue): park after it
  // Trace mode, several vCPUs: this vCPU's hit on the breakpoint under its RIP was
  // reported; its step-over waited for another vCPU's (see exclusive_stepper_).
  uint32_t reported_bp = 0;
  bool held_by_stepper = false;                  // guarded by Impl::stop_mu_
  std::array<uint64_t, 4> db{};                  // mirror of what KVM was given, for events
  std::optional<kvm_guest_debug> applied_debug;  // the last KVM_SET_GUEST_DEBUG that took
  uint64_t dr7 = 0;

  // Guarded by Impl::stop_mu_.
  bool stopped = false;
  StopCause cause = StopCause::kNone;
  uint32_t breakpoint_id = 0;  // the breakpoint the vCPU stopped on, if any
  std::string reason;
  uint64_t rip = 0;
  uint64_t last_event = 0;
  bool ended = false;  // halted or failed
};

class VmDebugger::Impl {
 public:
  using WaitResult = VmDebugger::WaitResult;
  Impl(vmm::Vm& vm, DebugConfig config);

  // ---- control side (vm_debugger.cc) ----
  absl::Status SetEnabled(bool enabled, StopMode mode);
  DebugStateInfo State() const;
  absl::StatusOr<BreakpointInfo> AddBreakpoint(BreakpointSpec spec, const std::string& symbol);
  absl::Status RemoveBreakpoint(uint32_t id);
  absl::StatusOr<std::vector<BreakpointInfo>> ListBreakpoints() const;
  absl::Status Continue();
  absl::StatusOr<StepResult> Step(uint32_t vcpu, uint32_t count,
                                  std::chrono::steady_clock::time_point deadline);
  absl::Status Interrupt();
  WaitResult WaitForAllStopped(std::chrono::steady_clock::time_point deadline);
  const DebugConfig& config() const { return config_; }
  absl::StatusOr<kvm_regs> GetRegs(uint32_t vcpu);
  absl::StatusOr<kvm_sregs> GetSregs(uint32_t vcpu);
  absl::StatusOr<kvm_debugregs> GetDebugRegs(uint32_t vcpu);
  absl::StatusOr<kvm_regs> SetRegs(uint32_t vcpu, const RegisterChange& change);
  absl::StatusOr<std::vector<std::byte>> ReadMemory(AddressSpace space, uint64_t address,
                                                    size_t length, uint32_t vcpu);
  absl::Status WriteMemory(AddressSpace space, uint64_t address, const std::vector<std::byte>& data,
                           uint32_t vcpu);
  std::shared_ptr<EventLog> events() const { return events_; }
  void OnVcpuEnded(uint32_t vcpu);
  void OnVmShutdown();

  // ---- exit side (debug_exits.cc), on the vCPU's own thread ----
  std::optional<vmm::ExitDecision> OnDebugExit(uint32_t vcpu, vmm::VcpuFd& fd);
  std::optional<vmm::ExitDecision> OnInstructionExit(uint32_t vcpu, vmm::VcpuFd& fd);
  std::optional<vmm::ExitDecision> OnMmioExit(uint32_t vcpu, vmm::VcpuFd& fd);

 private:
  // Exit side.
  std::optional<vmm::ExitDecision> OnBreakpointHit(uint32_t vcpu, vmm::VcpuFd& fd, Breakpoint& bp,
                                                   EventKind kind, uint8_t vector, uint64_t rip,
                                                   uint64_t dr6);
  std::optional<vmm::ExitDecision> OnStepDone(uint32_t vcpu, vmm::VcpuFd& fd, uint64_t rip,
                                              uint64_t dr6);
  vmm::ExitDecision StopAll(uint32_t vcpu, StopCause cause, uint32_t breakpoint_id,
                            std::string reason, uint64_t rip, uint64_t sequence);
  // access: what a page watch saw (the accessed address, old and new value).
  uint64_t Emit(uint32_t vcpu, EventKind kind, uint8_t vector, uint64_t rip, uint64_t dr6,
                const Breakpoint* bp, bool stopped, const WatchHit* access = nullptr);
  // Page-watch hits of one completed instruction: an event each, then a stop unless
  // every one of them traces.
  std::optional<vmm::ExitDecision> OnWatchHits(uint32_t vcpu, vmm::VcpuFd& fd,
                                               std::span<const WatchHit> hits);
  Breakpoint* SoftwareBreakpointAt(uint64_t gva, uint32_t vcpu, vmm::VcpuFd& fd);
  // Re-arms what a step-over disarmed. Returns false if KVM refused.
  bool Rearm(VcpuDebug& v, vmm::VcpuFd& fd);
  // A user step ends at a breakpoint or watchpoint: Rearm, back to running mode.
  bool EndStepAtHit(VcpuDebug& v, vmm::VcpuFd& fd);
  // An exit at the guest's #BP or #DB handler entry (interception).
  std::optional<vmm::ExitDecision> OnInterceptedException(uint32_t vcpu, vmm::VcpuFd& fd,
                                                          int vector);
  // Trace mode: steps this vCPU over a patched breakpoint while every other vCPU is
  // held out of the guest, so none runs past the lifted byte unreported. Returns
  // nullopt (and the vCPU goes round again) while another vCPU holds that role.
  std::optional<vmm::ExitDecision> StepOverPatchExclusively(uint32_t vcpu, vmm::VcpuFd& fd,
                                                            Breakpoint& bp);
  // The exclusive step-over of `vcpu` is done: the vCPUs it held run again.
  void EndExclusiveStep(uint32_t vcpu);
  // A boot step while waiting for the guest's IDT.
  std::optional<vmm::ExitDecision> OnAwaitIdtStep(uint32_t vcpu, vmm::VcpuFd& fd);
  // Lets the guest's own exception handler run: steps over the interception
  // breakpoint at its entry (RF is ignored here).
  std::optional<vmm::ExitDecision> PassToGuestHandler(VcpuDebug& v, vmm::VcpuFd& fd, int slot);

  // Both sides.
  // Makes the vCPU's next run one instruction (v.mode already kStepOver or
  // kUserStep): TF with interception for natively running code on hosts that need
  // it, KVM_GUESTDBG_SINGLESTEP otherwise.
  absl::Status BeginStep(VcpuDebug& v, vmm::VcpuFd& fd);
  // Reads the guest's #DB/#BP handlers from this vCPU; true when interception is
  // armed after it (the handlers may have moved: they are re-read on every event).
  bool RefreshInterception(vmm::VcpuFd& fd);
  kvm_guest_debug GuestDebugFor(VcpuDebug& v) const;
  absl::Status ApplyGuestDebug(uint32_t vcpu);  // vCPU parked or its own thread
  absl::Status ApplyGuestDebug(VcpuDebug& v, vmm::VcpuFd& fd);
  uint64_t RequestedDr7() const;
  Breakpoint* FindBreakpoint(uint32_t id) const;

  // Control side helpers; control_mu_ held.
  absl::Status CheckEnabled() const;
  absl::Status CheckVcpu(uint32_t vcpu) const;
  // FAILED_PRECONDITION unless the vCPU is stopped by the debugger or the VM paused.
  absl::Status CheckVcpuStopped(uint32_t vcpu) const;
  // With all parked: arranges for a stopped vCPU to step over the breakpoint it
  // stopped on (slot disarmed or byte restored, one single-step), if still there.
  absl::Status PlanResume(uint32_t vcpu);
  // The breakpoint the vCPU stopped on, if RIP is still at it (nullptr otherwise).
  absl::StatusOr<Breakpoint*> BreakpointUnderRip(uint32_t vcpu);
  // With all parked, for a vCPU stopped on a software breakpoint: runs it alone for
  // the one instruction under the breakpoint (original byte in place, INT3 back
  // after it) while every other vCPU stays parked, so none of them can run past the
  // address unseen meanwhile. False when that step ended in a new stop (an event).
  absl::StatusOr<bool> StepOffPatchAlone(uint32_t vcpu);
  // Stopped on a software (patched) breakpoint that is still under its RIP.
  bool StoppedOnPatch(uint32_t vcpu);
  absl::StatusOr<uint64_t> Cr3Of(uint32_t vcpu);
  // Guest debug for the vCPU's mode: BeginStep when it is to step, else plain.
  absl::Status ApplyRunMode(uint32_t vcpu);
  // With interception: reads the guest's handlers (from any live vCPU), or for a VM
  // that has not started, arranges to catch them during boot. False when neither
  // is possible: the guest has no usable IDT.
  bool ArmInterceptionLocked();
  // Enabled, a real vCPU, and the range mapped (through that vCPU's CR3 if virtual).
  absl::StatusOr<std::vector<PhysicalChunk>> MapForAccess(AddressSpace space, uint64_t address,
                                                          size_t length, uint32_t vcpu);
  // Enabled, vCPU stopped (or VM not running), then fd.*read() with it parked.
  template <typename T>
  absl::StatusOr<T> ReadStoppedVcpu(uint32_t vcpu, absl::StatusOr<T> (vmm::VcpuFd::*read)() const);
  absl::Status PatchInt3(Breakpoint& bp, uint32_t vcpu);
  absl::Status WatchPage(Breakpoint& bp, uint32_t vcpu);
  absl::Status RestoreByte(const Breakpoint& bp);
  // A vCPU is about to step over bp's instruction: the original byte goes in (if no
  // other vCPU has put it there already). Either thread; takes patch_mu_.
  absl::Status LiftPatch(Breakpoint& bp);
  // The next run of v is one instruction over bp: its slot disarmed for v, or its
  // INT3 lifted (LiftPatch) and re-patched after (Rearm). Either thread.
  absl::Status PlanStepOver(VcpuDebug& v, Breakpoint& bp);
  // That vCPU has stepped: the INT3 goes back once no other vCPU still steps.
  absl::Status Repatch(Breakpoint& bp);
  BreakpointInfo InfoOf(const Breakpoint& bp) const;
  void ClearAllLocked();

  vmm::Vm& vm_;
  const DebugConfig config_;
  const AddressPolicy policy_;
  const std::shared_ptr<EventLog> events_;

  mutable std::mutex control_mu_;  // serialises control calls; not taken on vCPU threads
  // Changed only with all vCPUs parked (see the file comment).
  bool enabled_ = false;
  StopMode mode_ = StopMode::kAllStop;
  std::map<uint32_t, std::unique_ptr<Breakpoint>> breakpoints_;
  std::array<Breakpoint*, 4> slots_{};
  uint32_t next_id_ = 1;
  std::vector<std::unique_ptr<VcpuDebug>> vcpus_;
  // The guest's handler entries for #DB and #BP (0: unknown). Written with all
  // vCPUs parked, or by a vCPU thread for a value every vCPU would read the same
  // (the IDT is shared), hence atomic.
  std::atomic<uint64_t> db_handler_{0};
  std::atomic<uint64_t> bp_handler_{0};
  // The vCPU stepping over a patched breakpoint in trace mode with the others held
  // (-1: none); taken and given back on vCPU threads.
  std::atomic<int> exclusive_stepper_{-1};
  // Page-protection watchpoints; made on the first one, changed with all parked.
  std::unique_ptr<PageWatch> page_watch_;

  std::mutex patch_mu_;  // Breakpoint::steppers and the bytes they decide

  mutable std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool shut_down_ = false;  // guarded by stop_mu_
  uint64_t clears_ = 0;     // guarded by stop_mu_: times debugging was disabled
};

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_VM_DEBUGGER_IMPL_H_
