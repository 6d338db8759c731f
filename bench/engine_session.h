// The debug engine in this process, as the benchmarks drive it: a VM with its
// debugger, one breakpoint, and EventLog subscribers that read on their own
// threads exactly as a StreamEvents call does (batch size, wake-ups), each keeping
// a Tally of what it saw.
#ifndef PVMD_BENCH_ENGINE_SESSION_H_
#define PVMD_BENCH_ENGINE_SESSION_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/event_path_stats.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm::bench {

// The VM request every benchmark VM uses: builtin:`guest`, 16 MiB.
vmm::VmRequestSpec BenchVmSpec(const std::string& name, const std::string& guest);
// The address of a symbol of the VM's image; NOT_FOUND naming it.
absl::StatusOr<uint64_t> SymbolOf(const vmm::Vm& vm, const char* name);

// A StreamEvents follower without gRPC: the handler's own loop over the EventLog.
class LogSubscriber {
 public:
  LogSubscriber(std::shared_ptr<const debug::EventLog> log, const Window& window,
                Countdown& first_event);
  ~LogSubscriber();
  // After the log is closed: the subscriber reads what is left, then ends.
  void Join() { thread_.join(); }
  const Tally& tally() const { return tally_; }

 private:
  void Run();

  std::shared_ptr<const debug::EventLog> log_;
  const Window& window_;
  Countdown& first_event_;
  std::atomic<bool> stop_{false};
  Tally tally_;
  std::thread thread_;
};

struct SessionSpec {
  vmm::VmRequestSpec vm;
  debug::DebugConfig config;
  debug::StopMode mode = debug::StopMode::kAllStop;
  debug::BreakpointSpec breakpoint;  // address 0 with `symbol` set: at the symbol
  std::string symbol;
};

class EngineSession {
 public:
  EngineSession(vmm::VmRegistry& registry, int subscribers);
  ~EngineSession();

  // Creates and starts the VM with its breakpoint and every subscriber following,
  // and returns once the first event is there (and, in all-stop, vCPU 0 stopped).
  absl::Status Start(const SessionSpec& spec);
  // Deletes the VM (which closes the log) and collects what each subscriber saw.
  std::vector<const Tally*> Finish();

  // The VM traces (no vCPU stops): events per second over `seconds` after a
  // warm-up, with the subscribers' latencies and the CPU per event. Finishes.
  absl::StatusOr<Sample> MeasureTrace(double warmup_s, double seconds);
  // Removes the breakpoint vCPU 0 stopped on and times Step(0, steps). Finishes.
  absl::StatusOr<Sample> MeasureStep(uint32_t steps);

  debug::VmDebugger& debugger() { return *debugger_; }
  vmm::Vm& vm() { return *vm_; }
  const debug::EventLog& log() const { return *log_; }
  uint32_t breakpoint_id() const { return breakpoint_id_; }
  Window& window() { return window_; }

 private:
  vmm::VmRegistry& registry_;
  const int subscribers_;
  std::string name_;
  std::shared_ptr<vmm::Vm> vm_;
  debug::VmDebugger* debugger_ = nullptr;
  std::shared_ptr<debug::EventLog> log_;
  uint32_t breakpoint_id_ = 0;
  Window window_;
  Countdown first_event_;
  std::vector<std::unique_ptr<LogSubscriber>> readers_;
};

}  // namespace pvm::bench

#endif  // PVMD_BENCH_ENGINE_SESSION_H_
