#include "daemon/vmm/page_tables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "daemon/vmm/guest_memory.h"
#include "guests/runtime/pvm_boot_abi.h"

namespace pvm::vmm {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kP = 1 << 0;
constexpr uint64_t kRW = 1 << 1;
constexpr uint64_t kUS = 1 << 2;
constexpr uint64_t kPS = 1 << 7;
constexpr uint64_t kNX = 1ull << 63;
constexpr uint64_t kAll = kP | kRW | kUS;
constexpr uint64_t k2M = 2ull << 20;
constexpr uint64_t k1G = 1ull << 30;

GuestMemory MakeMemory(uint64_t size) {
  absl::StatusOr<GuestMemory> memory = GuestMemory::Create(size);
  EXPECT_TRUE(memory.ok()) << memory.status();
  return *std::move(memory);
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t Entry(const GuestMemory& memory, uint64_t gpa) {
  absl::StatusOr<uint64_t> e = memory.ReadObject<uint64_t>(gpa);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.value_or(~0ull);
}

// ---- The boot identity map -------------------------------------------------

TEST(IdentityMapTest, WritesTheDocumentedEntries) {
  GuestMemory memory = MakeMemory(64 * k2M);
  ASSERT_TRUE(BuildIdentityMap(memory).ok());
  EXPECT_EQ(Entry(memory, PVM_BOOT_PML4_GPA), PVM_BOOT_PDPT_GPA | kAll);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PML4_GPA + 8), 0u);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PDPT_GPA), PVM_BOOT_PD_GPA | kAll);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PDPT_GPA + 8), 0u);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PD_GPA), 0 | kAll | kPS);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PD_GPA + 63 * 8), 63 * k2M | kAll | kPS);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PD_GPA + 64 * 8), 0u);
}

TEST(IdentityMapTest, EveryAddressTranslatesToItself) {
  for (uint64_t size : {k2M, 6 * k2M, k1G, k1G + k2M, 3 * k1G - k2M}) {
    SCOPED_TRACE(size);
    GuestMemory memory = MakeMemory(size);
    ASSERT_TRUE(BuildIdentityMap(memory).ok());
    std::vector<uint64_t> probes = {0, 1, 0xfff, 0x1000, PVM_BOOT_IMAGE_BASE, size - 1, size - 8};
    for (uint64_t page = 0; page < size; page += k2M) {
      probes.push_back(page);
      probes.push_back(page + k2M - 1);
      probes.push_back(page + 0x12345);
    }
    for (uint64_t gva : probes) {
      absl::StatusOr<Translation> t = TranslateGva(memory, PVM_BOOT_PML4_GPA, gva);
      ASSERT_TRUE(t.ok()) << std::hex << gva << ": " << t.status();
      EXPECT_EQ(t->gpa, gva);
      EXPECT_EQ(t->page_size, k2M);
      EXPECT_TRUE(t->writable);
      EXPECT_TRUE(t->user);
    }
  }
}

TEST(IdentityMapTest, NothingIsMappedBeyondMemory) {
  // Inside the last page directory: its next entry is empty.
  GuestMemory small = MakeMemory(6 * k2M);
  ASSERT_TRUE(BuildIdentityMap(small).ok());
  absl::StatusOr<Translation> t = TranslateGva(small, PVM_BOOT_PML4_GPA, 6 * k2M);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PDE"));

  // A whole number of GiB: the next page-directory pointer is empty.
  GuestMemory one_gib = MakeMemory(k1G);
  ASSERT_TRUE(BuildIdentityMap(one_gib).ok());
  t = TranslateGva(one_gib, PVM_BOOT_PML4_GPA, k1G);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PDPTE"));

  // Beyond the first 512 GiB: the PML4 has a single entry.
  t = TranslateGva(one_gib, PVM_BOOT_PML4_GPA, 1ull << 39);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PML4E"));
}

TEST(IdentityMapTest, MapsTheLargestSupportedMemory) {
  const uint64_t size = uint64_t{PVM_BOOT_MAX_PD_PAGES} * k1G;  // MAP_NORESERVE: cheap
  GuestMemory memory = MakeMemory(size);
  ASSERT_TRUE(BuildIdentityMap(memory).ok());
  for (uint64_t gva : {uint64_t{0}, size / 2 + 0x777, size - 1}) {
    absl::StatusOr<Translation> t = TranslateGva(memory, PVM_BOOT_PML4_GPA, gva);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->gpa, gva);
  }
  EXPECT_EQ(Entry(memory, PVM_BOOT_PDPT_GPA + (PVM_BOOT_MAX_PD_PAGES - 1) * 8),
            (PVM_BOOT_PD_GPA + (PVM_BOOT_MAX_PD_PAGES - 1) * 0x1000) | kAll);
}

TEST(IdentityMapTest, RefusesMemoryItCannotMapExactly) {
  GuestMemory too_big = MakeMemory(uint64_t{PVM_BOOT_MAX_PD_PAGES} * k1G + k2M);
  absl::Status s = BuildIdentityMap(too_big);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("exceeds the 8 GiB"));

  GuestMemory odd = MakeMemory(3 << 20);
  s = BuildIdentityMap(odd);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("0x300000 is not a non-zero multiple of 2 MiB"));
}

