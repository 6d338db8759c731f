#include "daemon/host/debug_probe.h"

#include <linux/kvm.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/host/debug_probe_guest.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/kick_signal.h"
#include "daemon/vmm/kvm_error.h"
#include "daemon/vmm/long_mode.h"
#include "daemon/vmm/vcpu_fd.h"
#include "daemon/vmm/vm_fd.h"

namespace pvm::host {

using Clock = std::chrono::steady_clock;

// Inside the guest layout's namespace, whose names the checks read like a table.
namespace probe {
namespace {

constexpr uint64_t kDr6Bs = 1ull << 14;
constexpr uint32_t kDbVector = 1;
constexpr uint32_t kBpVector = 3;
constexpr uint8_t kInt3 = 0xcc;

// A POSIX timer that sends vmm::KickSignal() to the calling thread, again every
// period while armed: a signal that lands just before KVM_RUN is entered is followed
// by another one, so no run outlives two periods.
class RunDeadline {
 public:
  RunDeadline() = default;
  RunDeadline(const RunDeadline&) = delete;
  RunDeadline& operator=(const RunDeadline&) = delete;
  ~RunDeadline() {
    if (timer_created_) {
      timer_delete(timer_);
    }
    if (mask_saved_) {
      pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
    }
  }

  absl::Status Start() {
    vmm::InstallKickSignalHandler();
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, vmm::KickSignal());
    if (int err = pthread_sigmask(SIG_UNBLOCK, &kick, &saved_mask_); err != 0) {
      return vmm::ErrnoStatus(err, "pthread_sigmask");
    }
    mask_saved_ = true;
    sigevent event{};
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = vmm::KickSignal();
    event._sigev_un._tid = gettid();  // glibc 2.36 has no sigev_notify_thread_id
    if (timer_create(CLOCK_MONOTONIC, &event, &timer_) != 0) {
      return vmm::ErrnoStatus(errno, "timer_create");
    }
    timer_created_ = true;
    return absl::OkStatus();
  }

  void Arm(std::chrono::nanoseconds period) { Set(period); }
  void Disarm() { Set(std::chrono::nanoseconds(0)); }

