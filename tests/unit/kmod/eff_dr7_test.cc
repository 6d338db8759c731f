// The effective-DR7 rule: tables of the cases the PVM design names, and a
// property test against an independent bit-by-bit model.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "pvm_debug.h"
#include "tests/unit/kmod/test_ranges.h"

namespace {

using pvm::kmod_test::kHostText;
using pvm::kmod_test::kL4End;
using pvm::kmod_test::kL4Start;
using pvm::kmod_test::kL5End;
using pvm::kmod_test::kL5Start;
using pvm::kmod_test::kRanges;
using Db = std::array<u64, 4>;

// Every slot enabled (L and G), LE, GE, the fixed bit; control nibbles
// 0x1, 0x5, 0x9, 0xd in slots 0-3.
constexpr unsigned long kAll = 0xd95107ff;
constexpr Db kLegal = {0x1000, 0x7ffffffffffffff8, kL4Start, kL5End - 8};

Db With(int slot, u64 addr) {
  Db db = kLegal;
  db[slot] = addr;
  return db;
}

struct AllowedCase {
  u64 va;
  bool allowed;
};

class AllowedVaTest : public ::testing::TestWithParam<AllowedCase> {};

TEST_P(AllowedVaTest, MatchesTheRule) {
  EXPECT_EQ(pvm_guest_allowed_va(&kRanges, GetParam().va), GetParam().allowed)
      << std::hex << GetParam().va;
}

INSTANTIATE_TEST_SUITE_P(
    Boundaries, AllowedVaTest,
    ::testing::Values(AllowedCase{0, false}, AllowedCase{1, true},
                      AllowedCase{0x00007fffffffffff, true},
                      AllowedCase{0x0000800000000000, true},  // non-canonical, sign 0
                      AllowedCase{0x7fffffffffffffff, true}, AllowedCase{0x8000000000000000, false},
                      AllowedCase{0xffff800000000000, false},  // host direct map
                      AllowedCase{kL4Start - 1, false}, AllowedCase{kL4Start, true},
                      AllowedCase{kL4End - 1, true}, AllowedCase{kL4End, false},
                      AllowedCase{kL5Start - 1, false}, AllowedCase{kL5Start, true},
                      AllowedCase{kL5End - 1, true}, AllowedCase{kL5End, false},
                      AllowedCase{kHostText, false}, AllowedCase{0xffffffffffffffff, false}));

TEST(AllowedVaTest, WithoutRangesOnlyTheLowerHalfIsTheGuests) {
  const pvm_va_ranges none = {};
  EXPECT_TRUE(pvm_guest_allowed_va(&none, 0x1000));
  EXPECT_FALSE(pvm_guest_allowed_va(&none, kL4Start));
  EXPECT_FALSE(pvm_guest_allowed_va(nullptr, kL4Start));
  EXPECT_FALSE(pvm_guest_allowed_va(nullptr, 0));
}

struct EffCase {
  std::string name;
  unsigned long guest_dr7;
  Db db;
  unsigned long want;
};

class EffDr7TableTest : public ::testing::TestWithParam<EffCase> {};

TEST_P(EffDr7TableTest, Computes) {
  const EffCase& c = GetParam();
  const unsigned long got = pvm_eff_dr7(c.guest_dr7, c.db.data(), &kRanges);
  EXPECT_EQ(got, c.want) << std::hex << "got 0x" << got << " want 0x" << c.want;
  EXPECT_EQ(got & ~c.guest_dr7, 0ul) << "a bit the guest DR7 lacked";
  EXPECT_EQ(got & PVM_DR7_GD, 0ul);
}

std::vector<EffCase> EffCases() {
  return {
      {"AllSlotsLegal", kAll, kLegal, kAll},
      {"GdCleared", kAll | PVM_DR7_GD, kLegal, kAll},
      {"GdAloneCleared", 0x2400, kLegal, 0x400},
      {"NothingEnabled", 0x400, kLegal, 0x400},
      {"Slot0Host", kAll, With(0, kHostText), 0xd95007fc},
      {"Slot1Host", kAll, With(1, kHostText), 0xd90107f3},
      {"Slot2Host", kAll, With(2, kHostText), 0xd05107cf},
      {"Slot3Host", kAll, With(3, kHostText), 0x0951073f},
      {"Slot3HostAndGd", kAll | PVM_DR7_GD, With(3, kHostText), 0x0951073f},
      {"AllHost", kAll, Db{kHostText, kHostText, 0, 0xffff800000000000}, 0x700},
      {"AddressZero", 0x000d0401, With(0, 0), 0x400},
      {"LowerHalfPlus7Crosses", 0x000d0401, With(0, 0x7ffffffffffffff9), 0x400},
      {"LowerHalfPlus7AtTheEnd", 0x000d0401, With(0, 0x7ffffffffffffff8), 0x000d0401},
      {"L4EndPlus7Crosses", 0x000d0401, With(0, kL4End - 7), 0x400},
      {"L4EndPlus7Inside", 0x000d0401, With(0, kL4End - 8), 0x000d0401},
      {"L4StartMinus1", 0x000d0401, With(0, kL4Start - 1), 0x400},
      {"L4StartMinus8", 0x000d0401, With(0, kL4Start - 8), 0x400},
      {"L4Start", 0x000d0401, With(0, kL4Start), 0x000d0401},
      {"L5EndPlus7Crosses", 0x00d00404, With(1, kL5End - 1), 0x400},
      {"L5EndPlus7Inside", 0x00d00404, With(1, kL5End - 8), 0x00d00404},
      {"L5StartMinus4", 0x00d00404, With(1, kL5Start - 4), 0x400},
      {"L5Start", 0x00d00404, With(1, kL5Start), 0x00d00404},
      {"NonCanonicalSignClearIsLegal", 0x401, With(0, 0x0000800000000000), 0x401},
      {"NonCanonicalSignSetIsNot", 0x401, With(0, 0x8000000000000000), 0x400},
      {"NonCanonicalNearTop", 0x401, With(0, 0xfffe000000000000), 0x400},
      {"Plus7WrapsToZero", 0x401, With(0, 0xfffffffffffffff9), 0x400},
      {"DisabledSlotHostAddressUnchanged", 0x401, Db{0x1000, kHostText, kHostText, 0}, 0x401},
      {"DisabledSlotLosesStaleControlBits", 0x00d00401, With(1, kHostText), 0x401},
      {"OnlyGlobalEnable", 0x000d0402, With(0, kHostText), 0x400},
      {"UpperDr7BitsKept", 0xffffffff00000401ul, kLegal, 0xffffffff00000401ul},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, EffDr7TableTest, ::testing::ValuesIn(EffCases()),
                         [](const auto& info) { return info.param.name; });

// ---- Property test ----------------------------------------------------------

struct ModelRanges {
  u64 l4s, l4e, l5s, l5e;
};

// Written from the rule's wording, not from the core: one bit at a time.
bool ModelLegitimate(const ModelRanges& r, u64 va) {
  const bool lower_half_not_zero = va != 0 && (va >> 63) == 0;
  const bool in_l4 = va >= r.l4s && va < r.l4e;
  const bool in_l5 = va >= r.l5s && va < r.l5e;
  return lower_half_not_zero || in_l4 || in_l5;
}

unsigned long ModelEffDr7(unsigned long dr7, const Db& db, const ModelRanges& r) {
  unsigned long out = 0;
  for (int bit = 0; bit < 64; ++bit) {
    if (((dr7 >> bit) & 1) == 0 || bit == 13) continue;
    int slot = -1;
    if (bit < 8) slot = bit / 2;
    if (bit >= 16 && bit < 32) slot = (bit - 16) / 4;
    if (slot >= 0 && !(ModelLegitimate(r, db[slot]) && ModelLegitimate(r, db[slot] + 7))) {
      continue;
    }
    out |= 1ul << bit;
  }
  return out;
}

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t Bits() { return rng_(); }
  std::uint64_t Below(std::uint64_t n) { return rng_() % n; }

  ModelRanges Ranges() {
    switch (Below(4)) {
      case 0:
        return {};  // none
      case 1:
        return {kL4Start, kL4End, kL5Start, kL5End};
      case 2: {  // random but ordered
        std::uint64_t a = Bits() | (1ull << 63), b = Bits() | (1ull << 63);
        std::uint64_t c = Bits() | (1ull << 63), d = Bits() | (1ull << 63);
        return {std::min(a, b), std::max(a, b), std::min(c, d), std::max(c, d)};
      }
      default:  // anything, including inverted and empty ranges
        return {Bits(), Bits(), Bits(), Bits()};
    }
  }

  // Addresses near every boundary the rule has, plus plain random ones.
  u64 Address(const ModelRanges& r) {
    const std::uint64_t anchors[] = {0,     1ull << 63, r.l4s,     r.l4e,
                                     r.l5s, r.l5e,      kHostText, 0x0000800000000000};
    switch (Below(3)) {
      case 0:
        return Bits();
      default:
        return anchors[Below(std::size(anchors))] + Below(17) - 8;
    }
  }

 private:
  std::mt19937_64 rng_;
};

TEST(EffDr7PropertyTest, MatchesTheModelOnRandomInputs) {
  Generator gen(0x5eed0f7);  // fixed: a failure must reproduce
  for (int i = 0; i < 200000; ++i) {
    const ModelRanges mr = gen.Ranges();
    const pvm_va_ranges r = {mr.l4s, mr.l4e, mr.l5s, mr.l5e};
    const Db db = {gen.Address(mr), gen.Address(mr), gen.Address(mr), gen.Address(mr)};
    const unsigned long dr7 = gen.Below(2) ? gen.Bits() : (gen.Bits() & 0xffff27ff);

    for (int slot = 0; slot < 4; ++slot) {
      ASSERT_EQ(pvm_guest_allowed_va(&r, db[slot]), ModelLegitimate(mr, db[slot]))
          << std::hex << "va 0x" << db[slot] << " iteration " << std::dec << i;
    }
    const unsigned long got = pvm_eff_dr7(dr7, db.data(), &r);
    ASSERT_EQ(got, ModelEffDr7(dr7, db, mr))
        << std::hex << "dr7 0x" << dr7 << " db 0x" << db[0] << " 0x" << db[1] << " 0x" << db[2]
        << " 0x" << db[3] << " iteration " << std::dec << i;
    ASSERT_EQ(got & ~dr7, 0ul);
    ASSERT_EQ(got & PVM_DR7_GD, 0ul);
    ASSERT_EQ(pvm_eff_dr7(got, db.data(), &r), got) << "not idempotent";
  }
}

// The cached value must equal a fresh computation after any sequence of
// changes, and be recomputed only when an input really changed.
TEST(EffDr7PropertyTest, CacheFollowsEveryChangeAndOnlyChanges) {
  Generator gen(0xcac4e);
  pvm_debug_vcpu v;
  pvm_debug_vcpu_init(&v, &kRanges);
  ModelRanges mr = {kL4Start, kL4End, kL5Start, kL5End};
  unsigned long dr7 = 0;
  Db db = {};
  unsigned long computed = v.eff_dr7_computed;
  bool changed = true;

  for (int i = 0; i < 50000; ++i) {
    switch (gen.Below(4)) {
      case 0: {
        const unsigned long next = gen.Below(3) ? dr7 : gen.Bits();
        changed |= next != dr7;
        dr7 = next;
        pvm_debug_set_dr7(&v, dr7);
        break;
      }
      case 1: {
        const int slot = static_cast<int>(gen.Below(4));
        const u64 next = gen.Below(3) ? db[slot] : gen.Address(mr);
        changed |= next != db[slot];
        db[slot] = next;
        pvm_debug_set_db(&v, slot, next);
        break;
      }
      case 2: {
        const ModelRanges next = gen.Below(3) ? mr : gen.Ranges();
        changed |=
            next.l4s != mr.l4s || next.l4e != mr.l4e || next.l5s != mr.l5s || next.l5e != mr.l5e;
        mr = next;
        const pvm_va_ranges r = {mr.l4s, mr.l4e, mr.l5s, mr.l5e};
        pvm_debug_set_ranges(&v, &r);
        break;
      }
      default: {
        ASSERT_EQ(pvm_debug_eff_dr7(&v), ModelEffDr7(dr7, db, mr)) << "iteration " << i;
        ASSERT_EQ(v.eff_dr7_computed, computed + (changed ? 1 : 0)) << "iteration " << i;
        computed = v.eff_dr7_computed;
        changed = false;
        break;
      }
    }
  }
}

}  // namespace
