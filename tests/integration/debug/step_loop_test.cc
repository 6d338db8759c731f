// The debug engine on the stepping loop of guests/step_loop.inc, whose every
// instruction has a symbol: exact RIPs, DR6 bits, counters and sequence numbers.
// kstep (CPL0) gives real debug exits on kvm-pvm; ustep (CPL3, native) does only
// on hosts whose module supports guest debugging (the SVM host of tests/svm_host).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/debug/vm_debugger.h"
#include "tests/integration/debug/debug_fixture.h"
#include "tests/integration/guest_harness.h"

namespace pvm::testing {
namespace {

using debug::BreakpointKind;
using debug::EventKind;
using ::testing::HasSubstr;

constexpr uint64_t kDr6Bs = 1u << 14;

struct LoopGuest {
  const char* name;   // the test instance
  const char* guest;  // kstep or ustep
  const char* p;      // instruction symbol prefix
  const char* w;      // watch site prefix
  bool native;
  // Interception forced on (a mechanism test of its own on emulated code); else the
  // host decides, as pvmd's probe does.
  bool force_interception;
};

class StepLoopTest : public DebugTest, public ::testing::WithParamInterface<LoopGuest> {
 protected:
  void SetUp() override {
    DebugTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    const debug::DebugConfig& host = HostConfig();
    if (GetParam().force_interception && !host.intercept_native_exceptions) {
      GTEST_SKIP() << "exception interception needs DR breakpoints on emulated code, which "
                      "this host does not give";
    }
    // Interception where the host needs it for native code (kvm-pvm here: exception
    // interception at the guest's IDT handlers); on emulated code the DR slots,
    // unless forced (a mechanism test of its own).
    intercept_ =
        GetParam().force_interception || (GetParam().native && host.intercept_native_exceptions);
    page_watch_ = host.page_protection_watchpoints;
  }

  // Breakpoints served by DR slots (not INT3 patches): DR6 names the slot.
  bool ExecUsesDebugRegisters() const { return !intercept_; }
  // Watchpoints a VM can have: four DR-style slots, two of them taken by
  // interception unless watchpoints are served by page protection.
  int WatchSlots() const { return page_watch_ || !intercept_ ? 4 : 2; }

  void Create(uint32_t vcpus = 1, debug::StopMode mode = debug::StopMode::kAllStop,
              debug::AddressPolicy policy = {}) {
    debug::DebugConfig config;
    config.policy = policy;
    config.intercept_native_exceptions = intercept_;
    config.page_protection_watchpoints = page_watch_;
    CreateDebugged(GetParam().guest, vcpus, mode, config);
  }

