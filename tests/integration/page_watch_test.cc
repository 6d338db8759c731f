// Watchpoints by page protection on the real /dev/kvm (kvm-pvm here never fires
// DR7 data breakpoints): split memslots, MMIO exits completed against guest
// memory, hits only inside the watched range, and the exact layout restored.
//
// Guests: kstep (CPL0, emulated) and ustep (CPL3, native) store the pass number
// r14 to watched_value (alone on its page) at *watch_store and load it back at
// *watch_load; counter (CPL3, native) increments counter_value, whose page also
// holds pvm_mem_size, console state and the IDT.
//
// The hook below stands in for the debug engine: it hands every MMIO exit to
// PageWatch and records what came back, with the synced registers of the exit.
#include "daemon/debug/page_watch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/guest_abi.h"
#include "daemon/vmm/memslots.h"
#include "daemon/vmm/page_tables.h"
#include "tests/integration/guest_harness.h"
#include "tests/integration/guest_test.h"

namespace pvm::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using vmm::Memslot;
using vmm::PageAccess;

constexpr uint64_t kPage = vmm::kGuestPageSize;

struct RecordedHit {
  debug::WatchHit hit;
  uint64_t rip = 0;
  uint64_t r14 = 0;
  uint64_t r11 = 0;
};

class WatchHook final : public vmm::DebugExitHook {
 public:
  explicit WatchHook(vmm::Vm& vm) : watch(vm) {}

  std::optional<vmm::ExitDecision> OnDebugExit(uint32_t, vmm::VcpuFd&) override {
    return std::nullopt;
  }
  std::optional<vmm::ExitDecision> OnInstructionExit(uint32_t, vmm::VcpuFd&) override {
    return std::nullopt;
  }
  std::optional<vmm::ExitDecision> OnMmioExit(uint32_t, vmm::VcpuFd& fd) override {
    mmio_exits.fetch_add(1);
    if (fd.run().mmio.phys_addr == counted_gpa.load()) {
      counted_exits.fetch_add(1);
    }
    debug::MmioOutcome out = watch.OnMmio(fd.run());
    if (!out.completed) {
      return std::nullopt;
    }
    if (!out.hit) {
      return vmm::ExitDecision{};
    }
    const kvm_regs& regs = fd.run().s.regs.regs;
    {
      std::lock_guard lock(mu);
      hits.push_back({*out.hit, regs.rip, regs.r14, regs.r11});
    }
    hit_count.fetch_add(1);
    if (stop_on_hit.load()) {
      return vmm::ExitDecision{vmm::ExitAction::kPark, ""};
    }
    return vmm::ExitDecision{};
  }
  void OnVcpuEnded(uint32_t) override {}
  void OnVmShutdown() override {}

  std::vector<RecordedHit> Hits() {
    std::lock_guard lock(mu);
    return hits;
  }

  debug::PageWatch watch;
  std::atomic<uint64_t> mmio_exits{0};
  std::atomic<uint64_t> hit_count{0};
  std::atomic<uint64_t> counted_gpa{~uint64_t{0}};  // exits at this GPA are counted apart
  std::atomic<uint64_t> counted_exits{0};
  std::atomic<bool> stop_on_hit{false};
  std::mutex mu;
  std::vector<RecordedHit> hits;
};

class PageWatchTest : public GuestTest {
 protected:
  void TearDown() override {
    if (vm_ != nullptr) {
      vm_->Shutdown();
    }
  }

  void Start(const std::string& guest, const std::string& ready) {
    vm_ = StartGuest(guest, guest);
    ASSERT_NE(vm_, nullptr);
    hook_ =
        &static_cast<WatchHook&>(vm_->DebugHook([&] { return std::make_unique<WatchHook>(*vm_); }));
    ASSERT_THAT(WaitForConsole(*vm_, ready), HasSubstr(ready));
    original_ = vm_->memslots().Slots();
    ASSERT_THAT(original_, ElementsAre(Memslot{0, 0, vm_->memory().size(), false}));
  }

