#include "bench/engine_session.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace pvm::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPatience = std::chrono::seconds(20);
// The engine's StreamEvents loop (daemon/api/debug_service.cc): batch size and the
// sleep between cancellation checks.
constexpr size_t kEventsPerBatch = 256;
constexpr auto kCancellationPoll = std::chrono::milliseconds(200);

}  // namespace

vmm::VmRequestSpec BenchVmSpec(const std::string& name, const std::string& guest) {
  vmm::VmRequestSpec spec;
  spec.name = name;
  spec.image = absl::StrCat("builtin:", guest);
  spec.memory_mib = 16;
  return spec;
}

absl::StatusOr<uint64_t> SymbolOf(const vmm::Vm& vm, const char* name) {
  std::optional<vmm::GuestSymbol> symbol = vm.image().FindSymbol(name);
  if (!symbol) {
    return absl::NotFoundError(absl::StrCat("the guest image has no symbol ", name));
  }
  return symbol->address;
}

LogSubscriber::LogSubscriber(std::shared_ptr<const debug::EventLog> log, const Window& window,
                             Countdown& first_event)
    : log_(std::move(log)), window_(window), first_event_(first_event) {
  thread_ = std::thread([this] { Run(); });
}

LogSubscriber::~LogSubscriber() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
}

void LogSubscriber::Run() {
  std::vector<debug::DebugEvent> events(kEventsPerBatch);
  uint64_t cursor = 1;
  bool counted = false;
  while (!stop_.load(std::memory_order_relaxed)) {
    const debug::EventLog::Batch batch = log_->Read(&cursor, events);
    const int64_t now = RealtimeNs();
    if (batch.lost_count > 0) {
      tally_.Gap(batch.lost_first, batch.lost_count);
    }
    if (batch.count > 0) {
      tally_.Read();
    }
    for (size_t i = 0; i < batch.count; ++i) {
      tally_.Event(events[i].sequence, events[i].timestamp_ns, now, window_);
    }
    if (!counted && batch.count > 0) {
      counted = true;
      first_event_.CountDown();
    }
    if (batch.closed) {
      return;
    }
    if (batch.count == kEventsPerBatch) {
      continue;
    }
    while (!log_->WaitForEvents(cursor, Clock::now() + kCancellationPoll)) {
      if (stop_.load(std::memory_order_relaxed)) {
        return;
      }
    }
  }
}

EngineSession::EngineSession(vmm::VmRegistry& registry, int subscribers)
    : registry_(registry), subscribers_(subscribers), first_event_(subscribers) {}

EngineSession::~EngineSession() {
  if (vm_ != nullptr) {
    (void)registry_.Delete(name_);
  }
}

absl::Status EngineSession::Start(const SessionSpec& spec) {
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_.Create(spec.vm);
  if (!vm.ok()) {
    return vm.status();
  }
  vm_ = *vm;
  name_ = spec.vm.name;
  debugger_ = &debug::DebuggerFor(*vm_, spec.config);
  if (absl::Status s = debugger_->SetEnabled(true, spec.mode); !s.ok()) {
    return s;
  }
  absl::StatusOr<debug::BreakpointInfo> bp = debugger_->AddBreakpoint(spec.breakpoint, spec.symbol);
  if (!bp.ok()) {
    return bp.status();
  }
  breakpoint_id_ = bp->id;
  log_ = debugger_->events();
  for (int i = 0; i < subscribers_; ++i) {
    readers_.push_back(std::make_unique<LogSubscriber>(log_, window_, first_event_));
  }
  if (absl::Status s = vm_->Start(); !s.ok()) {
    return s;
  }
  const auto deadline = Clock::now() + kPatience;
  const bool first =
      subscribers_ > 0 ? first_event_.WaitUntil(deadline) : log_->WaitForEvents(1, deadline);
  if (!first) {
    return absl::DeadlineExceededError(absl::StrCat("no event from ", spec.vm.image));
  }
  if (spec.mode == debug::StopMode::kTrace || spec.breakpoint.trace) {
    return absl::OkStatus();
  }
  while (!debugger_->State().vcpus.at(0).stopped) {
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError("vCPU 0 never stopped at its breakpoint");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

std::vector<const Tally*> EngineSession::Finish() {
  (void)registry_.Delete(name_);
  vm_ = nullptr;
  std::vector<const Tally*> tallies;
  for (auto& reader : readers_) {
    reader->Join();
    tallies.push_back(&reader->tally());
  }
  return tallies;
}

absl::StatusOr<Sample> EngineSession::MeasureTrace(double warmup_s, double seconds) {
  // A warm-up, not a wait for state: the trace runs on by itself.
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup_s));
  const CpuSnapshot cpu_before = ReadCpu({getpid()});
  const uint64_t before = log_->last_sequence();
  const auto t0 = Clock::now();
  window_.Open();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const uint64_t after = log_->last_sequence();
  const auto t1 = Clock::now();
  window_.Close();
  const CpuSnapshot cpu_after = ReadCpu({getpid()});
  if (debugger_->State().vcpus.at(0).stopped) {
    return absl::InternalError("vCPU 0 stopped in trace mode");
  }
  const double elapsed = std::chrono::duration<double>(t1 - t0).count();
  const std::vector<const Tally*> tallies = Finish();
  Sample sample = Summarize(static_cast<double>(after - before) / elapsed, tallies);
  AddCpu(cpu_before, cpu_after, elapsed, &sample);
  return sample;
}

absl::StatusOr<Sample> EngineSession::MeasureStep(uint32_t steps) {
  if (absl::Status s = debugger_->RemoveBreakpoint(breakpoint_id_); !s.ok()) {
    return s;
  }
  const CpuSnapshot cpu_before = ReadCpu({getpid()});
  window_.Open();
  const auto t0 = Clock::now();
  absl::StatusOr<debug::StepResult> step =
      debugger_->Step(0, steps, Clock::now() + std::chrono::seconds(60));
  const auto t1 = Clock::now();
  window_.Close();
  const CpuSnapshot cpu_after = ReadCpu({getpid()});
  if (!step.ok()) {
    return step.status();
  }
  if (step->steps != steps) {
    return absl::InternalError(
        absl::StrCat("Step did ", step->steps, " of ", steps, " steps: ", step->reason));
  }
  const double elapsed = std::chrono::duration<double>(t1 - t0).count();
  const std::vector<const Tally*> tallies = Finish();
  Sample sample = Summarize(step->steps / elapsed, tallies);
  AddCpu(cpu_before, cpu_after, elapsed, &sample);
  return sample;
}

}  // namespace pvm::bench
