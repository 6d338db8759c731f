// The control side of VmDebugger: API calls, each applied with the VM's vCPUs
// parked ("kick, apply, resume").
#include "daemon/debug/vm_debugger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/guest_range.h"
#include "daemon/debug/symbol_resolver.h"
#include "daemon/debug/vm_debugger_impl.h"

namespace pvm::debug {
namespace {

constexpr uint64_t kDr7ReservedOne = 1u << 10;
constexpr uint32_t kMaxStepCount = 1'000'000;

}  // namespace

const char* BreakpointKindName(BreakpointKind kind) {
  switch (kind) {
    case BreakpointKind::kExec:
      return "exec";
    case BreakpointKind::kWrite:
      return "write";
    case BreakpointKind::kReadWrite:
      return "rw";
    case BreakpointKind::kSoftware:
      return "sw";
  }
  return "unknown";
}

const char* StopModeName(StopMode mode) { return mode == StopMode::kTrace ? "trace" : "all-stop"; }

VmDebugger& DebuggerFor(vmm::Vm& vm, const AddressPolicy& policy) {
  // Only this function attaches a hook, so the hook is always a VmDebugger.
  return static_cast<VmDebugger&>(
      vm.DebugHook([&] { return std::make_unique<VmDebugger>(vm, policy); }));
}

// ---- Impl: shared helpers ----

VmDebugger::Impl::Impl(vmm::Vm& vm, AddressPolicy policy)
    : vm_(vm), policy_(policy), events_(std::make_shared<EventLog>()) {
  for (size_t i = 0; i < vm.vcpus().size(); ++i) {
    vcpus_.push_back(std::make_unique<VcpuDebug>());
  }
}

uint64_t VmDebugger::Impl::RequestedDr7() const {
  uint64_t dr7 = 0;
  for (const Breakpoint* bp : slots_) {
    if (bp != nullptr) {
      dr7 |= bp->dr7_bits;
    }
  }
  return dr7 == 0 ? 0 : dr7 | kDr7ReservedOne;
}

Breakpoint* VmDebugger::Impl::FindBreakpoint(uint32_t id) const {
  auto it = breakpoints_.find(id);
  return it == breakpoints_.end() ? nullptr : it->second.get();
}

kvm_guest_debug VmDebugger::Impl::GuestDebugFor(VcpuDebug& v) const {
  kvm_guest_debug debug{};
  v.db = {};
  v.dr7 = 0;
  if (!enabled_) {
    return debug;
  }
  debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
  uint64_t dr7 = RequestedDr7();
  for (int slot = 0; slot < 4; ++slot) {
    if (const Breakpoint* bp = slots_[slot]) {
      debug.arch.debugreg[slot] = bp->spec.address;
      v.db[slot] = bp->spec.address;
    }
  }
  if (v.disarmed_slot >= 0) {
    dr7 &= ~static_cast<uint64_t>(pvm_dr7_mask(v.disarmed_slot));
  }
  if ((dr7 & 0xff) != 0) {
    debug.control |= KVM_GUESTDBG_USE_HW_BP;
    debug.arch.debugreg[7] = dr7;
    v.dr7 = dr7;
  }
  if (v.mode != VcpuDebug::Mode::kRun) {
    debug.control |= KVM_GUESTDBG_SINGLESTEP;
  }
  return debug;
}

absl::Status VmDebugger::Impl::ApplyGuestDebug(VcpuDebug& v, vmm::VcpuFd& fd) {
  return fd.SetGuestDebug(GuestDebugFor(v));
}

absl::Status VmDebugger::Impl::ApplyGuestDebug(uint32_t vcpu) {
  return ApplyGuestDebug(*vcpus_[vcpu], vm_.vcpus()[vcpu]->fd());
}

absl::Status VmDebugger::Impl::CheckEnabled() const {
  if (!enabled_) {
    return absl::FailedPreconditionError(
        absl::StrCat("guest debugging is off for VM '", vm_.name(), "': enable it first"));
  }
  return absl::OkStatus();
}

absl::Status VmDebugger::Impl::CheckVcpu(uint32_t vcpu) const {
  if (vcpu >= vcpus_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("VM '", vm_.name(), "' has no vCPU ", vcpu, " (it has ", vcpus_.size(), ")"));
  }
  return absl::OkStatus();
}

