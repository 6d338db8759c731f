// The gRPC side of bench/gdb_stub_bench.py, without a process per call: the real pvmd
// binary on a private unix socket (as the stub bench starts it), driven through the
// generated pvm.v1 stubs from this process, on a ustep VM (native CPL3) with 1 vCPU and
// guest debugging on (all-stop):
//
//   BM_StepRpc                one Step(vcpu 0, count=1) call per iteration, from a stop
//                             in the loop (what the stub's `vCont;s:1` -> stop reply is);
//   BM_ContinueToBreakpoint   an exec breakpoint on ustep_i3 (BREAKPOINT_KIND_EXEC, as
//                             the stub's hbreak, resolved from the AddBreakpoint
//                             request's symbol), hit once per loop pass: per iteration a
//                             Continue call, then the next stopped event read from a
//                             StreamEvents(follow) call that is already open; the time is
//                             from the Continue call sent to that event received (what
//                             the stub's `vCont;c` -> stop reply is).
//
// Each reports `per_s` and `us_each` as counters (run with --benchmark_repetitions=N
// for medians over N runs); BM_ContinueToBreakpoint also shows the Continue call alone
// (`continue_rpc_us`). Run by hand after a build:
//
//   build/bench/debug_rpc_bench --benchmark_repetitions=3
//   python3 bench/gdb_stub_bench.py        # the stub's figures, same machine state
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/event_path_grpc.h"
#include "bench/grpc_call.h"
#include "pvm/v1/debug.grpc.pb.h"
#include "pvm/v1/vm.grpc.pb.h"

namespace pvm::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPatience = std::chrono::seconds(20);

// One pvmd for the whole binary, started on first use.
absl::StatusOr<const PvmdProcess*> Pvmd() {
  static absl::StatusOr<std::unique_ptr<PvmdProcess>> pvmd =
      PvmdProcess::Start(PVMD_BINARY, PVM_GUEST_BUILD_DIR);
  if (!pvmd.ok()) {
    return pvmd.status();
  }
  return pvmd->get();
}

// A ustep VM (1 vCPU, 16 MiB) with debugging on in all-stop and an exec breakpoint at
// `symbol`, started, and vCPU 0 stopped on that breakpoint; with `follow`, a
// StreamEvents(follow, since 1) call open from before the start, its first event (the
// stop) read. Deleted on destruction.
class UstepVm {
 public:
  explicit UstepVm(const PvmdProcess& pvmd)
      : channel_(pvmd.NewChannel()),
        vms_(pvm::v1::VmService::NewStub(channel_)),
        debug_(pvm::v1::DebugService::NewStub(channel_)),
        name_(absl::StrCat("debug-rpc-bench-", next_id_.fetch_add(1))) {}
  UstepVm(const UstepVm&) = delete;
  UstepVm& operator=(const UstepVm&) = delete;
  ~UstepVm() {
    if (reader_ != nullptr) {
      stream_context_.TryCancel();
      pvm::v1::EventBatch ignored;
      while (reader_->Read(&ignored)) {
      }
      (void)reader_->Finish();
    }
    if (created_) {
      pvm::v1::VmRef ref;
      ref.set_name(name_);
      pvm::v1::DeleteVmResponse response;
      (void)Call("DeleteVm", [&](auto* c) { return vms_->DeleteVm(c, ref, &response); });
    }
  }

