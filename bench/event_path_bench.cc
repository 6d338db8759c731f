// The debug event path against its physical limit, on the kstep guest (CPL0, so
// kvm-pvm emulates it and every breakpoint and step is a KVM exit):
//
//   raw     KVM_RUN loops on a VM built by the VMM but never started, vCPU 0's fd
//           driven from this thread: what KVM alone costs per event.
//   engine  the debugger in this process (the VM's own vCPU thread, EventLog
//           subscribers on threads reading as StreamEvents does): pvmd's engine.
//   grpc    the real pvmd binary on a private socket, DebugService.StreamEvents
//           (follow) subscribers on their own connections: end to end.
//
// Each measurement runs --runs times, interleaved so the raw loop and pvmd see the
// same machine load; the table shows medians. Reported, never asserted (README).
#include <linux/kvm.h>
#include <pthread.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/engine_session.h"
#include "bench/event_path_grpc.h"
#include "bench/event_path_stats.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/vmm/exit_handler.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPatience = std::chrono::seconds(20);
constexpr uint64_t kDr6Bs = 1u << 14;
// DR0 enabled (L0) for execution, length 1, with DR7's always-one bit 10: what the
// engine asks KVM for one exec breakpoint.
constexpr uint64_t kDr7ExecDr0 = 0x401;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

vmm::VmRequestSpec KstepSpec(const std::string& name) { return BenchVmSpec(name, "kstep"); }

// ---- raw: KVM alone ----

kvm_guest_debug ArmedAt(uint64_t address) {
  kvm_guest_debug debug{};
  debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
  debug.arch.debugreg[0] = address;
  debug.arch.debugreg[7] = kDr7ExecDr0;
  return debug;
}

kvm_guest_debug SingleStep() {
  kvm_guest_debug debug{};
  debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
  return debug;
}

// One KVM_RUN that must end in a debug exit whose DR6 has `dr6_bits`.
absl::Status RunExpectingDebug(vmm::VcpuFd& fd, uint64_t dr6_bits) {
  absl::StatusOr<vmm::RunOutcome> outcome = fd.Run();
  if (!outcome.ok()) {
    return outcome.status();
  }
  const kvm_run& run = fd.run();
  if (*outcome != vmm::RunOutcome::kExit || run.exit_reason != KVM_EXIT_DEBUG ||
      (run.debug.arch.dr6 & dr6_bits) != dr6_bits) {
    return absl::InternalError(absl::StrFormat(
        "expected a debug exit with DR6 bits 0x%x, got %s (DR6 0x%x) at RIP 0x%x", dr6_bits,
        vmm::ExitReasonName(run.exit_reason), run.debug.arch.dr6, run.s.regs.regs.rip));
  }
  return absl::OkStatus();
}

struct RawSample {
  Sample step;                 // single-step exits
  Sample step_recipe;          // the same plus the engine's per-step ioctl
  Sample bp;                   // breakpoint passes: bp exit, step over, re-arm
  Sample bp_recipe;            // the same with the engine's three ioctls
  double retrigger_per_s = 0;  // bp exits at one RIP, no progress
  double set_debug_per_s = 0;  // KVM_SET_GUEST_DEBUG calls
};

// What the engine gives KVM (vm_debugger.cc GuestDebugFor): USE_SW_BP always, the
// stepped-over slot dropped from DR7 (and USE_HW_BP with it when none is left).
kvm_guest_debug EngineDebug(uint64_t address, bool armed, bool step) {
  kvm_guest_debug debug{};
  debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
  debug.arch.debugreg[0] = address;
  if (armed) {
    debug.control |= KVM_GUESTDBG_USE_HW_BP;
    debug.arch.debugreg[7] = kDr7ExecDr0;
  }
  if (step) {
    debug.control |= KVM_GUESTDBG_SINGLESTEP;
  }
  return debug;
}

