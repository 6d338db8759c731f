// What one subscriber saw of a VM's debug event stream, and the reporting shared by
// the in-process and gRPC halves of event_path_bench.
#ifndef PVMD_BENCH_EVENT_PATH_STATS_H_
#define PVMD_BENCH_EVENT_PATH_STATS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

namespace pvm::bench {

int64_t RealtimeNs();  // CLOCK_REALTIME, the clock of DebugEvent::timestamp_ns

// The measurement window on the producer's clock: only events whose timestamp falls
// inside it give latency samples, so warm-up and tear-down do not.
class Window {
 public:
  void Open() {
    end_ns_.store(kNever);
    start_ns_.store(RealtimeNs());
  }
  void Close() { end_ns_.store(RealtimeNs()); }
  bool Holds(int64_t timestamp_ns) const {
    return timestamp_ns >= start_ns_.load(std::memory_order_relaxed) &&
           timestamp_ns <= end_ns_.load(std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  std::atomic<int64_t> start_ns_{kNever};
  std::atomic<int64_t> end_ns_{kNever};
};

// Counts down once per subscriber; the controller waits with a deadline, so a VM that
// never produces an event ends the measurement instead of hanging it.
class Countdown {
 public:
  explicit Countdown(int count) : left_(count) {}
  void CountDown();
  bool WaitUntil(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_;
};

// One subscriber's account of the stream. Every sequence from `first` on must come
// exactly once, in order, either as an event or inside a gap record; `lost` is what
// the gaps owned up to, `missing` anything else (skipped, repeated or out of order),
// which a correct event path never produces.
class Tally {
 public:
  explicit Tally(uint64_t first = 1) : expected_(first) {}
  void Gap(uint64_t first_lost, uint64_t count);
  // received_ns: CLOCK_REALTIME when the subscriber got the event.
  void Event(uint64_t sequence, int64_t timestamp_ns, int64_t received_ns, const Window& window);
  // Once per read (an EventLog::Read or a stream message) that brought events.
  void Read() { ++reads_; }

  uint64_t events() const { return events_.load(std::memory_order_relaxed); }
  uint64_t lost() const { return lost_; }
  uint64_t missing() const { return missing_; }
  uint64_t reads() const { return reads_; }
  const std::vector<int64_t>& latencies_ns() const { return latencies_ns_; }

 private:
  void Expect(uint64_t sequence, uint64_t count);

  uint64_t expected_;
  std::atomic<uint64_t> events_{0};  // polled by the controller
  uint64_t lost_ = 0;
  uint64_t missing_ = 0;
  uint64_t reads_ = 0;
  std::vector<int64_t> latencies_ns_;
};

// Where the CPU went, from /proc/PID/task/*/schedstat (nanoseconds): threads named
// vcpu* are the guest's, every other thread of the processes counts as delivery
// (subscribers, gRPC handlers, the client). Threads that end inside a window are
// missed; the subscribers and the vCPU live across it.
struct CpuSnapshot {
  int64_t vcpu_run_ns = 0;   // on a CPU (guest time included)
  int64_t vcpu_wait_ns = 0;  // runnable, waiting for a CPU
  int64_t other_run_ns = 0;
};
CpuSnapshot ReadCpu(const std::vector<int>& pids);

// One run of one measurement.
struct Sample {
  double events_per_s = 0;
  double p50_us = -1;  // -1: no samples (no subscriber)
  double p99_us = -1;
  uint64_t lost = 0;
  uint64_t missing = 0;
  double events_per_read = -1;  // over every subscriber and the whole run
  // -1: not measured.
  double vcpu_cpu_us_per_event = -1;  // the vCPU thread on a CPU, per event
  double vcpu_wait_pct = -1;          // of the window, the vCPU thread runnable but not running
  double other_cpu_us_per_event = -1;
};

// Fills the CPU figures of `sample` from snapshots around a window of `seconds`.
void AddCpu(const CpuSnapshot& before, const CpuSnapshot& after, double seconds, Sample* sample);

// Latency percentiles over every subscriber's samples, lost and missing summed.
Sample Summarize(double events_per_s, const std::vector<const Tally*>& tallies);

// A table row: the median of each figure over the runs; lost and missing summed.
struct Row {
  std::string path;
  std::string what;
  int subscribers = -1;  // -1: not applicable
  std::vector<Sample> runs;
  double raw_events_per_s = 0;  // what the ratio divides by; 0: no ratio
  // What the CPU ratio divides: the raw loop's vCPU-thread CPU time per event, over
  // this row's (load-independent, unlike events/s); 0: no ratio.
  double raw_vcpu_us_per_event = 0;
  std::string error;  // set: the measurement failed, say why instead
};

// Raw loops run on the calling thread; while one does, the thread is named like a
// vCPU thread so ReadCpu counts it as one.
class NamedAsVcpu {
 public:
  NamedAsVcpu();
  ~NamedAsVcpu();
  NamedAsVcpu(const NamedAsVcpu&) = delete;
  NamedAsVcpu& operator=(const NamedAsVcpu&) = delete;

 private:
  char name_[16] = {};
};

double Median(std::vector<double> values);
// Medians over a row's runs (0 when no run has the figure).
double MedianRate(const Row& row);
double MedianVcpuUs(const Row& row);
void PrintTable(const std::vector<Row>& rows);

}  // namespace pvm::bench

#endif  // PVMD_BENCH_EVENT_PATH_STATS_H_