  absl::Status StopAt(const std::string& symbol, bool follow) {
    pvm::v1::CreateVmRequest create;
    create.set_name(name_);
    create.set_image("builtin:ustep");
    create.set_vcpus(1);
    create.set_memory_mib(16);
    pvm::v1::Vm created;
    if (absl::Status s =
            Call("CreateVm", [&](auto* c) { return vms_->CreateVm(c, create, &created); });
        !s.ok()) {
      return s;
    }
    created_ = true;
    pvm::v1::SetGuestDebugRequest enable;
    enable.set_name(name_);
    enable.set_enabled(true);
    enable.set_stop_mode(pvm::v1::STOP_MODE_ALL_STOP);
    pvm::v1::DebugState state;
    if (absl::Status s = Call("SetGuestDebug",
                              [&](auto* c) { return debug_->SetGuestDebug(c, enable, &state); });
        !s.ok()) {
      return s;
    }
    pvm::v1::AddBreakpointRequest add;
    add.set_name(name_);
    add.set_symbol(symbol);
    add.set_kind(pvm::v1::BREAKPOINT_KIND_EXEC);
    if (absl::Status s = Call("AddBreakpoint",
                              [&](auto* c) { return debug_->AddBreakpoint(c, add, &breakpoint_); });
        !s.ok()) {
      return s;
    }
    if (follow) {
      pvm::v1::StreamEventsRequest request;
      request.set_name(name_);
      request.set_follow(true);
      request.set_since(1);
      reader_ = debug_->StreamEvents(&stream_context_, request);
    }
    pvm::v1::VmRef ref;
    ref.set_name(name_);
    pvm::v1::Vm started;
    if (absl::Status s = Call("StartVm", [&](auto* c) { return vms_->StartVm(c, ref, &started); });
        !s.ok()) {
      return s;
    }
    if (follow) {
      if (absl::Status s = NextStop(); !s.ok()) {
        return s;
      }
    }
    const auto deadline = Clock::now() + kPatience;
    for (;;) {
      pvm::v1::DebugRef debug_ref;
      debug_ref.set_name(name_);
      if (absl::Status s =
              Call("GetDebugState",
                   [&](auto* c) { return debug_->GetDebugState(c, debug_ref, &state); });
          !s.ok()) {
        return s;
      }
      if (state.vcpus_size() > 0 && state.vcpus(0).stopped()) {
        return absl::OkStatus();
      }
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError("vCPU 0 never stopped at " + symbol);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  absl::Status RemoveBreakpoint() {
    pvm::v1::RemoveBreakpointRequest request;
    request.set_name(name_);
    request.set_id(breakpoint_.id());
    pvm::v1::RemoveBreakpointResponse response;
    return Call("RemoveBreakpoint",
                [&](auto* c) { return debug_->RemoveBreakpoint(c, request, &response); });
  }

  // The measured calls: one context each, no deadline (as the stub's round trips have
  // none either).
  absl::Status Step() {
    pvm::v1::StepRequest request;
    request.set_name(name_);
    request.set_vcpu(0);
    request.set_count(1);
    pvm::v1::StepResponse response;
    grpc::ClientContext context;
    if (absl::Status s = FromGrpc("Step", debug_->Step(&context, request, &response)); !s.ok()) {
      return s;
    }
    if (response.steps() != 1) {
      return absl::InternalError(
          absl::StrCat("Step did ", response.steps(), " steps: ", response.reason()));
    }
    return absl::OkStatus();
  }
  absl::Status Continue() {
    pvm::v1::DebugRef ref;
    ref.set_name(name_);
    pvm::v1::DebugState state;
    grpc::ClientContext context;
    return FromGrpc("Continue", debug_->Continue(&context, ref, &state));
  }
  // Reads the follower until the stopping event of the breakpoint (skipping any other,
  // e.g. a step over it).
  absl::Status NextStop() {
    for (;;) {
      while (next_record_ >= batch_.records_size()) {
        if (!reader_->Read(&batch_)) {
          return FromGrpc("StreamEvents (ended)", reader_->Finish());
        }
        next_record_ = 0;
      }
      const pvm::v1::EventRecord& record = batch_.records(next_record_++);
      if (record.has_gap()) {
        return absl::DataLossError("the follower lost events");
      }
      if (record.event().stopped() && record.event().breakpoint_id() == breakpoint_.id()) {
        if (record.event().rip() != breakpoint_.address()) {
          return absl::InternalError("a stop off the breakpoint's address");
        }
        return absl::OkStatus();
      }
    }
  }

 private:
  static inline std::atomic<int> next_id_{1};

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pvm::v1::VmService::Stub> vms_;
  std::unique_ptr<pvm::v1::DebugService::Stub> debug_;
  const std::string name_;
  bool created_ = false;
  pvm::v1::Breakpoint breakpoint_;
  grpc::ClientContext stream_context_;
  std::unique_ptr<grpc::ClientReader<pvm::v1::EventBatch>> reader_;
  pvm::v1::EventBatch batch_;
  int next_record_ = 0;
};

void SetCounters(benchmark::State& state, double seconds) {
  const double n = static_cast<double>(state.iterations());
  state.counters["per_s"] = benchmark::Counter(seconds > 0 ? n / seconds : 0);
  state.counters["us_each"] = benchmark::Counter(n > 0 ? seconds * 1e6 / n : 0);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void BM_StepRpc(benchmark::State& state) {
  absl::StatusOr<const PvmdProcess*> pvmd = Pvmd();
  if (!pvmd.ok()) {
    state.SkipWithError(pvmd.status().ToString().c_str());
    return;
  }
  UstepVm vm(**pvmd);
  // Stopped in the loop, then stepped with nothing inserted (the stub bench steps from
  // wherever the attach stopped it in the same loop).
  if (absl::Status s = vm.StopAt("ustep_i0", /*follow=*/false); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  if (absl::Status s = vm.RemoveBreakpoint(); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  Clock::duration total{};
  for (auto _ : state) {
    const auto t0 = Clock::now();
    absl::Status s = vm.Step();
    const auto t1 = Clock::now();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    total += t1 - t0;
    state.SetIterationTime(Seconds(t1 - t0));
  }
  SetCounters(state, Seconds(total));
}
BENCHMARK(BM_StepRpc)->Unit(benchmark::kMicrosecond)->UseManualTime();

void BM_ContinueToBreakpoint(benchmark::State& state) {
  absl::StatusOr<const PvmdProcess*> pvmd = Pvmd();
  if (!pvmd.ok()) {
    state.SkipWithError(pvmd.status().ToString().c_str());
    return;
  }
  UstepVm vm(**pvmd);
  // Onto the breakpoint, the follower live (it read that first stop).
  if (absl::Status s = vm.StopAt("ustep_i3", /*follow=*/true); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  Clock::duration total{};
  Clock::duration rpc{};
  for (auto _ : state) {
    const auto t0 = Clock::now();
    absl::Status s = vm.Continue();
    const auto returned = Clock::now();
    if (s.ok()) {
      s = vm.NextStop();
    }
    const auto t1 = Clock::now();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    total += t1 - t0;
    rpc += returned - t0;
    state.SetIterationTime(Seconds(t1 - t0));
  }
  SetCounters(state, Seconds(total));
  const double n = static_cast<double>(state.iterations());
  state.counters["continue_rpc_us"] = benchmark::Counter(n > 0 ? Seconds(rpc) * 1e6 / n : 0);
}
BENCHMARK(BM_ContinueToBreakpoint)->Unit(benchmark::kMicrosecond)->UseManualTime();

}  // namespace
}  // namespace pvm::bench

BENCHMARK_MAIN();