absl::Status VmDebugger::Impl::CheckVcpuStopped(uint32_t vcpu) const {
  if (absl::Status s = CheckVcpu(vcpu); !s.ok()) {
    return s;
  }
  const vmm::VmState state = vm_.state();
  if (state != vmm::VmState::kRunning) {
    return absl::OkStatus();  // nothing runs: created, paused, stopped or failed
  }
  std::lock_guard lock(stop_mu_);
  const VcpuDebug& v = *vcpus_[vcpu];
  if (!v.stopped && !v.ended) {
    return absl::FailedPreconditionError(absl::StrCat(
        "vCPU ", vcpu, " of VM '", vm_.name(), "' is running: interrupt it or pause the VM"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> VmDebugger::Impl::Cr3Of(uint32_t vcpu) {
  absl::StatusOr<kvm_sregs> sregs;
  absl::Status parked = vm_.WithAllParked([&] {
    sregs = vm_.vcpus()[vcpu]->fd().GetSregs();
    return sregs.status();
  });
  if (!parked.ok()) {
    return parked;
  }
  return sregs->cr3;
}

absl::Status VmDebugger::Impl::RestoreByte(const Breakpoint& bp) {
  const std::byte original{bp.original};
  return vm_.memory().Write(bp.gpa, std::span(&original, 1));
}

BreakpointInfo VmDebugger::Impl::InfoOf(const Breakpoint& bp) const {
  BreakpointInfo info;
  info.id = bp.id;
  info.spec = bp.spec;
  info.slot = bp.slot;
  info.hits = bp.hits.load(std::memory_order_relaxed);
  info.location = bp.location;
  info.mechanism =
      bp.slot >= 0 ? absl::StrCat("debug register DR", bp.slot) : "INT3 patched into guest memory";
  return info;
}

// ---- Impl: control calls ----

absl::Status VmDebugger::Impl::SetEnabled(bool enabled, StopMode mode) {
  std::lock_guard control(control_mu_);
  return vm_.WithAllParked([&]() -> absl::Status {
    if (enabled) {
      enabled_ = true;
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
    if (bp->spec.kind == BreakpointKind::kSoftware) {
      (void)RestoreByte(*bp);  // inside guest memory: checked when it was patched
    }
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
    v.stopped = false;
    v.cause = StopCause::kNone;
    v.reason.clear();
    vm_.vcpus()[i]->Release();
  }
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
      info.requested_dr7 = state.requested_dr7 & mask;
      info.effective_dr7 = state.effective_dr7 & mask;
    }
  }
  for (const auto& [id, bp] : breakpoints_) {
    state.software_breakpoints += bp->spec.kind == BreakpointKind::kSoftware;
  }
  {
    std::lock_guard lock(stop_mu_);
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      const VcpuDebug& v = *vcpus_[i];
      state.vcpus.push_back({i, v.stopped, v.reason,
                             v.stopped && v.rip != 0 ? v.rip : vm_.vcpus()[i]->last_rip(),
                             v.last_event});
    }
  }
  state.last_event = events_->last_sequence();
  state.address_rule = DescribeRule(policy_);
  return state;
}

absl::StatusOr<BreakpointInfo> VmDebugger::Impl::AddBreakpoint(BreakpointSpec spec,
                                                               const std::string& symbol) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (!symbol.empty()) {
    absl::StatusOr<uint64_t> address = ResolveSymbol(vm_.image(), symbol);
    if (!address.ok()) {
      return address.status();
    }
    spec.address = *address;
  }
  const bool software = spec.kind == BreakpointKind::kSoftware;
  if (software && spec.length != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a software breakpoint covers one byte, not ", spec.length));
  }
  int slot = -1;
  if (!software) {
    auto free = std::find(slots_.begin(), slots_.end(), nullptr);
    slot = free == slots_.end() ? -1 : static_cast<int>(free - slots_.begin());
  }
  unsigned long dr7_bits = 0;
  if (absl::Status s = ValidateBreakpoint(policy_, spec, std::max(slot, 0), &dr7_bits); !s.ok()) {
    return s;
  }
  for (const auto& [id, bp] : breakpoints_) {
    if (bp->spec.kind == spec.kind && bp->spec.address == spec.address &&
        bp->spec.length == spec.length) {
      return absl::AlreadyExistsError(
          absl::StrFormat("breakpoint %d is already a %s breakpoint at 0x%x", id,
                          BreakpointKindName(spec.kind), spec.address));
    }
  }
  if (!software && slot < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all four hardware debug registers of VM '", vm_.name(),
                     "' are in use: remove a hardware breakpoint or use a software one"));
  }

  auto bp = std::make_unique<Breakpoint>();
  bp->id = next_id_;
  bp->spec = spec;
  bp->slot = slot;
  bp->dr7_bits = dr7_bits;
  bp->location = DescribeAddress(vm_.image(), spec.address);
  absl::Status applied = vm_.WithAllParked([&]() -> absl::Status {
    if (software) {
      return PatchInt3(*bp, 0);
    }
    slots_[slot] = bp.get();
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      if (absl::Status s = ApplyGuestDebug(i); !s.ok()) {
        slots_[slot] = nullptr;
        for (uint32_t j = 0; j <= i; ++j) {
          (void)ApplyGuestDebug(j);  // back to what it was
        }
        return s;
      }
    }
    return absl::OkStatus();
  });
  if (!applied.ok()) {
    return applied;
  }
  ++next_id_;
  BreakpointInfo info = InfoOf(*bp);
  breakpoints_.emplace(bp->id, std::move(bp));
  return info;
}