TEST(IdentityMapTest, RebuildingClearsStaleEntries) {
  GuestMemory memory = MakeMemory(4 * k2M);
  for (uint64_t gpa = PVM_BOOT_PML4_GPA; gpa < PVM_BOOT_PD_GPA + 0x1000; gpa += 8) {
    ASSERT_TRUE(memory.WriteObject<uint64_t>(gpa, ~0ull).ok());
  }
  ASSERT_TRUE(BuildIdentityMap(memory).ok());
  EXPECT_EQ(Entry(memory, PVM_BOOT_PML4_GPA + 511 * 8), 0u);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PDPT_GPA + 8), 0u);
  EXPECT_EQ(Entry(memory, PVM_BOOT_PD_GPA + 4 * 8), 0u);
  EXPECT_EQ(TranslateGva(memory, PVM_BOOT_PML4_GPA, 4 * k2M).status().code(),
            absl::StatusCode::kNotFound);
}

// ---- Walks of hand-built tables --------------------------------------------

// 4 MiB of memory with one table per level at fixed GPAs, filled by each test.
class WalkTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kMemory = 2 * k2M;
  static constexpr uint64_t kPml4 = 0x10000;
  static constexpr uint64_t kPdpt = 0x11000;
  static constexpr uint64_t kPd = 0x12000;
  static constexpr uint64_t kPt = 0x13000;

  WalkTest() : memory_(MakeMemory(kMemory)) {}

  static uint64_t Index(uint64_t gva, int shift) { return (gva >> shift) & 511; }

  void Set(uint64_t table, uint64_t index, uint64_t value) {
    ASSERT_TRUE(memory_.WriteObject<uint64_t>(table + index * 8, value).ok());
  }

  // Maps gva as a 4 KiB page through the four fixed tables.
  void Map4K(uint64_t gva, uint64_t frame, uint64_t leaf_flags = kAll) {
    Set(kPml4, Index(gva, 39), kPdpt | kAll);
    Set(kPdpt, Index(gva, 30), kPd | kAll);
    Set(kPd, Index(gva, 21), kPt | kAll);
    Set(kPt, Index(gva, 12), frame | leaf_flags);
  }

  absl::StatusOr<Translation> Walk(uint64_t gva) { return TranslateGva(memory_, kPml4, gva); }

  GuestMemory memory_;
};

TEST_F(WalkTest, FourKilobytePage) {
  const uint64_t gva = 0x00007f1234567abcull;
  Map4K(gva & ~0xfffull, 0x200000);
  absl::StatusOr<Translation> t = Walk(gva);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x200abcu);
  EXPECT_EQ(t->page_size, 0x1000u);
  EXPECT_TRUE(t->writable);
  EXPECT_TRUE(t->user);

  // The neighbouring page shares every table but its PTE is empty.
  t = Walk(gva + 0x1000);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PTE at GPA 0x"));
}

TEST_F(WalkTest, TwoMegabytePage) {
  const uint64_t gva = 0x0000000080212345ull;  // PDPT index 2, PD index 1
  Set(kPml4, 0, kPdpt | kAll);
  Set(kPdpt, Index(gva, 30), kPd | kAll);
  Set(kPd, Index(gva, 21), 0x200000 | kAll | kPS);
  absl::StatusOr<Translation> t = Walk(gva);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x212345u);
  EXPECT_EQ(t->page_size, k2M);
}

TEST_F(WalkTest, OneGigabytePage) {
  const uint64_t gva = 0x0000004040123456ull;  // PML4 0, PDPT index 0x101
  Set(kPml4, 0, kPdpt | kAll);
  Set(kPdpt, Index(gva, 30), 0 | kAll | kPS);
  absl::StatusOr<Translation> t = Walk(gva);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x123456u);
  EXPECT_EQ(t->page_size, k1G);
}

TEST_F(WalkTest, HigherHalfAddress) {
  const uint64_t gva = 0xffff800000003008ull;  // PML4 index 256
  ASSERT_EQ(Index(gva, 39), 256u);
  Map4K(gva & ~0xfffull, 0x5000);
  absl::StatusOr<Translation> t = Walk(gva);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x5008u);
}

TEST_F(WalkTest, PermissionsAreTheAndOfEveryLevel) {
  const uint64_t gva = 0x403000;
  Map4K(gva, 0x7000);
  Set(kPdpt, 0, kPd | kP | kUS);  // read-only at one level
  absl::StatusOr<Translation> t = Walk(gva);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->writable);
  EXPECT_TRUE(t->user);

  Set(kPdpt, 0, kPd | kAll);
  Set(kPt, Index(gva, 12), 0x7000 | kP | kRW);  // supervisor-only leaf
  t = Walk(gva);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->writable);
  EXPECT_FALSE(t->user);
}

