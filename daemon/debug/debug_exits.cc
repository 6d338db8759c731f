// The exit side of VmDebugger: turns KVM debug exits into events, stops and the
// step-over recipe. Runs on the vCPU's own thread; must not block or allocate on
// the trace path.
#include <linux/kvm.h>
#include <time.h>

#include <array>
#include <span>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/debug/exception_intercept.h"
#include "daemon/debug/vm_debugger_impl.h"
#include "daemon/vmm/exit_handler.h"
#include "daemon/vmm/page_tables.h"

namespace pvm::debug {
namespace {

constexpr vmm::ExitDecision kContinue{vmm::ExitAction::kContinue, ""};

int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// kvm-pvm's emulator cannot execute INT3 and reports an emulation failure with
// the instruction bytes instead of a #BP.
bool IsInt3EmulationFailure(const kvm_run& run) {
  return run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
         (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
         run.emulation_failure.insn_size >= 1 && run.emulation_failure.insn_bytes[0] == kInt3;
}

// An execute breakpoint served by a patch is still what the user asked for.
EventKind PatchedKind(const Breakpoint& bp) {
  return bp.spec.kind == BreakpointKind::kExec ? EventKind::kHwBreakpoint
                                               : EventKind::kSwBreakpoint;
}

vmm::ExitDecision Fail(uint32_t vcpu, absl::string_view what) {
  return {vmm::ExitAction::kFail, absl::StrCat("vCPU ", vcpu, ": ", what)};
}

constexpr uint32_t kMaxAwaitIdtSteps = 1'000'000;

}  // namespace

uint64_t VmDebugger::Impl::Emit(uint32_t vcpu, EventKind kind, uint8_t vector, uint64_t rip,
                                uint64_t dr6, const Breakpoint* bp, bool stopped,
                                const WatchHit* access) {
  const VcpuDebug& v = *vcpus_[vcpu];
  DebugEvent event;
  event.timestamp_ns = RealtimeNs();
  event.rip = rip;
  event.dr6 = dr6;
  event.dr7 = v.dr7;
  event.vcpu = vcpu;
  event.kind = kind;
  event.vector = vector;
  event.stopped = stopped;
  if (bp != nullptr) {
    event.breakpoint_id = bp->id;
    if (access != nullptr) {
      // The page watch saw the access itself; same page, so the same offset.
      event.address = bp->spec.address - bp->watch_gpa + access->gpa;
      event.has_address = true;
      event.old_value = access->old_value;
      event.new_value = access->new_value;
      event.access_length = static_cast<uint8_t>(access->length);
      event.is_write = access->is_write;
    } else if (kind == EventKind::kWatchpoint) {
      // DR6 names the slot, not the byte: the watched range is what is known.
      event.address = bp->spec.address;
      event.has_address = true;
    }
  }
  return events_->Append(event);
}

Breakpoint* VmDebugger::Impl::SoftwareBreakpointAt(uint64_t gva, uint32_t vcpu, vmm::VcpuFd& fd) {
  // Compare by guest-physical address: the INT3 byte is what we patched.
  absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
  if (!sregs.ok()) {
    return nullptr;
  }
  absl::StatusOr<vmm::Translation> t = vmm::TranslateGva(vm_.memory(), sregs->cr3, gva);
  if (!t.ok()) {
    return nullptr;
  }
  (void)vcpu;
  for (auto& [id, bp] : breakpoints_) {
    if (bp->patched && bp->gpa == t->gpa) {
      return bp.get();
    }
  }
  return nullptr;
}

bool VmDebugger::Impl::Rearm(VcpuDebug& v, vmm::VcpuFd& fd) {
  if (v.reinsert_id != 0) {
    if (Breakpoint* bp = FindBreakpoint(v.reinsert_id); bp != nullptr && !Repatch(*bp).ok()) {
      return false;
    }
    v.reinsert_id = 0;
  }
  v.disarmed_slot = -1;
  if (exclusive_stepper_.load() == static_cast<int>(v.id)) {
    EndExclusiveStep(v.id);
  }
  return ApplyGuestDebug(v, fd).ok();
}

bool VmDebugger::Impl::EndStepAtHit(VcpuDebug& v, vmm::VcpuFd& fd) {
  // A hit cuts a step short; whatever the step had disarmed is armed again.
  if (!Rearm(v, fd)) {
    return false;
  }
  v.mode = VcpuDebug::Mode::kRun;
  v.steps_left = 0;
  return true;
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::StepOverPatchExclusively(uint32_t vcpu,
                                                                            vmm::VcpuFd& fd,
                                                                            Breakpoint& bp) {
  VcpuDebug& v = *vcpus_[vcpu];
  int none = -1;
  if (!exclusive_stepper_.compare_exchange_strong(none, static_cast<int>(vcpu))) {
    // Another vCPU is stepping over a breakpoint and holds this one: this hit is
    // reported; the INT3 under RIP brings the vCPU back here once it may step.
    v.reported_bp = bp.id;
    return kContinue;
  }
  {
    std::lock_guard lock(stop_mu_);
    for (uint32_t other = 0; other < vcpus_.size(); ++other) {
      VcpuDebug& o = *vcpus_[other];
      if (other != vcpu && !o.ended) {
        o.held_by_stepper = true;
        vm_.vcpus()[other]->HoldForPeer();
      }
    }
  }
  // Kicked, each leaves KVM_RUN within microseconds and runs no guest code after.
  for (uint32_t other = 0; other < vcpus_.size(); ++other) {
    while (other != vcpu && vm_.vcpus()[other]->in_kvm_run()) {
      std::this_thread::yield();
    }
  }
  if (!PlanStepOver(v, bp).ok()) {
    EndExclusiveStep(vcpu);
    return Fail(vcpu, "could not step over a breakpoint");
  }
  if (!BeginStep(v, fd).ok()) {
    EndExclusiveStep(vcpu);
    return Fail(vcpu, "could not step over a breakpoint");
  }
  return kContinue;
}

void VmDebugger::Impl::EndExclusiveStep(uint32_t vcpu) {
  {
    std::lock_guard lock(stop_mu_);
    for (uint32_t other = 0; other < vcpus_.size(); ++other) {
      VcpuDebug& o = *vcpus_[other];
      if (other != vcpu && o.held_by_stepper) {
        o.held_by_stepper = false;
        vm_.vcpus()[other]->ReleaseFromPeer();  // a debugger stop still holds it
      }
    }
  }
  exclusive_stepper_.store(-1);
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnDebugExit(uint32_t vcpu, vmm::VcpuFd& fd) {
  if (!enabled_ || vcpu >= vcpus_.size()) {
    return std::nullopt;
  }
  const kvm_run& run = fd.run();
  const uint64_t rip = run.s.regs.regs.rip;

  if (run.exit_reason == KVM_EXIT_INTERNAL_ERROR) {
    if (!IsInt3EmulationFailure(run)) {
      return std::nullopt;
    }
    Breakpoint* bp = SoftwareBreakpointAt(rip, vcpu, fd);
    if (bp == nullptr) {
      return std::nullopt;  // the guest's own INT3: this host cannot run it
    }
    return OnBreakpointHit(vcpu, fd, *bp, PatchedKind(*bp), 3, rip, kDr6Reserved);
  }
  if (run.exit_reason != KVM_EXIT_DEBUG) {
    return std::nullopt;
  }

  const kvm_debug_exit_arch& arch = run.debug.arch;
  if (arch.exception == 3) {
    // USE_SW_BP on hosts that deliver it: pc is the INT3's own address.
    Breakpoint* bp = SoftwareBreakpointAt(arch.pc, vcpu, fd);
    if (bp == nullptr) {
      return std::nullopt;
    }
    if (rip != arch.pc) {
      absl::StatusOr<kvm_regs> regs = fd.GetRegs();
      if (!regs.ok()) {
        return std::nullopt;
      }
      regs->rip = arch.pc;
      if (!fd.SetRegs(*regs).ok()) {
        return std::nullopt;
      }
    }
    return OnBreakpointHit(vcpu, fd, *bp, PatchedKind(*bp), 3, arch.pc, arch.dr6);
  }
  if (arch.exception != 1) {
    return std::nullopt;
  }

  VcpuDebug& v = *vcpus_[vcpu];
  const uint64_t dr6 = arch.dr6;
  if (config_.intercept_native_exceptions) {
    if ((dr6 & (1u << kDbHandlerSlot)) != 0 && rip == db_handler_.load()) {
      return OnInterceptedException(vcpu, fd, kDebugVector);
    }
    if ((dr6 & (1u << kBpHandlerSlot)) != 0 && rip == bp_handler_.load()) {
      return OnInterceptedException(vcpu, fd, kBreakpointVector);
    }
  }
  if ((dr6 & kDr6StepBit) != 0 && v.mode == VcpuDebug::Mode::kAwaitIdt) {
    return OnAwaitIdtStep(vcpu, fd);
  }
  // The instruction a step-over ran is done: arm its breakpoint again before
  // anything else, so a hit reported below leaves it armed.
  const bool step_trap = (dr6 & kDr6StepBit) != 0 && (v.mode == VcpuDebug::Mode::kStepOver ||
                                                      v.mode == VcpuDebug::Mode::kUserStep);
  if (step_trap && !Rearm(v, fd)) {
    return vmm::ExitDecision{vmm::ExitAction::kFail,
                             absl::StrCat("vCPU ", vcpu, ": could not re-arm a breakpoint")};
  }
  for (int slot = 0; slot < 4; ++slot) {
    Breakpoint* bp = slots_[slot];
    if ((dr6 & (1u << slot)) == 0 || bp == nullptr) {
      continue;
    }
    const bool exec = bp->spec.kind == BreakpointKind::kExec;
    if (exec && rip != bp->spec.address) {
      continue;  // a stale Bn from an earlier trap
    }
    return OnBreakpointHit(vcpu, fd, *bp, exec ? EventKind::kHwBreakpoint : EventKind::kWatchpoint,
                           1, rip, dr6);
  }
  if (step_trap) {
    return OnStepDone(vcpu, fd, rip, dr6);
  }
  return std::nullopt;
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnInstructionExit(uint32_t vcpu,
                                                                     vmm::VcpuFd& fd) {
  if (vcpu >= vcpus_.size()) {
    return std::nullopt;
  }
  VcpuDebug& v = *vcpus_[vcpu];
  const bool stepping =
      v.mode == VcpuDebug::Mode::kStepOver || v.mode == VcpuDebug::Mode::kUserStep;
  if (!stepping) {
    return std::nullopt;
  }
  if (v.tf_step) {
    // Natively running code: KVM emulates a store to a protected page, exits with
    // it done, and drops the TF trap it owed (measured: the step ran on into the
    // next instruction), so the store is the step. Anything else is still caught
    // at the #DB handler (a load finished by FinishPendingAccess keeps its trap).
    const kvm_run& run = fd.run();
    if (run.exit_reason != KVM_EXIT_MMIO || run.mmio.is_write == 0) {
      return std::nullopt;
    }
    absl::StatusOr<kvm_regs> regs = fd.GetRegs();
    if (!regs.ok()) {
      return Fail(vcpu, "could not end a single-step at a store");
    }
    regs->rflags &= ~kRflagsTf;
    if (!fd.SetRegs(*regs).ok()) {
      return Fail(vcpu, "could not end a single-step at a store");
    }
    v.tf_step = false;
  }
  // KVM completed an I/O instruction in userspace and drops the single-step trap
  // it owed: that instruction is the step.
  if (!Rearm(v, fd)) {
    return vmm::ExitDecision{vmm::ExitAction::kFail,
                             absl::StrCat("vCPU ", vcpu, ": could not re-arm a breakpoint")};
  }
  std::optional<vmm::ExitDecision> decision =
      OnStepDone(vcpu, fd, fd.run().s.regs.regs.rip, kDr6Reserved | kDr6StepBit);
  if (decision && decision->action == vmm::ExitAction::kContinue) {
    return std::nullopt;
  }
  return decision;
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnStepDone(uint32_t vcpu, vmm::VcpuFd& fd,
                                                              uint64_t rip, uint64_t dr6) {
  VcpuDebug& v = *vcpus_[vcpu];
  if (v.mode == VcpuDebug::Mode::kStepOver) {
    v.mode = VcpuDebug::Mode::kRun;
    if (!ApplyGuestDebug(v, fd).ok()) {
      return vmm::ExitDecision{vmm::ExitAction::kFail,
                               absl::StrCat("vCPU ", vcpu, ": could not end a step-over")};
    }
    if (v.park_after_step) {
      return vmm::ExitDecision{vmm::ExitAction::kPark, ""};  // Continue resumes it with the rest
    }
    return kContinue;
  }
  // A user step.
  ++v.steps_done;
  --v.steps_left;
  const bool last = v.steps_left == 0;
  const uint64_t sequence = Emit(vcpu, EventKind::kSingleStep, 1, rip, dr6, nullptr, last);
  if (!last) {
    // Where native code needs TF, every step decides again: the last one may have
    // changed privilege level.
    if (config_.intercept_native_exceptions && !BeginStep(v, fd).ok()) {
      return Fail(vcpu, "could not set up the next single-step");
    }
    return kContinue;
  }
  v.mode = VcpuDebug::Mode::kRun;
  if (!ApplyGuestDebug(v, fd).ok()) {
    return vmm::ExitDecision{vmm::ExitAction::kFail,
                             absl::StrCat("vCPU ", vcpu, ": could not end single-stepping")};
  }
  return StopAll(vcpu, StopCause::kStep, 0, "single-step", rip, sequence);
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnBreakpointHit(uint32_t vcpu, vmm::VcpuFd& fd,
                                                                   Breakpoint& bp, EventKind kind,
                                                                   uint8_t vector, uint64_t rip,
                                                                   uint64_t dr6) {
  VcpuDebug& v = *vcpus_[vcpu];
  bp.hits.fetch_add(1, std::memory_order_relaxed);
  const bool user_step = v.mode == VcpuDebug::Mode::kUserStep;
  if (user_step && !EndStepAtHit(v, fd)) {
    return Fail(vcpu, "could not re-arm a breakpoint");
  }
  const bool fault_like = kind != EventKind::kWatchpoint;  // RIP still at the instruction
  const bool trace = !user_step && (mode_ == StopMode::kTrace || bp.spec.trace);
  if (trace) {
    if (v.reported_bp != bp.id) {
      Emit(vcpu, kind, vector, rip, dr6, &bp, /*stopped=*/false);
    } else {
      bp.hits.fetch_sub(1, std::memory_order_relaxed);  // the same hit, come round again
    }
    v.reported_bp = 0;
    if (!fault_like) {
      return kContinue;  // a watchpoint traps after the access: nothing to step over
    }
    if (bp.slot < 0 && vcpus_.size() > 1) {
      return StepOverPatchExclusively(vcpu, fd, bp);
    }
    // Step over the instruction under it once, then arm again (RF is ignored here).
    if (!PlanStepOver(v, bp).ok()) {
      return std::nullopt;
    }
    if (!BeginStep(v, fd).ok()) {
      return Fail(vcpu, "could not step over a breakpoint");
    }
    return kContinue;
  }
  const uint64_t sequence = Emit(vcpu, kind, vector, rip, dr6, &bp, /*stopped=*/true);
  return StopAll(vcpu,
                 kind == EventKind::kWatchpoint ? StopCause::kWatchpoint : StopCause::kBreakpoint,
                 bp.id, absl::StrCat(EventKindName(kind), " ", bp.id), rip, sequence);
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnInterceptedException(uint32_t vcpu,
                                                                          vmm::VcpuFd& fd,
                                                                          int vector) {
  VcpuDebug& v = *vcpus_[vcpu];
  const vmm::GuestMemory& memory = vm_.memory();
  if (vector == kDebugVector) {
    if (!v.tf_step) {
      return PassToGuestHandler(v, fd, kDbHandlerSlot);  // the guest's own #DB
    }
    absl::StatusOr<kvm_debugregs> debugregs = fd.GetDebugRegs();
    absl::StatusOr<ExceptionFrame> frame = UnwindException(fd, memory, 0, /*clear_tf=*/true);
    if (!debugregs.ok() || !frame.ok()) {
      return Fail(vcpu, "could not undo a single-step trap in the guest");
    }
    // The delivery set DR6.BS where the guest can read it: put back what it had.
    const uint64_t seen_dr6 = debugregs->dr6;
    debugregs->dr6 = v.guest_dr6;
    if (!fd.SetDebugRegs(*debugregs).ok()) {
      return Fail(vcpu, "could not restore the guest's DR6");
    }
    v.tf_step = false;
    RefreshInterception(fd);
    if (!Rearm(v, fd)) {
      return Fail(vcpu, "could not re-arm a breakpoint");
    }
    return OnStepDone(vcpu, fd, frame->rip, seen_dr6);
  }

  absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
  if (!sregs.ok()) {
    return Fail(vcpu, "could not read the #BP frame");
  }
  absl::StatusOr<ExceptionFrame> frame =
      ReadExceptionFrame(memory, sregs->cr3, fd.run().s.regs.regs.rsp);
  Breakpoint* bp = frame.ok() ? SoftwareBreakpointAt(frame->rip - 1, vcpu, fd) : nullptr;
  if (bp == nullptr) {
    return PassToGuestHandler(v, fd, kBpHandlerSlot);  // the guest's own INT3
  }
  // Ours: the guest never sees this #BP. A TF step that ran into it ends here.
  const bool stepping_into_it = v.tf_step;
  if (!UnwindException(fd, memory, 1, /*clear_tf=*/stepping_into_it).ok()) {
    return Fail(vcpu, "could not undo a breakpoint trap in the guest");
  }
  v.tf_step = false;
  RefreshInterception(fd);
  return OnBreakpointHit(vcpu, fd, *bp, PatchedKind(*bp), 3, frame->rip - 1, kDr6Reserved);
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::PassToGuestHandler(VcpuDebug& v, vmm::VcpuFd& fd,
                                                                      int slot) {
  // The handler's first instruction runs emulated (CPL0): KVM single-steps it, then
  // the interception breakpoint is armed again.
  v.disarmed_slot = slot;
  v.tf_step = false;
  if (v.mode == VcpuDebug::Mode::kRun || v.mode == VcpuDebug::Mode::kAwaitIdt) {
    v.mode = VcpuDebug::Mode::kStepOver;
  }
  if (!ApplyGuestDebug(v, fd).ok()) {
    return vmm::ExitDecision{vmm::ExitAction::kFail, "could not pass an exception to the guest"};
  }
  return kContinue;
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnAwaitIdtStep(uint32_t vcpu, vmm::VcpuFd& fd) {
  VcpuDebug& v = *vcpus_[vcpu];
  bool done = RefreshInterception(fd);
  if (!done) {
    // Native code without an IDT cannot be intercepted; give up rather than step
    // the guest forever.
    absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
    done = !sregs.ok() || sregs->cs.dpl == 3 || ++v.await_idt_steps >= kMaxAwaitIdtSteps;
  }
  if (done) {
    v.mode = VcpuDebug::Mode::kRun;
    if (!ApplyGuestDebug(v, fd).ok()) {
      return Fail(vcpu, "could not arm exception interception");
    }
  }
  return kContinue;
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnMmioExit(uint32_t vcpu, vmm::VcpuFd& fd) {
  if (!enabled_ || page_watch_ == nullptr || page_watch_->size() == 0 || vcpu >= vcpus_.size()) {
    return std::nullopt;
  }
  kvm_run& run = fd.run();
  // One instruction may access watched pages more than once (the load and the store
  // of a read-modify-write; string instructions): each access is completed here, in
  // order, so the instruction is done when the hits are reported, as a DR7 data
  // breakpoint would trap after it.
  std::array<WatchHit, kMaxAccessesPerInstruction> hits;
  size_t hit_count = 0;
  for (size_t access = 0;; ++access) {
    const MmioOutcome outcome = page_watch_->OnMmio(run);
    if (!outcome.completed) {
      if (access == 0) {
        return std::nullopt;  // not guest memory: the VMM's no-device default
      }
      return Fail(vcpu,
                  "an instruction that accessed a watched page also accessed an address "
                  "outside guest memory");
    }
    if (outcome.hit) {
      hits[hit_count++] = *outcome.hit;
    }
    if (run.mmio.is_write != 0) {
      break;  // a store exits with the instruction done
    }
    if (access + 1 == kMaxAccessesPerInstruction) {
      return Fail(vcpu, "an instruction made more accesses to watched pages than pvmd follows");
    }
    // A load exits before its destination is written: let KVM finish it now.
    absl::StatusOr<vmm::RunOutcome> finished = vm_.vcpus()[vcpu]->FinishPendingAccess();
    if (!finished.ok()) {
      return Fail(vcpu, "could not finish a load from a watched page");
    }
    if (*finished == vmm::RunOutcome::kInterrupted) {
      break;
    }
    if (run.exit_reason == KVM_EXIT_MMIO) {
      continue;  // the instruction's next access
    }
    if (run.exit_reason == KVM_EXIT_DEBUG && (run.debug.arch.dr6 & kDr6StepBit) != 0) {
      break;  // the single-step trap owed for this instruction: counted below as its step
    }
    return Fail(vcpu, absl::StrCat("finishing a load from a watched page ended in ",
                                   vmm::ExitReasonName(run.exit_reason)));
  }
  if (hit_count == 0) {
    return kContinue;  // elsewhere on a watched page: the access is done, nothing to say
  }
  return OnWatchHits(vcpu, fd, std::span(hits.data(), hit_count));
}

std::optional<vmm::ExitDecision> VmDebugger::Impl::OnWatchHits(uint32_t vcpu, vmm::VcpuFd& fd,
                                                               std::span<const WatchHit> hits) {
  VcpuDebug& v = *vcpus_[vcpu];
  const uint64_t rip = fd.run().s.regs.regs.rip;
  const bool user_step = v.mode == VcpuDebug::Mode::kUserStep;
  bool stop = false;
  uint64_t sequence = 0;
  Breakpoint* stopped_on = nullptr;
  for (const WatchHit& hit : hits) {
    Breakpoint* bp = FindBreakpoint(hit.watch_id);
    if (bp == nullptr) {
      continue;
    }
    bp->hits.fetch_add(1, std::memory_order_relaxed);
    const bool trace = !user_step && (mode_ == StopMode::kTrace || bp->spec.trace);
    sequence = Emit(vcpu, EventKind::kWatchpoint, 1, rip, kDr6Reserved, bp, !trace, &hit);
    if (!trace && stopped_on == nullptr) {
      stopped_on = bp;
    }
    stop = stop || !trace;
  }
  if (!stop) {
    return kContinue;
  }
  if (user_step && !EndStepAtHit(v, fd)) {
    return Fail(vcpu, "could not re-arm a breakpoint");
  }
  return StopAll(vcpu, StopCause::kWatchpoint, stopped_on->id,
                 absl::StrCat(EventKindName(EventKind::kWatchpoint), " ", stopped_on->id), rip,
                 sequence);
}

vmm::ExitDecision VmDebugger::Impl::StopAll(uint32_t vcpu, StopCause cause, uint32_t breakpoint_id,
                                            std::string reason, uint64_t rip, uint64_t sequence) {
  {
    std::lock_guard lock(stop_mu_);
    VcpuDebug& v = *vcpus_[vcpu];
    v.stopped = true;
    v.cause = cause;
    v.breakpoint_id = breakpoint_id;
    v.reason = std::move(reason);
    v.rip = rip;
    v.last_event = sequence;
    for (uint32_t other = 0; other < vcpus_.size(); ++other) {
      VcpuDebug& o = *vcpus_[other];
      if (other != vcpu && !o.stopped && !o.ended) {
        o.stopped = true;
        o.cause = StopCause::kPeer;
        o.breakpoint_id = 0;
        o.reason = absl::StrCat("stopped with vCPU ", vcpu);
        o.rip = 0;  // read when asked: it is still on its way to park
      }
    }
  }
  // Kicks only: a peer may be stopping itself at this very moment and waiting for
  // nothing, so nobody waits here.
  for (auto& other : vm_.vcpus()) {
    other->Hold();
  }
  stop_cv_.notify_all();
  return {vmm::ExitAction::kPark, ""};
}

}  // namespace pvm::debug
