// The per-VM debug event log on its own: how fast vCPU threads can append, with and
// without subscribers draining it, and how long an event takes to reach a sleeping
// subscriber. Reported, never asserted (see README).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "daemon/debug/event_log.h"

namespace pvm {
namespace {

using debug::DebugEvent;
using debug::EventLog;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

DebugEvent SampleEvent() {
  DebugEvent event;
  event.kind = debug::EventKind::kHwBreakpoint;
  event.vector = 1;
  event.rip = 0xffffffff81000000;
  event.dr6 = 0xffff0ff1;
  event.dr7 = 0x401;
  event.breakpoint_id = 1;
  return event;
}

// A StreamEvents handler in miniature: reads in batches, sleeps on the log between
// them with a short deadline (as a gRPC handler that polls its cancellation would).
class Drainer {
 public:
  explicit Drainer(const EventLog& log) : log_(log), thread_([this] { Run(); }) {}
  ~Drainer() { thread_.join(); }

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t lost() const { return lost_.load(); }

 private:
  void Run() {
    std::vector<DebugEvent> buffer(64);
    uint64_t cursor = log_.last_sequence() + 1;
    for (;;) {
      const EventLog::Batch batch = log_.Read(&cursor, buffer);
      delivered_.fetch_add(batch.count, std::memory_order_relaxed);
      lost_.fetch_add(batch.lost_count, std::memory_order_relaxed);
      if (batch.closed) {
        return;
      }
      if (batch.count == 0 && batch.lost_count == 0) {
        log_.WaitForEvents(cursor,
                           std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
      }
    }
  }

  const EventLog& log_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> lost_{0};
  std::thread thread_;
};

// Appends with nobody reading: the cost a vCPU thread pays per debug event. With
// several benchmark threads, that many vCPUs append to one VM's log at once.
void BM_Append(benchmark::State& state) {
  static EventLog log;  // shared by the benchmark threads; sequences just keep growing
  const DebugEvent event = SampleEvent();
  for (auto _ : state) {
    benchmark::DoNotOptimize(log.Append(event));
  }
  state.counters["appends_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Append)->Threads(1)->Threads(2)->UseRealTime();

// One producer appending flat out while N subscribers drain the default 4096-event
// ring concurrently. Subscribers that cannot keep up get gaps; lost_pct says how much
// of the stream an average subscriber saw only as a gap.
void BM_AppendWithSubscribers(benchmark::State& state) {
  const int subscribers = static_cast<int>(state.range(0));
  EventLog log;
  std::vector<std::unique_ptr<Drainer>> drainers;
  for (int i = 0; i < subscribers; ++i) {
    drainers.push_back(std::make_unique<Drainer>(log));
  }
  const DebugEvent event = SampleEvent();
  for (auto _ : state) {
    benchmark::DoNotOptimize(log.Append(event));
  }
  log.Close();
  uint64_t delivered = 0;
  uint64_t lost = 0;
  for (const auto& d : drainers) {
    delivered += d->delivered();
    lost += d->lost();
  }
  drainers.clear();  // joins
  state.counters["appends_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["delivered_per_sub_per_s"] =
      benchmark::Counter(static_cast<double>(delivered) / subscribers, benchmark::Counter::kIsRate);
  const double seen = static_cast<double>(delivered + lost);
  state.counters["lost_pct"] = seen == 0 ? 0 : 100.0 * static_cast<double>(lost) / seen;
}
BENCHMARK(BM_AppendWithSubscribers)->Arg(1)->Arg(8)->Arg(64)->UseRealTime();

// Producer -> subscriber latency for an event that arrives while subscribers sleep in
// WaitForEvents (the usual case: debug events are rare). One event per iteration; the
// producer waits until every subscriber has it before the next one.
void BM_DeliveryLatency(benchmark::State& state) {
  const int subscribers = static_cast<int>(state.range(0));
  EventLog log;
  std::vector<std::atomic<uint64_t>> acked(subscribers);
  std::vector<std::vector<int64_t>> samples(subscribers);
  std::vector<std::thread> threads;
  for (int i = 0; i < subscribers; ++i) {
    threads.emplace_back([&log, &ack = acked[i], &mine = samples[i]] {
      std::vector<DebugEvent> buffer(16);
      uint64_t cursor = 1;
      for (;;) {
        const EventLog::Batch batch = log.Read(&cursor, buffer);
        const int64_t now = SteadyNs();
        for (size_t j = 0; j < batch.count; ++j) {
          mine.push_back(now - static_cast<int64_t>(buffer[j].address));
        }
        if (batch.count > 0) {
          ack.store(cursor - 1, std::memory_order_release);
        }
        if (batch.closed) {
          return;
        }
        if (batch.count == 0) {
          log.WaitForEvents(cursor, std::chrono::steady_clock::now() + std::chrono::seconds(1));
        }
      }
    });
  }
  DebugEvent event = SampleEvent();
  for (auto _ : state) {
    event.address = static_cast<uint64_t>(SteadyNs());
    const uint64_t sequence = log.Append(event);
    for (auto& ack : acked) {
      while (ack.load(std::memory_order_acquire) < sequence) {
        std::this_thread::yield();
      }
    }
  }
  log.Close();
  for (std::thread& t : threads) {
    t.join();
  }
  std::vector<int64_t> all;
  for (const auto& s : samples) {
    all.insert(all.end(), s.begin(), s.end());
  }
  if (all.empty()) {
    return;
  }
  std::sort(all.begin(), all.end());
  auto percentile_us = [&all](double p) {
    const size_t index = std::min(all.size() - 1, static_cast<size_t>(p * all.size()));
    return static_cast<double>(all[index]) / 1000.0;
  };
  state.counters["p50_us"] = percentile_us(0.50);
  state.counters["p99_us"] = percentile_us(0.99);
  state.counters["max_us"] = static_cast<double>(all.back()) / 1000.0;
}
BENCHMARK(BM_DeliveryLatency)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace pvm

BENCHMARK_MAIN();
