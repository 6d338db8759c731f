#include "tests/unit/gdb/fake_gdb_target.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pvm::gdb::testing {
namespace {

// kvm_regs in RegisterChange order: rax..r15, rip, rflags.
std::array<__u64*, 18> Fields(kvm_regs& regs) {
  return {&regs.rax, &regs.rbx, &regs.rcx, &regs.rdx, &regs.rsi, &regs.rdi,
          &regs.rsp, &regs.rbp, &regs.r8,  &regs.r9,  &regs.r10, &regs.r11,
          &regs.r12, &regs.r13, &regs.r14, &regs.r15, &regs.rip, &regs.rflags};
}

}  // namespace

debug::DebugEvent MakeEvent(debug::EventKind kind, uint32_t vcpu, uint64_t rip,
                            uint32_t breakpoint_id) {
  debug::DebugEvent event;
  event.kind = kind;
  event.vcpu = vcpu;
  event.rip = rip;
  event.breakpoint_id = breakpoint_id;
  event.vector = kind == debug::EventKind::kSwBreakpoint ? 3 : 1;
  event.stopped = true;
  return event;
}

FakeGdbTarget::FakeGdbTarget(uint32_t vcpus) : vcpus_(vcpus) {
  for (uint32_t i = 0; i < vcpus; ++i) {
    kvm_regs& regs = vcpus_[i].regs;
    std::array<__u64*, 18> fields = Fields(regs);
    for (size_t f = 0; f < 16; ++f) {
      *fields[f] = (uint64_t{i + 1} << 32) | (0x100 + f);  // distinct per vCPU and register
    }
    regs.rip = 0x401000 + 0x100 * i;
    regs.rflags = 0x202;
    kvm_sregs& sregs = vcpus_[i].sregs;
    sregs.cs.selector = 0x10;
    sregs.ss.selector = 0x18;
    sregs.ds.selector = 0x18;
    sregs.es.selector = 0x18;
    sregs.fs.selector = 0;
    sregs.gs.selector = 0;
    sregs.fs.base = 0x7f0000000000 + i;
    sregs.gs.base = 0xffff888000000000 + i;
    sregs.cr0 = 0x80050033;
    sregs.cr3 = 0x1000;
    sregs.cr4 = 0x3606f0;
    sregs.efer = 0xd01;
  }
}

void FakeGdbTarget::SetInitialState(bool enabled, debug::StopMode mode, bool stopped) {
  std::lock_guard lock(mu_);
  enabled_ = enabled;
  mode_ = mode;
  for (Vcpu& v : vcpus_) {
    v.stopped = stopped;
    v.reason = stopped ? "interrupted" : "";
  }
  cv_.notify_all();
}

void FakeGdbTarget::MapMemory(uint64_t address, std::vector<std::byte> bytes) {
  std::lock_guard lock(mu_);
  memory_[address] = std::move(bytes);
}

void FakeGdbTarget::FailBreakpointAt(uint64_t address, absl::Status status) {
  std::lock_guard lock(mu_);
  failures_[address] = std::move(status);
}

void FakeGdbTarget::SetRegs(uint32_t vcpu, const kvm_regs& regs) {
  std::lock_guard lock(mu_);
  vcpus_.at(vcpu).regs = regs;
}

void FakeGdbTarget::SetSregs(uint32_t vcpu, const kvm_sregs& sregs) {
  std::lock_guard lock(mu_);
  vcpus_.at(vcpu).sregs = sregs;
}

void FakeGdbTarget::ScriptContinue(Resumption resumption) {
  std::lock_guard lock(mu_);
  continue_script_.push_back(std::move(resumption));
}

void FakeGdbTarget::ScriptStep(Resumption resumption) {
  std::lock_guard lock(mu_);
  step_script_.push_back(std::move(resumption));
}

void FakeGdbTarget::StopNow(std::vector<debug::DebugEvent> events) {
  std::lock_guard lock(mu_);
  StopAllLocked(events, "stopped");
}

void FakeGdbTarget::DisableExternally() {
  std::lock_guard lock(mu_);
  DisableLocked();
}

void FakeGdbTarget::ShutDown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  cv_.notify_all();
}

std::vector<std::string> FakeGdbTarget::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

int FakeGdbTarget::CountCalls(std::string_view prefix) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(
      calls_.begin(), calls_.end(), [&](const std::string& c) { return c.starts_with(prefix); }));
}

bool FakeGdbTarget::WaitForCalls(std::string_view prefix, int count,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return std::count_if(calls_.begin(), calls_.end(),
                         [&](const std::string& c) { return c.starts_with(prefix); }) >= count;
  });
}

