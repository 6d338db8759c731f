// VM lifecycle costs on the real KVM: create-to-first-console-byte, pause and resume
// latency, VMs created per second. Reported, never asserted (see README).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm {
namespace {

const auto kForever = std::chrono::hours(1);

vmm::Kvm& SharedKvm() {
  static vmm::Kvm* kvm = [] {
    static absl::StatusOr<vmm::Kvm> opened = vmm::Kvm::Open();
    if (!opened.ok()) {
      std::fprintf(stderr, "bench: %s\n", std::string(opened.status().message()).c_str());
      std::exit(1);
    }
    return &*opened;
  }();
  return *kvm;
}

vmm::VmRegistry& SharedRegistry() {
  static vmm::VmRegistry registry(SharedKvm(), vmm::ImageCatalog(PVM_GUEST_BUILD_DIR),
                                  vmm::VmLimits{});
  return registry;
}

std::shared_ptr<vmm::Vm> CreateGuest(const std::string& name, const std::string& guest,
                                     benchmark::State& state) {
  vmm::VmRequestSpec spec;
  spec.name = name;
  spec.image = absl::StrCat("builtin:", guest);
  spec.memory_mib = 16;
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = SharedRegistry().Create(spec);
  if (!vm.ok()) {
    state.SkipWithError(std::string(vm.status().message()).c_str());
    return nullptr;
  }
  return *vm;
}

// CreateVm -> StartVm -> the first byte hello writes to its console.
void BM_CreateToFirstConsoleByte(benchmark::State& state) {
  for (auto _ : state) {
    std::shared_ptr<vmm::Vm> vm = CreateGuest("bench-hello", "hello", state);
    if (vm == nullptr) {
      return;
    }
    if (!vm->Start().ok() ||
        !vm->console().WaitBeyond(0, std::chrono::steady_clock::now() + kForever)) {
      state.SkipWithError("hello printed nothing");
      return;
    }
    state.PauseTiming();
    (void)SharedRegistry().Delete("bench-hello");
    state.ResumeTiming();
  }
}
BENCHMARK(BM_CreateToFirstConsoleByte)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Create and delete: how many VMs a daemon can set up per second.
void BM_CreateAndDeleteVm(benchmark::State& state) {
  for (auto _ : state) {
    if (CreateGuest("bench-churn", "hello", state) == nullptr) {
      return;
    }
    (void)SharedRegistry().Delete("bench-churn");
  }
  state.counters["vms_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CreateAndDeleteVm)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Pause (kick, handshake, all vCPUs parked) and resume of a running smp guest.
void BM_PauseResume(benchmark::State& state) {
  const int vcpus = static_cast<int>(state.range(0));
  vmm::VmRequestSpec spec;
  spec.name = "bench-pause";
  spec.image = "builtin:smp";
  spec.vcpus = vcpus;
  spec.memory_mib = 16;
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = SharedRegistry().Create(spec);
  if (!vm.ok() || !(*vm)->Start().ok()) {
    state.SkipWithError("cannot start smp");
    return;
  }
  double pause_us = 0;
  double resume_us = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)(*vm)->Pause();
    const auto t1 = std::chrono::steady_clock::now();
    // Returns once every vCPU thread is back on its way into KVM_RUN.
    (void)(*vm)->Resume();
    const auto t2 = std::chrono::steady_clock::now();
    pause_us += std::chrono::duration<double, std::micro>(t1 - t0).count();
    resume_us += std::chrono::duration<double, std::micro>(t2 - t1).count();
  }
  state.counters["pause_us"] = pause_us / static_cast<double>(state.iterations());
  state.counters["resume_us"] = resume_us / static_cast<double>(state.iterations());
  (void)SharedRegistry().Delete("bench-pause");
}
BENCHMARK(BM_PauseResume)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace pvm

BENCHMARK_MAIN();