  bool intercept_ = false;
  bool page_watch_ = false;  // watchpoints by page protection (DR7 ones never fire here)
  std::string P(const std::string& suffix) const { return absl::StrCat(GetParam().p, suffix); }
  std::string W(const std::string& suffix) const { return absl::StrCat(GetParam().w, suffix); }
  uint64_t Sym(const std::string& suffix) { return Symbol(P(suffix)); }
  uint64_t Counter(uint32_t vcpu) { return ReadU64(P("_counters"), vcpu * 8); }
  std::vector<std::byte> RawBytes(uint64_t gpa, size_t n) {
    std::vector<std::byte> bytes(n);
    EXPECT_TRUE(vm_->memory().Read(gpa, bytes).ok());
    return bytes;
  }
  void Start() { ASSERT_TRUE(vm_->Start().ok()); }
  debug::StepResult StepOk(uint32_t vcpu, uint32_t count) {
    absl::StatusOr<debug::StepResult> step =
        debugger_->Step(vcpu, count, std::chrono::steady_clock::now() + kPatience);
    EXPECT_TRUE(step.ok()) << step.status();
    return step.ok() ? *step : debug::StepResult{};
  }
};

TEST_P(StepLoopTest, ContinueFromABreakpointExecutesTheInstructionOnce) {
  Create();
  const auto bp = Add(BreakpointKind::kExec, Sym("_inc"));
  Start();
  for (uint64_t hit = 1; hit <= 5; ++hit) {
    const debug::DebugEvent event = Event(hit);
    EXPECT_EQ(event.kind, EventKind::kHwBreakpoint);
    EXPECT_EQ(event.rip, Sym("_inc"));
    if (ExecUsesDebugRegisters()) {
      EXPECT_EQ(event.dr6 & 0xf, 1u);
    }
    EXPECT_EQ(event.breakpoint_id, bp.id);
    WaitStopped({0});
    // Stopped before the increment of pass `hit`: it has run hit - 1 times.
    EXPECT_EQ(Counter(0), hit - 1) << "hit " << hit;
    ASSERT_TRUE(debugger_->Continue().ok());
  }
}

TEST_P(StepLoopTest, StepNAdvancesExactlyNInstructions) {
  Create();
  Add(BreakpointKind::kExec, Sym("_i0"));
  Start();
  Event(1);
  WaitStopped({0});
  EXPECT_EQ(Rip(0), Sym("_i0"));

  const debug::StepResult step = StepOk(0, 7);
  EXPECT_EQ(step.steps, 7u);
  EXPECT_EQ(step.rip, Sym("_i7"));
  EXPECT_EQ(step.last_event, 8u);
  EXPECT_EQ(Rip(0), Sym("_i7"));
  const std::vector<debug::DebugEvent> events = EventsUpTo(8);
  ASSERT_EQ(events.size(), 8u);
  for (int i = 1; i <= 7; ++i) {
    const debug::DebugEvent& e = events[i];
    EXPECT_EQ(e.sequence, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(e.kind, EventKind::kSingleStep);
    EXPECT_EQ(e.rip, Sym(absl::StrCat("_i", i))) << "step " << i;
    EXPECT_NE(e.dr6 & kDr6Bs, 0u);
    EXPECT_EQ(e.stopped, i == 7);
  }
  // One more step runs the increment, once.
  const uint64_t before = Counter(0);
  EXPECT_EQ(StepOk(0, 1).rip, Sym("_inc"));
  EXPECT_EQ(StepOk(0, 1).rip, Sym("_inc") + 3);
  EXPECT_EQ(Counter(0), before + 1);
}

// Needs no breakpoint at all, so it runs on every host that single-steps: from
// wherever an interrupt lands, steps follow the loop instruction by instruction.
TEST_P(StepLoopTest, StepFromAnInterruptFollowsTheLoopInstructionByInstruction) {
  Create();
  Start();
  WaitUntil([&] { return Counter(0) >= 3; }, "three passes");
  ASSERT_TRUE(debugger_->Interrupt().ok());
  EXPECT_EQ(debugger_->State().vcpus[0].reason, "interrupted");
  // At most one loop pass (a few dozen instructions) to reach the straight line.
  uint64_t rip = Rip(0);
  for (int i = 0; i < 64 && rip != Sym("_i0"); ++i) {
    rip = StepOk(0, 1).rip;
  }
  ASSERT_EQ(rip, Sym("_i0"));
  const uint64_t first = debugger_->events()->last_sequence() + 1;
  const debug::StepResult step = StepOk(0, 8);
  EXPECT_EQ(step.steps, 8u);
  EXPECT_EQ(step.rip, Sym("_inc"));
  const std::vector<debug::DebugEvent> events = EventsUpTo(first + 7);
  ASSERT_EQ(events.size(), first + 7);
  for (int i = 1; i <= 8; ++i) {
    const debug::DebugEvent& e = events[first - 2 + i];
    EXPECT_EQ(e.kind, EventKind::kSingleStep);
    EXPECT_EQ(e.rip, Sym(i < 8 ? absl::StrCat("_i", i) : std::string("_inc"))) << "step " << i;
    EXPECT_NE(e.dr6 & kDr6Bs, 0u);
  }
  // The increment runs exactly once per step over it.
  const uint64_t before = Counter(0);
  StepOk(0, 1);
  EXPECT_EQ(Counter(0), before + 1);
  ASSERT_TRUE(debugger_->Continue().ok());
  WaitUntil([&] { return Counter(0) >= before + 100; }, "100 more passes");
}

// Added to a running guest, a breakpoint fires on the next pass: the guest debug
// it needs (on kvm-pvm natively, the interception of the #BP handler) is armed at
// once, not at the next stop.
TEST_P(StepLoopTest, BreakpointAddedWhileRunningFiresOnTheNextPass) {
  Create();
  Start();
  WaitUntil([&] { return Counter(0) >= 3; }, "three passes");
  const auto bp = Add(BreakpointKind::kSoftware, Sym("_inc"));
  const debug::DebugEvent event = Event(1);
  EXPECT_EQ(event.rip, Sym("_inc"));
  EXPECT_EQ(event.breakpoint_id, bp.id);
  WaitStopped({0});
  EXPECT_EQ(Rip(0), Sym("_inc"));
}

TEST_P(StepLoopTest, SoftwareBreakpointStopsThereAndRemovalRestoresTheCode) {
  Create();
  const uint64_t target = Sym("_i3");
  const uint64_t gpa = target;  // the boot tables identity-map guest memory
  const std::vector<std::byte> original = RawBytes(gpa, 16);
  const auto bp = Add(BreakpointKind::kSoftware, target);
  EXPECT_EQ(bp.slot, -1);
  EXPECT_EQ(RawBytes(gpa, 1)[0], std::byte{0xcc});
  // Reads show the guest's code, not the INT3.
  absl::StatusOr<std::vector<std::byte>> seen =
      debugger_->ReadMemory(debug::AddressSpace::kVirtual, target, 16, 0);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(*seen, original);
  Start();

  const debug::DebugEvent event = Event(1);
  EXPECT_EQ(event.kind, EventKind::kSwBreakpoint);
  EXPECT_EQ(event.vector, 3);
  EXPECT_EQ(event.rip, target);
  EXPECT_EQ(event.breakpoint_id, bp.id);
  WaitStopped({0});
  EXPECT_EQ(Rip(0), target);

  ASSERT_TRUE(debugger_->RemoveBreakpoint(bp.id).ok());
  EXPECT_EQ(RawBytes(gpa, 16), original);
  const uint64_t before = Counter(0);
  ASSERT_TRUE(debugger_->Continue().ok());
  // Still runs: the loop counts on, and nothing stops it again.
  WaitUntil([&] { return Counter(0) >= before + 1000; }, "the loop to count on");
  EXPECT_EQ(debugger_->events()->last_sequence(), 1u);
}

TEST_P(StepLoopTest, ContinueOverASoftwareBreakpointExecutesItOnceAndReinsertsIt) {
  Create();
  const auto bp = Add(BreakpointKind::kSoftware, Sym("_inc"));
  Start();
  for (uint64_t hit = 1; hit <= 4; ++hit) {
    const debug::DebugEvent event = Event(hit);
    EXPECT_EQ(event.kind, EventKind::kSwBreakpoint);
    EXPECT_EQ(event.rip, Sym("_inc"));
    WaitStopped({0});
    EXPECT_EQ(Counter(0), hit - 1);
    EXPECT_EQ(RawBytes(Sym("_inc"), 1)[0], std::byte{0xcc}) << "re-inserted after the step";
    ASSERT_TRUE(debugger_->Continue().ok());
  }
  EXPECT_EQ(debugger_->ListBreakpoints()->at(0).hits,
            4u + (debugger_->events()->last_sequence() > 4));
  (void)bp;
}

TEST_P(StepLoopTest, StepFromASoftwareBreakpointRunsTheOriginalInstruction) {
  Create();
  Add(BreakpointKind::kSoftware, Sym("_i2"));
  Start();
  Event(1);
  WaitStopped({0});
  const debug::StepResult step = StepOk(0, 2);
  EXPECT_EQ(step.rip, Sym("_i4"));
  EXPECT_EQ(RawBytes(Sym("_i2"), 1)[0], std::byte{0xcc});
}

TEST_P(StepLoopTest, AllStopStopsEveryVcpuAndContinueRestartsThemAll) {
  constexpr uint32_t kVcpus = 4;
  Create(kVcpus);
  const auto bp = Add(BreakpointKind::kExec, Sym("_inc"));
  Start();
  const debug::DebugEvent first = Event(1);
  WaitStopped({0, 1, 2, 3});
  debug::DebugStateInfo state = debugger_->State();
  for (const auto& v : state.vcpus) {
    EXPECT_TRUE(v.stopped) << "vCPU " << v.id;
  }
  EXPECT_EQ(state.vcpus[first.vcpu].reason, absl::StrCat("hw-breakpoint ", bp.id));
  // Nothing runs: every counter stays put across two reads.
  std::array<uint64_t, kVcpus> frozen{};
  for (uint32_t i = 0; i < kVcpus; ++i) {
    frozen[i] = Counter(i);
  }
  for (uint32_t i = 0; i < kVcpus; ++i) {
    EXPECT_EQ(Counter(i), frozen[i]);
  }

  ASSERT_TRUE(debugger_->RemoveBreakpoint(bp.id).ok());
  ASSERT_TRUE(debugger_->Continue().ok());
  for (uint32_t i = 0; i < kVcpus; ++i) {
    WaitUntil([&] { return Counter(i) > frozen[i] + 10; }, "the loop to count on");
  }
  for (const auto& v : debugger_->State().vcpus) {
    EXPECT_FALSE(v.stopped) << "vCPU " << v.id;
  }
}

TEST_P(StepLoopTest, BreakpointOnEveryVcpuReportsEachAndResumesEachOnce) {
  constexpr uint32_t kVcpus = 2;
  Create(kVcpus);
  Add(BreakpointKind::kExec, Sym("_inc"));
  Start();
  // Several rounds of all-stop: whichever vCPUs hit, each hit is one event, and
  // a vCPU's counter equals its hits so far (stopped before the increment).
  std::array<uint64_t, kVcpus> hits{};
  uint64_t seen = 0;
  for (int round = 0; round < 6; ++round) {
    const debug::DebugEvent event = Event(seen + 1);
    WaitStopped({0, 1});
    for (const debug::DebugEvent& e : EventsUpTo(debugger_->events()->last_sequence())) {
      if (e.sequence > seen) {
        ++hits[e.vcpu];
        seen = e.sequence;
        EXPECT_EQ(e.rip, Sym("_inc"));
      }
    }
    const debug::DebugStateInfo state = debugger_->State();
    for (uint32_t i = 0; i < kVcpus; ++i) {
      const debug::VcpuDebugInfo& v = state.vcpus[i];
      if (v.reason.starts_with("hw-breakpoint")) {
        EXPECT_EQ(Counter(i) + 1, hits[i]) << "vCPU " << i << " round " << round;
      }
    }
    (void)event;
    ASSERT_TRUE(debugger_->Continue().ok());
  }
}

TEST_P(StepLoopTest, TraceModeStreamsEventsWhileTheGuestRuns) {
  Create(1, debug::StopMode::kTrace);
  Add(BreakpointKind::kExec, Sym("_inc"));
  Start();
  const std::vector<debug::DebugEvent> events = EventsUpTo(200);
  ASSERT_EQ(events.size(), 200u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].sequence, i + 1);
    EXPECT_EQ(events[i].rip, Sym("_inc"));
    EXPECT_FALSE(events[i].stopped);
  }
  EXPECT_FALSE(debugger_->State().vcpus[0].stopped);
  ASSERT_TRUE(debugger_->Interrupt().ok());
  // Each pass reported once and incremented once: no event lost, no instruction
  // skipped or repeated. The interrupt may land between an event and its increment.
  const uint64_t reported = debugger_->events()->last_sequence();
  const uint64_t counted = Counter(0);
  EXPECT_TRUE(counted == reported || counted + 1 == reported)
      << "counter " << counted << ", events " << reported;
}

// Two vCPUs passing one breakpoint in trace mode: with an INT3 patch, a vCPU's
// step over it lifts the byte for every vCPU, so the others are held out of the
// guest meanwhile; either way each vCPU's events match its own increments.
TEST_P(StepLoopTest, TraceModeOnTwoVcpusReportsEveryPassOfEach) {
  constexpr uint32_t kVcpus = 2;
  Create(kVcpus, debug::StopMode::kTrace);
  Add(BreakpointKind::kExec, Sym("_inc"));
  Start();
  WaitUntil([&] { return Counter(0) >= 100 && Counter(1) >= 100; }, "100 passes on each vCPU");
  ASSERT_TRUE(debugger_->Interrupt().ok());
  const std::vector<debug::DebugEvent> events = EventsUpTo(debugger_->events()->last_sequence());
  std::array<uint64_t, kVcpus> reported{};
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].sequence, i + 1);
    EXPECT_EQ(events[i].rip, Sym("_inc"));
    ++reported.at(events[i].vcpu);
  }
  for (uint32_t i = 0; i < kVcpus; ++i) {
    const uint64_t counted = Counter(i);
    EXPECT_TRUE(counted == reported[i] || counted + 1 == reported[i])
        << "vCPU " << i << ": counter " << counted << ", events " << reported[i];
  }
}