std::map<uint32_t, debug::BreakpointSpec> FakeGdbTarget::breakpoints() const {
  std::lock_guard lock(mu_);
  return breakpoints_;
}

std::vector<debug::BreakpointSpec> FakeGdbTarget::added_specs() const {
  std::lock_guard lock(mu_);
  return added_;
}

std::vector<uint32_t> FakeGdbTarget::removed_ids() const {
  std::lock_guard lock(mu_);
  return removed_;
}

bool FakeGdbTarget::enabled() const {
  std::lock_guard lock(mu_);
  return enabled_;
}

bool FakeGdbTarget::all_stopped() const {
  std::lock_guard lock(mu_);
  return std::all_of(vcpus_.begin(), vcpus_.end(), [](const Vcpu& v) { return v.stopped; });
}

kvm_regs FakeGdbTarget::regs(uint32_t vcpu) const {
  std::lock_guard lock(mu_);
  return vcpus_.at(vcpu).regs;
}

std::vector<std::byte> FakeGdbTarget::memory(uint64_t address, size_t length) const {
  std::lock_guard lock(mu_);
  for (const auto& [start, bytes] : memory_) {
    if (address >= start && address - start + length <= bytes.size()) {
      auto first = bytes.begin() + static_cast<ptrdiff_t>(address - start);
      return std::vector<std::byte>(first, first + static_cast<ptrdiff_t>(length));
    }
  }
  return {};
}

// --- GdbTarget ---

debug::DebugStateInfo FakeGdbTarget::State() const {
  std::lock_guard lock(mu_);
  RecordLocked("State()");
  debug::DebugStateInfo state;
  state.enabled = enabled_;
  state.stop_mode = mode_;
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    debug::VcpuDebugInfo info;
    info.id = i;
    info.stopped = vcpus_[i].stopped;
    info.reason = vcpus_[i].reason;
    info.rip = vcpus_[i].regs.rip;
    state.vcpus.push_back(info);
  }
  state.software_breakpoints = static_cast<uint32_t>(std::count_if(
      breakpoints_.begin(), breakpoints_.end(),
      [](const auto& b) { return b.second.kind == debug::BreakpointKind::kSoftware; }));
  state.last_event = log_->last_sequence();
  return state;
}

absl::Status FakeGdbTarget::SetEnabled(bool enabled) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrCat("SetEnabled(", enabled ? 1 : 0, ")"));
  if (enabled) {
    enabled_ = true;
    mode_ = debug::StopMode::kAllStop;  // the vCPUs keep running, as the engine's
    cv_.notify_all();
  } else {
    DisableLocked();
  }
  return absl::OkStatus();
}

absl::StatusOr<debug::BreakpointInfo> FakeGdbTarget::AddBreakpoint(
    const debug::BreakpointSpec& spec) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrFormat("AddBreakpoint(%s,0x%x,%d)", debug::BreakpointKindName(spec.kind),
                               spec.address, spec.length));
  if (auto failure = failures_.find(spec.address); failure != failures_.end()) {
    return failure->second;
  }
  if (!enabled_) {
    return absl::FailedPreconditionError("debugging is off");
  }
  debug::BreakpointInfo info;
  if (spec.kind != debug::BreakpointKind::kSoftware) {
    const auto in_use = std::count_if(breakpoints_.begin(), breakpoints_.end(), [](const auto& b) {
      return b.second.kind != debug::BreakpointKind::kSoftware;
    });
    if (in_use >= kHardwareSlots) {
      return absl::ResourceExhaustedError("all 4 debug registers are in use");
    }
    info.slot = static_cast<int>(in_use);
    info.mechanism = absl::StrCat("debug register DR", info.slot);
  } else {
    info.mechanism = "INT3 patch";
  }
  info.id = next_id_++;
  info.spec = spec;
  breakpoints_[info.id] = spec;
  added_.push_back(spec);
  return info;
}

absl::Status FakeGdbTarget::RemoveBreakpoint(uint32_t id) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrCat("RemoveBreakpoint(", id, ")"));
  if (breakpoints_.erase(id) == 0) {
    return absl::NotFoundError(absl::StrCat("no breakpoint ", id));
  }
  removed_.push_back(id);
  return absl::OkStatus();
}

