// Run control: enabling, stops, continue, step and interrupt, each applied with
// every vCPU parked.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/vm_debugger_impl.h"

namespace pvm::debug {
namespace {

constexpr uint32_t kMaxStepCount = 1'000'000;
constexpr auto kStepOffPatience = std::chrono::seconds(1);

// What State() says of config_, for people.
std::vector<std::string> MechanismLines(const DebugConfig& config) {
  std::vector<std::string> lines;
  if (config.intercept_native_exceptions) {
    lines.push_back(
        "execute breakpoints: INT3 patches, no slot (native code gives no debug exits here; "
        "its #BP is caught at the guest's handler by DR3)");
    lines.push_back(
        "single-step: native code by RFLAGS.TF caught at the guest's #DB handler (DR2), "
        "emulated code by KVM's single-step");
  } else {
    lines.push_back("execute breakpoints: debug registers DR0-DR3");
    lines.push_back("single-step: KVM's single-step");
  }
  lines.push_back("software breakpoints: INT3 patches");
  lines.push_back(config.page_protection_watchpoints
                      ? "watchpoints: page protection, a slot each (DR7 data breakpoints never "
                        "fire here)"
                      : "watchpoints: debug registers DR0-DR3");
  return lines;
}

}  // namespace

absl::Status VmDebugger::Impl::SetEnabled(bool enabled, StopMode mode) {
  std::lock_guard control(control_mu_);
  return vm_.WithAllParked([&]() -> absl::Status {
    if (enabled) {
      enabled_ = true;
      ArmInterceptionLocked();
      mode_ = mode;
    } else {
      ClearAllLocked();
      enabled_ = false;
    }
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      if (absl::Status s = ApplyGuestDebug(i); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  });
}

void VmDebugger::Impl::ClearAllLocked() {
  for (auto& [id, bp] : breakpoints_) {
    if (bp->patched) {
      (void)RestoreByte(*bp);  // inside guest memory: checked when it was patched
    }
  }
  if (page_watch_ != nullptr) {
    (void)page_watch_->RemoveAll();  // gives every page back; errors are KVM's, logged by it
  }
  breakpoints_.clear();
  slots_ = {};
  std::lock_guard lock(stop_mu_);
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    VcpuDebug& v = *vcpus_[i];
    v.mode = VcpuDebug::Mode::kRun;
    v.steps_left = 0;
    v.disarmed_slot = -1;
    v.reinsert_id = 0;
    v.reported_bp = 0;
    if (v.held_by_stepper) {
      v.held_by_stepper = false;
      vm_.vcpus()[i]->ReleaseFromPeer();
    }
    v.stopped = false;
    v.cause = StopCause::kNone;
    v.reason.clear();
    vm_.vcpus()[i]->Release();
  }
  exclusive_stepper_.store(-1);
  ++clears_;
  stop_cv_.notify_all();
}

DebugStateInfo VmDebugger::Impl::State() const {
  std::lock_guard control(control_mu_);
  DebugStateInfo state;
  state.enabled = enabled_;
  state.stop_mode = mode_;
  std::array<uint64_t, 4> db{};
  for (int slot = 0; slot < 4; ++slot) {
    if (const Breakpoint* bp = slots_[slot]) {
      db[slot] = bp->spec.address;
    }
  }
  state.requested_dr7 = RequestedDr7();
  state.effective_dr7 = EffectiveDr7(policy_, state.requested_dr7, db);
  for (int slot = 0; slot < 4; ++slot) {
    SlotInfo& info = state.slots[slot];
    if (const Breakpoint* bp = slots_[slot]) {
      const uint64_t mask = pvm_dr7_mask(slot);
      info.in_use = true;
      info.breakpoint_id = bp->id;
      info.address = bp->spec.address;
      info.page_protection = bp->page_watched;
      info.requested_dr7 = state.requested_dr7 & mask;
      info.effective_dr7 = state.effective_dr7 & mask;
    }
  }
  for (const auto& [id, bp] : breakpoints_) {
    state.software_breakpoints += bp->patched;
  }
  {
    std::lock_guard lock(stop_mu_);
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      const VcpuDebug& v = *vcpus_[i];
      state.vcpus.push_back({i, v.stopped, v.reason,
                             v.stopped && v.rip != 0 ? v.rip : vm_.vcpus()[i]->last_rip(),
                             v.last_event, v.ended});
    }
  }
  state.last_event = events_->last_sequence();
  state.address_rule = DescribeRule(policy_);
  state.mechanisms = MechanismLines(config_);
  return state;
}

