// What a page watch costs the guest, on the real /dev/kvm: the time per access to
// a watched page (a write hit, a read hit, an access elsewhere on the page) next
// to the bare KVM_EXIT_MMIO round trip on the same page, all in one run; plus
// what PageWatch::OnMmio itself costs and how long Add/Remove keep the VM parked.
//
// The guests are ustep (native, CPL3) and kstep (emulated, CPL0): vCPU 0 stores
// to watched_value and loads it back once per loop pass, so every pass is one
// store exit (read-only page) or one store and one load exit (absent page).
// Reported, never asserted.
//
//   page_watch_bench [seconds per case and round, default 0.5] [rounds, default 5]
#include <linux/kvm.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/debug/page_watch.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm {
namespace {

using Clock = std::chrono::steady_clock;

enum class Mode {
  kNone,       // no watch: the loop's own speed
  kRawRo,      // page read-only, exits answered with nothing done
  kRawAbsent,  // page absent, exits answered with nothing done
  kWrite,      // write watch on watched_value: every store a hit
  kReadWrite,  // read/write watch on watched_value: stores and loads hit
  kOther,      // write watch on watched_value + 8: stores exit, never hit
};

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kNone:
      return "no watch (loop alone)";
    case Mode::kRawRo:
      return "raw MMIO exit, read-only page";
    case Mode::kRawAbsent:
      return "raw MMIO exit, absent page";
    case Mode::kWrite:
      return "write watch: store hits";
    case Mode::kReadWrite:
      return "rw watch: store + load hits";
    case Mode::kOther:
      return "write watch elsewhere on page";
  }
  return "?";
}

class BenchHook final : public vmm::DebugExitHook {
 public:
  BenchHook(vmm::Vm& vm, bool raw) : watch(vm), raw_(raw) {}
  std::optional<vmm::ExitDecision> OnDebugExit(uint32_t, vmm::VcpuFd&) override {
    return std::nullopt;
  }
  std::optional<vmm::ExitDecision> OnInstructionExit(uint32_t, vmm::VcpuFd&) override {
    return std::nullopt;
  }
  std::optional<vmm::ExitDecision> OnMmioExit(uint32_t, vmm::VcpuFd& fd) override {
    exits.fetch_add(1, std::memory_order_relaxed);
    if (raw_) {
      return vmm::ExitDecision{};  // the bare round trip: nothing completed
    }
    debug::MmioOutcome out = watch.OnMmio(fd.run());
    if (out.hit) {
      hits.fetch_add(1, std::memory_order_relaxed);
    }
    return out.completed ? std::optional<vmm::ExitDecision>(vmm::ExitDecision{}) : std::nullopt;
  }
  void OnVcpuEnded(uint32_t) override {}
  void OnVmShutdown() override {}

  debug::PageWatch watch;
  std::atomic<uint64_t> exits{0};
  std::atomic<uint64_t> hits{0};

 private:
  const bool raw_;
};

struct Result {
  double us_per_exit = 0;
  double us_per_pass = 0;
  double exits_per_pass = 0;
  uint64_t exits = 0;
  uint64_t hits = 0;
  double add_ms = 0;     // WithAllParked(Add or protect)
  double remove_ms = 0;  // WithAllParked(Remove or unprotect)
};

