// Memslot layouts and page watches without KVM: a fake KVM_SET_USER_MEMORY_REGION
// that enforces KVM's rules (no overlap, no resize, no READONLY toggle, ids in
// range), the layouts that carving pages out produces and their exact
// restoration, rollback after a failed ioctl, and PageWatch's exit side on
// hand-made kvm_run MMIO exits against real guest memory.
#include "daemon/debug/page_watch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <cstring>
#include <map>
#include <optional>

#include "absl/strings/str_format.h"
#include "daemon/vmm/memslots.h"

namespace pvm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using vmm::Memslot;
using vmm::PageAccess;

constexpr uint64_t kPage = vmm::kGuestPageSize;
constexpr uint64_t kMemory = 2 << 20;

// KVM's memslot rules, as kvm_set_memory_region applies them.
class FakeKvm {
 public:
  explicit FakeKvm(uint32_t max_slots) : max_slots_(max_slots) {}

  absl::Status Set(uint32_t id, uint64_t gpa, uint64_t size, void* host, uint32_t flags) {
    ++calls_;
    if (fail_at_ != 0 && calls_ == fail_at_) {
      return absl::ResourceExhaustedError("injected failure");
    }
    if (id >= max_slots_ || gpa % kPage != 0 || size % kPage != 0 ||
        (flags & ~uint32_t{KVM_MEM_READONLY}) != 0) {
      return absl::InvalidArgumentError("EINVAL");
    }
    auto it = slots_.find(id);
    if (size == 0) {
      if (it == slots_.end()) {
        return absl::InvalidArgumentError("EINVAL: delete of an absent slot");
      }
      slots_.erase(it);
      return absl::OkStatus();
    }
    if (it != slots_.end()) {
      // Only a move or a flags change that leaves READONLY alone; never a resize.
      if (it->second.size != size || ((it->second.flags ^ flags) & KVM_MEM_READONLY) != 0) {
        return absl::InvalidArgumentError("EINVAL: resize or READONLY change");
      }
    }
    for (const auto& [other_id, other] : slots_) {
      if (other_id != id && gpa < other.gpa + other.size && other.gpa < gpa + size) {
        return absl::AlreadyExistsError("EEXIST: overlap");
      }
    }
    slots_[id] = {gpa, size, flags, host};
    return absl::OkStatus();
  }

  // As Memslot, sorted by gpa.
  std::vector<Memslot> Slots() const {
    std::vector<Memslot> out;
    for (const auto& [id, s] : slots_) {
      out.push_back({id, s.gpa, s.size, (s.flags & KVM_MEM_READONLY) != 0});
    }
    std::sort(out.begin(), out.end(),
              [](const Memslot& a, const Memslot& b) { return a.gpa < b.gpa; });
    return out;
  }
  // Every slot's host address is base + gpa.
  bool HostAddressesMatch(const void* base) const {
    for (const auto& [id, s] : slots_) {
      if (s.host != static_cast<const char*>(base) + s.gpa) {
        return false;
      }
    }
    return true;
  }

  void FailAtCall(uint64_t n) { fail_at_ = calls_ + n; }
  uint64_t calls() const { return calls_; }

 private:
  struct Slot {
    uint64_t gpa, size;
    uint32_t flags;
    void* host;
  };
  uint32_t max_slots_;
  std::map<uint32_t, Slot> slots_;
  uint64_t calls_ = 0;
  uint64_t fail_at_ = 0;
};

class MemslotsTest : public ::testing::Test {
 protected:
  explicit MemslotsTest(uint32_t max_slots = 32)
      : kvm_(max_slots),
        slots_([this](uint32_t id, uint64_t gpa, uint64_t size, void* host,
                      uint32_t flags) { return kvm_.Set(id, gpa, size, host, flags); },
               host_, kMemory) {}

