#include "bench/engine_session.h"

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

}  // namespace pvm::bench
