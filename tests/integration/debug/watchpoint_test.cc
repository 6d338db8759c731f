// Watchpoints on the counter loops through the engine, with whatever mechanism
// pvmd's probe picks for this host (page protection on kvm-pvm, whose DR7 data
// breakpoints never fire): `counter` increments counter_value natively at CPL3,
// `kcounter` the same at CPL0 in the module's emulator. Both keep counter_value
// and counter_neighbour alone on the image's watch page.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/debug/vm_debugger.h"
#include "tests/integration/debug/debug_fixture.h"
#include "tests/integration/guest_harness.h"

namespace pvm::testing {
namespace {

using debug::BreakpointKind;
using debug::EventKind;

constexpr uint64_t kPage = 4096;

class CounterWatchTest : public DebugTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    DebugTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    config_ = HostConfig();
    if (!config_.page_protection_watchpoints) {
      GTEST_SKIP() << "this host fires DR7 data breakpoints itself: the stepping-loop "
                      "watchpoint tests cover them";
    }
  }

  void Create(debug::StopMode mode = debug::StopMode::kAllStop) {
    CreateDebugged(GetParam(), 1, mode, config_);
    counter_ = Symbol("counter_value");
    neighbour_ = Symbol("counter_neighbour");
    ASSERT_EQ(counter_ / kPage, neighbour_ / kPage) << "the guest must share the page";
    original_slots_ = vm_->memslots().Slots();
  }
  void Start() { ASSERT_TRUE(vm_->Start().ok()); }

  // The image's code as loaded, to compare after every breakpoint is gone.
  std::vector<std::byte> Code() {
    const vmm::GuestSymbol loop = *vm_->image().FindSymbol(Loop());
    std::vector<std::byte> bytes(loop.size);
    EXPECT_TRUE(vm_->memory().Read(loop.address, bytes).ok());
    return bytes;
  }
  std::string Loop() const { return absl::StrCat(GetParam(), "_loop"); }
  uint64_t LoopStart() { return Symbol(Loop()); }
  uint64_t LoopEnd() { return LoopStart() + vm_->image().FindSymbol(Loop())->size; }

  void ExpectInLoop(const debug::DebugEvent& event) {
    EXPECT_GE(event.rip, LoopStart());
    EXPECT_LT(event.rip, LoopEnd());
  }

  debug::DebugConfig config_;
  uint64_t counter_ = 0;
  uint64_t neighbour_ = 0;
  std::vector<vmm::Memslot> original_slots_;
};

// All-stop: every increment is one event after its store, with the values before
// and after it, and memory holds the new value at the stop.
TEST_P(CounterWatchTest, WriteWatchStopsAfterEveryIncrementWithOldAndNewValue) {
  Create();
  const auto bp = Add(BreakpointKind::kWrite, counter_, 8);
  EXPECT_THAT(bp.mechanism, ::testing::HasSubstr("page protection"));
  EXPECT_THAT(debugger_->State().mechanisms,
              ::testing::Contains(::testing::StartsWith("watchpoints: page protection")));
  Start();
  uint64_t store_rip = 0;
  for (uint64_t hit = 1; hit <= 5; ++hit) {
    const debug::DebugEvent event = Event(hit);
    EXPECT_EQ(event.kind, EventKind::kWatchpoint);
    EXPECT_EQ(event.breakpoint_id, bp.id);
    EXPECT_TRUE(event.stopped);
    EXPECT_TRUE(event.has_address);
    EXPECT_EQ(event.address, counter_);
    EXPECT_EQ(event.access_length, 8u);
    EXPECT_TRUE(event.is_write);
    EXPECT_EQ(event.old_value, hit - 1);
    EXPECT_EQ(event.new_value, hit);
    ExpectInLoop(event);
    // Every increment is the same store: the event is after it each time.
    if (hit == 1) store_rip = event.rip;
    EXPECT_EQ(event.rip, store_rip);
    WaitStopped({0});
    EXPECT_EQ(ReadU64("counter_value"), hit);
    EXPECT_EQ(Rip(0), event.rip);
    ASSERT_TRUE(debugger_->Continue().ok());
  }
  absl::StatusOr<std::vector<debug::BreakpointInfo>> listed = debugger_->ListBreakpoints();
  ASSERT_TRUE(listed.ok());
  EXPECT_GE(listed->at(0).hits, 5u);
}

// Trace: the guest never stops, and the events form an unbroken chain of
// increments (each one's old value is the previous one's new value).
TEST_P(CounterWatchTest, TraceWatchReportsEveryIncrementWithoutStopping) {
  Create(debug::StopMode::kTrace);
  Add(BreakpointKind::kWrite, counter_, 8, /*trace=*/true);
  Start();
  constexpr uint64_t kEvents = 300;
  const std::vector<debug::DebugEvent> events = EventsUpTo(kEvents);
  ASSERT_EQ(events.size(), kEvents);
  for (uint64_t i = 0; i < kEvents; ++i) {
    const debug::DebugEvent& e = events[i];
    EXPECT_EQ(e.sequence, i + 1);
    EXPECT_FALSE(e.stopped);
    EXPECT_EQ(e.new_value, e.old_value + 1) << "event " << i + 1;
    EXPECT_EQ(e.old_value, i) << "an increment was missed or reported twice";
  }
  EXPECT_FALSE(debugger_->State().vcpus[0].stopped);
  EXPECT_EQ(vm_->state(), vmm::VmState::kRunning);
}