TEST_F(WalkTest, IgnoresBitsOutsideTheFrameAddress) {
  // NX and the software-available high bits are not part of any address, nor are
  // CR3's PCID bits; PAT (bit 7) in a PTE does not make a 4 KiB page large.
  const uint64_t gva = 0x0000123456789000ull;
  Set(kPml4, Index(gva, 39), kPdpt | kAll | kNX | (0x7full << 52));
  Set(kPdpt, Index(gva, 30), kPd | kAll | kNX);
  Set(kPd, Index(gva, 21), kPt | kAll | (1ull << 9));
  Set(kPt, Index(gva, 12), 0x3000 | kAll | kPS | kNX);
  absl::StatusOr<Translation> t = TranslateGva(memory_, kPml4 | 0xabc, gva | 0x10);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x3010u);
  EXPECT_EQ(t->page_size, 0x1000u);

  // Bit 12 of a 2 MiB PDE is PAT, not address.
  const uint64_t gva2 = 0x600000;
  Set(kPml4, 0, kPdpt | kAll);
  Set(kPdpt, 0, kPd | kAll);
  Set(kPd, Index(gva2, 21), 0x200000 | (1ull << 12) | kAll | kPS);
  t = Walk(gva2 + 0x42);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x200042u);
}

TEST_F(WalkTest, NotPresentAtEachLevelNamesTheLevel) {
  const uint64_t gva = 0x0000008040201000ull;  // indices 1, 1, 1, 1
  struct Case {
    int level;  // 0 = PML4E ... 3 = PTE
    const char* name;
  };
  for (const Case c : {Case{0, "PML4E"}, Case{1, "PDPTE"}, Case{2, "PDE"}, Case{3, "PTE"}}) {
    SCOPED_TRACE(c.name);
    Map4K(gva, 0x8000);
    const uint64_t tables[] = {kPml4, kPdpt, kPd, kPt};
    const uint64_t entry_gpa = tables[c.level] + 8;
    // Everything but P, so the walk must look at P and not at "entry != 0".
    Set(tables[c.level], 1, 0x9000 | kRW | kUS);
    absl::StatusOr<Translation> t = Walk(gva);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(t.status().message(),
                HasSubstr(std::string(c.name) + " at GPA " + Hex(entry_gpa) + " is not present"));
  }
}

TEST_F(WalkTest, NonCanonicalAddressesAreInvalid) {
  Map4K(0, 0);
  for (uint64_t gva : {0x0000800000000000ull, 0xffff7fffffffffffull, 0x8000000000000000ull,
                       0x0001000000000000ull}) {
    EXPECT_FALSE(IsCanonical(gva)) << std::hex << gva;
    absl::StatusOr<Translation> t = Walk(gva);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(t.status().message(), HasSubstr("is not canonical"));
  }
  for (uint64_t gva : {0ull, 0x00007fffffffffffull, 0xffff800000000000ull, ~0ull}) {
    EXPECT_TRUE(IsCanonical(gva)) << std::hex << gva;
  }
}

TEST_F(WalkTest, ReservedBitsFault) {
  // PS is reserved in a PML4E.
  Set(kPml4, 0, kPdpt | kAll | kPS);
  absl::StatusOr<Translation> t = Walk(0x1000);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PML4E at GPA 0x10000 has the reserved PS bit"));

  // Bits 29:13 of a 1 GiB PDPTE.
  Set(kPml4, 0, kPdpt | kAll);
  Set(kPdpt, 0, (1ull << 20) | kAll | kPS);
  t = Walk(0x1000);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PDPTE at GPA 0x11000 has reserved bits 0x100000"));

  // Bits 20:13 of a 2 MiB PDE.
  Set(kPdpt, 0, kPd | kAll);
  Set(kPd, 0, (1ull << 13) | kAll | kPS);
  t = Walk(0x1000);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("PDE at GPA 0x12000 has reserved bits 0x2000"));
}

TEST_F(WalkTest, TablesOutsideMemoryAreOutOfRange) {
  absl::StatusOr<Translation> t = TranslateGva(memory_, 0x7fff0000, 0x1000);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(t.status().message(), HasSubstr("PML4E at GPA 0x7fff0000 lies outside guest memory"));

  // A table pointer with every address bit set must not wrap into memory.
  Set(kPml4, 0, 0x000ffffffffff000ull | kAll);
  t = Walk(0x1000);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(t.status().message(), HasSubstr("PDPTE at GPA 0xffffffffff000"));

  Set(kPml4, 0, kPdpt | kAll);
  Set(kPdpt, 0, kPd | kAll);
  Set(kPd, 0, (kMemory - 0x1000) | kAll);  // the last page: its last entry is still inside
  Set(kMemory - 0x1000, 511, 0x4000 | kAll);
  t = Walk(0x1ff123);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpa, 0x4123u);
}

TEST_F(WalkTest, ResultOutsideMemoryIsOutOfRange) {
  Map4K(0x5000, 0x40000000);
  absl::StatusOr<Translation> t = Walk(0x5010);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(t.status().message(), HasSubstr("GVA 0x5010 maps to GPA 0x40000010, outside"));

  // A 1 GiB page whose frame lies beyond 4 MiB of memory.
  Set(kPdpt, 1, k1G | kAll | kPS);
  t = Walk(k1G + 5);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace pvm::vmm