// Reads the log from sequence 1 until `last`, as a StreamEvents call would:
// received sequences in order, and the gaps it was told of.
struct Subscription {
  std::vector<uint64_t> received;
  uint64_t lost = 0;
  uint64_t gaps = 0;
};

Subscription Drain(debug::EventLog& log, uint64_t last) {
  Subscription sub;
  uint64_t cursor = 1;
  std::array<debug::DebugEvent, 256> buffer;
  while (cursor <= last) {
    if (!log.WaitForEvents(cursor, std::chrono::steady_clock::now() + kPatience)) {
      ADD_FAILURE() << "no event " << cursor;
      break;
    }
    const debug::EventLog::Batch batch = log.Read(&cursor, buffer);
    if (batch.lost_count > 0) {
      ++sub.gaps;
      sub.lost += batch.lost_count;
      EXPECT_EQ(batch.lost_first, sub.received.empty() ? 1 : sub.received.back() + 1);
    }
    for (size_t i = 0; i < batch.count; ++i) {
      sub.received.push_back(buffer[i].sequence);
    }
  }
  return sub;
}

TEST_P(StepLoopTest, EverySubscriberSeesEveryEventAndASlowOneIsToldWhatItLost) {
  Create(1, debug::StopMode::kTrace);
  Add(BreakpointKind::kExec, Sym("_inc"));
  std::shared_ptr<debug::EventLog> log = debugger_->events();
  const uint64_t total = 3 * log->capacity();
  Subscription fast1, fast2;
  std::thread t1([&] { fast1 = Drain(*log, total); });
  std::thread t2([&] { fast2 = Drain(*log, total); });
  Start();
  t1.join();
  t2.join();
  // The slow one starts only now, after the ring has wrapped twice.
  ASSERT_GE(log->last_sequence(), total);
  Subscription slow = Drain(*log, total);

  for (const Subscription* fast : {&fast1, &fast2}) {
    EXPECT_EQ(fast->lost, 0u);
    ASSERT_GE(fast->received.size(), total);
    for (size_t i = 0; i < total; ++i) {
      ASSERT_EQ(fast->received[i], i + 1);
    }
  }
  EXPECT_EQ(slow.gaps, 1u);
  EXPECT_GT(slow.lost, 0u);
  ASSERT_FALSE(slow.received.empty());
  EXPECT_EQ(slow.received.front(), slow.lost + 1);
  for (size_t i = 1; i < slow.received.size(); ++i) {
    ASSERT_EQ(slow.received[i], slow.received[i - 1] + 1);
  }
}