// Single-step exits for `seconds`; each followed by the KVM_SET_GUEST_DEBUG calls
// in `per_step` (none for the bare loop).
absl::StatusOr<Sample> StepLoop(vmm::VcpuFd& fd, double seconds,
                                const std::vector<kvm_guest_debug>& per_step) {
  if (absl::Status s = fd.SetGuestDebug(SingleStep()); !s.ok()) {
    return s;
  }
  const CpuSnapshot cpu_before = ReadCpu({getpid()});
  uint64_t steps = 0;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (int k = 0; k < 64; ++k, ++steps) {
      if (absl::Status s = RunExpectingDebug(fd, kDr6Bs); !s.ok()) {
        return s;
      }
      for (const kvm_guest_debug& debug : per_step) {
        if (absl::Status s = fd.SetGuestDebug(debug); !s.ok()) {
          return s;
        }
      }
    }
  }
  const double elapsed = Seconds(Clock::now() - t0);
  Sample sample;
  sample.events_per_s = static_cast<double>(steps) / elapsed;
  AddCpu(cpu_before, ReadCpu({getpid()}), elapsed, &sample);
  return sample;
}

// Breakpoint passes at `inc` for `seconds`: `at_hit` after the breakpoint exit (it
// must single-step with the breakpoint disarmed), `after_step` after the step exit
// (it must re-arm). Checks that the guest's counter moved once per pass.
absl::StatusOr<Sample> BreakpointLoop(vmm::Vm& vm, vmm::VcpuFd& fd, uint64_t inc, uint64_t counter,
                                      double seconds, const std::vector<kvm_guest_debug>& at_hit,
                                      const std::vector<kvm_guest_debug>& after_step) {
  absl::StatusOr<uint64_t> before = vm.memory().ReadObject<uint64_t>(counter);
  if (!before.ok()) {
    return before.status();
  }
  if (absl::Status s = fd.SetGuestDebug(after_step.back()); !s.ok()) {
    return s;
  }
  const CpuSnapshot cpu_before = ReadCpu({getpid()});
  uint64_t events = 0;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (absl::Status s = RunExpectingDebug(fd, 1); !s.ok()) {
      return s;
    }
    if (fd.run().s.regs.regs.rip != inc) {
      return absl::InternalError("a breakpoint exit away from kstep_inc");
    }
    for (const kvm_guest_debug& debug : at_hit) {
      if (absl::Status s = fd.SetGuestDebug(debug); !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = RunExpectingDebug(fd, kDr6Bs); !s.ok()) {
      return s;
    }
    for (const kvm_guest_debug& debug : after_step) {
      if (absl::Status s = fd.SetGuestDebug(debug); !s.ok()) {
        return s;
      }
    }
    ++events;
  }
  const double elapsed = Seconds(Clock::now() - t0);
  Sample sample;
  sample.events_per_s = static_cast<double>(events) / elapsed;
  AddCpu(cpu_before, ReadCpu({getpid()}), elapsed, &sample);
  absl::StatusOr<uint64_t> after = vm.memory().ReadObject<uint64_t>(counter);
  if (!after.ok() || *after - *before != events) {
    return absl::InternalError(absl::StrCat("kstep_counters[0] moved by ",
                                            after.ok() ? *after - *before : 0, " over ", events,
                                            " breakpoint passes"));
  }
  return sample;
}