// The neighbour shares the page, so every increment of counter_value exits, but
// none of those stores touches the neighbour: its watch never fires.
TEST_P(CounterWatchTest, NeighbourOnTheSamePageNeverFires) {
  Create();
  const auto bp = Add(BreakpointKind::kReadWrite, neighbour_, 8);
  Start();
  ASSERT_NO_FATAL_FAILURE(WaitForConsole(*vm_, absl::StrCat(GetParam(), ": start\n")));
  // Guest memory is read with the vCPU stopped: pvmd itself writes counter_value
  // (completing each store) while it runs.
  ASSERT_TRUE(debugger_->Interrupt().ok());
  const uint64_t exits_before = vm_->vcpus()[0]->exit_count();
  const uint64_t value_before = ReadU64("counter_value");
  ASSERT_TRUE(debugger_->Continue().ok());
  // Each increment is a load and a store on the protected page: two exits.
  WaitUntil([&] { return vm_->vcpus()[0]->exit_count() > exits_before + 2000; },
            "2000 exits from the watched page");
  ASSERT_TRUE(debugger_->Interrupt().ok());
  EXPECT_GE(ReadU64("counter_value"), value_before + 900) << "the counter counts on";
  EXPECT_EQ(debugger_->events()->last_sequence(), 0u);
  absl::StatusOr<std::vector<debug::BreakpointInfo>> listed = debugger_->ListBreakpoints();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->at(0).id, bp.id);
  EXPECT_EQ(listed->at(0).hits, 0u);
  EXPECT_EQ(ReadU64("counter_neighbour"), 0u);
}

// A read/write watch reports the load (after it: the register holds the value)
// and then the store of the same increment.
TEST_P(CounterWatchTest, ReadWriteWatchFiresOnTheLoadThenTheStore) {
  Create();
  Add(BreakpointKind::kReadWrite, counter_, 8);
  Start();
  const debug::DebugEvent load = Event(1);
  EXPECT_FALSE(load.is_write);
  EXPECT_EQ(load.old_value, 0u);
  EXPECT_EQ(load.new_value, 0u);
  ExpectInLoop(load);
  WaitStopped({0});
  EXPECT_EQ(Rip(0), load.rip) << "stopped after the load";
  ASSERT_TRUE(debugger_->Continue().ok());
  const debug::DebugEvent store = Event(2);
  EXPECT_TRUE(store.is_write);
  EXPECT_EQ(store.old_value, 0u);
  EXPECT_EQ(store.new_value, 1u);
  EXPECT_GT(store.rip, load.rip);
  ExpectInLoop(store);
  WaitStopped({0});
  ASSERT_TRUE(debugger_->Continue().ok());
  const debug::DebugEvent next_load = Event(3);
  EXPECT_FALSE(next_load.is_write);
  EXPECT_EQ(next_load.new_value, 1u);
  EXPECT_EQ(next_load.rip, load.rip);
}

// Breakpoints of every kind (a software one on the loop's second instruction,
// which runs once before the first increment), then none: the code is as it was and the memslots
// are the original single slot again.
TEST_P(CounterWatchTest, RemovingEveryBreakpointRestoresMemoryAndMemslots) {
  Create();
  const std::vector<std::byte> code = Code();
  const auto write = Add(BreakpointKind::kWrite, counter_, 8);
  const auto read_write = Add(BreakpointKind::kReadWrite, neighbour_, 8);
  const auto software = Add(BreakpointKind::kSoftware, LoopStart() + 1);
  Start();
  EXPECT_EQ(Event(1).breakpoint_id, software.id) << "the loop's prologue";
  WaitStopped({0});
  ASSERT_TRUE(debugger_->Continue().ok());
  EXPECT_EQ(Event(2).breakpoint_id, write.id) << "the first increment";
  WaitStopped({0});
  EXPECT_NE(vm_->memslots().Slots(), original_slots_);
  EXPECT_EQ(vm_->memslots().protected_pages().size(), 1u);
  for (uint32_t id : {write.id, read_write.id, software.id}) {
    ASSERT_TRUE(debugger_->RemoveBreakpoint(id).ok());
  }
  EXPECT_EQ(vm_->memslots().Slots(), original_slots_);
  EXPECT_TRUE(vm_->memslots().protected_pages().empty());
  EXPECT_EQ(Code(), code);
  ASSERT_TRUE(debugger_->Continue().ok());
  const uint64_t exits = vm_->vcpus()[0]->exit_count();
  const uint64_t value = ReadU64("counter_value");
  WaitUntil([&] { return ReadU64("counter_value") > value + 1000; }, "1000 more increments");
  ASSERT_TRUE(debugger_->Interrupt().ok());
  EXPECT_EQ(debugger_->events()->last_sequence(), 2u) << "nothing fires any more";
  EXPECT_LT(vm_->vcpus()[0]->exit_count(), exits + 1000) << "the increments no longer exit";
}

INSTANTIATE_TEST_SUITE_P(Guests, CounterWatchTest, ::testing::Values("counter", "kcounter"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace pvm::testing