  uint64_t Symbol(const std::string& name) const {
    std::optional<vmm::GuestSymbol> symbol = vm_->image().FindSymbol(name);
    EXPECT_TRUE(symbol.has_value()) << "no symbol " << name;
    return symbol ? symbol->address : 0;
  }
  uint64_t Mem(uint64_t gpa) const {
    absl::StatusOr<uint64_t> value = vm_->memory().ReadObject<uint64_t>(gpa);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : 0;
  }

  // Runs fn with every vCPU parked; the VM keeps running afterwards.
  void Parked(const std::function<void()>& fn) {
    ASSERT_TRUE(vm_->WithAllParked([&] {
                     fn();
                     return absl::OkStatus();
                   })
                    .ok());
  }
  kvm_regs Regs(uint32_t vcpu = 0) {
    absl::StatusOr<kvm_regs> regs = vm_->vcpus().at(vcpu)->fd().GetRegs();
    EXPECT_TRUE(regs.ok()) << regs.status();
    return regs.ok() ? *regs : kvm_regs{};
  }
  // Guest-virtual to guest-physical through vCPU 0's tables, as the engine will.
  uint64_t Gpa(uint64_t gva) {
    absl::StatusOr<kvm_sregs> sregs = vm_->vcpus().at(0)->fd().GetSregs();
    EXPECT_TRUE(sregs.ok());
    absl::StatusOr<vmm::Translation> t = vmm::TranslateGva(vm_->memory(), sregs->cr3, gva);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->gpa : 0;
  }
  absl::Status AddWatch(uint32_t id, uint64_t gva, uint32_t length, debug::PageWatchKind kind) {
    return hook_->watch.Add(
        {.id = id, .gva = gva, .gpa = Gpa(gva), .length = length, .kind = kind});
  }

  // Polls (bounded by kPatience) until pred holds.
  void ExpectOriginalLayout() {
    EXPECT_EQ(vm_->memslots().Slots(), original_);
    EXPECT_TRUE(vm_->memslots().protected_pages().empty());
  }

  std::shared_ptr<vmm::Vm> vm_;
  WatchHook* hook_ = nullptr;
  std::vector<Memslot> original_;
};

// The stepping loop's symbols for one guest, and what its state must be at a stop.
struct StepLoop {
  uint64_t loop, inc, store, after_store, load, after_load, watched, counters;

  // Pass N has r14 == N from just after the loop head; at the head itself r14 is
  // the pass just finished. An instruction at address `at` has run in the current
  // pass iff rip is past it, or rip is at the head.
  static bool Done(const kvm_regs& regs, uint64_t at, uint64_t loop) {
    return regs.rip > at || regs.rip == loop;
  }
  uint64_t Stored(const kvm_regs& r) const { return Done(r, store, loop) ? r.r14 : r.r14 - 1; }
  uint64_t Counted(const kvm_regs& r) const { return Done(r, inc, loop) ? r.r14 : r.r14 - 1; }
  // Loads whose value was added to r12 (at after_load).
  uint64_t Loads(const kvm_regs& r) const { return Done(r, after_load, loop) ? r.r14 : r.r14 - 1; }
  // Loads that retired (RIP past them).
  uint64_t LoadsRetired(const kvm_regs& r) const { return Done(r, load, loop) ? r.r14 : r.r14 - 1; }
};

class StepLoopWatchTest : public PageWatchTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    PageWatchTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    const std::string guest = GetParam();
    const std::string p = guest;  // kstep / ustep
    const std::string w = guest == "kstep" ? "kwatch" : "uwatch";
    ASSERT_NO_FATAL_FAILURE(Start(guest, absl::StrCat(guest, ": vcpu 0 up")));
    s_ = {Symbol(p + "_loop"),        Symbol(p + "_inc"),     Symbol(w + "_store"),
          Symbol(w + "_after_store"), Symbol(w + "_load"),    Symbol(w + "_after_load"),
          Symbol("watched_value"),    Symbol(p + "_counters")};
    // Let the loop run a few passes first.
    WaitUntil([&] { return Mem(s_.watched) > 3; }, "the loop to store");
  }

  // The guest's computation at a stop: every store, increment and load so far.
  void ExpectConsistent(const kvm_regs& r) {
    EXPECT_GE(r.rip, s_.loop);
    EXPECT_LE(r.rip, s_.after_load + 3) << "vCPU 0 outside the loop";
    EXPECT_EQ(Mem(s_.watched), s_.Stored(r)) << "rip 0x" << std::hex << r.rip;
    EXPECT_EQ(Mem(s_.counters), s_.Counted(r)) << "rip 0x" << std::hex << r.rip;
    const uint64_t n = s_.Loads(r);
    EXPECT_EQ(r.r12, n * (n + 1) / 2) << "the loads saw other values than were stored";
  }

  StepLoop s_{};
};