absl::Status VmDebugger::Impl::ApplyRunMode(uint32_t vcpu) {
  VcpuDebug& v = *vcpus_[vcpu];
  vmm::VcpuFd& fd = vm_.vcpus()[vcpu]->fd();
  const bool stepping =
      v.mode == VcpuDebug::Mode::kStepOver || v.mode == VcpuDebug::Mode::kUserStep;
  return stepping ? BeginStep(v, fd) : ApplyGuestDebug(v, fd);
}

bool VmDebugger::Impl::ArmInterceptionLocked() {
  if (!config_.intercept_native_exceptions) {
    return true;
  }
  for (auto& vcpu : vm_.vcpus()) {
    if (vcpu->state() != vmm::VcpuState::kHalted && vcpu->state() != vmm::VcpuState::kFailed &&
        RefreshInterception(vcpu->fd())) {
      return true;
    }
  }
  if (vm_.state() != vmm::VmState::kCreated) {
    return false;
  }
  // Not booted yet: step every vCPU through its boot until it has loaded its IDT
  // (a few hundred emulated instructions), so interception is armed before any
  // native code runs.
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    VcpuDebug& v = *vcpus_[i];
    if (v.mode == VcpuDebug::Mode::kRun) {
      v.mode = VcpuDebug::Mode::kAwaitIdt;
      v.await_idt_steps = 0;
    }
  }
  return true;
}

absl::StatusOr<Breakpoint*> VmDebugger::Impl::BreakpointUnderRip(uint32_t vcpu) {
  const VcpuDebug& v = *vcpus_[vcpu];
  Breakpoint* bp = FindBreakpoint(v.breakpoint_id);
  if (v.cause != StopCause::kBreakpoint || bp == nullptr) {
    return nullptr;  // nothing under RIP that would fire again
  }
  absl::StatusOr<kvm_regs> regs = vm_.vcpus()[vcpu]->fd().GetRegs();
  if (!regs.ok()) {
    return regs.status();
  }
  return regs->rip == bp->spec.address ? bp : nullptr;  // else the user moved RIP away
}

absl::Status VmDebugger::Impl::PlanResume(uint32_t vcpu) {
  absl::StatusOr<Breakpoint*> bp = BreakpointUnderRip(vcpu);
  if (!bp.ok() || *bp == nullptr) {
    return bp.status();
  }
  return PlanStepOver(*vcpus_[vcpu], **bp);
}

bool VmDebugger::Impl::StoppedOnPatch(uint32_t vcpu) {
  absl::StatusOr<Breakpoint*> bp = BreakpointUnderRip(vcpu);
  return bp.ok() && *bp != nullptr && (*bp)->patched;
}

