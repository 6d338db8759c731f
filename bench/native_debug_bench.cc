// Debugging natively running code on a module that gives it no debug exits
// (kvm-pvm here), against the raw cost of the exits each mechanism is built on,
// measured in the same run:
//
//   raw     KVM_RUN loops on a VM built by the VMM but never started, vCPU 0's fd
//           driven from this thread: an INT3 at ustep_i0 (a 1-byte nop) caught at
//           the guest's #BP handler entry by a DR3 execute breakpoint, the frame
//           unwound by hand; the same for TF traps at the #DB handler; a store to
//           counter_value on a read-only page (KVM_EXIT_MMIO, completed here).
//   engine  pvmd's debug engine in this process, with the mechanisms pvmd's probe
//           picks for this host, and one EventLog subscriber reading as
//           StreamEvents does: a trace breakpoint on ustep_i0, Step over ustep's
//           loop by TF, and trace write watchpoints on counter_value (counter:
//           native; kcounter: emulated).
//
// Reported, never asserted (README). Usage: native_debug_bench [seconds] [runs]
#include <linux/kvm.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/engine_session.h"
#include "bench/event_path_stats.h"
#include "daemon/debug/exception_intercept.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/debug_config.h"
#include "daemon/host/debug_probe.h"
#include "daemon/vmm/exit_handler.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint8_t kInt3 = 0xcc;
constexpr uint64_t kRflagsTf = 1u << 8;
// DR2 and DR3 enabled (L2, L3) for execution, length 1, with DR7's bit 10: the
// engine's interception of the guest's #DB and #BP handler entries.
constexpr uint64_t kDr7ExecDr2Dr3 = 0x450;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A VM created (exactly as pvmd builds one) and never started: this thread owns
// vCPU 0's fd. Deleted on destruction.
class RawVm {
 public:
  RawVm(vmm::VmRegistry& registry, std::string name) : registry_(registry), name_(name) {}
  ~RawVm() {
    if (vm_ != nullptr) {
      (void)registry_.Delete(name_);
    }
  }
  absl::Status Create(const std::string& guest) {
    absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_.Create(BenchVmSpec(name_, guest));
    if (!vm.ok()) {
      return vm.status();
    }
    vm_ = *vm;
    return absl::OkStatus();
  }
  vmm::Vm& vm() { return *vm_; }
  vmm::VcpuFd& fd() { return vm_->vcpus()[0]->fd(); }

  // KVM_RUN until an exit other than the console's port I/O.
  absl::StatusOr<uint32_t> RunToExit() {
    for (;;) {
      absl::StatusOr<vmm::RunOutcome> outcome = fd().Run();
      if (!outcome.ok()) {
        return outcome.status();
      }
      if (*outcome == vmm::RunOutcome::kExit && fd().run().exit_reason != KVM_EXIT_IO) {
        return fd().run().exit_reason;
      }
    }
  }

 private:
  vmm::VmRegistry& registry_;
  const std::string name_;
  std::shared_ptr<vmm::Vm> vm_;
};

// A raw loop's figures: `events` since t0, this thread's CPU since cpu_before.
Sample RawRate(uint64_t events, Clock::time_point t0, const CpuSnapshot& cpu_before) {
  const double elapsed = Seconds(Clock::now() - t0);
  Sample sample;
  sample.events_per_s = static_cast<double>(events) / elapsed;
  AddCpu(cpu_before, ReadCpu({getpid()}), elapsed, &sample);
  return sample;
}

// What the engine gives KVM with interception and no user breakpoint: the guest's
// #DB and #BP handler entries in DR2 and DR3, software breakpoints on.
absl::StatusOr<kvm_guest_debug> InterceptionDebug(const vmm::Vm& vm) {
  absl::StatusOr<uint64_t> db = SymbolOf(vm, "pvm_exc_db");
  absl::StatusOr<uint64_t> bp = SymbolOf(vm, "pvm_exc_bp");
  if (!db.ok() || !bp.ok()) {
    return absl::NotFoundError("the guest lacks pvm_exc_db or pvm_exc_bp");
  }
  kvm_guest_debug debug{};
  debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP | KVM_GUESTDBG_USE_SW_BP;
  debug.arch.debugreg[2] = *db;
  debug.arch.debugreg[3] = *bp;
  debug.arch.debugreg[7] = kDr7ExecDr2Dr3;
  return debug;
}