absl::Status VmDebugger::Impl::PatchInt3(Breakpoint& bp, uint32_t vcpu) {
  absl::StatusOr<kvm_sregs> sregs = vm_.vcpus()[vcpu]->fd().GetSregs();
  if (!sregs.ok()) {
    return sregs.status();
  }
  absl::StatusOr<std::vector<PhysicalChunk>> chunks =
      MapGuestRange(vm_.memory(), AddressSpace::kVirtual, sregs->cr3, bp.spec.address, 1);
  if (!chunks.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot place a software breakpoint there: ", chunks.status().message()));
  }
  bp.gpa = chunks->front().gpa;
  for (const auto& [id, other] : breakpoints_) {
    if (other->spec.kind == BreakpointKind::kSoftware && other->gpa == bp.gpa) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "software breakpoint %d already patches the same byte (guest-physical 0x%x)", id,
          bp.gpa));
    }
  }
  absl::StatusOr<uint8_t> original = vm_.memory().ReadObject<uint8_t>(bp.gpa);
  if (!original.ok()) {
    return original.status();
  }
  bp.original = *original;
  return vm_.memory().WriteObject<uint8_t>(bp.gpa, kInt3);
}

absl::Status VmDebugger::Impl::RemoveBreakpoint(uint32_t id) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  Breakpoint* bp = FindBreakpoint(id);
  if (bp == nullptr) {
    return absl::NotFoundError(absl::StrCat("VM '", vm_.name(), "' has no breakpoint ", id));
  }
  absl::Status removed = vm_.WithAllParked([&]() -> absl::Status {
    bool byte_restored = false;  // a vCPU stepping over it has the original in place
    for (auto& v : vcpus_) {
      if (v->reinsert_id == id) {
        v->reinsert_id = 0;
        byte_restored = true;
      }
      if (bp->slot >= 0 && v->disarmed_slot == bp->slot) {
        v->disarmed_slot = -1;
      }
    }
    if (bp->slot >= 0) {
      slots_[bp->slot] = nullptr;
    } else if (!byte_restored) {
      if (absl::Status s = RestoreByte(*bp); !s.ok()) {
        return s;
      }
    }
    breakpoints_.erase(id);
    absl::Status status;
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      status.Update(ApplyGuestDebug(i));
    }
    return status;
  });
  return removed;
}