// Every store to watched_value hits once, with the value before and after it and
// RIP already on the next instruction; nothing else exits; after the removal the
// layout is the original one and nothing exits any more.
TEST_P(StepLoopWatchTest, WriteWatchReportsEveryStore) {
  uint64_t v0 = 0;
  Parked([&] {
    ASSERT_TRUE(AddWatch(1, s_.watched, 8, debug::PageWatchKind::kWrite).ok());
    v0 = Mem(s_.watched);
    const uint64_t page = s_.watched & ~(kPage - 1);
    const uint64_t size = vm_->memory().size();
    EXPECT_THAT(vm_->memslots().Slots(),
                ElementsAre(Memslot{0, 0, page, false}, Memslot{1, page, kPage, true},
                            Memslot{2, page + kPage, size - page - kPage, false}));
  });
  WaitUntil([&] { return hook_->hit_count.load() >= 50; }, "50 hits");

  uint64_t v1 = 0;
  uint64_t exits = 0;
  Parked([&] {
    const kvm_regs r = Regs();
    ExpectConsistent(r);
    v1 = Mem(s_.watched);
    exits = hook_->mmio_exits.load();
    ASSERT_TRUE(hook_->watch.Remove(1).ok());
    ExpectOriginalLayout();
  });
  const std::vector<RecordedHit> hits = hook_->Hits();
  EXPECT_EQ(hits.size(), v1 - v0) << "a store was missed or reported twice";
  EXPECT_EQ(exits, hits.size()) << "only the watched stores may exit";
  for (size_t i = 0; i < hits.size(); ++i) {
    const RecordedHit& h = hits[i];
    EXPECT_EQ(h.hit.watch_id, 1u);
    EXPECT_TRUE(h.hit.is_write);
    EXPECT_EQ(h.hit.gpa, s_.watched);
    EXPECT_EQ(h.hit.length, 8u);
    EXPECT_EQ(h.rip, s_.after_store) << "hit " << i;
    EXPECT_EQ(h.hit.new_value, h.r14) << "hit " << i;
    EXPECT_EQ(h.hit.old_value, h.r14 - 1) << "hit " << i;
    EXPECT_EQ(h.hit.new_value, v0 + 1 + i);
  }

  // Back to normal memory: the loop goes on and KVM exits no more.
  const uint64_t c = Mem(s_.counters);
  WaitUntil([&] { return Mem(s_.counters) > c + 1000; }, "1000 more passes");
  Parked([&] {
    EXPECT_EQ(hook_->mmio_exits.load(), exits);
    ExpectConsistent(Regs());
  });
}