// Exits at the guest's handler entries, DR2 (#DB) and DR3 (#BP), for `seconds`.
// `int3`: an INT3 replaces ustep_i0's nop, so every pass traps once; the frame is
// unwound past it (skipping a nop changes nothing). Else: TF stays set, so every
// instruction traps; the frame is unwound with TF kept.
absl::StatusOr<Sample> RawInterception(vmm::VmRegistry& registry, bool int3, double seconds) {
  RawVm raw(registry, int3 ? "raw-int3" : "raw-tf");
  NamedAsVcpu named;
  if (absl::Status s = raw.Create("ustep"); !s.ok()) {
    return s;
  }
  absl::StatusOr<uint64_t> db = SymbolOf(raw.vm(), "pvm_exc_db");
  absl::StatusOr<uint64_t> bp = SymbolOf(raw.vm(), "pvm_exc_bp");
  absl::StatusOr<uint64_t> i0 = SymbolOf(raw.vm(), "ustep_i0");
  absl::StatusOr<kvm_guest_debug> intercept = InterceptionDebug(raw.vm());
  if (!db.ok() || !bp.ok() || !i0.ok() || !intercept.ok()) {
    return absl::NotFoundError("ustep lacks pvm_exc_db, pvm_exc_bp or ustep_i0");
  }
  kvm_guest_debug debug = *intercept;
  vmm::VcpuFd& fd = raw.fd();
  if (absl::Status s = fd.SetGuestDebug(debug); !s.ok()) {
    return s;
  }
  if (absl::Status s = raw.vm().memory().WriteObject<uint8_t>(*i0, kInt3); !s.ok()) {
    return s;
  }
  // The first INT3 comes once ustep's loop runs natively.
  absl::StatusOr<uint32_t> exit = raw.RunToExit();
  if (!exit.ok() || *exit != KVM_EXIT_DEBUG || fd.run().s.regs.regs.rip != *bp) {
    return absl::InternalError("ustep's first INT3 did not stop at pvm_exc_bp");
  }
  if (!int3) {
    // Put the nop back, return to it, and trace from there.
    if (absl::Status s = raw.vm().memory().WriteObject<uint8_t>(*i0, 0x90); !s.ok()) {
      return s;
    }
    if (!debug::UnwindException(fd, raw.vm().memory(), 1, false).ok()) {
      return absl::InternalError("could not unwind the first #BP");
    }
    absl::StatusOr<kvm_regs> regs = fd.GetRegs();
    if (!regs.ok()) {
      return regs.status();
    }
    regs->rflags |= kRflagsTf;
    if (absl::Status s = fd.SetRegs(*regs); !s.ok()) {
      return s;
    }
  } else if (!debug::UnwindException(fd, raw.vm().memory(), 0, false).ok()) {
    return absl::InternalError("could not unwind the first #BP");
  }
  const uint64_t handler = int3 ? *bp : *db;
  const CpuSnapshot cpu_before = ReadCpu({getpid()});
  uint64_t events = 0;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    exit = raw.RunToExit();
    if (!exit.ok() || *exit != KVM_EXIT_DEBUG || fd.run().s.regs.regs.rip != handler) {
      return absl::InternalError("an exit other than at the intercepted handler");
    }
    if (!debug::UnwindException(fd, raw.vm().memory(), 0, false).ok()) {
      return absl::InternalError("could not unwind a trap");
    }
    ++events;
  }
  return RawRate(events, t0, cpu_before);
}