absl::Status FakeGdbTarget::Continue() {
  std::lock_guard lock(mu_);
  RecordLocked("Continue()");
  if (!enabled_) {
    return absl::FailedPreconditionError("debugging is off");
  }
  if (std::none_of(vcpus_.begin(), vcpus_.end(), [](const Vcpu& v) { return v.stopped; })) {
    return absl::FailedPreconditionError("no vCPU is stopped by the debugger");
  }
  for (Vcpu& v : vcpus_) {
    v.stopped = false;
    v.reason.clear();
  }
  Resumption next;
  if (!continue_script_.empty()) {
    next = std::move(continue_script_.front());
    continue_script_.pop_front();
  }
  ApplyLocked(next);
  cv_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<debug::StepResult> FakeGdbTarget::Step(uint32_t vcpu, Deadline deadline) {
  std::unique_lock lock(mu_);
  RecordLocked(absl::StrCat("Step(", vcpu, ")"));
  if (!enabled_) {
    return absl::FailedPreconditionError("debugging is off");
  }
  if (absl::Status s = CheckVcpuLocked(vcpu); !s.ok()) {
    return s;
  }
  if (!vcpus_[vcpu].stopped) {
    return absl::FailedPreconditionError(absl::StrCat("vCPU ", vcpu, " is not stopped"));
  }
  Vcpu& v = vcpus_[vcpu];
  v.stopped = false;  // only this vCPU moves; the others stay stopped
  v.reason.clear();
  Resumption next;
  next.kind = Resumption::Kind::kStop;
  if (!step_script_.empty()) {
    next = std::move(step_script_.front());
    step_script_.pop_front();
  } else {
    v.regs.rip += 1;
    next.events.push_back(MakeEvent(debug::EventKind::kSingleStep, vcpu, v.regs.rip));
  }
  if (next.kind == Resumption::Kind::kStop && next.events.empty()) {
    v.stopped = true;
    v.reason = "single-step";
  } else {
    ApplyLocked(next);
  }
  cv_.notify_all();
  const bool stopped = cv_.wait_until(
      lock, deadline, [&] { return vcpus_[vcpu].stopped || !enabled_ || shut_down_; });
  if (!stopped) {
    return absl::DeadlineExceededError(absl::StrCat("vCPU ", vcpu, " is still stepping"));
  }
  debug::StepResult result;
  result.vcpu = vcpu;
  result.steps = 1;
  result.rip = vcpus_[vcpu].regs.rip;
  result.reason = vcpus_[vcpu].reason;
  result.last_event = log_->last_sequence();
  return result;
}

absl::Status FakeGdbTarget::Interrupt() {
  std::lock_guard lock(mu_);
  RecordLocked("Interrupt()");
  if (!enabled_) {
    return absl::FailedPreconditionError("debugging is off");
  }
  for (Vcpu& v : vcpus_) {
    if (!v.stopped) {
      v.stopped = true;
      v.reason = "interrupted";
    }
  }
  cv_.notify_all();
  return absl::OkStatus();
}

WaitResult FakeGdbTarget::WaitForAllStopped(Deadline deadline) const {
  std::unique_lock lock(mu_);
  RecordLocked("WaitForAllStopped()");
  // As the engine: debugging off, already or during this wait (also off and on again).
  const uint64_t disables_at_start = disables_;
  WaitResult result = WaitResult::kTimedOut;
  cv_.wait_until(lock, deadline, [&] {
    if (shut_down_) {
      result = WaitResult::kShutDown;
    } else if (!enabled_ || disables_ != disables_at_start) {
      result = WaitResult::kDisabled;
    } else if (std::all_of(vcpus_.begin(), vcpus_.end(), [](const Vcpu& v) { return v.stopped; })) {
      result = WaitResult::kAllStopped;
    } else {
      return false;
    }
    return true;
  });
  return result;
}

absl::StatusOr<kvm_regs> FakeGdbTarget::GetRegs(uint32_t vcpu) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrCat("GetRegs(", vcpu, ")"));
  if (absl::Status s = CheckVcpuLocked(vcpu); !s.ok()) {
    return s;
  }
  return vcpus_[vcpu].regs;
}

absl::StatusOr<kvm_sregs> FakeGdbTarget::GetSregs(uint32_t vcpu) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrCat("GetSregs(", vcpu, ")"));
  if (absl::Status s = CheckVcpuLocked(vcpu); !s.ok()) {
    return s;
  }
  return vcpus_[vcpu].sregs;
}