// A read/write watch makes the page absent: the load hits too, with the stored
// value, while RIP is still on the load (KVM finishes it on the next entry); the
// loads' sum in r12 proves every load got the stored value.
TEST_P(StepLoopWatchTest, ReadWriteWatchReportsLoadsAndStores) {
  uint64_t v0 = 0;
  uint64_t loads0 = 0;
  Parked([&] {
    loads0 = s_.LoadsRetired(Regs());
    ASSERT_TRUE(AddWatch(2, s_.watched, 8, debug::PageWatchKind::kReadWrite).ok());
    v0 = Mem(s_.watched);
    const uint64_t page = s_.watched & ~(kPage - 1);
    EXPECT_THAT(vm_->memslots().Slots(),
                ElementsAre(Memslot{0, 0, page, false},
                            Memslot{1, page + kPage, vm_->memory().size() - page - kPage, false}));
  });
  WaitUntil([&] { return hook_->hit_count.load() >= 100; }, "100 hits");

  uint64_t v1 = 0;
  uint64_t loads1 = 0;
  kvm_regs r{};
  uint64_t exits = 0;
  Parked([&] {
    r = Regs();
    ExpectConsistent(r);
    v1 = Mem(s_.watched);
    loads1 = s_.LoadsRetired(r);
    exits = hook_->mmio_exits.load();
    ASSERT_TRUE(hook_->watch.Remove(2).ok());
    ExpectOriginalLayout();
  });
  const std::vector<RecordedHit> hits = hook_->Hits();
  ASSERT_FALSE(hits.empty());
  // A load the VMM completed (hit recorded) that KVM has not finished yet: RIP
  // still on it.
  const bool load_pending = r.rip == s_.load && !hits.back().hit.is_write;
  uint64_t writes = 0;
  uint64_t reads = 0;
  for (const RecordedHit& h : hits) {
    EXPECT_EQ(h.hit.watch_id, 2u);
    EXPECT_EQ(h.hit.gpa, s_.watched);
    EXPECT_EQ(h.hit.length, 8u);
    if (h.hit.is_write) {
      ++writes;
      EXPECT_EQ(h.rip, s_.after_store);
      EXPECT_EQ(h.hit.new_value, h.r14);
      EXPECT_EQ(h.hit.old_value, h.r14 - 1);
    } else {
      ++reads;
      EXPECT_EQ(h.rip, s_.load) << "a load exits before it completes";
      EXPECT_EQ(h.hit.new_value, h.r14) << "the load reads this pass's store";
      EXPECT_EQ(h.hit.old_value, h.hit.new_value);
    }
  }
  EXPECT_EQ(writes, v1 - v0);
  EXPECT_EQ(reads, loads1 - loads0 + (load_pending ? 1 : 0));
  EXPECT_EQ(exits, writes + reads);

  const uint64_t c = Mem(s_.counters);
  WaitUntil([&] { return Mem(s_.counters) > c + 1000; }, "1000 more passes");
  Parked([&] {
    EXPECT_EQ(hook_->mmio_exits.load(), exits);
    ExpectConsistent(Regs());  // the pending load finished with the right value
  });
}

// Two pages at once, one read-only and one absent, with watches that the guest
// never touches: the counter's incq on an absent page becomes a load exit and a
// store exit, and the loop computes exactly what it would without watches.
TEST_P(StepLoopWatchTest, WatchesOnTwoPagesAndNoHitsOutsideTheirRanges) {
  const uint64_t unused_counter = s_.counters + 8 * 8;  // vCPU 1's element: no vCPU 1
  const uint64_t neighbour = s_.watched + 8;            // same page, never accessed
  Parked([&] {
    ASSERT_TRUE(AddWatch(3, neighbour, 8, debug::PageWatchKind::kWrite).ok());
    ASSERT_TRUE(AddWatch(4, unused_counter, 8, debug::PageWatchKind::kReadWrite).ok());
    const uint64_t counters_page = s_.counters & ~(kPage - 1);
    const uint64_t watched_page = s_.watched & ~(kPage - 1);
    ASSERT_EQ(counters_page + kPage, watched_page);
    EXPECT_THAT(hook_->watch.Pages(), ElementsAre(std::pair{counters_page, PageAccess::kNone},
                                                  std::pair{watched_page, PageAccess::kReadOnly}));
    EXPECT_THAT(
        vm_->memslots().Slots(),
        ElementsAre(
            Memslot{0, 0, counters_page, false}, Memslot{1, watched_page, kPage, true},
            Memslot{2, watched_page + kPage, vm_->memory().size() - watched_page - kPage, false}));
  });
  WaitUntil([&] { return hook_->mmio_exits.load() >= 300; }, "300 MMIO exits");
  Parked([&] {
    ExpectConsistent(Regs());
    EXPECT_EQ(hook_->hit_count.load(), 0u);
    ASSERT_TRUE(hook_->watch.Remove(4).ok());
    ASSERT_TRUE(hook_->watch.Remove(3).ok());
    ExpectOriginalLayout();
  });
  const uint64_t exits = hook_->mmio_exits.load();
  const uint64_t c = Mem(s_.counters);
  WaitUntil([&] { return Mem(s_.counters) > c + 1000; }, "1000 more passes");
  Parked([&] {
    EXPECT_EQ(hook_->mmio_exits.load(), exits);
    ExpectConsistent(Regs());
  });
}