// Stores to counter_value on a read-only page: each a KVM_EXIT_MMIO that this loop
// completes into guest memory, as a page watch does. with_guest_debug: under the
// KVM_SET_GUEST_DEBUG the engine keeps while breakpoints need it (InterceptionDebug),
// which on kvm-pvm makes emulated code slower by itself; a page watch alone does
// without it.
absl::StatusOr<Sample> RawReadOnlyStores(vmm::VmRegistry& registry, const std::string& guest,
                                         bool with_guest_debug, double seconds) {
  RawVm raw(registry, absl::StrCat("raw-mmio-", guest));
  NamedAsVcpu named;
  if (absl::Status s = raw.Create(guest); !s.ok()) {
    return s;
  }
  if (with_guest_debug) {
    absl::StatusOr<kvm_guest_debug> debug = InterceptionDebug(raw.vm());
    if (!debug.ok()) {
      return debug.status();
    }
    if (absl::Status s = raw.fd().SetGuestDebug(*debug); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<uint64_t> counter = SymbolOf(raw.vm(), "counter_value");
  if (!counter.ok()) {
    return counter.status();
  }
  const uint64_t page = *counter & ~uint64_t{vmm::kGuestPageSize - 1};
  if (absl::Status s = raw.vm().memslots().SetPageAccess(page, vmm::PageAccess::kReadOnly);
      !s.ok()) {
    return s;
  }
  vmm::VcpuFd& fd = raw.fd();
  const CpuSnapshot cpu_before = ReadCpu({getpid()});
  uint64_t events = 0;
  auto* host = static_cast<std::byte*>(raw.vm().memory().host_address());
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    absl::StatusOr<uint32_t> exit = raw.RunToExit();
    const kvm_run& run = fd.run();
    if (!exit.ok() || *exit != KVM_EXIT_MMIO || run.mmio.is_write == 0 ||
        run.mmio.phys_addr != *counter || run.mmio.len != 8) {
      return absl::InternalError("an exit other than the store to counter_value");
    }
    std::memcpy(host + run.mmio.phys_addr, run.mmio.data, run.mmio.len);
    ++events;
  }
  return RawRate(events, t0, cpu_before);
}

// A trace breakpoint or watchpoint, one subscriber.
absl::StatusOr<Sample> EngineTrace(vmm::VmRegistry& registry, SessionSpec spec, double seconds) {
  EngineSession session(registry, 1);
  spec.mode = debug::StopMode::kTrace;
  spec.breakpoint.trace = true;
  if (absl::Status s = session.Start(spec); !s.ok()) {
    return s;
  }
  return session.MeasureTrace(0.2, seconds);
}

// Step(0, steps) from ustep_i0: every step a TF trap caught at the #DB handler.
absl::StatusOr<Sample> EngineTfStep(vmm::VmRegistry& registry, const debug::DebugConfig& config,
                                    uint32_t steps) {
  EngineSession session(registry, 1);
  SessionSpec spec;
  spec.vm = BenchVmSpec("engine-tf", "ustep");
  spec.config = config;
  spec.breakpoint = {debug::BreakpointKind::kExec, 0, 1, false};
  spec.symbol = "ustep_i0";
  if (absl::Status s = session.Start(spec); !s.ok()) {
    return s;
  }
  return session.MeasureStep(steps);
}

void Record(Row& row, const absl::StatusOr<Sample>& sample) {
  if (!sample.ok()) {
    row.error = std::string(sample.status().message());
    std::fprintf(stderr, "  %s: %s\n", row.what.c_str(), row.error.c_str());
    return;
  }
  row.runs.push_back(*sample);
}

void Compare(Row& row, const Row& raw) {
  row.raw_events_per_s = MedianRate(raw);
  row.raw_vcpu_us_per_event = MedianVcpuUs(raw);
}

int Main(double seconds, int runs) {
  absl::StatusOr<vmm::Kvm> kvm = vmm::Kvm::Open();
  if (!kvm.ok()) {
    std::fprintf(stderr, "native_debug_bench: %s\n", std::string(kvm.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<host::DebugCapabilities> probe = host::ProbeGuestDebug(*kvm);
  const debug::DebugConfig config = DebugConfigFromProbe(probe);
  utsname uts{};
  uname(&uts);
  std::printf("native-code debugging, 1 vCPU; kernel %s, %u CPUs; %d runs of %.1f s\n", uts.release,
              std::thread::hardware_concurrency(), runs, seconds);
  std::printf("probe: %s\n", probe.ok() ? probe->OneLine().c_str()
                                        : std::string(probe.status().message()).c_str());
  std::printf("engine mechanisms: interception %s, page-protection watchpoints %s\n",
              config.intercept_native_exceptions ? "on" : "off",
              config.page_protection_watchpoints ? "on" : "off");
  vmm::VmRegistry registry(*kvm, vmm::ImageCatalog(PVM_GUEST_BUILD_DIR), vmm::VmLimits{});

  Row raw_int3{"raw", "native INT3 caught at #BP entry"};
  Row raw_tf{"raw", "native TF trap caught at #DB entry"};
  Row raw_mmio_native{"raw", "counter: store to read-only page"};
  Row raw_mmio_emulated{"raw", "kcounter: store to read-only page"};
  Row raw_mmio_emulated_debug{"raw", "  the same under the engine's guest debug"};
  Row engine_bp{"engine", "trace breakpoint ustep_i0 (native)", 1};
  Row engine_tf{"engine", "Step by TF over ustep (native)", 1};
  Row engine_watch_native{"engine", "trace write watch, counter", 1};
  Row engine_watch_emulated{"engine", "trace write watch, kcounter", 1};
  SessionSpec bp_spec;
  bp_spec.vm = BenchVmSpec("engine-bp", "ustep");
  bp_spec.config = config;
  bp_spec.breakpoint = {debug::BreakpointKind::kExec, 0, 1, true};
  bp_spec.symbol = "ustep_i0";
  auto watch_spec = [&](const std::string& guest) {
    SessionSpec spec;
    spec.vm = BenchVmSpec(absl::StrCat("engine-watch-", guest), guest);
    spec.config = config;
    spec.breakpoint = {debug::BreakpointKind::kWrite, 0, 8, true};
    spec.symbol = "counter_value";
    return spec;
  };
  const uint32_t steps = static_cast<uint32_t>(20000 * seconds);
  for (int run = 0; run < runs; ++run) {
    Record(raw_int3, RawInterception(registry, true, seconds));
    Record(engine_bp, EngineTrace(registry, bp_spec, seconds));
    Record(raw_tf, RawInterception(registry, false, seconds));
    Record(engine_tf, EngineTfStep(registry, config, steps));
    Record(raw_mmio_native, RawReadOnlyStores(registry, "counter", false, seconds));
    Record(engine_watch_native, EngineTrace(registry, watch_spec("counter"), seconds));
    Record(raw_mmio_emulated, RawReadOnlyStores(registry, "kcounter", false, seconds));
    Record(raw_mmio_emulated_debug, RawReadOnlyStores(registry, "kcounter", true, seconds));
    Record(engine_watch_emulated, EngineTrace(registry, watch_spec("kcounter"), seconds));
    std::fprintf(stderr, "  run %d of %d done\n", run + 1, runs);
  }
  Compare(engine_bp, raw_int3);
  Compare(engine_tf, raw_tf);
  Compare(engine_watch_native, raw_mmio_native);
  Compare(engine_watch_emulated, raw_mmio_emulated);
  std::printf("\n");
  PrintTable({raw_int3, engine_bp, raw_tf, engine_tf, raw_mmio_native, engine_watch_native,
              raw_mmio_emulated, raw_mmio_emulated_debug, engine_watch_emulated});
  std::printf(
      "\nratio: events/s over the raw row above it (a trace breakpoint is two trapped "
      "exceptions: the #BP and the TF step over the instruction). vcpu us: the vCPU "
      "thread's CPU per event; cpu ratio: the raw row's over this row's.\n");
  return 0;
}

}  // namespace
}  // namespace pvm::bench

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  if (seconds <= 0 || runs <= 0) {
    std::fprintf(stderr, "usage: native_debug_bench [seconds > 0] [runs > 0]\n");
    return 2;
  }
  return pvm::bench::Main(seconds, runs);
}