  void SetUp() override { ASSERT_TRUE(slots_.Install({.readonly = true, .max_slots = 32}).ok()); }
  void ExpectOriginal() {
    EXPECT_THAT(kvm_.Slots(), ElementsAre(Memslot{0, 0, kMemory, false}));
    EXPECT_EQ(slots_.Slots(), kvm_.Slots());
    EXPECT_TRUE(slots_.protected_pages().empty());
  }

  // Never dereferenced: the fake only records host addresses.
  char* host_ = reinterpret_cast<char*>(uintptr_t{1} << 40);
  FakeKvm kvm_;
  vmm::Memslots slots_;
};

TEST(LayoutForTest, MergesRunsAndDropsAbsentPages) {
  using vmm::MemRegion;
  EXPECT_THAT(vmm::LayoutFor(kMemory, {}), ElementsAre(MemRegion{0, kMemory, false}));
  EXPECT_THAT(vmm::LayoutFor(kMemory, {{0, PageAccess::kReadOnly}}),
              ElementsAre(MemRegion{0, kPage, true}, MemRegion{kPage, kMemory - kPage, false}));
  EXPECT_THAT(vmm::LayoutFor(kMemory, {{kMemory - kPage, PageAccess::kNone}}),
              ElementsAre(MemRegion{0, kMemory - kPage, false}));
  // Two adjacent read-only pages are one slot; an absent one splits.
  EXPECT_THAT(
      vmm::LayoutFor(kMemory, {{0x5000, PageAccess::kReadOnly},
                               {0x6000, PageAccess::kReadOnly},
                               {0x8000, PageAccess::kNone}}),
      ElementsAre(MemRegion{0, 0x5000, false}, MemRegion{0x5000, 0x2000, true},
                  MemRegion{0x7000, 0x1000, false}, MemRegion{0x9000, kMemory - 0x9000, false}));
}