absl::StatusOr<std::vector<BreakpointInfo>> VmDebugger::Impl::ListBreakpoints() const {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  std::vector<BreakpointInfo> list;
  for (const auto& [id, bp] : breakpoints_) {
    list.push_back(InfoOf(*bp));
  }
  return list;
}

absl::Status VmDebugger::Impl::PlanResume(uint32_t vcpu) {
  VcpuDebug& v = *vcpus_[vcpu];
  Breakpoint* bp = FindBreakpoint(v.breakpoint_id);
  if (v.cause != StopCause::kBreakpoint || bp == nullptr) {
    return absl::OkStatus();  // nothing under RIP that would fire again
  }
  absl::StatusOr<kvm_regs> regs = vm_.vcpus()[vcpu]->fd().GetRegs();
  if (!regs.ok()) {
    return regs.status();
  }
  if (regs->rip != bp->spec.address) {
    return absl::OkStatus();  // the user moved RIP away from it
  }
  v.mode = VcpuDebug::Mode::kStepOver;
  if (bp->slot >= 0) {
    v.disarmed_slot = bp->slot;
  } else {
    if (absl::Status s = RestoreByte(*bp); !s.ok()) {
      return s;
    }
    v.reinsert_id = bp->id;
  }
  return absl::OkStatus();
}

absl::Status VmDebugger::Impl::Continue() {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  return vm_.WithAllParked([&]() -> absl::Status {
    bool any = false;
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      VcpuDebug& v = *vcpus_[i];
      {
        std::lock_guard lock(stop_mu_);
        if (!v.stopped) {
          continue;
        }
      }
      any = true;
      if (absl::Status s = PlanResume(i); !s.ok()) {
        return s;
      }
      if (absl::Status s = ApplyGuestDebug(i); !s.ok()) {
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
    if (!any) {
      return absl::FailedPreconditionError(
          absl::StrCat("no vCPU of VM '", vm_.name(), "' is stopped by the debugger"));
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
    return absl::OkStatus();
  });
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
      if (absl::Status s = ApplyGuestDebug(vcpu); !s.ok()) {
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

absl::StatusOr<kvm_regs> VmDebugger::Impl::GetRegs(uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpuStopped(vcpu); !s.ok()) {
    return s;
  }
  absl::StatusOr<kvm_regs> regs;
  (void)vm_.vcpus()[vcpu]->WithParked([&](vmm::VcpuFd& fd) {
    regs = fd.GetRegs();
    return regs.status();
  });
  return regs;
}

absl::StatusOr<kvm_sregs> VmDebugger::Impl::GetSregs(uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpuStopped(vcpu); !s.ok()) {
    return s;
  }
  absl::StatusOr<kvm_sregs> sregs;
  (void)vm_.vcpus()[vcpu]->WithParked([&](vmm::VcpuFd& fd) {
    sregs = fd.GetSregs();
    return sregs.status();
  });
  return sregs;
}

absl::StatusOr<kvm_debugregs> VmDebugger::Impl::GetDebugRegs(uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpuStopped(vcpu); !s.ok()) {
    return s;
  }
  absl::StatusOr<kvm_debugregs> debugregs;
  (void)vm_.vcpus()[vcpu]->WithParked([&](vmm::VcpuFd& fd) {
    debugregs = fd.GetDebugRegs();
    return debugregs.status();
  });
  return debugregs;
}

absl::StatusOr<kvm_regs> VmDebugger::Impl::SetRegs(uint32_t vcpu, const RegisterChange& change) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpuStopped(vcpu); !s.ok()) {
    return s;
  }
  absl::StatusOr<kvm_regs> regs;
  (void)vm_.vcpus()[vcpu]->WithParked([&](vmm::VcpuFd& fd) -> absl::Status {
    regs = fd.GetRegs();
    if (!regs.ok()) {
      return regs.status();
    }
    __u64* fields[] = {&regs->rax, &regs->rbx, &regs->rcx, &regs->rdx, &regs->rsi, &regs->rdi,
                       &regs->rsp, &regs->rbp, &regs->r8,  &regs->r9,  &regs->r10, &regs->r11,
                       &regs->r12, &regs->r13, &regs->r14, &regs->r15, &regs->rip, &regs->rflags};
    static_assert(std::size(fields) == std::tuple_size_v<decltype(change.values)>);
    for (size_t i = 0; i < std::size(fields); ++i) {
      if (change.values[i]) {
        *fields[i] = *change.values[i];
      }
    }
    // Bit 1 of RFLAGS always reads as one; KVM rejects nothing, the CPU would.
    regs->rflags |= 0x2;
    if (absl::Status s = fd.SetRegs(*regs); !s.ok()) {
      regs = s;
      return s;
    }
    return absl::OkStatus();
  });
  return regs;
}