TEST_P(StepLoopTest, TraceBreakpointInAllStopModeDoesNotStop) {
  Create();
  Add(BreakpointKind::kSoftware, Sym("_i5"), 1, /*trace=*/true);
  Start();
  const std::vector<debug::DebugEvent> events = EventsUpTo(50);
  ASSERT_EQ(events.size(), 50u);
  EXPECT_EQ(events.back().kind, EventKind::kSwBreakpoint);
  EXPECT_FALSE(events.back().stopped);
  EXPECT_FALSE(debugger_->State().vcpus[0].stopped);
}

TEST_P(StepLoopTest, DisablingDebugResumesAStoppedVmAndRemovesEveryBreakpoint) {
  Create();
  const uint64_t inc = Sym("_inc");
  const std::vector<std::byte> original = RawBytes(inc, 1);
  Add(BreakpointKind::kSoftware, inc);
  Add(BreakpointKind::kExec, Sym("_i1"));
  Start();
  Event(1);
  WaitStopped({0});
  const uint64_t before = Counter(0);
  ASSERT_TRUE(debugger_->SetEnabled(false, debug::StopMode::kAllStop).ok());
  EXPECT_EQ(RawBytes(inc, 1), original);
  WaitUntil([&] { return Counter(0) >= before + 1000; }, "the loop to count on");
  const debug::DebugStateInfo state = debugger_->State();
  EXPECT_FALSE(state.enabled);
  EXPECT_FALSE(state.vcpus[0].stopped);
  EXPECT_EQ(state.requested_dr7, 0u);
  EXPECT_EQ(vm_->state(), vmm::VmState::kRunning);
}