// Runs on a kstep VM that was created (memory, page tables, image, long mode, sync
// regs, exactly as pvmd builds it) but never started: its vCPU thread stays parked
// and never enters KVM_RUN, so this thread owns the fd.
absl::StatusOr<RawSample> MeasureRaw(vmm::VmRegistry& registry, const std::string& name,
                                     double seconds) {
  absl::StatusOr<std::shared_ptr<vmm::Vm>> created = registry.Create(KstepSpec(name));
  if (!created.ok()) {
    return created.status();
  }
  std::shared_ptr<vmm::Vm> vm = *created;
  struct Deleter {
    vmm::VmRegistry& registry;
    const std::string& name;
    ~Deleter() { (void)registry.Delete(name); }
  } deleter{registry, name};
  absl::StatusOr<uint64_t> i0 = SymbolOf(*vm, "kstep_i0");
  absl::StatusOr<uint64_t> inc = SymbolOf(*vm, "kstep_inc");
  absl::StatusOr<uint64_t> counters = SymbolOf(*vm, "kstep_counters");
  if (!i0.ok() || !inc.ok() || !counters.ok()) {
    return absl::NotFoundError("kstep lacks kstep_i0, kstep_inc or kstep_counters");
  }
  vmm::VcpuFd& fd = vm->vcpus()[0]->fd();
  RawSample sample;
  NamedAsVcpu named;

  // Boot (with the console's OUT exits) up to the loop.
  if (absl::Status s = fd.SetGuestDebug(ArmedAt(*i0)); !s.ok()) {
    return s;
  }
  for (;;) {
    absl::StatusOr<vmm::RunOutcome> outcome = fd.Run();
    if (!outcome.ok()) {
      return outcome.status();
    }
    const uint32_t reason = fd.run().exit_reason;
    if (*outcome == vmm::RunOutcome::kExit && reason == KVM_EXIT_DEBUG) {
      break;
    }
    if (*outcome == vmm::RunOutcome::kExit && reason != KVM_EXIT_IO) {
      return absl::InternalError(absl::StrCat("kstep boot ended in ", vmm::ExitReasonName(reason)));
    }
  }
  if (fd.run().s.regs.regs.rip != *i0) {
    return absl::InternalError("the first debug exit is not at kstep_i0");
  }

  // 1. Single-step exits: KVM_RUN, exit, KVM_RUN; registers come in kvm_run (sync
  // regs), so nothing else per exit. Then the same with the one KVM_SET_GUEST_DEBUG
  // the engine issues per user step (its Rearm, even with nothing to re-arm).
  absl::StatusOr<Sample> loop = StepLoop(fd, seconds, {});
  if (!loop.ok()) {
    return loop.status();
  }
  sample.step = *loop;
  loop = StepLoop(fd, seconds, {EngineDebug(*inc, false, true)});
  if (!loop.ok()) {
    return loop.status();
  }
  sample.step_recipe = *loop;

  // 2. A breakpoint that lets the guest go on, as trace mode needs: exit at
  // kstep_inc, disarm and single-step it, re-arm, run one loop pass (~17 emulated
  // instructions) to the next hit. One event = 2 exits + 2 KVM_SET_GUEST_DEBUG.
  // Then the engine's recipe: the same exits with its three calls (disarm+step at
  // the hit; re-arm still stepping, then stop stepping, after the step).
  loop = BreakpointLoop(*vm, fd, *inc, *counters, seconds, {SingleStep()}, {ArmedAt(*inc)});
  if (!loop.ok()) {
    return loop.status();
  }
  sample.bp = *loop;
  loop = BreakpointLoop(*vm, fd, *inc, *counters, seconds, {EngineDebug(*inc, false, true)},
                        {EngineDebug(*inc, true, true), EngineDebug(*inc, true, false)});
  if (!loop.ok()) {
    return loop.status();
  }
  sample.bp_recipe = *loop;
  const kvm_guest_debug armed = ArmedAt(*inc);
  if (absl::Status s = fd.SetGuestDebug(armed); !s.ok()) {
    return s;
  }

  // 3. For scale, what pvmprobe section 8 calls a breakpoint exit: the armed
  // breakpoint under RIP fires again on every KVM_RUN (kvm-pvm ignores RF).
  {
    constexpr int kExits = 2000;
    const auto t0 = Clock::now();
    for (int n = 0; n < kExits; ++n) {
      if (absl::Status s = RunExpectingDebug(fd, 1); !s.ok()) {
        return s;
      }
      if (fd.run().s.regs.regs.rip != *inc) {
        return absl::InternalError("the re-triggering breakpoint moved");
      }
    }
    sample.retrigger_per_s = kExits / Seconds(Clock::now() - t0);
  }

  // 4. The ioctl the engine issues per step-over and per user step.
  {
    constexpr int kCalls = 5000;
    const auto t0 = Clock::now();
    for (int n = 0; n < kCalls; ++n) {
      if (absl::Status s = fd.SetGuestDebug(armed); !s.ok()) {
        return s;
      }
    }
    sample.set_debug_per_s = kCalls / Seconds(Clock::now() - t0);
  }
  return sample;
}