absl::StatusOr<bool> VmDebugger::Impl::StepOffPatchAlone(uint32_t vcpu) {
  VcpuDebug& v = *vcpus_[vcpu];
  vmm::Vcpu& thread = *vm_.vcpus()[vcpu];
  if (absl::Status s = PlanResume(vcpu); !s.ok()) {
    return s;
  }
  v.park_after_step = true;
  if (absl::Status s = ApplyRunMode(vcpu); !s.ok()) {
    v.park_after_step = false;
    return s;
  }
  {
    std::lock_guard lock(stop_mu_);
    v.stopped = false;
  }
  thread.Release();
  thread.Run();
  // One instruction: microseconds. A step whose trap never comes (an instruction
  // KVM completes in userspace on a path not handled) is kicked, not waited for.
  if (!thread.WaitUntilParkedFor(kStepOffPatience)) {
    thread.RequestPark();
    thread.WaitUntilParked();
  }
  v.park_after_step = false;
  std::lock_guard lock(stop_mu_);
  if (v.stopped) {
    return false;  // an event on the way: the VM is stopped again
  }
  if (v.ended) {
    return true;  // it halted or failed; the others go on
  }
  v.stopped = true;  // still part of this Continue, which releases it with the rest
  if (v.mode == VcpuDebug::Mode::kStepOver) {
    // Kicked before its step ended: put the INT3 back; the instruction runs (and is
    // reported if it hits again) once the VM goes on.
    v.mode = VcpuDebug::Mode::kRun;
    if (!Rearm(v, thread.fd())) {
      return absl::InternalError(absl::StrCat("vCPU ", vcpu, ": could not re-arm a breakpoint"));
    }
  }
  return true;
}

absl::Status VmDebugger::Impl::Continue() {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  return vm_.WithAllParked([&]() -> absl::Status {
    ArmInterceptionLocked();  // the guest may have moved its handlers meanwhile
    std::vector<uint32_t> resumed;
    {
      std::lock_guard lock(stop_mu_);
      for (uint32_t i = 0; i < vcpus_.size(); ++i) {
        if (vcpus_[i]->stopped) {
          resumed.push_back(i);
        }
      }
    }
    if (resumed.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("no vCPU of VM '", vm_.name(), "' is stopped by the debugger"));
    }
    // A software breakpoint is one byte shared by every vCPU: each vCPU on one
    // steps off it alone first (as gdb does in all-stop), then all go on together.
    for (uint32_t i : resumed) {
      if (!StoppedOnPatch(i)) {
        continue;
      }
      absl::StatusOr<bool> clean = StepOffPatchAlone(i);
      if (!clean.ok()) {
        return clean.status();
      }
      if (!*clean) {
        return absl::OkStatus();  // stopped again on the way: that stop stands
      }
    }
    for (uint32_t i : resumed) {
      VcpuDebug& v = *vcpus_[i];
      if (absl::Status s = PlanResume(i); !s.ok()) {
        return s;
      }
      if (absl::Status s = ApplyRunMode(i); !s.ok()) {
        return s;
      }
      {
        std::lock_guard lock(stop_mu_);
        v.stopped = false;
        v.cause = StopCause::kNone;
        v.reason.clear();
      }
      vm_.vcpus()[i]->Release();
    }
    return absl::OkStatus();
  });
}

absl::Status VmDebugger::Impl::Interrupt() {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  return vm_.WithAllParked([&]() -> absl::Status {
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      VcpuDebug& v = *vcpus_[i];
      std::lock_guard lock(stop_mu_);
      if (v.stopped || v.ended) {
        continue;
      }
      v.stopped = true;
      v.cause = StopCause::kInterrupt;
      v.breakpoint_id = 0;
      v.reason = "interrupted";
      absl::StatusOr<kvm_regs> regs = vm_.vcpus()[i]->fd().GetRegs();
      v.rip = regs.ok() ? regs->rip : 0;
      vm_.vcpus()[i]->Hold();
    }
    stop_cv_.notify_all();
    return absl::OkStatus();
  });
}