// Waits (bounded) until the console holds `needle`.
bool WaitForConsole(vmm::Vm& vm, const std::string& needle) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  uint64_t seen = 0;
  while (Clock::now() < deadline) {
    vmm::ConsoleRead read = vm.console().ReadFrom(0);
    if (read.data.find(needle) != std::string::npos) {
      return true;
    }
    seen = read.offset + read.data.size();
    vm.console().WaitBeyond(seen, deadline);
  }
  return false;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::optional<Result> RunCase(vmm::VmRegistry& registry, const std::string& guest, Mode mode,
                              std::chrono::milliseconds duration) {
  vmm::VmRequestSpec spec;
  spec.name = absl::StrCat("bench-", guest);
  spec.image = absl::StrCat("builtin:", guest);
  absl::StatusOr<std::shared_ptr<vmm::Vm>> created = registry.Create(spec);
  if (!created.ok()) {
    std::fprintf(stderr, "create: %s\n", std::string(created.status().message()).c_str());
    return std::nullopt;
  }
  std::shared_ptr<vmm::Vm> vm = *created;
  const bool raw = mode == Mode::kRawRo || mode == Mode::kRawAbsent;
  auto& hook =
      static_cast<BenchHook&>(vm->DebugHook([&] { return std::make_unique<BenchHook>(*vm, raw); }));
  const std::string ready = absl::StrCat(guest, ": vcpu 0 up");
  if (!vm->Start().ok() || !WaitForConsole(*vm, ready)) {
    std::fprintf(stderr, "%s did not start\n", guest.c_str());
    return std::nullopt;
  }
  const uint64_t watched = vm->image().FindSymbol("watched_value")->address;
  const uint64_t counters = vm->image().FindSymbol(absl::StrCat(guest, "_counters"))->address;
  const uint64_t page = watched & ~(vmm::kGuestPageSize - 1);
  auto passes = [&] { return *vm->memory().ReadObject<uint64_t>(counters); };

  auto protect = [&]() -> absl::Status {
    switch (mode) {
      case Mode::kNone:
        return absl::OkStatus();
      case Mode::kRawRo:
        return vm->memslots().SetPageAccess(page, vmm::PageAccess::kReadOnly);
      case Mode::kRawAbsent:
        return vm->memslots().SetPageAccess(page, vmm::PageAccess::kNone);
      case Mode::kWrite:
        return hook.watch.Add({1, watched, watched, 8, debug::PageWatchKind::kWrite});
      case Mode::kReadWrite:
        return hook.watch.Add({1, watched, watched, 8, debug::PageWatchKind::kReadWrite});
      case Mode::kOther:
        return hook.watch.Add({1, watched + 8, watched + 8, 8, debug::PageWatchKind::kWrite});
    }
    return absl::OkStatus();
  };
  auto unprotect = [&]() -> absl::Status {
    if (raw) {
      return vm->memslots().SetPageAccess(page, vmm::PageAccess::kReadWrite);
    }
    return hook.watch.RemoveAll();
  };

  Result result;
  Clock::time_point t = Clock::now();
  if (absl::Status s = vm->WithAllParked(protect); !s.ok()) {
    std::fprintf(stderr, "protect: %s\n", std::string(s.message()).c_str());
    return std::nullopt;
  }
  result.add_ms = Ms(Clock::now() - t);
  // Warm up (first faults map the page's neighbours again), then measure.
  std::this_thread::sleep_for(duration / 10);
  const uint64_t exits0 = hook.exits.load();
  const uint64_t hits0 = hook.hits.load();
  const uint64_t passes0 = passes();
  const Clock::time_point t0 = Clock::now();
  std::this_thread::sleep_for(duration);
  const uint64_t exits1 = hook.exits.load();
  const uint64_t hits1 = hook.hits.load();
  const uint64_t passes1 = passes();
  const Clock::time_point t1 = Clock::now();
  t = Clock::now();
  if (absl::Status s = vm->WithAllParked(unprotect); !s.ok()) {
    std::fprintf(stderr, "unprotect: %s\n", std::string(s.message()).c_str());
    return std::nullopt;
  }
  result.remove_ms = Ms(Clock::now() - t);
  (void)registry.Delete(spec.name);

  const double us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  result.exits = exits1 - exits0;
  result.hits = hits1 - hits0;
  result.us_per_exit = result.exits == 0 ? 0 : us / static_cast<double>(result.exits);
  result.us_per_pass = passes1 == passes0 ? 0 : us / static_cast<double>(passes1 - passes0);
  result.exits_per_pass = passes1 == passes0 ? 0
                                             : static_cast<double>(result.exits) /
                                                   static_cast<double>(passes1 - passes0);
  return result;
}