absl::StatusOr<std::vector<std::byte>> VmDebugger::Impl::ReadMemory(AddressSpace space,
                                                                    uint64_t address, size_t length,
                                                                    uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpu(vcpu); !s.ok()) {
    return s;
  }
  uint64_t cr3 = 0;
  if (space == AddressSpace::kVirtual) {
    absl::StatusOr<uint64_t> root = Cr3Of(vcpu);
    if (!root.ok()) {
      return root.status();
    }
    cr3 = *root;
  }
  absl::StatusOr<std::vector<PhysicalChunk>> chunks =
      MapGuestRange(vm_.memory(), space, cr3, address, length);
  if (!chunks.ok()) {
    return chunks.status();
  }
  std::vector<std::byte> data(length);
  for (const PhysicalChunk& chunk : *chunks) {
    std::span<std::byte> out(data.data() + chunk.offset, chunk.length);
    if (absl::Status s = vm_.memory().Read(chunk.gpa, out); !s.ok()) {
      return s;
    }
    // Show the guest's code, not our INT3 bytes.
    for (const auto& [id, bp] : breakpoints_) {
      const bool patched = bp->spec.kind == BreakpointKind::kSoftware && bp->gpa >= chunk.gpa &&
                           bp->gpa < chunk.gpa + chunk.length;
      if (patched) {
        out[bp->gpa - chunk.gpa] = std::byte{bp->original};
      }
    }
  }
  return data;
}

absl::Status VmDebugger::Impl::WriteMemory(AddressSpace space, uint64_t address,
                                           const std::vector<std::byte>& data, uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpu(vcpu); !s.ok()) {
    return s;
  }
  uint64_t cr3 = 0;
  if (space == AddressSpace::kVirtual) {
    absl::StatusOr<uint64_t> root = Cr3Of(vcpu);
    if (!root.ok()) {
      return root.status();
    }
    cr3 = *root;
  }
  absl::StatusOr<std::vector<PhysicalChunk>> chunks =
      MapGuestRange(vm_.memory(), space, cr3, address, data.size());
  if (!chunks.ok()) {
    return chunks.status();
  }
  for (const PhysicalChunk& chunk : *chunks) {
    std::span<const std::byte> in(data.data() + chunk.offset, chunk.length);
    if (absl::Status s = vm_.memory().Write(chunk.gpa, in); !s.ok()) {
      return s;
    }
    // A write over a software breakpoint changes the code under it; the INT3 stays.
    for (auto& [id, bp] : breakpoints_) {
      const bool patched = bp->spec.kind == BreakpointKind::kSoftware && bp->gpa >= chunk.gpa &&
                           bp->gpa < chunk.gpa + chunk.length;
      if (patched) {
        bp->original = static_cast<uint8_t>(in[bp->gpa - chunk.gpa]);
        bool stepping_over = false;
        for (const auto& v : vcpus_) {
          stepping_over |= v->reinsert_id == id;
        }
        if (!stepping_over) {
          (void)vm_.memory().WriteObject<uint8_t>(bp->gpa, kInt3);
        }
      }
    }
  }
  return absl::OkStatus();
}