// ---- engine: the debugger in this process ----

// The module's own debug exits (a DR slot, KVM's single-step), which kstep's
// emulated code gets on this host: the mechanism the raw loops measure. pvmd itself
// (the grpc rows) picks INT3 patches here, for native code's sake.
SessionSpec KstepStoppedAt(const std::string& name, const char* symbol) {
  SessionSpec spec;
  spec.vm = KstepSpec(name);
  spec.breakpoint = {debug::BreakpointKind::kExec, 0, 1, false};
  spec.symbol = symbol;
  return spec;
}

absl::StatusOr<Sample> EngineTrace(vmm::VmRegistry& registry, const std::string& name,
                                   int subscribers, double warmup_s, double seconds) {
  EngineSession session(registry, subscribers);
  if (absl::Status s = session.Start(KstepStoppedAt(name, "kstep_inc")); !s.ok()) {
    return s;
  }
  if (absl::Status s = session.debugger().SetEnabled(true, debug::StopMode::kTrace); !s.ok()) {
    return s;
  }
  if (absl::Status s = session.debugger().Continue(); !s.ok()) {
    return s;
  }
  return session.MeasureTrace(warmup_s, seconds);
}

absl::StatusOr<Sample> EngineStep(vmm::VmRegistry& registry, const std::string& name,
                                  int subscribers, uint32_t steps) {
  EngineSession session(registry, subscribers);
  if (absl::Status s = session.Start(KstepStoppedAt(name, "kstep_i0")); !s.ok()) {
    return s;
  }
  return session.MeasureStep(steps);
}

// ---- the report ----

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line;
}

void Record(Row& row, const absl::StatusOr<Sample>& sample) {
  if (!sample.ok()) {
    if (row.error.empty()) {
      row.error = std::string(sample.status().message());
    }
    std::fprintf(stderr, "  %s %s (%d): %s\n", row.path.c_str(), row.what.c_str(), row.subscribers,
                 std::string(sample.status().message()).c_str());
    return;
  }
  row.runs.push_back(*sample);
  std::fprintf(stderr,
               "  %-6s %-44s %3d subs: %9.0f events/s, p50 %.1f us, p99 %.1f us, lost %lu\n",
               row.path.c_str(), row.what.c_str(), row.subscribers, sample->events_per_s,
               sample->p50_us, sample->p99_us, static_cast<unsigned long>(sample->lost));
}

Sample Rate(double per_s) {
  Sample s;
  s.events_per_s = per_s;
  return s;
}

struct Options {
  double seconds = 2;
  double warmup = 0.3;
  int runs = 3;
  uint32_t steps = 20000;
  std::vector<int> subscribers = {1, 8, 64};
  bool engine = true;
  bool grpc = true;
  std::string pvmd = PVMD_BINARY;
  std::string guest_dir = PVM_GUEST_BUILD_DIR;
};

