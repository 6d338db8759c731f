// Breakpoints: hardware slots shared by every vCPU, and INT3 patches in guest memory.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/guest_range.h"
#include "daemon/debug/symbol_resolver.h"
#include "daemon/debug/vm_debugger_impl.h"

namespace pvm::debug {

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
  // Where native code gives no debug exits, an execute breakpoint is an INT3 too:
  // it fires on native and emulated code alike.
  const bool patched =
      software || (spec.kind == BreakpointKind::kExec && config_.intercept_native_exceptions);
  const bool page_watched =
      config_.page_protection_watchpoints &&
      (spec.kind == BreakpointKind::kWrite || spec.kind == BreakpointKind::kReadWrite);
  // Page-protection watchpoints keep the four DR-style slots, so the API is the same
  // on every host, but take no debug register.
  const int usable_slots =
      page_watched || !config_.intercept_native_exceptions ? 4 : kUserSlotsWhenIntercepting;
  int slot = -1;
  if (!patched) {
    auto free = std::find(slots_.begin(), slots_.begin() + usable_slots, nullptr);
    slot = free == slots_.begin() + usable_slots ? -1 : static_cast<int>(free - slots_.begin());
  }
  unsigned long dr7_bits = 0;
  // A patch or a protected page is not subject to the module's DR7 rule; its form
  // still is.
  BreakpointSpec checked = spec;
  AddressPolicy rules = policy_;
  if (patched) {
    checked.kind = BreakpointKind::kSoftware;
  }
  if (patched || page_watched) {
    rules.rule = PVM_VA_RULE_NONE;
  }
  if (absl::Status s = ValidateBreakpoint(rules, checked, std::max(slot, 0), &dr7_bits); !s.ok()) {
    return s;
  }
  if (page_watched) {
    dr7_bits = 0;
  }
  for (const auto& [id, bp] : breakpoints_) {
    if (bp->spec.kind == spec.kind && bp->spec.address == spec.address &&
        bp->spec.length == spec.length) {
      return absl::AlreadyExistsError(
          absl::StrFormat("breakpoint %d is already a %s breakpoint at 0x%x", id,
                          BreakpointKindName(spec.kind), spec.address));
    }
  }
  if (!patched && slot < 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", usable_slots == 4 ? "four" : "two", " hardware debug registers of VM '", vm_.name(),
        "' ", usable_slots == 4 ? "" : "left by exception interception ",
        "are in use: remove a hardware breakpoint or use a software one"));
  }

  auto bp = std::make_unique<Breakpoint>();
  bp->id = next_id_;
  bp->spec = spec;
  bp->slot = slot;
  bp->patched = patched;
  bp->page_watched = page_watched;
  bp->dr7_bits = dr7_bits;
  bp->location = DescribeAddress(vm_.image(), spec.address);
  Breakpoint* added = bp.get();
  absl::Status applied = vm_.WithAllParked([&]() -> absl::Status {
    if (patched) {
      if (!ArmInterceptionLocked()) {
        return absl::FailedPreconditionError(
            "the guest has no usable IDT (no present #DB and #BP gates), so a breakpoint in "
            "natively running code could not be caught on this host, whose module gives no "
            "debug exits for it");
      }
      if (absl::Status s = PatchInt3(*added, 0); !s.ok()) {
        return s;
      }
    } else if (page_watched) {
      if (absl::Status s = WatchPage(*added, 0); !s.ok()) {
        return s;
      }
    }
    if (!patched) {
      slots_[slot] = added;
    }
    breakpoints_.emplace(added->id, std::move(bp));
    // Every vCPU's guest debug follows the table (a first patch turns interception
    // on, a first DR slot the debug registers).
    for (uint32_t i = 0; i < vcpus_.size(); ++i) {
      if (absl::Status s = ApplyGuestDebug(i); !s.ok()) {
        if (patched) {
          (void)RestoreByte(*added);
        } else if (page_watched) {
          (void)page_watch_->Remove(added->id);
        }
        if (!patched) {
          slots_[slot] = nullptr;
        }
        breakpoints_.erase(added->id);
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
  return InfoOf(*added);
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
    if (other->patched && other->gpa == bp.gpa) {
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

absl::Status VmDebugger::Impl::WatchPage(Breakpoint& bp, uint32_t vcpu) {
  absl::StatusOr<kvm_sregs> sregs = vm_.vcpus()[vcpu]->fd().GetSregs();
  if (!sregs.ok()) {
    return sregs.status();
  }
  absl::StatusOr<std::vector<PhysicalChunk>> chunks = MapGuestRange(
      vm_.memory(), AddressSpace::kVirtual, sregs->cr3, bp.spec.address, bp.spec.length);
  if (!chunks.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot watch that address: ", chunks.status().message()));
  }
  bp.watch_gpa = chunks->front().gpa;
  if (page_watch_ == nullptr) {
    page_watch_ = std::make_unique<PageWatch>(vm_);
  }
  return page_watch_->Add({.id = bp.id,
                           .gva = bp.spec.address,
                           .gpa = bp.watch_gpa,
                           .length = bp.spec.length,
                           .kind = bp.spec.kind == BreakpointKind::kWrite
                                       ? PageWatchKind::kWrite
                                       : PageWatchKind::kReadWrite});
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
    if (bp->page_watched) {
      if (absl::Status s = page_watch_->Remove(id); !s.ok()) {
        return s;
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

}  // namespace pvm::debug