void VmDebugger::Impl::OnVcpuEnded(uint32_t vcpu) {
  {
    std::lock_guard lock(stop_mu_);
    if (vcpu < vcpus_.size()) {
      vcpus_[vcpu]->ended = true;
    }
  }
  stop_cv_.notify_all();
}

void VmDebugger::Impl::OnVmShutdown() {
  {
    std::lock_guard lock(stop_mu_);
    shut_down_ = true;
  }
  stop_cv_.notify_all();
  events_->Close();
}

// ---- VmDebugger: forwards to Impl ----

VmDebugger::VmDebugger(vmm::Vm& vm, AddressPolicy policy)
    : impl_(std::make_unique<Impl>(vm, policy)) {}
VmDebugger::~VmDebugger() = default;

absl::Status VmDebugger::SetEnabled(bool enabled, StopMode mode) {
  return impl_->SetEnabled(enabled, mode);
}
DebugStateInfo VmDebugger::State() const { return impl_->State(); }
absl::StatusOr<BreakpointInfo> VmDebugger::AddBreakpoint(BreakpointSpec spec,
                                                         const std::string& symbol_or_empty) {
  return impl_->AddBreakpoint(spec, symbol_or_empty);
}
absl::Status VmDebugger::RemoveBreakpoint(uint32_t id) { return impl_->RemoveBreakpoint(id); }
absl::StatusOr<std::vector<BreakpointInfo>> VmDebugger::ListBreakpoints() const {
  return impl_->ListBreakpoints();
}
absl::Status VmDebugger::Continue() { return impl_->Continue(); }
absl::StatusOr<StepResult> VmDebugger::Step(uint32_t vcpu, uint32_t count,
                                            std::chrono::steady_clock::time_point deadline) {
  return impl_->Step(vcpu, count, deadline);
}
absl::Status VmDebugger::Interrupt() { return impl_->Interrupt(); }
absl::StatusOr<kvm_regs> VmDebugger::GetRegs(uint32_t vcpu) { return impl_->GetRegs(vcpu); }
absl::StatusOr<kvm_sregs> VmDebugger::GetSregs(uint32_t vcpu) { return impl_->GetSregs(vcpu); }
absl::StatusOr<kvm_debugregs> VmDebugger::GetDebugRegs(uint32_t vcpu) {
  return impl_->GetDebugRegs(vcpu);
}
absl::StatusOr<kvm_regs> VmDebugger::SetRegs(uint32_t vcpu, const RegisterChange& change) {
  return impl_->SetRegs(vcpu, change);
}
absl::StatusOr<std::vector<std::byte>> VmDebugger::ReadMemory(AddressSpace space, uint64_t address,
                                                              size_t length, uint32_t vcpu) {
  return impl_->ReadMemory(space, address, length, vcpu);
}
absl::Status VmDebugger::WriteMemory(AddressSpace space, uint64_t address,
                                     const std::vector<std::byte>& data, uint32_t vcpu) {
  return impl_->WriteMemory(space, address, data, vcpu);
}
std::shared_ptr<EventLog> VmDebugger::events() const { return impl_->events(); }
std::optional<vmm::ExitDecision> VmDebugger::OnDebugExit(uint32_t vcpu_id, vmm::VcpuFd& fd) {
  return impl_->OnDebugExit(vcpu_id, fd);
}
std::optional<vmm::ExitDecision> VmDebugger::OnInstructionExit(uint32_t vcpu_id, vmm::VcpuFd& fd) {
  return impl_->OnInstructionExit(vcpu_id, fd);
}
void VmDebugger::OnVcpuEnded(uint32_t vcpu_id) { impl_->OnVcpuEnded(vcpu_id); }
void VmDebugger::OnVmShutdown() { impl_->OnVmShutdown(); }

}  // namespace pvm::debug