int Main(const Options& options) {
  absl::StatusOr<vmm::Kvm> kvm = vmm::Kvm::Open();
  if (!kvm.ok()) {
    std::fprintf(stderr, "event_path_bench: %s\n", std::string(kvm.status().message()).c_str());
    return 1;
  }
  vmm::VmRegistry registry(*kvm, vmm::ImageCatalog(options.guest_dir), vmm::VmLimits{});

  utsname uts{};
  uname(&uts);
  const std::string load_before = LoadAverage();
  std::printf("debug event path, kstep guest (CPL0, emulated), 1 vCPU; kernel %s, %u CPUs\n",
              uts.release, std::thread::hardware_concurrency());
  std::printf("%d runs, interleaved; trace windows %.1f s after %.1f s warm-up; Step(0, %u)\n",
              options.runs, options.seconds, options.warmup, options.steps);
  std::printf("load average before: %s\n", load_before.c_str());
  std::fflush(stdout);

  Row raw_step{"raw", "single-step exits"};
  Row raw_step_recipe{"raw", "  + the engine's SET_GUEST_DEBUG/step"};
  Row raw_bp{"raw", "exec bp kstep_inc, step over, re-arm"};
  Row raw_bp_recipe{"raw", "  with the engine's 3 SET_GUEST_DEBUG"};
  Row raw_retrigger{"raw", "exec bp exit at one RIP, no progress"};
  Row raw_set_debug{"raw", "KVM_SET_GUEST_DEBUG alone (calls)"};
  std::vector<int> engine_subs = {0};
  engine_subs.insert(engine_subs.end(), options.subscribers.begin(), options.subscribers.end());
  std::vector<Row> engine_trace, engine_step, grpc_trace, grpc_step;
  for (int n : engine_subs) {
    engine_trace.push_back({"engine", "trace, exec bp kstep_inc", n});
    engine_step.push_back({"engine", absl::StrCat("Step(0, ", options.steps, ")"), n});
  }
  for (int n : options.subscribers) {
    grpc_trace.push_back({"grpc", "trace, exec bp kstep_inc", n});
    grpc_step.push_back({"grpc", absl::StrCat("Step(0, ", options.steps, ")"), n});
  }

  std::unique_ptr<PvmdProcess> pvmd;
  std::string grpc_error;
  if (options.grpc) {
    absl::StatusOr<std::unique_ptr<PvmdProcess>> started =
        PvmdProcess::Start(options.pvmd, options.guest_dir);
    if (started.ok()) {
      pvmd = *std::move(started);
    } else {
      grpc_error = std::string(started.status().message());
    }
  }

  for (int run = 0; run < options.runs; ++run) {
    std::fprintf(stderr, "run %d/%d (load %s)\n", run + 1, options.runs, LoadAverage().c_str());
    absl::StatusOr<RawSample> raw =
        MeasureRaw(registry, absl::StrCat("ep-raw-", run), options.seconds);
    if (raw.ok()) {
      Record(raw_step, raw->step);
      Record(raw_step_recipe, raw->step_recipe);
      Record(raw_bp, raw->bp);
      Record(raw_bp_recipe, raw->bp_recipe);
      Record(raw_retrigger, Rate(raw->retrigger_per_s));
      Record(raw_set_debug, Rate(raw->set_debug_per_s));
    } else {
      for (Row* row :
           {&raw_step, &raw_step_recipe, &raw_bp, &raw_bp_recipe, &raw_retrigger, &raw_set_debug}) {
        Record(*row, raw.status());
      }
    }
    if (options.engine) {
      for (Row& row : engine_trace) {
        Record(row, EngineTrace(registry, absl::StrCat("ep-trace-", row.subscribers, "-", run),
                                row.subscribers, options.warmup, options.seconds));
      }
      for (Row& row : engine_step) {
        Record(row, EngineStep(registry, absl::StrCat("ep-step-", row.subscribers, "-", run),
                               row.subscribers, options.steps));
      }
    }
    if (pvmd != nullptr) {
      GrpcRunOptions grpc_options;
      grpc_options.warmup_s = options.warmup;
      grpc_options.seconds = options.seconds;
      grpc_options.steps = options.steps;
      for (Row& row : grpc_trace) {
        grpc_options.subscribers = row.subscribers;
        Record(row, GrpcTrace(*pvmd, absl::StrCat("ep-trace-", row.subscribers, "-", run),
                              grpc_options));
      }
      for (Row& row : grpc_step) {
        grpc_options.subscribers = row.subscribers;
        Record(row,
               GrpcStep(*pvmd, absl::StrCat("ep-step-", row.subscribers, "-", run), grpc_options));
      }
    }
  }

  const double raw_step_rate = MedianRate(raw_step);
  const double raw_bp_rate = MedianRate(raw_bp);
  const double raw_step_cpu = MedianVcpuUs(raw_step);
  const double raw_bp_cpu = MedianVcpuUs(raw_bp);
  for (Row* row : {&raw_step, &raw_step_recipe}) {
    row->raw_events_per_s = raw_step_rate;
    row->raw_vcpu_us_per_event = raw_step_cpu;
  }
  for (Row* row : {&raw_bp, &raw_bp_recipe}) {
    row->raw_events_per_s = raw_bp_rate;
    row->raw_vcpu_us_per_event = raw_bp_cpu;
  }
  std::vector<Row> rows = {raw_step,      raw_step_recipe, raw_bp,
                           raw_bp_recipe, raw_retrigger,   raw_set_debug};
  if (options.engine) {
    for (Row& row : engine_trace) {
      row.raw_events_per_s = raw_bp_rate;
      row.raw_vcpu_us_per_event = raw_bp_cpu;
      rows.push_back(row);
    }
    for (Row& row : engine_step) {
      row.raw_events_per_s = raw_step_rate;
      row.raw_vcpu_us_per_event = raw_step_cpu;
      rows.push_back(row);
    }
  }
  if (options.grpc) {
    for (Row& row : grpc_trace) {
      row.raw_events_per_s = raw_bp_rate;
      row.raw_vcpu_us_per_event = raw_bp_cpu;
      if (pvmd == nullptr) row.error = grpc_error;
      rows.push_back(row);
    }
    for (Row& row : grpc_step) {
      row.raw_events_per_s = raw_step_rate;
      row.raw_vcpu_us_per_event = raw_step_cpu;
      if (pvmd == nullptr) row.error = grpc_error;
      rows.push_back(row);
    }
  }
  pvmd.reset();
  std::printf("\n");
  PrintTable(rows);
  std::printf(
      "\nratio: events/s over the raw row's (trace rows: the exec-bp row; Step rows: the\n"
      "single-step row). vcpu us: the vCPU thread's CPU time per event (schedstat, guest\n"
      "time included); cpu ratio: the raw row's over this row's. wait%%: of the window, the\n"
      "vCPU thread runnable but not running. other us: CPU per event of every other thread\n"
      "(subscribers; for grpc, pvmd's handlers and this process's clients). ev/read:\n"
      "events per EventLog read or stream message. lost: gap records, missing: sequences\n"
      "neither delivered nor owned up to, summed over runs and subscribers.\n");
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace pvm::bench

int main(int argc, char** argv) {
  pvm::bench::Options options;
  CLI::App app{"Debug event path: raw KVM exit rate vs. pvmd's delivery to subscribers"};
  app.add_option("--seconds", options.seconds, "Trace and raw loop window per run")
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "Trace warm-up before each window")
      ->capture_default_str();
  app.add_option("--runs", options.runs, "Runs of every measurement (median reported)")
      ->capture_default_str();
  app.add_option("--steps", options.steps, "Instructions per Step call")->capture_default_str();
  app.add_option("--subscribers", options.subscribers, "Subscriber counts")
      ->delimiter(',')
      ->capture_default_str();
  app.add_flag("!--no-engine", options.engine, "Skip the in-process engine rows");
  app.add_flag("!--no-grpc", options.grpc, "Skip the end-to-end rows");
  app.add_option("--pvmd", options.pvmd, "pvmd binary for the end-to-end rows")
      ->capture_default_str();
  app.add_option("--guest-dir", options.guest_dir, "Where builtin:kstep lives")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return pvm::bench::Main(options);
}