// Stopping at hits: a store's hit parks with the store done and RIP past it; a
// load's hit parks with RIP on the load, and a KVM_RUN with immediate_exit set
// finishes the load (r11 gets the value) without running further.
TEST_P(StepLoopWatchTest, StopsAtHitsAndALoadCompletesOnImmediateExit) {
  hook_->stop_on_hit.store(true);
  Parked([&] { ASSERT_TRUE(AddWatch(5, s_.watched, 8, debug::PageWatchKind::kReadWrite).ok()); });
  vmm::Vcpu& vcpu = *vm_->vcpus().at(0);
  // The first hit may be either kind; go until one of each has been seen.
  bool saw_store = false;
  bool saw_load = false;
  for (int i = 0; i < 4 && !(saw_store && saw_load); ++i) {
    WaitUntil([&] { return hook_->hit_count.load() > static_cast<uint64_t>(i); }, "a hit");
    vcpu.WaitUntilParked();
    const RecordedHit h = hook_->Hits().back();
    ASSERT_TRUE(vcpu.WithParked([&](vmm::VcpuFd& fd) -> absl::Status {
                      absl::StatusOr<kvm_regs> r = fd.GetRegs();
                      EXPECT_TRUE(r.ok());
                      if (h.hit.is_write) {
                        saw_store = true;
                        EXPECT_EQ(r->rip, s_.after_store);
                        EXPECT_EQ(Mem(s_.watched), r->r14);
                        return absl::OkStatus();
                      }
                      saw_load = true;
                      EXPECT_EQ(r->rip, s_.load);
                      EXPECT_NE(r->r11, h.hit.new_value) << "not loaded yet";
                      fd.SetImmediateExit(true);
                      absl::StatusOr<vmm::RunOutcome> run = fd.Run();
                      EXPECT_TRUE(run.ok() && *run == vmm::RunOutcome::kInterrupted);
                      r = fd.GetRegs();
                      EXPECT_EQ(r->rip, s_.after_load);
                      EXPECT_EQ(r->r11, h.hit.new_value);
                      return absl::OkStatus();
                    })
                    .ok());
    vcpu.Run();
  }
  EXPECT_TRUE(saw_store);
  EXPECT_TRUE(saw_load);
  hook_->stop_on_hit.store(false);
  Parked([&] {
    ASSERT_TRUE(hook_->watch.RemoveAll().ok());
    ExpectOriginalLayout();
  });
  vcpu.Run();  // the VM runs; vCPU 0 was parked by its own hit
  const uint64_t c = Mem(s_.counters);
  WaitUntil([&] { return Mem(s_.counters) > c + 1000; }, "1000 more passes");
  Parked([&] { ExpectConsistent(Regs()); });
}

INSTANTIATE_TEST_SUITE_P(Guests, StepLoopWatchTest, ::testing::Values("kstep", "ustep"),
                         [](const auto& info) { return std::string(info.param); });

// counter_value's page (the image's watch page) also holds counter_neighbour, which
// the guest never touches: a write watch there makes every increment of
// counter_value exit, but none of them hits; the counter counts on.
TEST_F(PageWatchTest, NeighbourOnTheSamePageNeverHits) {
  ASSERT_NO_FATAL_FAILURE(Start("counter", "counter: start"));
  const uint64_t counter = Symbol("counter_value");
  const uint64_t neighbour = Symbol("counter_neighbour");
  ASSERT_EQ(counter & ~(kPage - 1), neighbour & ~(kPage - 1));
  ASSERT_EQ(neighbour % 8, 0u);
  const uint64_t neighbour_value = Mem(neighbour);
  uint64_t c0 = 0;
  hook_->counted_gpa.store(counter);
  Parked([&] {
    ASSERT_TRUE(AddWatch(1, neighbour, 8, debug::PageWatchKind::kWrite).ok());
    c0 = Mem(counter);
  });
  WaitUntil([&] { return hook_->mmio_exits.load() >= 1000; }, "1000 MMIO exits");
  uint64_t c1 = 0;
  uint64_t exits = 0;
  Parked([&] {
    c1 = Mem(counter);
    exits = hook_->mmio_exits.load();
    ASSERT_TRUE(hook_->watch.Remove(1).ok());
    ExpectOriginalLayout();
  });
  EXPECT_EQ(hook_->hit_count.load(), 0u);
  EXPECT_EQ(hook_->counted_exits.load(), c1 - c0) << "one exit per increment, completed once";
  EXPECT_EQ(exits, hook_->counted_exits.load()) << "nothing else lives on the watch page";
  EXPECT_EQ(Mem(neighbour), neighbour_value);
  // Natively again: a million increments take about a millisecond.
  WaitUntil([&] { return Mem(counter) > c1 + 1'000'000; }, "a million increments");
  EXPECT_EQ(hook_->mmio_exits.load(), exits);
}