absl::StatusOr<kvm_regs> FakeGdbTarget::SetRegs(uint32_t vcpu,
                                                const debug::RegisterChange& change) {
  std::lock_guard lock(mu_);
  std::string record = absl::StrCat("SetRegs(", vcpu);
  for (size_t i = 0; i < change.values.size(); ++i) {
    if (change.values[i]) {
      absl::StrAppendFormat(&record, ",%d=0x%x", i, *change.values[i]);
    }
  }
  RecordLocked(record + ")");
  if (absl::Status s = CheckVcpuLocked(vcpu); !s.ok()) {
    return s;
  }
  std::array<__u64*, 18> fields = Fields(vcpus_[vcpu].regs);
  for (size_t i = 0; i < change.values.size(); ++i) {
    if (change.values[i]) {
      *fields[i] = *change.values[i];
    }
  }
  return vcpus_[vcpu].regs;
}

absl::StatusOr<std::vector<std::byte>> FakeGdbTarget::ReadMemory(uint64_t address, size_t length,
                                                                 uint32_t vcpu) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrFormat("ReadMemory(0x%x,%d,%d)", address, length, vcpu));
  if (absl::Status s = CheckVcpuLocked(vcpu); !s.ok()) {
    return s;
  }
  auto region = RegionLocked(address, length);
  if (region == memory_.end()) {
    return absl::OutOfRangeError(absl::StrFormat("0x%x+%d is not mapped", address, length));
  }
  auto first = region->second.begin() + static_cast<ptrdiff_t>(address - region->first);
  return std::vector<std::byte>(first, first + static_cast<ptrdiff_t>(length));
}

absl::Status FakeGdbTarget::WriteMemory(uint64_t address, const std::vector<std::byte>& data,
                                        uint32_t vcpu) {
  std::lock_guard lock(mu_);
  RecordLocked(absl::StrFormat("WriteMemory(0x%x,%d,%d)", address, data.size(), vcpu));
  if (absl::Status s = CheckVcpuLocked(vcpu); !s.ok()) {
    return s;
  }
  auto region = RegionLocked(address, data.size());
  if (region == memory_.end()) {
    return absl::OutOfRangeError(absl::StrFormat("0x%x+%d is not mapped", address, data.size()));
  }
  std::copy(data.begin(), data.end(),
            region->second.begin() + static_cast<ptrdiff_t>(address - region->first));
  return absl::OkStatus();
}

std::shared_ptr<debug::EventLog> FakeGdbTarget::events() const {
  std::lock_guard lock(mu_);
  RecordLocked("events()");
  return log_;
}

// --- private ---

void FakeGdbTarget::RecordLocked(std::string call) const {
  calls_.push_back(std::move(call));
  cv_.notify_all();
}

void FakeGdbTarget::ApplyLocked(const Resumption& resumption) {
  switch (resumption.kind) {
    case Resumption::Kind::kStop:
      StopAllLocked(resumption.events, "stopped");
      break;
    case Resumption::Kind::kRun:
      break;
    case Resumption::Kind::kDisable:
      DisableLocked();
      break;
    case Resumption::Kind::kShutDown:
      shut_down_ = true;
      break;
  }
}

void FakeGdbTarget::StopAllLocked(const std::vector<debug::DebugEvent>& events,
                                  const char* reason) {
  for (debug::DebugEvent event : events) {
    event.stopped = true;
    log_->Append(event);
    if (event.vcpu < vcpus_.size()) {
      Vcpu& v = vcpus_[event.vcpu];
      v.stopped = true;
      v.reason = debug::EventKindName(event.kind);
      v.regs.rip = event.rip;
    }
  }
  for (Vcpu& v : vcpus_) {  // all-stop: the others stop with it
    if (!v.stopped) {
      v.stopped = true;
      v.reason = reason;
    }
  }
  cv_.notify_all();
}

void FakeGdbTarget::DisableLocked() {
  enabled_ = false;
  ++disables_;
  breakpoints_.clear();
  for (Vcpu& v : vcpus_) {  // disabling resumes every vCPU the debugger stopped
    v.stopped = false;
    v.reason.clear();
  }
  cv_.notify_all();
}

absl::Status FakeGdbTarget::CheckVcpuLocked(uint32_t vcpu) const {
  if (vcpu >= vcpus_.size()) {
    return absl::NotFoundError(absl::StrCat("no vCPU ", vcpu));
  }
  return absl::OkStatus();
}

std::map<uint64_t, std::vector<std::byte>>::iterator FakeGdbTarget::RegionLocked(uint64_t address,
                                                                                 size_t length) {
  for (auto it = memory_.begin(); it != memory_.end(); ++it) {
    if (address >= it->first && address - it->first + length <= it->second.size()) {
      return it;
    }
  }
  return memory_.end();
}

}  // namespace pvm::gdb::testing