 private:
  void Set(std::chrono::nanoseconds period) {
    const timespec ts{.tv_sec = static_cast<time_t>(period.count() / 1'000'000'000),
                      .tv_nsec = static_cast<long>(period.count() % 1'000'000'000)};
    const itimerspec spec{.it_interval = ts, .it_value = ts};
    timer_settime(timer_, 0, &spec, nullptr);
  }

  timer_t timer_{};
  bool timer_created_ = false;
  sigset_t saved_mask_{};
  bool mask_saved_ = false;
};

// One KVM_RUN's outcome, reduced to what the checks distinguish.
struct Exit {
  enum class Kind { kDebug, kMark, kVector, kEmulationFailure, kTimeout, kOther };
  Kind kind = Kind::kOther;
  uint32_t exception = 0;  // kDebug
  uint64_t pc = 0;         // kDebug: debug.arch.pc; kEmulationFailure: RIP
  uint64_t dr6 = 0;        // kDebug
  uint8_t value = 0;       // kMark, kVector: the byte the guest wrote
  bool int3 = false;       // kEmulationFailure: the instruction is 0xcc
  std::string detail;      // kOther, kTimeout
};

std::string Describe(const Exit& e) {
  switch (e.kind) {
    case Exit::Kind::kDebug:
      return absl::StrFormat("KVM_EXIT_DEBUG exception %d pc 0x%x dr6 0x%x", e.exception, e.pc,
                             e.dr6);
    case Exit::Kind::kMark:
      return absl::StrFormat("the code ran to its end (mark %d)", e.value);
    case Exit::Kind::kVector:
      return absl::StrFormat("vector %d arrived in the guest's IDT", e.value);
    case Exit::Kind::kEmulationFailure:
      return absl::StrFormat("emulation failure at 0x%x%s", e.pc, e.int3 ? " (INT3)" : "");
    case Exit::Kind::kTimeout:
    case Exit::Kind::kOther:
      return e.detail;
  }
  return e.detail;
}

// What the breakpoints of the address-rule walk showed on one path.
struct RuleObservation {
  bool known = false;
  pvm_va_rule rule = PVM_VA_RULE_NONE;
  std::string evidence;
};

class Prober {
 public:
  Prober(vmm::VcpuFd& vcpu, vmm::GuestMemory& memory, const kvm_sregs& long_mode,
         const ProbeOptions& options, std::vector<std::string>& notes)
      : vcpu_(vcpu),
        memory_(memory),
        long_mode_(long_mode),
        options_(options),
        end_(Clock::now() + options.checks_budget),
        notes_(notes) {}

  absl::Status Start() { return deadline_.Start(); }

  absl::StatusOr<PathDebugCapabilities> ProbePath(bool native, RuleObservation& rule) {
    PathDebugCapabilities caps;
    for (auto [check, out] : {std::pair{&Prober::CheckExecBreakpoint, &caps.hw_exec_breakpoint},
                              std::pair{&Prober::CheckSingleStep, &caps.single_step},
                              std::pair{&Prober::CheckWriteWatchpoint, &caps.write_watchpoint},
                              std::pair{&Prober::CheckInt3, &caps.int3}}) {
      absl::StatusOr<DebugDelivery> delivery = (this->*check)(native);
      if (!delivery.ok()) return delivery.status();
      *out = *delivery;
    }
    if (caps.hw_exec_breakpoint == DebugDelivery::kDebugExit) {
      absl::StatusOr<RuleObservation> observed = ObserveAddressRule(native);
      if (!observed.ok()) return observed.status();
      rule = *observed;
    } else {
      rule.evidence = absl::StrCat(PathName(native),
                                   " code: hardware breakpoints give no debug exit, so the rule "
                                   "cannot be seen there");
    }
    return caps;
  }

 private:
  static const char* PathName(bool native) { return native ? "native" : "emulated"; }

  void Note(bool native, absl::string_view check, const std::string& what) {
    notes_.push_back(absl::StrCat(PathName(native), " ", check, ": ", what));
  }

  // Fresh registers at `rip` on the path's privilege level; the previous check may
  // have left the vCPU in an exception stub on the kernel stack.
  absl::Status Reset(bool native, uint64_t rip) {
    if (absl::Status s = vcpu_.SetSregs(ProbeSregs(long_mode_, native)); !s.ok()) return s;
    kvm_regs regs{};
    regs.rip = rip;
    regs.rsp = native ? kUserStackTop : kKernelStackTop;
    regs.rflags = native ? 0x202 : 0x2;
    return vcpu_.SetRegs(regs);
  }

  // KVM_SET_GUEST_DEBUG; an error (a flag this KVM does not take) is returned as the
  // note for an inconclusive check rather than failing the probe.
  std::optional<std::string> SetDebug(uint32_t control, uint64_t dr7,
                                      const std::array<uint64_t, 4>& addresses = {}) {
    kvm_guest_debug debug{};
    debug.control = control;
    std::copy(addresses.begin(), addresses.end(), debug.arch.debugreg);
    debug.arch.debugreg[7] = dr7;
    if (absl::Status s = vcpu_.SetGuestDebug(debug); !s.ok()) {
      return std::string(s.message());
    }
    return std::nullopt;
  }

  absl::Status ClearDebug() {
    if (std::optional<std::string> error = SetDebug(0, 0)) {
      return absl::InternalError(absl::StrCat("clearing guest debug: ", *error));
    }
    return absl::OkStatus();
  }

  bool BudgetSpent(bool native, absl::string_view check) {
    if (Clock::now() < end_) return false;
    Note(native, check, "skipped: the probe's time budget is spent");
    return true;
  }

  // A check's run ends at the run deadline or soon after the budget, whichever is first.
  absl::StatusOr<Exit> RunOnce() {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::nanoseconds>(end_ - Clock::now());
    const std::chrono::nanoseconds period = std::clamp<std::chrono::nanoseconds>(
        remaining, std::chrono::milliseconds(1), options_.run_deadline);
    deadline_.Arm(period);
    absl::StatusOr<vmm::RunOutcome> outcome = vcpu_.Run();
    deadline_.Disarm();
    if (!outcome.ok()) return outcome.status();
    Exit e;
    if (*outcome == vmm::RunOutcome::kInterrupted) {
      e.kind = Exit::Kind::kTimeout;
      e.detail = absl::StrFormat("KVM_RUN did not return within %d ms",
                                 std::chrono::ceil<std::chrono::milliseconds>(period).count());
      return e;
    }
    const kvm_run& run = vcpu_.run();
    switch (run.exit_reason) {
      case KVM_EXIT_DEBUG:
        e.kind = Exit::Kind::kDebug;
        e.exception = run.debug.arch.exception;
        e.pc = run.debug.arch.pc;
        e.dr6 = run.debug.arch.dr6;
        return e;
      case KVM_EXIT_MMIO:
        if (run.mmio.is_write && run.mmio.len == 1 &&
            (run.mmio.phys_addr == kMarkMmio || run.mmio.phys_addr == kVectorMmio)) {
          e.kind = run.mmio.phys_addr == kMarkMmio ? Exit::Kind::kMark : Exit::Kind::kVector;
          e.value = run.mmio.data[0];
          return e;
        }
        e.detail = absl::StrFormat("unexpected MMIO exit at 0x%x", run.mmio.phys_addr);
        return e;
      case KVM_EXIT_IO:
        e.detail = absl::StrFormat("unexpected I/O exit on port 0x%x", run.io.port);
        return e;
      case KVM_EXIT_INTERNAL_ERROR:
        if (run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
          absl::StatusOr<kvm_regs> regs = vcpu_.GetRegs();
          if (!regs.ok()) return regs.status();
          e.kind = Exit::Kind::kEmulationFailure;
          e.pc = regs->rip;
          if ((run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
              run.emulation_failure.insn_size >= 1) {
            e.int3 = run.emulation_failure.insn_bytes[0] == kInt3;
          } else {
            // Older KVMs send no instruction bytes; the probe's RIPs are identity mapped.
            absl::StatusOr<uint8_t> byte = memory_.ReadObject<uint8_t>(regs->rip);
            e.int3 = byte.ok() && *byte == kInt3;
          }
          return e;
        }
        e.detail = absl::StrFormat("KVM internal error, suberror %d", run.internal.suberror);
        return e;
      default:
        e.detail = absl::StrFormat("unexpected exit reason %d", run.exit_reason);
        return e;
    }
  }

  // Runs once and classifies: `fits` names the delivery for an exit this check
  // expects; anything else is inconclusive and noted.
  template <typename Fits>
  absl::StatusOr<DebugDelivery> RunCheck(bool native, absl::string_view check, Fits fits) {
    absl::StatusOr<Exit> e = RunOnce();
    if (!e.ok()) return e.status();
    if (absl::Status s = ClearDebug(); !s.ok()) return s;
    std::optional<DebugDelivery> delivery = fits(*e);
    if (!delivery) {
      Note(native, check, Describe(*e));
      return DebugDelivery::kInconclusive;
    }
    return *delivery;
  }

  // Shared start of a check: budget, registers, guest debug.
  absl::StatusOr<bool> Prepare(bool native, absl::string_view check, uint64_t rip, uint32_t control,
                               uint64_t dr7, const std::array<uint64_t, 4>& addresses = {}) {
    if (BudgetSpent(native, check)) return false;
    if (absl::Status s = Reset(native, rip); !s.ok()) return s;
    if (std::optional<std::string> error = SetDebug(control, dr7, addresses)) {
      Note(native, check, absl::StrCat("KVM_SET_GUEST_DEBUG refused: ", *error));
      return false;
    }
    return true;
  }

  static uint64_t Dr7Slot(int slot, pvm_bp_kind kind, unsigned len, uint64_t addr) {
    unsigned long bits = 0;
    pvm_dr7_encode(slot, kind, len, addr, &bits);
    return bits;
  }

  absl::StatusOr<DebugDelivery> CheckExecBreakpoint(bool native) {
    constexpr absl::string_view kCheck = "hardware execute breakpoint";
    absl::StatusOr<bool> ready =
        Prepare(native, kCheck, kStraightEntry, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP,
                PVM_DR7_FIXED_1 | Dr7Slot(0, PVM_BP_EXEC, 1, kStraightBreakpoint),
                {kStraightBreakpoint, 0, 0, 0});
    if (!ready.ok()) return ready.status();
    if (!*ready) return DebugDelivery::kInconclusive;
    return RunCheck(native, kCheck, [](const Exit& e) -> std::optional<DebugDelivery> {
      if (e.kind == Exit::Kind::kDebug && e.exception == kDbVector && (e.dr6 & 1) &&
          e.pc == kStraightBreakpoint) {
        return DebugDelivery::kDebugExit;
      }
      if (e.kind == Exit::Kind::kVector && e.value == kDbVector) return DebugDelivery::kGuestIdt;
      if (e.kind == Exit::Kind::kMark && e.value == kStraightMark) return DebugDelivery::kNone;
      return std::nullopt;
    });
  }

  absl::StatusOr<DebugDelivery> CheckSingleStep(bool native) {
    constexpr absl::string_view kCheck = "single-step";
    absl::StatusOr<bool> ready =
        Prepare(native, kCheck, kStraightEntry, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0);
    if (!ready.ok()) return ready.status();
    if (!*ready) return DebugDelivery::kInconclusive;
    return RunCheck(native, kCheck, [](const Exit& e) -> std::optional<DebugDelivery> {
      constexpr uint64_t kDbStub = kStubs + kStubSize * kDbVector;
      if (e.kind == Exit::Kind::kDebug && e.exception == kDbVector && (e.dr6 & kDr6Bs)) {
        if (e.pc == kStraightEntry + 1) return DebugDelivery::kDebugExit;
        // The TF trap went to the guest's #DB handler, and the handler (CPL0) is
        // what single-stepped into an exit.
        if (e.pc >= kDbStub && e.pc <= kDbStub + kStubSize) return DebugDelivery::kGuestIdt;
      }
      if (e.kind == Exit::Kind::kVector && e.value == kDbVector) return DebugDelivery::kGuestIdt;
      if (e.kind == Exit::Kind::kMark && e.value == kStraightMark) return DebugDelivery::kNone;
      return std::nullopt;
    });
  }

  absl::StatusOr<DebugDelivery> CheckWriteWatchpoint(bool native) {
    constexpr absl::string_view kCheck = "write watchpoint";
    if (absl::Status s = memory_.WriteObject<uint64_t>(kWatched, 0); !s.ok()) return s;
    absl::StatusOr<bool> ready =
        Prepare(native, kCheck, kStoreEntry, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP,
                PVM_DR7_FIXED_1 | Dr7Slot(0, PVM_BP_WRITE, 8, kWatched), {kWatched, 0, 0, 0});
    if (!ready.ok()) return ready.status();
    if (!*ready) return DebugDelivery::kInconclusive;
    absl::StatusOr<DebugDelivery> delivery =
        RunCheck(native, kCheck, [](const Exit& e) -> std::optional<DebugDelivery> {
          // A data breakpoint is a trap: pc is past the store.
          if (e.kind == Exit::Kind::kDebug && e.exception == kDbVector && (e.dr6 & 1) &&
              e.pc == kStoreNext) {
            return DebugDelivery::kDebugExit;
          }
          if (e.kind == Exit::Kind::kVector && e.value == kDbVector) {
            return DebugDelivery::kGuestIdt;
          }
          if (e.kind == Exit::Kind::kMark && e.value == kStoreMark) return DebugDelivery::kNone;
          return std::nullopt;
        });
    if (delivery.ok() && *delivery != DebugDelivery::kInconclusive) {
      absl::StatusOr<uint64_t> stored = memory_.ReadObject<uint64_t>(kWatched);
      if (!stored.ok()) return stored.status();
      if (*stored != kStoredValue) {
        Note(native, kCheck, absl::StrFormat("the store did not land (0x%x)", *stored));
        return DebugDelivery::kInconclusive;
      }
    }
    return delivery;
  }

  absl::StatusOr<DebugDelivery> CheckInt3(bool native) {
    constexpr absl::string_view kCheck = "INT3";
    absl::StatusOr<bool> ready =
        Prepare(native, kCheck, kInt3Entry, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP, 0);
    if (!ready.ok()) return ready.status();
    if (!*ready) return DebugDelivery::kInconclusive;
    return RunCheck(native, kCheck, [](const Exit& e) -> std::optional<DebugDelivery> {
      // VMX and SVM report the INT3's own address; accept the trap address too.
      if (e.kind == Exit::Kind::kDebug && e.exception == kBpVector &&
          (e.pc == kInt3Site || e.pc == kInt3Site + 1)) {
        return DebugDelivery::kDebugExit;
      }
      if (e.kind == Exit::Kind::kEmulationFailure && e.int3 && e.pc == kInt3Site) {
        return DebugDelivery::kEmulationFailure;
      }
      if (e.kind == Exit::Kind::kVector && e.value == kBpVector) return DebugDelivery::kGuestIdt;
      if (e.kind == Exit::Kind::kMark && e.value == kInt3Mark) return DebugDelivery::kNone;
      return std::nullopt;
    });
  }

  // Exec breakpoints on a lower-half address, on the host-half alias of the code and
  // on address 0, executed in that order. Each hit is disarmed before resuming (RF is
  // ignored by kvm-pvm's emulator), so the walk goes on to the next one.
  absl::StatusOr<RuleObservation> ObserveAddressRule(bool native) {
    constexpr absl::string_view kCheck = "address rule";
    RuleObservation rule;
    const std::array<uint64_t, 4> addresses = {kRuleLowBreakpoint, kRuleHighBreakpoint,
                                               kRuleZeroBreakpoint, 0};
    uint64_t armed = PVM_DR7_FIXED_1;
    for (int slot = 0; slot < 3; ++slot) {
      armed |= Dr7Slot(slot, PVM_BP_EXEC, 1, addresses[slot]);
    }
    absl::StatusOr<bool> ready = Prepare(
        native, kCheck, kRuleEntry, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, armed, addresses);
    if (!ready.ok()) return ready.status();
    if (!*ready) {
      rule.evidence = absl::StrCat(PathName(native), " code: not measured");
      return rule;
    }
    std::array<bool, 3> fired{};
    bool finished = false;
    std::optional<Exit> stopped_by;
    for (int n = 0; n < 4 && !finished && !stopped_by; ++n) {
      absl::StatusOr<Exit> e = RunOnce();
      if (!e.ok()) return e.status();
      const int slot = e->kind == Exit::Kind::kDebug ? std::countr_zero(e->dr6 & 7) : 3;
      if (e->kind == Exit::Kind::kDebug && e->exception == kDbVector && slot < 3 &&
          e->pc == addresses[slot] && !fired[slot]) {
        fired[slot] = true;
        armed &= ~static_cast<uint64_t>(pvm_dr7_mask(slot));
        if (std::optional<std::string> error =
                SetDebug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, armed, addresses)) {
          return absl::InternalError(absl::StrCat("disarming a probe breakpoint: ", *error));
        }
      } else if (e->kind == Exit::Kind::kMark && e->value == kRuleMark) {
        finished = true;
      } else {
        stopped_by = *e;
      }
    }
    if (absl::Status s = ClearDebug(); !s.ok()) return s;

    const std::string path = absl::StrCat(PathName(native), " code");
    if (!fired[0]) {
      rule.evidence = absl::StrCat(path, ": the breakpoint on a lower-half address did not fire");
      Note(native, kCheck, rule.evidence);
      return rule;
    }
    if (!finished && !(fired[1] && fired[2])) {
      rule.evidence =
          absl::StrCat(path, ": the walk over the host-half address and address 0 did not finish: ",
                       stopped_by ? Describe(*stopped_by) : "too many exits");
      Note(native, kCheck, rule.evidence);
      return rule;
    }
    const bool high = fired[1];
    const bool zero = fired[2];
    const std::string seen =
        absl::StrFormat("%s: a breakpoint at 0x%x %s, one at 0 %s", path, kRuleHighBreakpoint,
                        high ? "fired" : "was dropped", zero ? "fired" : "was dropped");
    rule.evidence = seen;
    if (high && zero) {
      rule.known = true;
      rule.rule = PVM_VA_RULE_NONE;
    } else if (!high && !zero) {
      rule.known = true;
      rule.rule = PVM_VA_RULE_POSITIVE_OR_RANGES;
    } else if (!high && zero) {
      // LOWER_HALF drops the same addresses for a guest without kernel ranges, and the
      // probe guest has none: the two cannot be told apart here, nor need to be.
      rule.known = true;
      rule.rule = PVM_VA_RULE_NONNEG_OR_RANGES;
    } else {
      rule.evidence = absl::StrCat(seen, ": no known rule drops 0 but keeps the host half");
      Note(native, kCheck, rule.evidence);
    }
    return rule;
  }

  vmm::VcpuFd& vcpu_;
  vmm::GuestMemory& memory_;
  const kvm_sregs long_mode_;
  const ProbeOptions options_;
  const Clock::time_point end_;
  std::vector<std::string>& notes_;
  RunDeadline deadline_;
};

// Where both paths saw a rule they agree, that is it; where they disagree, the one
// that drops addresses wins (validation must refuse what some path would drop).
void CombineRules(const RuleObservation& native, const RuleObservation& emulated,
                  DebugCapabilities& caps) {
  caps.address_rule_evidence = absl::StrCat(native.evidence, "; ", emulated.evidence);
  if (native.known && emulated.known && native.rule != emulated.rule) {
    caps.notes.push_back("address rule: the native and the emulated path disagree");
  }
  const RuleObservation* chosen = nullptr;
  for (const RuleObservation* r : {&native, &emulated}) {
    if (r->known && (chosen == nullptr || chosen->rule == PVM_VA_RULE_NONE)) chosen = r;
  }
  if (chosen != nullptr) {
    caps.address_rule_known = true;
    caps.address_rule = chosen->rule;
  }
}

absl::Status RunProbe(const vmm::Kvm& kvm, const ProbeOptions& options, DebugCapabilities& caps) {
  absl::StatusOr<vmm::VmFd> vm = kvm.CreateVm();
  if (!vm.ok()) return vm.status();
  absl::StatusOr<vmm::GuestMemory> memory = vmm::GuestMemory::Create(kMemorySize);
  if (!memory.ok()) return memory.status();
  if (absl::Status s = WriteProbeGuest(*memory); !s.ok()) return s;
  if (absl::Status s = vm->SetMemoryRegion(0, 0, memory->size(), memory->host_address()); !s.ok()) {
    return s;
  }
  absl::StatusOr<vmm::VcpuFd> vcpu = vm->CreateVcpu(0);
  if (!vcpu.ok()) return vcpu.status();
  if (absl::Status s = vmm::EnterLongMode(
          *vcpu, vmm::BootParams{.entry = kStraightEntry, .memory_size = memory->size()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<kvm_sregs> long_mode = vcpu->GetSregs();
  if (!long_mode.ok()) return long_mode.status();

  const Clock::time_point checks_start = Clock::now();
  Prober prober(*vcpu, *memory, *long_mode, options, caps.notes);
  if (absl::Status s = prober.Start(); !s.ok()) return s;
  RuleObservation native_rule, emulated_rule;
  absl::StatusOr<PathDebugCapabilities> native = prober.ProbePath(/*native=*/true, native_rule);
  if (!native.ok()) return native.status();
  absl::StatusOr<PathDebugCapabilities> emulated =
      prober.ProbePath(/*native=*/false, emulated_rule);
  if (!emulated.ok()) return emulated.status();
  caps.checks_duration = Clock::now() - checks_start;
  caps.native = *native;
  caps.emulated = *emulated;
  CombineRules(native_rule, emulated_rule, caps);
  return absl::OkStatus();
}

}  // namespace
}  // namespace probe

absl::StatusOr<DebugCapabilities> ProbeGuestDebug(const vmm::Kvm& kvm,
                                                  const ProbeOptions& options) {
  const Clock::time_point start = Clock::now();
  DebugCapabilities caps;
  if (!kvm.capabilities().guest_debug) {
    const PathDebugCapabilities nothing{DebugDelivery::kNone, DebugDelivery::kNone,
                                        DebugDelivery::kNone, DebugDelivery::kNone};
    caps.native = caps.emulated = nothing;
    caps.address_rule_evidence = "KVM_CAP_SET_GUEST_DEBUG is 0: no guest debugging to measure";
    caps.notes.push_back(caps.address_rule_evidence);
  } else if (absl::Status s = probe::RunProbe(kvm, options, caps); !s.ok()) {
    return s;
  }
  caps.duration = Clock::now() - start;
  return caps;
}

}  // namespace pvm::host