TEST_P(StepLoopTest, RegistersAndMemoryOfAStoppedVcpu) {
  Create();
  Add(BreakpointKind::kExec, Sym("_i3"));
  Start();
  Event(1);
  WaitStopped({0});
  absl::StatusOr<kvm_regs> regs = debugger_->GetRegs(0);
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_EQ(regs->rip, Sym("_i3"));
  EXPECT_EQ(regs->r13, 0u);  // vCPU id, by the loop's register contract
  EXPECT_EQ(regs->r14, 1u);  // first pass

  // Set RAX; i3 copies it to RCX.
  debug::RegisterChange change;
  change.values[0] = 0x5a5a5a5a;
  ASSERT_TRUE(debugger_->SetRegs(0, change).ok());
  StepOk(0, 1);
  EXPECT_EQ(debugger_->GetRegs(0)->rcx, 0x5a5a5a5au);

  absl::StatusOr<kvm_sregs> sregs = debugger_->GetSregs(0);
  ASSERT_TRUE(sregs.ok());
  EXPECT_EQ(sregs->cs.dpl, GetParam().native ? 3 : 0);
  EXPECT_TRUE(debugger_->GetDebugRegs(0).ok());

  // Physical and virtual reads agree (identity map), and writes land.
  const uint64_t counter = Symbol(P("_counters"));
  absl::StatusOr<std::vector<std::byte>> phys =
      debugger_->ReadMemory(debug::AddressSpace::kPhysical, counter, 8, 0);
  absl::StatusOr<std::vector<std::byte>> virt =
      debugger_->ReadMemory(debug::AddressSpace::kVirtual, counter, 8, 0);
  ASSERT_TRUE(phys.ok() && virt.ok());
  EXPECT_EQ(*phys, *virt);
  const std::vector<std::byte> seven = {std::byte{7}, {}, {}, {}, {}, {}, {}, {}};
  ASSERT_TRUE(debugger_->WriteMemory(debug::AddressSpace::kVirtual, counter, seven, 0).ok());
  EXPECT_EQ(Counter(0), 7u);
}