TEST_F(MemslotsTest, InstallIsOneSlotOverAllMemory) {
  ExpectOriginal();
  EXPECT_TRUE(kvm_.HostAddressesMatch(host_));
  EXPECT_EQ(slots_.Install({}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(MemslotsTest, ReadOnlyPageSplitsTheSlotAndComesBackExactly) {
  const uint64_t page = 0x109000;
  ASSERT_TRUE(slots_.SetPageAccess(page, PageAccess::kReadOnly).ok());
  EXPECT_THAT(kvm_.Slots(), ElementsAre(Memslot{0, 0, page, false}, Memslot{1, page, kPage, true},
                                        Memslot{2, page + kPage, kMemory - page - kPage, false}));
  EXPECT_EQ(slots_.Slots(), kvm_.Slots());
  EXPECT_TRUE(kvm_.HostAddressesMatch(host_));
  EXPECT_EQ(slots_.AccessOf(page + 8), PageAccess::kReadOnly);
  EXPECT_EQ(slots_.AccessOf(page + kPage), PageAccess::kReadWrite);

  ASSERT_TRUE(slots_.SetPageAccess(page, PageAccess::kReadWrite).ok());
  ExpectOriginal();
}

TEST_F(MemslotsTest, AbsentPageLeavesAHoleAndUpgradesKeepTheNeighbours) {
  const uint64_t page = 0x20000;
  ASSERT_TRUE(slots_.SetPageAccess(page, PageAccess::kReadOnly).ok());
  const uint64_t calls = kvm_.calls();
  ASSERT_TRUE(slots_.SetPageAccess(page, PageAccess::kNone).ok());
  // Only the read-only slot goes; both neighbours stay as they were.
  EXPECT_EQ(kvm_.calls(), calls + 1);
  EXPECT_THAT(kvm_.Slots(), ElementsAre(Memslot{0, 0, page, false},
                                        Memslot{2, page + kPage, kMemory - page - kPage, false}));
  ASSERT_TRUE(slots_.SetPageAccess(page, PageAccess::kReadOnly).ok());
  EXPECT_THAT(kvm_.Slots(), ElementsAre(Memslot{0, 0, page, false}, Memslot{1, page, kPage, true},
                                        Memslot{2, page + kPage, kMemory - page - kPage, false}));
  ASSERT_TRUE(slots_.SetPageAccess(page, PageAccess::kReadWrite).ok());
  ExpectOriginal();
}

TEST_F(MemslotsTest, SeveralPagesInAnyOrderEndInTheOriginalLayout) {
  const std::vector<std::pair<uint64_t, PageAccess>> pages = {{0x1ff000, PageAccess::kReadOnly},
                                                              {0x109000, PageAccess::kNone},
                                                              {0x10a000, PageAccess::kReadOnly},
                                                              {0x100000, PageAccess::kNone},
                                                              {0, PageAccess::kReadOnly}};
  for (const auto& [page, access] : pages) {
    ASSERT_TRUE(slots_.SetPageAccess(page, access).ok()) << page;
    EXPECT_EQ(slots_.Slots(), kvm_.Slots());
    EXPECT_TRUE(kvm_.HostAddressesMatch(host_));
  }
  EXPECT_EQ(slots_.protected_pages().size(), pages.size());
  // Ids stay small: as many slots as regions, numbered from 0.
  for (const Memslot& slot : kvm_.Slots()) {
    EXPECT_LT(slot.id, kvm_.Slots().size());
  }
  for (size_t i : {2, 0, 4, 1, 3}) {
    ASSERT_TRUE(slots_.SetPageAccess(pages[i].first, PageAccess::kReadWrite).ok());
  }
  ExpectOriginal();
}

TEST_F(MemslotsTest, RejectsBadPagesAndTooManySlots) {
  EXPECT_EQ(slots_.SetPageAccess(0x1001, PageAccess::kNone).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(slots_.SetPageAccess(kMemory, PageAccess::kNone).code(),
            absl::StatusCode::kInvalidArgument);
  // 32 slots: 16 isolated read-only pages need 33.
  absl::Status last;
  int done = 0;
  for (uint64_t page = 0x10000; done < 16; page += 0x10000, ++done) {
    last = slots_.SetPageAccess(page, PageAccess::kReadOnly);
    if (!last.ok()) {
      break;
    }
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
  EXPECT_THAT(last.message(), HasSubstr("memory slots"));
  EXPECT_EQ(slots_.Slots(), kvm_.Slots());
}

TEST_F(MemslotsTest, AFailedIoctlRestoresThePreviousLayout) {
  ASSERT_TRUE(slots_.SetPageAccess(0x40000, PageAccess::kReadOnly).ok());
  const std::vector<Memslot> before = kvm_.Slots();
  // Moving to read-only at 0x80000 deletes the upper slot and creates three; the
  // third ioctl (second creation) fails.
  kvm_.FailAtCall(3);
  absl::Status s = slots_.SetPageAccess(0x80000, PageAccess::kReadOnly);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(kvm_.Slots(), before);
  EXPECT_EQ(slots_.Slots(), before);
  EXPECT_EQ(slots_.AccessOf(0x80000), PageAccess::kReadWrite);
  ASSERT_TRUE(slots_.SetPageAccess(0x40000, PageAccess::kReadWrite).ok());
  ExpectOriginal();
}

TEST(MemslotsNoReadOnlyTest, ReadOnlyNeedsTheCapability) {
  FakeKvm kvm(32);
  vmm::Memslots slots([&](uint32_t id, uint64_t gpa, uint64_t size, void* host,
                          uint32_t flags) { return kvm.Set(id, gpa, size, host, flags); },
                      nullptr, kMemory);
  ASSERT_TRUE(slots.Install({.readonly = false, .max_slots = 32}).ok());
  EXPECT_EQ(slots.SetPageAccess(0x1000, PageAccess::kReadOnly).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(slots.SetPageAccess(0x1000, PageAccess::kNone).ok());
}

// ---- PageWatch on a fake exit ----

class PageWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<vmm::GuestMemory> memory = vmm::GuestMemory::Create(kMemory);
    ASSERT_TRUE(memory.ok());
    memory_.emplace(*std::move(memory));
    slots_.emplace([this](uint32_t id, uint64_t gpa, uint64_t size, void* host,
                          uint32_t flags) { return kvm_.Set(id, gpa, size, host, flags); },
                   memory_->host_address(), kMemory);
    ASSERT_TRUE(slots_->Install({.readonly = readonly_, .max_slots = 32}).ok());
    watch_.emplace(*memory_, *slots_, [this] { return reserved_; });
  }

  static kvm_run Store(uint64_t gpa, uint32_t len, uint64_t value) {
    kvm_run run{};
    run.exit_reason = KVM_EXIT_MMIO;
    run.mmio.phys_addr = gpa;
    run.mmio.len = len;
    run.mmio.is_write = 1;
    std::memcpy(run.mmio.data, &value, len);
    return run;
  }
  static kvm_run Load(uint64_t gpa, uint32_t len) {
    kvm_run run{};
    run.exit_reason = KVM_EXIT_MMIO;
    run.mmio.phys_addr = gpa;
    run.mmio.len = len;
    std::memset(run.mmio.data, 0xee, sizeof(run.mmio.data));
    return run;
  }
  uint64_t Mem(uint64_t gpa) { return *memory_->ReadObject<uint64_t>(gpa); }

  bool readonly_ = true;
  FakeKvm kvm_{32};
  std::optional<vmm::GuestMemory> memory_;
  std::optional<vmm::Memslots> slots_;
  std::vector<debug::ReservedRange> reserved_;
  std::optional<debug::PageWatch> watch_;
};

debug::PageWatchSpec Spec(uint32_t id, uint64_t gpa, uint32_t length, debug::PageWatchKind kind) {
  return {.id = id, .gva = gpa, .gpa = gpa, .length = length, .kind = kind};
}

TEST_F(PageWatchTest, WriteWatchReportsOldAndNewAndCompletesTheStore) {
  const uint64_t x = 0x109000;
  ASSERT_TRUE(memory_->WriteObject<uint64_t>(x, 41).ok());
  ASSERT_TRUE(watch_->Add(Spec(7, x, 8, debug::PageWatchKind::kWrite)).ok());
  EXPECT_EQ(slots_->AccessOf(x), PageAccess::kReadOnly);

  kvm_run run = Store(x, 8, 42);
  debug::MmioOutcome out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  ASSERT_TRUE(out.hit.has_value());
  EXPECT_EQ(out.hit->watch_id, 7u);
  EXPECT_EQ(out.hit->gpa, x);
  EXPECT_EQ(out.hit->length, 8u);
  EXPECT_TRUE(out.hit->is_write);
  EXPECT_EQ(out.hit->old_value, 41u);
  EXPECT_EQ(out.hit->new_value, 42u);
  EXPECT_EQ(Mem(x), 42u);

  // A 2-byte store into the middle of the watched 8 bytes: that fragment.
  run = Store(x + 2, 2, 0xbeef);
  out = watch_->OnMmio(run);
  ASSERT_TRUE(out.hit.has_value());
  EXPECT_EQ(out.hit->gpa, x + 2);
  EXPECT_EQ(out.hit->old_value, 0u);
  EXPECT_EQ(out.hit->new_value, 0xbeefu);
  EXPECT_EQ(Mem(x), 42u | (uint64_t{0xbeef} << 16));
}

TEST_F(PageWatchTest, OtherAccessesOnThePageCompleteWithoutAHit) {
  const uint64_t x = 0x109010;
  ASSERT_TRUE(watch_->Add(Spec(1, x, 4, debug::PageWatchKind::kWrite)).ok());
  // Just before and just after the 4 watched bytes.
  kvm_run run = Store(x - 8, 8, 0x1122334455667788);
  debug::MmioOutcome out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  EXPECT_FALSE(out.hit.has_value());
  EXPECT_EQ(Mem(x - 8), 0x1122334455667788u);
  run = Store(x + 4, 4, 0xaabbccdd);
  out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  EXPECT_FALSE(out.hit.has_value());
  // A load on a write-watched page is not a hit (and is filled from memory).
  run = Load(x - 8, 8);
  out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  EXPECT_FALSE(out.hit.has_value());
  uint64_t loaded;
  std::memcpy(&loaded, run.mmio.data, 8);
  EXPECT_EQ(loaded, 0x1122334455667788u);
  // Overlapping by one byte is a hit.
  run = Store(x + 3, 1, 0x5a);
  EXPECT_TRUE(watch_->OnMmio(run).hit.has_value());
}

TEST_F(PageWatchTest, ReadWriteWatchMakesThePageAbsentAndReportsLoads) {
  const uint64_t x = 0x109000;
  ASSERT_TRUE(memory_->WriteObject<uint64_t>(x, 0x0102030405060708).ok());
  ASSERT_TRUE(watch_->Add(Spec(3, x, 8, debug::PageWatchKind::kReadWrite)).ok());
  EXPECT_EQ(slots_->AccessOf(x), PageAccess::kNone);
  kvm_run run = Load(x + 4, 4);
  debug::MmioOutcome out = watch_->OnMmio(run);
  ASSERT_TRUE(out.hit.has_value());
  EXPECT_FALSE(out.hit->is_write);
  EXPECT_EQ(out.hit->old_value, 0x01020304u);
  EXPECT_EQ(out.hit->new_value, 0x01020304u);
  uint32_t loaded;
  std::memcpy(&loaded, run.mmio.data, 4);
  EXPECT_EQ(loaded, 0x01020304u);
  // The rest of the page reads as memory too.
  ASSERT_TRUE(memory_->WriteObject<uint16_t>(x + 0x800, 0x4242).ok());
  run = Load(x + 0x800, 2);
  out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  EXPECT_FALSE(out.hit.has_value());
  EXPECT_EQ(run.mmio.data[0], 0x42);
  EXPECT_EQ(run.mmio.data[2], 0xee);  // beyond len: untouched
}

TEST_F(PageWatchTest, PageAccessFollowsTheWatchesOnIt) {
  const uint64_t page = 0x109000;
  ASSERT_TRUE(watch_->Add(Spec(1, page + 8, 8, debug::PageWatchKind::kWrite)).ok());
  ASSERT_TRUE(watch_->Add(Spec(2, page + 16, 8, debug::PageWatchKind::kReadWrite)).ok());
  EXPECT_EQ(slots_->AccessOf(page), PageAccess::kNone);
  ASSERT_TRUE(watch_->Add(Spec(3, page + 24, 4, debug::PageWatchKind::kWrite)).ok());
  EXPECT_EQ(watch_->Pages().size(), 1u);
  ASSERT_TRUE(watch_->Remove(2).ok());
  EXPECT_EQ(slots_->AccessOf(page), PageAccess::kReadOnly);
  ASSERT_TRUE(watch_->Remove(1).ok());
  EXPECT_EQ(slots_->AccessOf(page), PageAccess::kReadOnly);
  ASSERT_TRUE(watch_->Remove(3).ok());
  EXPECT_THAT(kvm_.Slots(), ElementsAre(Memslot{0, 0, kMemory, false}));
  EXPECT_EQ(watch_->Remove(3).code(), absl::StatusCode::kNotFound);
}

TEST_F(PageWatchTest, FirstAddedWatchWinsAnAccessThatOverlapsTwo) {
  const uint64_t x = 0x109000;
  ASSERT_TRUE(watch_->Add(Spec(5, x + 4, 4, debug::PageWatchKind::kWrite)).ok());
  ASSERT_TRUE(watch_->Add(Spec(6, x, 8, debug::PageWatchKind::kWrite)).ok());
  kvm_run run = Store(x, 8, 1);
  EXPECT_EQ(watch_->OnMmio(run).hit->watch_id, 5u);
}

TEST_F(PageWatchTest, RefusesBadSpecs) {
  using debug::PageWatchKind;
  EXPECT_EQ(watch_->Add(Spec(1, 0x109000, 3, PageWatchKind::kWrite)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(watch_->Add(Spec(1, 0x109004, 8, PageWatchKind::kWrite)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(watch_->Add(Spec(1, kMemory, 8, PageWatchKind::kWrite)).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(watch_->Add(Spec(1, 0x109000, 8, PageWatchKind::kWrite)).ok());
  EXPECT_EQ(watch_->Add(Spec(1, 0x10a000, 8, PageWatchKind::kWrite)).code(),
            absl::StatusCode::kInvalidArgument);
  for (uint32_t id = 2; id <= debug::PageWatch::kMaxWatches; ++id) {
    ASSERT_TRUE(watch_->Add(Spec(id, 0x109000 + 8 * id, 8, PageWatchKind::kWrite)).ok());
  }
  EXPECT_EQ(watch_->Add(Spec(1000, 0x10a000, 8, PageWatchKind::kWrite)).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(watch_->RemoveAll().ok());
  EXPECT_EQ(watch_->size(), 0u);
  EXPECT_THAT(kvm_.Slots(), ElementsAre(Memslot{0, 0, kMemory, false}));
}

TEST_F(PageWatchTest, ReservedPagesRefuseWhatKvmNeeds) {
  using debug::PageWatchKind;
  reserved_ = {{0x101000, 0x100, true, "the GDT of vCPU 0"},
               {0x106060, 0x800, false, "the IDT of vCPU 0"}};
  absl::Status s = watch_->Add(Spec(1, 0x101800, 8, PageWatchKind::kWrite));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("the GDT of vCPU 0"));
  // The IDT is only read by KVM: read-only is fine, absent is not.
  EXPECT_TRUE(watch_->Add(Spec(2, 0x106988, 8, PageWatchKind::kWrite)).ok());
  s = watch_->Add(Spec(3, 0x106988, 8, PageWatchKind::kReadWrite));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("the IDT of vCPU 0"));
  EXPECT_THAT(s.message(), HasSubstr("absent"));
  EXPECT_FALSE(watch_->Contains(3));
  EXPECT_EQ(slots_->AccessOf(0x106000), PageAccess::kReadOnly);
}

TEST_F(PageWatchTest, AccessesOutsideMemoryAreNotOurs) {
  ASSERT_TRUE(watch_->Add(Spec(1, 0x109000, 8, debug::PageWatchKind::kReadWrite)).ok());
  kvm_run run = Load(kMemory, 4);
  EXPECT_FALSE(watch_->OnMmio(run).completed);
  run = Load(kMemory - 4, 8);  // straddles the end
  EXPECT_FALSE(watch_->OnMmio(run).completed);
  run = Load(0x109000, 0);
  EXPECT_FALSE(watch_->OnMmio(run).completed);
  // Guest RAM on a page no longer watched (the rest of an instruction that began
  // before a Remove) is still memory.
  ASSERT_TRUE(memory_->WriteObject<uint32_t>(0x50000, 77).ok());
  run = Load(0x50000, 4);
  debug::MmioOutcome out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  EXPECT_FALSE(out.hit.has_value());
  EXPECT_EQ(run.mmio.data[0], 77);
}

class PageWatchNoReadOnlyTest : public PageWatchTest {
 protected:
  PageWatchNoReadOnlyTest() { readonly_ = false; }
};

TEST_F(PageWatchNoReadOnlyTest, WriteWatchesFallBackToAbsentPages) {
  ASSERT_TRUE(watch_->Add(Spec(1, 0x109000, 8, debug::PageWatchKind::kWrite)).ok());
  EXPECT_EQ(slots_->AccessOf(0x109000), PageAccess::kNone);
  // Loads now exit too, but only stores hit a write watch.
  kvm_run run = Load(0x109000, 8);
  debug::MmioOutcome out = watch_->OnMmio(run);
  EXPECT_TRUE(out.completed);
  EXPECT_FALSE(out.hit.has_value());
}

}  // namespace
}  // namespace pvm