// What KVM needs itself is refused, and the layout stays as it was.
TEST_F(PageWatchTest, RefusesPagesKvmUsesItself) {
  ASSERT_NO_FATAL_FAILURE(Start("counter", "counter: start"));
  struct Case {
    uint64_t gva;
    debug::PageWatchKind kind;
    const char* why;
  };
  Parked([&] {
    absl::StatusOr<kvm_sregs> sregs = vm_->vcpus().at(0)->fd().GetSregs();
    ASSERT_TRUE(sregs.ok());
    const std::vector<Case> cases = {
        {sregs->idt.base, debug::PageWatchKind::kReadWrite, "the IDT of vCPU 0"},
        {sregs->gdt.base, debug::PageWatchKind::kWrite, "the GDT of vCPU 0"},
        {PVM_BOOT_PML4_GPA, debug::PageWatchKind::kWrite, "boot area"},
        {Symbol("counter_loop"), debug::PageWatchKind::kReadWrite, "code"},
    };
    uint32_t id = 1;
    for (const Case& c : cases) {
      absl::Status s = AddWatch(id++, c.gva, 8, c.kind);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.why << ": " << s;
      EXPECT_THAT(s.message(), HasSubstr(c.why));
    }
    EXPECT_EQ(hook_->watch.size(), 0u);
    ExpectOriginalLayout();

    // What the check knows about: each structure where the vCPU really has it.
    absl::StatusOr<std::vector<debug::ReservedRange>> reserved = debug::ReservedGuestPages(*vm_);
    ASSERT_TRUE(reserved.ok()) << reserved.status();
    auto covers = [&](uint64_t gpa, const std::string& what, bool kvm_writes) {
      for (const debug::ReservedRange& r : *reserved) {
        if (r.gpa <= gpa && gpa < r.gpa + r.size && r.what.find(what) != std::string::npos) {
          EXPECT_EQ(r.kvm_writes, kvm_writes) << what;
          return true;
        }
      }
      return false;
    };
    EXPECT_TRUE(covers(Gpa(sregs->gdt.base), "the GDT of vCPU 0", true));
    EXPECT_TRUE(covers(Gpa(sregs->idt.base + sregs->idt.limit), "the IDT of vCPU 0", false));
    EXPECT_TRUE(covers(Gpa(sregs->tr.base + 0x60), "the TSS of vCPU 0", false));
    EXPECT_TRUE(covers(sregs->cr3 & ~(kPage - 1), "a page table of vCPU 0", true));
    absl::StatusOr<uint64_t> rsp0 = vm_->memory().ReadObject<uint64_t>(Gpa(sregs->tr.base + 4));
    ASSERT_TRUE(rsp0.ok());
    EXPECT_TRUE(covers(Gpa(*rsp0 - 8), "the exception stack of vCPU 0", true));
    EXPECT_TRUE(covers(Symbol("counter_loop"), "code", false));
    // counter_value's page holds the IDT, which KVM only reads: a write watch there
    // (NeighbourOnTheSamePageNeverHits) is allowed.
    const uint64_t counter_page = Symbol("counter_value") & ~(kPage - 1);
    for (const debug::ReservedRange& r : *reserved) {
      if (r.gpa < counter_page + kPage && counter_page < r.gpa + r.size) {
        EXPECT_FALSE(r.kvm_writes) << r.what;
      }
    }
  });
}

}  // namespace
}  // namespace pvm::testing
