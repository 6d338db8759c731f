// The debug engine against the real kvm-pvm, on guest code it emulates (CPL0):
// exact RIPs, DR6 bits and event sequence numbers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "daemon/debug/vm_debugger.h"
#include "tests/integration/debug/debug_fixture.h"
#include "tests/integration/guest_harness.h"

namespace pvm::testing {
namespace {

using debug::BreakpointKind;
using debug::EventKind;
using ::testing::HasSubstr;

constexpr uint64_t kDr6Bs = 1u << 14;
constexpr char kSelfdebugConsole[] = "selfdebug: int3 3/3, dr0 2/2, tf 5/5\nselfdebug: done\n";

TEST_F(DebugTest, ExecBreakpointOnASymbolStopsThereWithItsDr6Bit) {
  CreateDebugged("kcounter");
  const uint64_t loop = Symbol("kcounter_loop");
  absl::StatusOr<debug::BreakpointInfo> bp =
      debugger_->AddBreakpoint({BreakpointKind::kExec, 0, 1, false}, "kcounter_loop");
  ASSERT_TRUE(bp.ok()) << bp.status();
  EXPECT_EQ(bp->spec.address, loop);
  EXPECT_EQ(bp->slot, 0);
  EXPECT_EQ(bp->location, "kcounter_loop");
  ASSERT_TRUE(vm_->Start().ok());

  const debug::DebugEvent event = Event(1);
  EXPECT_EQ(event.sequence, 1u);
  EXPECT_EQ(event.kind, EventKind::kHwBreakpoint);
  EXPECT_EQ(event.vector, 1);
  EXPECT_EQ(event.rip, loop);
  EXPECT_EQ(event.dr6 & 0xf, 1u) << std::hex << event.dr6;
  EXPECT_EQ(event.breakpoint_id, bp->id);
  EXPECT_EQ(event.dr7 & 0x3, 1u) << "L0 enabled in the DR7 in force";
  EXPECT_TRUE(event.stopped);
  WaitStopped({0});
  EXPECT_EQ(Rip(0), loop);
  debug::DebugStateInfo state = debugger_->State();
  EXPECT_TRUE(state.vcpus[0].stopped);
  EXPECT_EQ(state.vcpus[0].rip, loop);
  EXPECT_TRUE(state.slots[0].in_use);
  EXPECT_EQ(state.slots[0].address, loop);
  EXPECT_EQ(state.last_event, 1u);
}

TEST_F(DebugTest, StepAdvancesOneInstructionAndReportsIt) {
  CreateDebugged("kcounter");
  const uint64_t loop = Symbol("kcounter_loop");
  Add(BreakpointKind::kExec, loop);
  ASSERT_TRUE(vm_->Start().ok());
  Event(1);
  WaitStopped({0});

  absl::StatusOr<debug::StepResult> step =
      debugger_->Step(0, 1, std::chrono::steady_clock::now() + kPatience);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(step->steps, 1u);
  EXPECT_GT(step->rip, loop);
  EXPECT_EQ(step->last_event, 2u);
  const debug::DebugEvent event = Event(2);
  EXPECT_EQ(event.kind, EventKind::kSingleStep);
  EXPECT_EQ(event.rip, step->rip);
  EXPECT_NE(event.dr6 & kDr6Bs, 0u);
  EXPECT_TRUE(event.stopped);
  EXPECT_EQ(Rip(0), step->rip);
}

TEST_F(DebugTest, ContinueRunsPastTheBreakpointWhichStaysArmed) {
  CreateDebugged("kcounter");
  Add(BreakpointKind::kExec, Symbol("kcounter_loop"));
  ASSERT_TRUE(vm_->Start().ok());
  Event(1);
  WaitStopped({0});
  ASSERT_TRUE(debugger_->Continue().ok());
  // The loop prints once it has counted 2^14: the guest ran on past the breakpoint.
  EXPECT_THAT(WaitForConsole(*vm_, "kcounter: 16384\n"), HasSubstr("kcounter: 16384\n"));
  EXPECT_FALSE(debugger_->State().vcpus[0].stopped);
  ASSERT_TRUE(debugger_->Interrupt().ok());
  EXPECT_EQ(debugger_->events()->last_sequence(), 1u) << "kcounter_loop runs only once";
}

TEST_F(DebugTest, DebugCallsNeedDebuggingEnabled) {
  CreateDebugged("kcounter");
  ASSERT_TRUE(debugger_->SetEnabled(false, debug::StopMode::kAllStop).ok());
  absl::StatusOr<debug::BreakpointInfo> bp =
      debugger_->AddBreakpoint({BreakpointKind::kExec, Symbol("kcounter_loop"), 1, false}, "");
  EXPECT_EQ(bp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bp.status().message(), HasSubstr("enable it first"));
  EXPECT_EQ(debugger_->Continue().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(debugger_->Interrupt().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(debugger_->GetRegs(0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(debugger_->ListBreakpoints().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(debugger_->Step(0, 1, std::chrono::steady_clock::now()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pvm::testing

namespace pvm::testing {
namespace {

// selfdebug uses INT3, its own DR0 breakpoint and TF, and checks every trap it
// gets: with the debugger attached but off, the VM behaves as if none existed.
TEST_F(DebugTest, WithDebuggingOffTheGuestsOwnInt3Dr0AndTfWork) {
  CreateDebugged("selfdebug", 2);
  ASSERT_TRUE(debugger_->SetEnabled(false, debug::StopMode::kAllStop).ok());
  ASSERT_TRUE(vm_->Start().ok());
  ASSERT_EQ(WaitForVmState(*vm_, vmm::VmState::kStopped), vmm::VmState::kStopped)
      << vm_->Snapshot().failure;
  EXPECT_EQ(vm_->console().ReadFrom(0).data, kSelfdebugConsole);
  EXPECT_EQ(debugger_->events()->last_sequence(), 0u);
}

// With debugging on but no breakpoint of ours, the guest's own traps still reach it.
TEST_F(DebugTest, WithDebuggingOnAndNoBreakpointsTheGuestsOwnTrapsStillReachIt) {
  CreateDebugged("selfdebug", 1);
  ASSERT_TRUE(vm_->Start().ok());
  ASSERT_EQ(WaitForVmState(*vm_, vmm::VmState::kStopped), vmm::VmState::kStopped)
      << vm_->Snapshot().failure;
  EXPECT_EQ(vm_->console().ReadFrom(0).data, kSelfdebugConsole);
  EXPECT_EQ(debugger_->events()->last_sequence(), 0u);
}

}  // namespace
}  // namespace pvm::testing

namespace pvm::testing {
namespace {

// With exception interception armed (the guest's #DB and #BP handler entries
// watched), the guest's own INT3s and TF traps still reach its handlers.
TEST_F(DebugTest, InterceptionPassesTheGuestsOwnTrapsThrough) {
  if (access("/sys/module/kvm_pvm", F_OK) != 0) {
    GTEST_SKIP() << "interception is for kvm-pvm, whose native code gives no debug exits";
  }
  debug::DebugConfig config;
  config.intercept_native_exceptions = true;
  CreateDebugged("selfdebug", 1, debug::StopMode::kAllStop, config);
  ASSERT_TRUE(vm_->Start().ok());
  ASSERT_EQ(WaitForVmState(*vm_, vmm::VmState::kStopped), vmm::VmState::kStopped)
      << vm_->Snapshot().failure;
  EXPECT_EQ(vm_->console().ReadFrom(0).data, kSelfdebugConsole);
  EXPECT_EQ(debugger_->events()->last_sequence(), 0u);
}

}  // namespace
}  // namespace pvm::testing

namespace pvm::testing {
namespace {

// On kvm-pvm natively running code gives no debug exits: a breakpoint set before
// the guest boots must still catch `counter`'s CPL3 loop (interception is armed
// while the boot is stepped to its IDT), and the loop then counts on unharmed.
TEST_F(DebugTest, BreakpointBeforeBootCatchesNativeCodeAndTheCounterRunsOn) {
  if (access("/sys/module/kvm_pvm", F_OK) != 0) {
    GTEST_SKIP() << "interception is for kvm-pvm, whose native code gives no debug exits";
  }
  debug::DebugConfig config;
  config.intercept_native_exceptions = true;
  CreateDebugged("counter", 1, debug::StopMode::kAllStop, config);
  absl::StatusOr<debug::BreakpointInfo> bp =
      debugger_->AddBreakpoint({debug::BreakpointKind::kExec, 0, 1, false}, "counter_loop");
  ASSERT_TRUE(bp.ok()) << bp.status();
  EXPECT_EQ(bp->slot, -1);
  EXPECT_THAT(bp->mechanism, HasSubstr("INT3"));
  ASSERT_TRUE(vm_->Start().ok());

  const debug::DebugEvent event = Event(1);
  EXPECT_EQ(event.kind, EventKind::kHwBreakpoint);
  EXPECT_EQ(event.vector, 3);
  EXPECT_EQ(event.rip, Symbol("counter_loop"));
  WaitStopped({0});
  absl::StatusOr<kvm_sregs> sregs = debugger_->GetSregs(0);
  ASSERT_TRUE(sregs.ok());
  EXPECT_EQ(sregs->cs.dpl, 3) << "stopped in the native code, not in the guest's handler";
  EXPECT_EQ(Rip(0), Symbol("counter_loop"));
  EXPECT_EQ(vm_->console().ReadFrom(0).data, "") << "the guest never saw the #BP";

  ASSERT_TRUE(debugger_->RemoveBreakpoint(bp->id).ok());
  ASSERT_TRUE(debugger_->Continue().ok());
  EXPECT_THAT(WaitForConsole(*vm_, "counter: 268435456\n"), HasSubstr("counter: start\n"));
  EXPECT_EQ(vm_->state(), vmm::VmState::kRunning);
}

}  // namespace
}  // namespace pvm::testing

namespace pvm::testing {
namespace {

// smp runs natively on every vCPU. A breakpoint on smp_loop's entry is hit once by
// each vCPU (two at once or one after the other): an event each, and after
// Continue both count on from where they stopped.
class SmpDebugTest : public DebugTest {
 protected:
  static constexpr uint32_t kVcpus = 2;
  uint64_t SmpCounter(uint32_t vcpu) { return ReadU64("smp_counters", vcpu * 8); }
};

TEST_F(SmpDebugTest, AllStopOnNativeCodeReportsEveryVcpusHitAndResumesEach) {
  CreateDebugged("smp", kVcpus, debug::StopMode::kAllStop, HostConfig());
  const uint64_t loop = Symbol("smp_loop");
  const auto bp = Add(BreakpointKind::kExec, loop);
  ASSERT_TRUE(vm_->Start().ok());
  std::array<int, kVcpus> hits{};
  uint64_t seen = 0;
  while (seen < kVcpus) {
    const debug::DebugEvent event = Event(seen + 1);
    WaitStopped({0, 1});
    for (const debug::DebugEvent& e : EventsUpTo(debugger_->events()->last_sequence())) {
      if (e.sequence <= seen) continue;
      seen = e.sequence;
      ++hits.at(e.vcpu);
      EXPECT_EQ(e.rip, loop);
      EXPECT_EQ(e.breakpoint_id, bp.id);
      EXPECT_EQ(Rip(e.vcpu), loop) << "vCPU " << e.vcpu << " stopped on the breakpoint";
    }
    (void)event;
    ASSERT_TRUE(debugger_->Continue().ok());
  }
  EXPECT_EQ(hits, (std::array<int, kVcpus>{1, 1})) << "each vCPU enters smp_loop once";
  WaitUntil(
      [&] {
        const std::string console = vm_->console().ReadFrom(0).data;
        return console.find("smp: vcpu 0 up\n") != std::string::npos &&
               console.find("smp: vcpu 1 up\n") != std::string::npos;
      },
      "both vCPUs' first line");
  WaitUntil([&] { return SmpCounter(0) > 1000 && SmpCounter(1) > 1000; }, "both vCPUs counting");
  EXPECT_EQ(debugger_->events()->last_sequence(), seen) << "nothing else fired";
  for (const auto& v : debugger_->State().vcpus) {
    EXPECT_FALSE(v.stopped) << "vCPU " << v.id;
  }
}

TEST_F(SmpDebugTest, TraceOnNativeCodeReportsEveryVcpuWithoutStopping) {
  CreateDebugged("smp", kVcpus, debug::StopMode::kTrace, HostConfig());
  const uint64_t loop = Symbol("smp_loop");
  Add(BreakpointKind::kExec, loop, 1, /*trace=*/true);
  ASSERT_TRUE(vm_->Start().ok());
  const std::vector<debug::DebugEvent> events = EventsUpTo(kVcpus);
  ASSERT_EQ(events.size(), kVcpus);
  EXPECT_NE(events[0].vcpu, events[1].vcpu);
  for (const debug::DebugEvent& e : events) {
    EXPECT_EQ(e.rip, loop);
    EXPECT_FALSE(e.stopped);
  }
  WaitUntil([&] { return SmpCounter(0) > 1000 && SmpCounter(1) > 1000; }, "both vCPUs counting");
  EXPECT_EQ(debugger_->events()->last_sequence(), kVcpus);
}

}  // namespace
}  // namespace pvm::testing