// PageWatch::OnMmio alone, on hand-made exits: the VMM's share of an access.
void OnMmioCost() {
  absl::StatusOr<vmm::GuestMemory> memory = vmm::GuestMemory::Create(2 << 20);
  vmm::Memslots slots(
      [](uint32_t, uint64_t, uint64_t, void*, uint32_t) { return absl::OkStatus(); },
      memory->host_address(), memory->size());
  (void)slots.Install({.readonly = true, .max_slots = 32});
  debug::PageWatch watch(*memory, slots, [] { return std::vector<debug::ReservedRange>{}; });
  (void)watch.Add({1, 0x109000, 0x109000, 8, debug::PageWatchKind::kReadWrite});
  struct Case {
    const char* name;
    uint64_t gpa;
    bool write;
  };
  std::printf("\nPageWatch::OnMmio alone (hand-made exits, 1 watch):\n");
  for (const Case& c : {Case{"store hit", 0x109000, true}, Case{"load hit", 0x109000, false},
                        Case{"store elsewhere on page", 0x109800, true}}) {
    kvm_run run{};
    run.mmio.phys_addr = c.gpa;
    run.mmio.len = 8;
    run.mmio.is_write = c.write;
    constexpr int kCalls = 10'000'000;
    uint64_t hits = 0;
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) {
      run.mmio.data[0] = static_cast<uint8_t>(i);
      hits += watch.OnMmio(run).hit.has_value() ? 1 : 0;
    }
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    std::printf("  %-28s %8.1f ns/call (%lu hits)\n", c.name, ns / kCalls,
                static_cast<unsigned long>(hits));
  }
}

}  // namespace
}  // namespace pvm

int main(int argc, char** argv) {
  using namespace pvm;
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  const auto duration = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  absl::StatusOr<vmm::Kvm> kvm = vmm::Kvm::Open();
  if (!kvm.ok()) {
    std::fprintf(stderr, "page_watch_bench: %s\n", std::string(kvm.status().message()).c_str());
    return 1;
  }
  vmm::VmRegistry registry(*kvm, vmm::ImageCatalog(PVM_GUEST_BUILD_DIR), vmm::VmLimits{});
  const std::vector<Mode> modes = {Mode::kNone,  Mode::kRawRo,     Mode::kWrite,
                                   Mode::kOther, Mode::kRawAbsent, Mode::kReadWrite};
  std::printf(
      "Medians over %d rounds; each round runs every case once for %.1f s, in turn, so host "
      "load hits all cases alike.\nus/pass: one loop pass of vCPU 0; added us/access: (us/pass "
      "- the loop alone) / exits per pass.\n",
      rounds, seconds);
  for (const char* guest : {"ustep", "kstep"}) {
    std::vector<std::vector<Result>> results(modes.size());
    for (int round = 0; round < rounds; ++round) {
      for (size_t m = 0; m < modes.size(); ++m) {
        std::optional<Result> r = RunCase(registry, guest, modes[m], duration);
        if (!r) {
          return 1;
        }
        results[m].push_back(*r);
      }
    }
    std::printf("\n%s (%s):\n", guest,
                std::string(guest) == "ustep" ? "native CPL3" : "emulated CPL0");
    std::printf("  %-32s %9s %9s %12s %9s %9s %8s %10s\n", "case", "us/exit", "us/pass",
                "added us/acc", "exits/s", "hits/s", "add ms", "remove ms");
    std::vector<double> baseline_passes;
    for (const Result& r : results[0]) {
      baseline_passes.push_back(r.us_per_pass);
    }
    const double baseline = Median(baseline_passes);
    for (size_t m = 0; m < modes.size(); ++m) {
      std::vector<double> per_exit, per_pass, per_access, exits, hits, add, remove;
      for (const Result& r : results[m]) {
        per_exit.push_back(r.us_per_exit);
        per_pass.push_back(r.us_per_pass);
        exits.push_back(static_cast<double>(r.exits) / seconds);
        hits.push_back(static_cast<double>(r.hits) / seconds);
        add.push_back(r.add_ms);
        remove.push_back(r.remove_ms);
        if (r.exits_per_pass > 0) {
          per_access.push_back((r.us_per_pass - baseline) / r.exits_per_pass);
        }
      }
      std::printf("  %-32s %9.2f %9.3f %12.2f %9.0f %9.0f %8.3f %10.3f\n", ModeName(modes[m]),
                  Median(per_exit), Median(per_pass), Median(per_access), Median(exits),
                  Median(hits), Median(add), Median(remove));
    }
  }
  OnMmioCost();
  return 0;
}