VmDebugger::WaitResult VmDebugger::Impl::WaitForAllStopped(
    std::chrono::steady_clock::time_point deadline) {
  uint64_t clears_at_start = 0;
  {
    std::lock_guard lock(stop_mu_);
    clears_at_start = clears_;
  }
  {
    // Off already (before clears_ was read): a disable after it shows in clears_.
    std::lock_guard control(control_mu_);
    if (!enabled_) {
      return WaitResult::kDisabled;
    }
  }
  std::unique_lock lock(stop_mu_);
  WaitResult result = WaitResult::kTimedOut;
  stop_cv_.wait_until(lock, deadline, [&] {
    if (shut_down_) {
      result = WaitResult::kShutDown;
    } else if (clears_ != clears_at_start) {
      result = WaitResult::kDisabled;
    } else if (std::all_of(vcpus_.begin(), vcpus_.end(),
                           [](const auto& v) { return v->stopped || v->ended; })) {
      result = WaitResult::kAllStopped;
    } else {
      return false;
    }
    return true;
  });
  return result;
}

absl::StatusOr<StepResult> VmDebugger::Impl::Step(uint32_t vcpu, uint32_t count,
                                                  std::chrono::steady_clock::time_point deadline) {
  count = std::max<uint32_t>(count, 1);
  uint64_t clears_at_start = 0;
  {
    std::lock_guard control(control_mu_);
    if (absl::Status s = CheckEnabled(); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckVcpu(vcpu); !s.ok()) {
      return s;
    }
    if (count > kMaxStepCount) {
      return absl::InvalidArgumentError(
          absl::StrCat("at most ", kMaxStepCount, " steps at once, not ", count));
    }
    if (vm_.state() != vmm::VmState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", vm_.name(), "' is ", vmm::VmStateName(vm_.state()), ": it must be running"));
    }
    {
      std::lock_guard lock(stop_mu_);
      const VcpuDebug& v = *vcpus_[vcpu];
      if (v.ended) {
        return absl::FailedPreconditionError(
            absl::StrCat("vCPU ", vcpu, " has halted or failed: it cannot step"));
      }
      if (!v.stopped) {
        return absl::FailedPreconditionError(
            absl::StrCat("vCPU ", vcpu, " is running: interrupt it first"));
      }
    }
    {
      std::lock_guard lock(stop_mu_);
      clears_at_start = clears_;
    }
    absl::Status started = vm_.WithAllParked([&]() -> absl::Status {
      VcpuDebug& v = *vcpus_[vcpu];
      if (absl::Status s = PlanResume(vcpu); !s.ok()) {
        return s;
      }
      v.mode = VcpuDebug::Mode::kUserStep;
      v.steps_left = count;
      v.steps_done = 0;
      if (absl::Status s = ApplyRunMode(vcpu); !s.ok()) {
        v.mode = VcpuDebug::Mode::kRun;
        return s;
      }
      {
        std::lock_guard lock(stop_mu_);
        v.stopped = false;
        v.cause = StopCause::kNone;
        v.reason.clear();
      }
      vm_.vcpus()[vcpu]->Release();
      return absl::OkStatus();
    });
    if (!started.ok()) {
      return started;
    }
  }
  // Wait without control_mu_: state queries go on meanwhile.
  std::unique_lock lock(stop_mu_);
  const VcpuDebug& v = *vcpus_[vcpu];
  const bool done = stop_cv_.wait_until(lock, deadline, [&] {
    return v.stopped || v.ended || shut_down_ || clears_ != clears_at_start;
  });
  StepResult result;
  result.vcpu = vcpu;
  result.steps = v.steps_done;
  result.rip = v.rip;
  result.reason = v.stopped ? v.reason : v.ended ? "the vCPU halted or failed" : "";
  result.last_event = v.last_event;
  if (!done) {
    return absl::DeadlineExceededError(
        absl::StrCat("vCPU ", vcpu, " had done ", v.steps_done, " of ", count,
                     " steps at the deadline; it goes on and stops with an event"));
  }
  if (!v.stopped) {
    return absl::AbortedError(absl::StrCat("vCPU ", vcpu, " did not finish its steps: ",
                                           shut_down_                   ? "the VM shut down"
                                           : clears_ != clears_at_start ? "debugging was disabled"
                                                                        : result.reason));
  }
  return result;
}

}  // namespace pvm::debug