TEST_P(StepLoopTest, RegistersOfARunningVcpuAreRefused) {
  Create(1, debug::StopMode::kTrace);
  Start();
  absl::StatusOr<kvm_regs> regs = debugger_->GetRegs(0);
  EXPECT_EQ(regs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(regs.status().message(), HasSubstr("interrupt it"));
  EXPECT_EQ(debugger_->Step(0, 1, std::chrono::steady_clock::now() + kPatience).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(debugger_->Interrupt().ok());
  EXPECT_TRUE(debugger_->GetRegs(0).ok());
  EXPECT_EQ(debugger_->State().vcpus[0].reason, "interrupted");
  ASSERT_TRUE(debugger_->Continue().ok());
  EXPECT_EQ(debugger_->Continue().code(), absl::StatusCode::kFailedPrecondition);
}

// By DR7 where the host fires data breakpoints, by page protection elsewhere:
// either way the event comes after the store, with the new value in memory.
TEST_P(StepLoopTest, WriteWatchpointFiresAfterTheWriteWithTheNewValueInMemory) {
  Create();
  const uint64_t watched = Symbol("watched_value");
  const auto bp = Add(BreakpointKind::kWrite, watched, 8);
  Start();
  for (uint64_t hit = 1; hit <= 3; ++hit) {
    const debug::DebugEvent event = Event(hit);
    EXPECT_EQ(event.kind, EventKind::kWatchpoint);
    EXPECT_EQ(event.rip, Symbol(W("_after_store")));
    // DR6 names the slot that fired; a page watch uses none.
    EXPECT_EQ(event.dr6 & 0xf, page_watch_ ? 0u : 1u);
    EXPECT_TRUE(event.has_address);
    EXPECT_EQ(event.address, watched);
    EXPECT_EQ(event.breakpoint_id, bp.id);
    if (page_watch_) {
      EXPECT_EQ(event.access_length, 8u);
      EXPECT_TRUE(event.is_write);
      EXPECT_EQ(event.old_value, hit - 1);
      EXPECT_EQ(event.new_value, hit);
    }
    WaitStopped({0});
    // The store wrote the loop count of this pass: pass `hit`.
    EXPECT_EQ(ReadU64("watched_value"), hit);
    ASSERT_TRUE(debugger_->Continue().ok());
  }
}

// The load's event comes after the load, as a DR7 data breakpoint traps: RIP past
// it and its destination register written.
TEST_P(StepLoopTest, ReadWriteWatchpointFiresOnTheRead) {
  Create();
  const uint64_t watched = Symbol("watched_value");
  Add(BreakpointKind::kReadWrite, watched, 8);
  Start();
  EXPECT_EQ(Event(1).rip, Symbol(W("_after_store")));
  WaitStopped({0});
  ASSERT_TRUE(debugger_->Continue().ok());
  const debug::DebugEvent load = Event(2);
  EXPECT_EQ(load.rip, Symbol(W("_after_load")));
  if (page_watch_) {
    EXPECT_FALSE(load.is_write);
    EXPECT_EQ(load.new_value, 1u);  // pass 1 stored its loop count
    EXPECT_EQ(load.old_value, load.new_value);
  }
  WaitStopped({0});
  absl::StatusOr<kvm_regs> regs = debugger_->GetRegs(0);
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_EQ(regs->rip, Symbol(W("_after_load")));
  EXPECT_EQ(regs->r11, 1u) << "the load is complete at the stop";
  ASSERT_TRUE(debugger_->Continue().ok());
  EXPECT_EQ(Event(3).rip, Symbol(W("_after_store")));
}

// Stepping over accesses to a watched page that do not hit: each is one step.
TEST_P(StepLoopTest, StepsAcrossAWatchedPageCountEveryInstructionOnce) {
  Create();
  const uint64_t watched = Symbol("watched_value");
  // Watch the other end of the page: the loop's store and load exit but never hit.
  const uint64_t elsewhere = (watched & ~uint64_t{0xfff}) + 0xff8;
  Add(BreakpointKind::kReadWrite, elsewhere, 8);
  const auto stop = Add(BreakpointKind::kSoftware, Symbol(W("_store")));
  Start();
  EXPECT_EQ(Event(1).rip, Symbol(W("_store")));
  WaitStopped({0});
  ASSERT_TRUE(debugger_->RemoveBreakpoint(stop.id).ok());
  const char* const expected[] = {"_after_store", "_load", "_after_load"};
  for (const char* suffix : expected) {
    const debug::StepResult step = StepOk(0, 1);
    EXPECT_EQ(step.steps, 1u);
    EXPECT_EQ(step.rip, Symbol(W(suffix))) << "after stepping to " << suffix;
  }
  absl::StatusOr<kvm_regs> regs = debugger_->GetRegs(0);
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ(regs->r11, 1u) << "the stepped load read what the stepped store wrote";
  EXPECT_EQ(ReadU64("watched_value"), 1u);
}

TEST_P(StepLoopTest, InvalidBreakpointsAreRefusedWithTheReason) {
  Create();
  const uint64_t watched = Symbol("watched_value");
  auto add = [&](BreakpointKind kind, uint64_t address, uint32_t length) {
    return debugger_->AddBreakpoint({kind, address, length, false}, "").status();
  };
  absl::Status misaligned = add(BreakpointKind::kWrite, watched + 2, 4);
  EXPECT_EQ(misaligned.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(misaligned.message(), HasSubstr("align"));
  EXPECT_EQ(add(BreakpointKind::kWrite, watched, 3).code(), absl::StatusCode::kInvalidArgument);
  absl::Status exec8 = add(BreakpointKind::kExec, watched, 8);
  EXPECT_EQ(exec8.code(), absl::StatusCode::kInvalidArgument);
  absl::Status noncanonical = add(BreakpointKind::kExec, 0x0000800000000000, 1);
  EXPECT_EQ(noncanonical.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(noncanonical.message(), HasSubstr("canonical"));
  absl::Status unknown =
      debugger_->AddBreakpoint({BreakpointKind::kExec, 0, 1, false}, "no_such_symbol").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), HasSubstr("no_such_symbol"));
  absl::Status unmapped = add(BreakpointKind::kSoftware, 0x7f0000000000, 1);
  EXPECT_EQ(unmapped.code(), absl::StatusCode::kInvalidArgument);

  for (int i = 0; i < WatchSlots(); ++i) {
    Add(BreakpointKind::kWrite, watched + 8 * i, 8);
  }
  absl::Status fifth = add(BreakpointKind::kWrite, watched + 8 * WatchSlots(), 8);
  EXPECT_EQ(fifth.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(fifth.message(), HasSubstr("hardware debug registers"));
  // Software breakpoints take no slot.
  EXPECT_TRUE(add(BreakpointKind::kSoftware, Sym("_i4"), 1).ok());
  EXPECT_EQ(add(BreakpointKind::kSoftware, Sym("_i4"), 1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(debugger_->RemoveBreakpoint(999).code(), absl::StatusCode::kNotFound);
}

TEST_P(StepLoopTest, AddressesTheModuleWouldDropAreRefused) {
  if (intercept_) {
    GTEST_SKIP() << "execute breakpoints are INT3 patches here: the module's DR7 rule "
                    "does not apply to them";
  }
  debug::AddressPolicy policy;
  policy.rule = PVM_VA_RULE_POSITIVE_OR_RANGES;
  policy.ranges = {0xffffffff80000000, 0xffffffffc0000000, 0, 0};
  Create(1, debug::StopMode::kAllStop, policy);
  absl::Status host_half =
      debugger_->AddBreakpoint({BreakpointKind::kExec, 0xffff888000000000, 1, false}, "").status();
  EXPECT_EQ(host_half.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(host_half.message(), HasSubstr("drop"));
  EXPECT_TRUE(
      debugger_->AddBreakpoint({BreakpointKind::kExec, 0xffffffff80001000, 1, false}, "").ok());
  EXPECT_THAT(debugger_->State().address_rule, HasSubstr("drops breakpoints"));
}

INSTANTIATE_TEST_SUITE_P(
    Paths, StepLoopTest,
    ::testing::Values(LoopGuest{"kstep", "kstep", "kstep", "kwatch", false, false},
                      LoopGuest{"kstep_intercepting", "kstep", "kstep", "kwatch", false, true},
                      LoopGuest{"ustep", "ustep", "ustep", "uwatch", true, false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace pvm::testing
