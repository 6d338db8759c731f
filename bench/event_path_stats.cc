#include "bench/event_path_stats.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace pvm::bench {

int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void Countdown::CountDown() {
  std::lock_guard lock(mu_);
  if (--left_ <= 0) {
    cv_.notify_all();
  }
}

bool Countdown::WaitUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return left_ <= 0; });
}

void Tally::Expect(uint64_t sequence, uint64_t count) {
  if (sequence != expected_) {
    missing_ += sequence > expected_ ? sequence - expected_ : 1;
  }
  expected_ = std::max(expected_, sequence + count);
}

void Tally::Gap(uint64_t first_lost, uint64_t count) {
  Expect(first_lost, count);
  lost_ += count;
}

void Tally::Event(uint64_t sequence, int64_t timestamp_ns, int64_t received_ns,
                  const Window& window) {
  Expect(sequence, 1);
  events_.fetch_add(1, std::memory_order_relaxed);
  if (window.Holds(timestamp_ns)) {
    latencies_ns_.push_back(received_ns - timestamp_ns);
  }
}

CpuSnapshot ReadCpu(const std::vector<int>& pids) {
  CpuSnapshot snapshot;
  for (int pid : pids) {
    std::error_code error;
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
      std::string comm;
      std::getline(std::ifstream(task.path() / "comm"), comm);
      int64_t run_ns = 0;
      int64_t wait_ns = 0;
      if (!(std::ifstream(task.path() / "schedstat") >> run_ns >> wait_ns)) {
        continue;  // ended meanwhile
      }
      if (comm.rfind("vcpu", 0) == 0) {
        snapshot.vcpu_run_ns += run_ns;
        snapshot.vcpu_wait_ns += wait_ns;
      } else {
        snapshot.other_run_ns += run_ns;
      }
    }
  }
  return snapshot;
}

void AddCpu(const CpuSnapshot& before, const CpuSnapshot& after, double seconds, Sample* sample) {
  sample->vcpu_wait_pct =
      100.0 * static_cast<double>(after.vcpu_wait_ns - before.vcpu_wait_ns) / (seconds * 1e9);
  const double events = sample->events_per_s * seconds;
  if (events > 0) {
    sample->vcpu_cpu_us_per_event =
        static_cast<double>(after.vcpu_run_ns - before.vcpu_run_ns) / 1000.0 / events;
    sample->other_cpu_us_per_event =
        static_cast<double>(after.other_run_ns - before.other_run_ns) / 1000.0 / events;
  }
}

Sample Summarize(double events_per_s, const std::vector<const Tally*>& tallies) {
  Sample sample;
  sample.events_per_s = events_per_s;
  std::vector<int64_t> all;
  uint64_t events = 0;
  uint64_t reads = 0;
  for (const Tally* t : tallies) {
    events += t->events();
    reads += t->reads();
    all.insert(all.end(), t->latencies_ns().begin(), t->latencies_ns().end());
    sample.lost += t->lost();
    sample.missing += t->missing();
  }
  if (reads > 0) {
    sample.events_per_read = static_cast<double>(events) / static_cast<double>(reads);
  }
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    auto percentile_us = [&all](double p) {
      const size_t index = std::min(all.size() - 1, static_cast<size_t>(p * all.size()));
      return static_cast<double>(all[index]) / 1000.0;
    };
    sample.p50_us = percentile_us(0.50);
    sample.p99_us = percentile_us(0.99);
  }
  return sample;
}

NamedAsVcpu::NamedAsVcpu() {
  pthread_getname_np(pthread_self(), name_, sizeof(name_));
  pthread_setname_np(pthread_self(), "vcpu-raw");
}

NamedAsVcpu::~NamedAsVcpu() { pthread_setname_np(pthread_self(), name_); }

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double MedianRate(const Row& row) {
  std::vector<double> values;
  for (const Sample& s : row.runs) {
    values.push_back(s.events_per_s);
  }
  return Median(values);
}

double MedianVcpuUs(const Row& row) {
  std::vector<double> values;
  for (const Sample& s : row.runs) {
    if (s.vcpu_cpu_us_per_event >= 0) {
      values.push_back(s.vcpu_cpu_us_per_event);
    }
  }
  return Median(values);
}

namespace {

std::string Fixed(double value, int decimals) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string Grouped(double value) {
  const std::string digits = Fixed(value, 0);
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      grouped.push_back(',');
    }
    grouped.push_back(digits[i]);
  }
  return grouped;
}

}  // namespace

void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-6s %-37s %4s %10s %9s %6s %8s %8s %7s %7s %7s %7s %9s %5s %8s\n", "path",
              "measurement", "subs", "events/s", "us/event", "ratio", "p50 us", "p99 us", "lost",
              "missing", "ev/read", "vcpu us", "cpu ratio", "wait%", "other us");
  for (const Row& row : rows) {
    const std::string subs = row.subscribers < 0 ? "-" : std::to_string(row.subscribers);
    if (!row.error.empty() || row.runs.empty()) {
      std::printf("%-6s %-37s %4s   FAILED: %s\n", row.path.c_str(), row.what.c_str(), subs.c_str(),
                  row.error.empty() ? "no runs" : row.error.c_str());
      continue;
    }
    std::vector<double> rate, p50, p99, per_read, vcpu, wait_pct, other;
    uint64_t lost = 0;
    uint64_t missing = 0;
    for (const Sample& s : row.runs) {
      rate.push_back(s.events_per_s);
      if (s.p50_us >= 0) {
        p50.push_back(s.p50_us);
        p99.push_back(s.p99_us);
      }
      if (s.events_per_read >= 0) {
        per_read.push_back(s.events_per_read);
      }
      if (s.vcpu_cpu_us_per_event >= 0) {
        vcpu.push_back(s.vcpu_cpu_us_per_event);
        wait_pct.push_back(s.vcpu_wait_pct);
      }
      if (s.other_cpu_us_per_event >= 0) {
        other.push_back(s.other_cpu_us_per_event);
      }
      lost += s.lost;
      missing += s.missing;
    }
    auto median_or_dash = [](const std::vector<double>& values, int decimals) {
      return values.empty() ? std::string("-") : Fixed(Median(values), decimals);
    };
    const double events_per_s = Median(rate);
    const std::string ratio =
        row.raw_events_per_s > 0 ? Fixed(events_per_s / row.raw_events_per_s, 2) : "-";
    const double vcpu_us = Median(vcpu);
    const std::string cpu_ratio = row.raw_vcpu_us_per_event > 0 && vcpu_us > 0
                                      ? Fixed(row.raw_vcpu_us_per_event / vcpu_us, 2)
                                      : "-";
    const bool counted = row.subscribers >= 0;
    std::printf("%-6s %-37s %4s %10s %9s %6s %8s %8s %7s %7s %7s %7s %9s %5s %8s\n",
                row.path.c_str(), row.what.c_str(), subs.c_str(), Grouped(events_per_s).c_str(),
                Fixed(events_per_s > 0 ? 1e6 / events_per_s : 0, 2).c_str(), ratio.c_str(),
                median_or_dash(p50, 1).c_str(), median_or_dash(p99, 1).c_str(),
                counted ? std::to_string(lost).c_str() : "-",
                counted ? std::to_string(missing).c_str() : "-",
                median_or_dash(per_read, 1).c_str(), median_or_dash(vcpu, 2).c_str(),
                cpu_ratio.c_str(), median_or_dash(wait_pct, 0).c_str(),
                median_or_dash(other, 2).c_str());
  }
}

}  // namespace pvm::bench
