// The control side of VmDebugger: API calls, each applied with the VM's vCPUs
// parked ("kick, apply, resume").
#include "daemon/debug/vm_debugger.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/exception_intercept.h"
#include "daemon/debug/guest_range.h"
#include "daemon/debug/symbol_resolver.h"
#include "daemon/debug/vm_debugger_impl.h"

namespace pvm::debug {
namespace {

constexpr uint64_t kDr7ReservedOne = 1u << 10;

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

VmDebugger& DebuggerFor(vmm::Vm& vm, const DebugConfig& config) {
  // Only this function attaches a hook, so the hook is always a VmDebugger.
  return static_cast<VmDebugger&>(
      vm.DebugHook([&] { return std::make_unique<VmDebugger>(vm, config); }));
}

// ---- Impl: shared helpers ----

VmDebugger::Impl::Impl(vmm::Vm& vm, DebugConfig config)
    : vm_(vm),
      config_(config),
      policy_(config.policy),
      events_(std::make_shared<EventLog>(config.event_ring_size)) {
  for (size_t i = 0; i < vm.vcpus().size(); ++i) {
    vcpus_.push_back(std::make_unique<VcpuDebug>());
    vcpus_.back()->id = static_cast<uint32_t>(i);
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
  // Guest debug only where something needs it: page watches do not, and on
  // kvm-pvm KVM_GUESTDBG_ENABLE alone slows the emulator (a store loop on a
  // watched page: 18 us per store without, 33 us with; native_debug_bench).
  const bool patches = std::any_of(breakpoints_.begin(), breakpoints_.end(),
                                   [](const auto& entry) { return entry.second->patched; });
  const bool stepping = v.mode != VcpuDebug::Mode::kRun;
  const bool slots = std::any_of(slots_.begin(), slots_.end(), [](const Breakpoint* bp) {
    return bp != nullptr && !bp->page_watched;
  });
  if (!patches && !stepping && !slots) {
    return debug;
  }
  debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
  uint64_t dr7 = RequestedDr7();
  for (int slot = 0; slot < 4; ++slot) {
    if (const Breakpoint* bp = slots_[slot]; bp != nullptr && !bp->page_watched) {
      debug.arch.debugreg[slot] = bp->spec.address;
      v.db[slot] = bp->spec.address;
    }
  }
  const std::array<std::pair<int, uint64_t>, 2> handlers = {
      std::pair{kDbHandlerSlot, db_handler_.load(std::memory_order_relaxed)},
      std::pair{kBpHandlerSlot, bp_handler_.load(std::memory_order_relaxed)}};
  for (const auto& [slot, handler] : handlers) {
    unsigned long bits = 0;
    if (config_.intercept_native_exceptions && (patches || stepping) && handler != 0 &&
        pvm_dr7_encode(slot, PVM_BP_EXEC, 1, handler, &bits) == PVM_BP_OK) {
      debug.arch.debugreg[slot] = handler;
      dr7 |= bits | (1u << 10);
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
  if (v.mode != VcpuDebug::Mode::kRun && !v.tf_step) {
    debug.control |= KVM_GUESTDBG_SINGLESTEP;
  }
  return debug;
}

bool VmDebugger::Impl::RefreshInterception(vmm::VcpuFd& fd) {
  if (!config_.intercept_native_exceptions) {
    return false;
  }
  absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
  if (!sregs.ok()) {
    return false;
  }
  absl::StatusOr<uint64_t> db = IdtHandler(vm_.memory(), *sregs, kDebugVector);
  absl::StatusOr<uint64_t> bp = IdtHandler(vm_.memory(), *sregs, kBreakpointVector);
  if (!db.ok() || !bp.ok()) {
    return false;
  }
  db_handler_.store(*db, std::memory_order_relaxed);
  bp_handler_.store(*bp, std::memory_order_relaxed);
  return true;
}

absl::Status VmDebugger::Impl::BeginStep(VcpuDebug& v, vmm::VcpuFd& fd) {
  v.tf_step = false;
  if (config_.intercept_native_exceptions) {
    absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
    if (!sregs.ok()) {
      return sregs.status();
    }
    if (sregs->cs.dpl == 3) {
      // Native code: KVM's single-step gives no exit there; the guest's own TF
      // trap, caught at its #DB handler, does.
      if (!RefreshInterception(fd)) {
        return absl::FailedPreconditionError(
            "the guest has no usable IDT, so natively running code cannot be stepped on "
            "this host (its module gives no debug exits for it)");
      }
      // Guest debug first: turning KVM's own single-step off strips TF from RFLAGS.
      v.tf_step = true;
      if (absl::Status s = ApplyGuestDebug(v, fd); !s.ok()) {
        return s;
      }
      absl::StatusOr<kvm_debugregs> debugregs = fd.GetDebugRegs();
      absl::StatusOr<kvm_regs> regs = fd.GetRegs();
      if (!debugregs.ok() || !regs.ok()) {
        return debugregs.ok() ? regs.status() : debugregs.status();
      }
      v.guest_dr6 = debugregs->dr6;
      regs->rflags |= kRflagsTf;
      return fd.SetRegs(*regs);
    }
  }
  return ApplyGuestDebug(v, fd);
}

absl::Status VmDebugger::Impl::ApplyGuestDebug(VcpuDebug& v, vmm::VcpuFd& fd) {
  const kvm_guest_debug debug = GuestDebugFor(v);
  // The exit paths re-apply after every step; most of the time nothing changed.
  if (v.applied_debug && std::memcmp(&*v.applied_debug, &debug, sizeof(debug)) == 0) {
    return absl::OkStatus();
  }
  v.applied_debug.reset();
  if (absl::Status s = fd.SetGuestDebug(debug); !s.ok()) {
    return s;
  }
  v.applied_debug = debug;
  return absl::OkStatus();
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

absl::Status VmDebugger::Impl::PlanStepOver(VcpuDebug& v, Breakpoint& bp) {
  v.mode = VcpuDebug::Mode::kStepOver;
  if (bp.slot >= 0) {
    v.disarmed_slot = bp.slot;
    return absl::OkStatus();
  }
  if (absl::Status s = LiftPatch(bp); !s.ok()) {
    return s;
  }
  v.reinsert_id = bp.id;
  return absl::OkStatus();
}

absl::Status VmDebugger::Impl::LiftPatch(Breakpoint& bp) {
  std::lock_guard lock(patch_mu_);
  if (bp.steppers == 0) {
    if (absl::Status s = RestoreByte(bp); !s.ok()) {
      return s;
    }
  }
  ++bp.steppers;
  return absl::OkStatus();
}

absl::Status VmDebugger::Impl::Repatch(Breakpoint& bp) {
  std::lock_guard lock(patch_mu_);
  if (bp.steppers == 0 || --bp.steppers > 0) {
    return absl::OkStatus();
  }
  return vm_.memory().WriteObject<uint8_t>(bp.gpa, kInt3);
}

BreakpointInfo VmDebugger::Impl::InfoOf(const Breakpoint& bp) const {
  BreakpointInfo info;
  info.id = bp.id;
  info.spec = bp.spec;
  info.slot = bp.slot;
  info.hits = bp.hits.load(std::memory_order_relaxed);
  info.location = bp.location;
  if (bp.page_watched) {
    info.mechanism = absl::StrCat(
        "page protection: the page is ",
        bp.spec.kind == BreakpointKind::kWrite ? "read-only" : "absent",
        " for the guest and pvmd completes each access (this host never fires DR7 data "
        "breakpoints)");
  } else if (bp.slot >= 0) {
    info.mechanism = absl::StrCat("debug register DR", bp.slot);
  } else if (config_.intercept_native_exceptions) {
    info.mechanism =
        "INT3 patched into guest memory; in natively running code caught at the guest's #BP "
        "handler (this host's module gives no debug exits there), no debug register used";
  } else {
    info.mechanism = "INT3 patched into guest memory";
  }
  return info;
}

void VmDebugger::Impl::OnVcpuEnded(uint32_t vcpu) {
  {
    std::lock_guard lock(stop_mu_);
    if (vcpu < vcpus_.size()) {
      vcpus_[vcpu]->ended = true;
    }
  }
  if (exclusive_stepper_.load() == static_cast<int>(vcpu)) {
    EndExclusiveStep(vcpu);  // it ended in its step-over: the others go on
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

VmDebugger::VmDebugger(vmm::Vm& vm, DebugConfig config)
    : impl_(std::make_unique<Impl>(vm, config)) {}
VmDebugger::~VmDebugger() = default;

VmDebugger::WaitResult VmDebugger::WaitForAllStopped(
    std::chrono::steady_clock::time_point deadline) const {
  return impl_->WaitForAllStopped(deadline);
}

const DebugConfig& VmDebugger::config() const { return impl_->config(); }

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
std::optional<vmm::ExitDecision> VmDebugger::OnMmioExit(uint32_t vcpu_id, vmm::VcpuFd& fd) {
  return impl_->OnMmioExit(vcpu_id, fd);
}
void VmDebugger::OnVcpuEnded(uint32_t vcpu_id) { impl_->OnVcpuEnded(vcpu_id); }
void VmDebugger::OnVmShutdown() { impl_->OnVmShutdown(); }

}  // namespace pvm::debug
