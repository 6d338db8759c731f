// DR7 encoding of one breakpoint, its validation, the reasons given to a
// user, and the legitimate-address rules of the different PVM versions.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "pvm_debug.h"
#include "tests/unit/kmod/test_ranges.h"

namespace {

using pvm::kmod_test::kHostText;
using pvm::kmod_test::kL4End;
using pvm::kmod_test::kL4Start;
using pvm::kmod_test::kL5End;
using pvm::kmod_test::kL5Start;
using pvm::kmod_test::kRanges;

// SDM vol. 3, 18.2.4: R/W 00 exec, 01 write, 11 read/write; LEN 00 1 byte,
// 01 2 bytes, 11 4 bytes, 10 8 bytes.  L_i is bit 2i.
unsigned long SdmBits(int slot, unsigned rw, unsigned len) {
  const unsigned len_bits = len == 1 ? 0 : len == 2 ? 1 : len == 4 ? 3 : 2;
  return (1ul << (2 * slot)) |
         (static_cast<unsigned long>(rw | (len_bits << 2)) << (16 + 4 * slot));
}

class EncodeValidTest : public ::testing::TestWithParam<std::tuple<int, pvm_bp_kind, unsigned>> {};

TEST_P(EncodeValidTest, GivesTheSdmBitsAndDecodesBack) {
  const auto [slot, kind, len] = GetParam();
  const u64 addr = 0x400000 + 8 * 3;  // aligned to every length
  unsigned long bits = 0;
  ASSERT_EQ(pvm_dr7_encode(slot, kind, len, addr, &bits), PVM_BP_OK);
  EXPECT_EQ(bits, SdmBits(slot, kind, len));
  EXPECT_EQ(bits & ~pvm_dr7_mask(slot), 0ul) << "bits outside the slot";

  bool enabled = false;
  pvm_bp_kind got_kind = PVM_BP_IO;
  unsigned got_len = 0;
  ASSERT_TRUE(pvm_dr7_decode(bits | 0x400, slot, &enabled, &got_kind, &got_len));
  EXPECT_TRUE(enabled);
  EXPECT_EQ(got_kind, kind);
  EXPECT_EQ(got_len, len);
}

INSTANTIATE_TEST_SUITE_P(Exec, EncodeValidTest,
                         ::testing::Combine(::testing::Range(0, 4), ::testing::Values(PVM_BP_EXEC),
                                            ::testing::Values(1u)));
INSTANTIATE_TEST_SUITE_P(Data, EncodeValidTest,
                         ::testing::Combine(::testing::Range(0, 4),
                                            ::testing::Values(PVM_BP_WRITE, PVM_BP_RW),
                                            ::testing::Values(1u, 2u, 4u, 8u)));

struct RefusedCase {
  std::string name;
  int slot;
  int kind;
  unsigned len;
  u64 addr;
  pvm_bp_status want;
};

class EncodeRefusedTest : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(EncodeRefusedTest, RefusesWithTheReasonAndWritesNothing) {
  const RefusedCase& c = GetParam();
  unsigned long bits = 0xdead;
  EXPECT_EQ(pvm_dr7_encode(c.slot, static_cast<pvm_bp_kind>(c.kind), c.len, c.addr, &bits), c.want);
  EXPECT_EQ(bits, 0xdeadul);
}

INSTANTIATE_TEST_SUITE_P(
    Table, EncodeRefusedTest,
    ::testing::Values(RefusedCase{"IoKind", 0, PVM_BP_IO, 1, 0x1000, PVM_BP_EIO},
                      RefusedCase{"IoKindLen4", 2, PVM_BP_IO, 4, 0x1000, PVM_BP_EIO},
                      RefusedCase{"UnknownKind", 0, 4, 1, 0x1000, PVM_BP_EBADKIND},
                      RefusedCase{"NegativeKind", 0, -1, 1, 0x1000, PVM_BP_EBADKIND},
                      RefusedCase{"ExecLen2", 0, PVM_BP_EXEC, 2, 0x1000, PVM_BP_EEXECLEN},
                      RefusedCase{"ExecLen4", 1, PVM_BP_EXEC, 4, 0x1000, PVM_BP_EEXECLEN},
                      RefusedCase{"ExecLen8", 3, PVM_BP_EXEC, 8, 0x1000, PVM_BP_EEXECLEN},
                      RefusedCase{"Len0", 0, PVM_BP_WRITE, 0, 0x1000, PVM_BP_EBADLEN},
                      RefusedCase{"Len3", 0, PVM_BP_WRITE, 3, 0x1000, PVM_BP_EBADLEN},
                      RefusedCase{"Len16", 0, PVM_BP_RW, 16, 0x1000, PVM_BP_EBADLEN},
                      RefusedCase{"ExecLen3", 0, PVM_BP_EXEC, 3, 0x1000, PVM_BP_EBADLEN},
                      RefusedCase{"Len2Odd", 0, PVM_BP_WRITE, 2, 0x1001, PVM_BP_EALIGN},
                      RefusedCase{"Len4By2", 0, PVM_BP_WRITE, 4, 0x1002, PVM_BP_EALIGN},
                      RefusedCase{"Len8By4", 0, PVM_BP_RW, 8, 0x1004, PVM_BP_EALIGN},
                      RefusedCase{"Slot4", 4, PVM_BP_EXEC, 1, 0x1000, PVM_BP_EBADSLOT},
                      RefusedCase{"SlotMinus1", -1, PVM_BP_EXEC, 1, 0x1000, PVM_BP_EBADSLOT}),
    [](const auto& info) { return info.param.name; });

TEST(EncodeTest, ExecNeedsNoAlignment) {
  unsigned long bits = 0;
  EXPECT_EQ(pvm_dr7_encode(0, PVM_BP_EXEC, 1, 0x1003, &bits), PVM_BP_OK);
  EXPECT_EQ(bits, 0x1ul);
}

TEST(DecodeTest, ReadsDisabledSlotsAndRefusesBadSlots) {
  bool enabled = true;
  pvm_bp_kind kind = PVM_BP_EXEC;
  unsigned len = 0;
  ASSERT_TRUE(pvm_dr7_decode(0xb0000400, 3, &enabled, &kind, &len));
  EXPECT_FALSE(enabled);
  EXPECT_EQ(kind, PVM_BP_RW);
  EXPECT_EQ(len, 8u);
  ASSERT_TRUE(pvm_dr7_decode(0x80, 3, &enabled, &kind, &len));  // G3 alone
  EXPECT_TRUE(enabled);
  EXPECT_FALSE(pvm_dr7_decode(0xff, 4, &enabled, &kind, &len));
}

// ---- Address rules ------------------------------------------------------------

struct RuleCase {
  u64 va;
  bool none, positive_or_ranges, nonneg_or_ranges, lower_half;
};

class VaRuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(VaRuleTest, EachRuleDecides) {
  const RuleCase& c = GetParam();
  EXPECT_EQ(pvm_va_allowed_by_rule(PVM_VA_RULE_NONE, &kRanges, c.va), c.none);
  EXPECT_EQ(pvm_va_allowed_by_rule(PVM_VA_RULE_POSITIVE_OR_RANGES, &kRanges, c.va),
            c.positive_or_ranges);
  EXPECT_EQ(pvm_va_allowed_by_rule(PVM_VA_RULE_NONNEG_OR_RANGES, &kRanges, c.va),
            c.nonneg_or_ranges);
  EXPECT_EQ(pvm_va_allowed_by_rule(PVM_VA_RULE_LOWER_HALF, &kRanges, c.va), c.lower_half);
  // This core's own rule is the one pvm_guest_allowed_va() applies.
  EXPECT_EQ(pvm_guest_allowed_va(&kRanges, c.va), c.positive_or_ranges);
}

INSTANTIATE_TEST_SUITE_P(Versions, VaRuleTest,
                         ::testing::Values(RuleCase{0, true, false, true, true},
                                           RuleCase{0x1000, true, true, true, true},
                                           RuleCase{0x7fffffffffffffff, true, true, true, true},
                                           RuleCase{0x8000000000000000, true, false, false, false},
                                           RuleCase{kL4Start, true, true, true, false},
                                           RuleCase{kL4End, true, false, false, false},
                                           RuleCase{kL5Start, true, true, true, false},
                                           RuleCase{kHostText, true, false, false, false}));

TEST(VaRuleTest, UnknownRuleRefuses) {
  EXPECT_FALSE(pvm_va_allowed_by_rule(static_cast<pvm_va_rule>(42), &kRanges, 0x1000));
}

TEST(CheckVaTest, NamesWhichEndIsOutside) {
  const auto rule = PVM_VA_RULE_POSITIVE_OR_RANGES;
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, 0x1000), PVM_BP_OK);
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, kHostText), PVM_BP_EADDR);
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, 0), PVM_BP_EADDR);
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, kL4End - 4), PVM_BP_EADDR_END);
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, 0x7ffffffffffffffc), PVM_BP_EADDR_END);
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, kL5End - 8), PVM_BP_OK);
  EXPECT_EQ(pvm_bp_check_va(rule, &kRanges, kL5End - 7), PVM_BP_EADDR_END);
  // A module that filters nothing refuses nothing.
  EXPECT_EQ(pvm_bp_check_va(PVM_VA_RULE_NONE, nullptr, kHostText), PVM_BP_OK);
  // The newest rule has no kernel ranges at all.
  EXPECT_EQ(pvm_bp_check_va(PVM_VA_RULE_LOWER_HALF, &kRanges, kL4Start), PVM_BP_EADDR);
  EXPECT_EQ(pvm_bp_check_va(PVM_VA_RULE_LOWER_HALF, &kRanges, 0), PVM_BP_OK);
}

TEST(CanonicalTest, FortyEightAndFiftySevenBits) {
  EXPECT_TRUE(pvm_va_canonical(0x00007fffffffffff, 48));
  EXPECT_FALSE(pvm_va_canonical(0x0000800000000000, 48));
  EXPECT_TRUE(pvm_va_canonical(0xffff800000000000, 48));
  EXPECT_FALSE(pvm_va_canonical(0xff10000000000000, 48));
  EXPECT_TRUE(pvm_va_canonical(0xff10000000000000, 57));
  EXPECT_TRUE(pvm_va_canonical(0x0000800000000000, 57));
  EXPECT_FALSE(pvm_va_canonical(0x0100000000000000, 57));
  EXPECT_TRUE(pvm_va_canonical(0x0100000000000000, 0));  // check skipped
}

TEST(RangesFromMsrTest, DecodesTheIndices) {
  pvm_va_ranges r = {};
  ASSERT_TRUE(pvm_va_ranges_from_msr(0xff20ff10ffd0ffb0, &r));
  EXPECT_EQ(r.l4_start, kL4Start);
  EXPECT_EQ(r.l4_end, kL4End);
  EXPECT_EQ(r.l5_start, kL5Start);
  EXPECT_EQ(r.l5_end, kL5End);
}

TEST(RangesFromMsrTest, WithoutLa57TheL5RangeIsEmpty) {
  // The spec sets both PML5 indices to 0x1ff when the host lacks LA57.
  pvm_va_ranges r = {};
  ASSERT_TRUE(pvm_va_ranges_from_msr(0xffffffffffd0ffb0, &r));
  EXPECT_EQ(r.l5_start, r.l5_end);
  EXPECT_FALSE(pvm_guest_allowed_va(&r, r.l5_start));
}

TEST(RangesFromMsrTest, RefusesMissingFixedBitsAndKeepsTheRanges) {
  pvm_va_ranges r = kRanges;
  EXPECT_FALSE(pvm_va_ranges_from_msr(0x0120011001d001b0, &r));
  EXPECT_FALSE(pvm_va_ranges_from_msr(0xff20ff10ffd0feb0, &r));  // bit 8 of PML4 start
  EXPECT_EQ(r.l4_start, kL4Start);
}

// ---- Validation and messages --------------------------------------------------

TEST(ValidateTest, ShapeIsCheckedBeforeTheAddress) {
  const pvm_bp_request io = {0, PVM_BP_IO, 1, kHostText, 48};
  EXPECT_EQ(pvm_bp_validate(&io, PVM_VA_RULE_POSITIVE_OR_RANGES, &kRanges, nullptr), PVM_BP_EIO);
  const pvm_bp_request non_canonical = {0, PVM_BP_WRITE, 8, 0x0000800000000000, 48};
  EXPECT_EQ(pvm_bp_validate(&non_canonical, PVM_VA_RULE_POSITIVE_OR_RANGES, &kRanges, nullptr),
            PVM_BP_ENONCANONICAL);
  // Legal under the module's rule, but the daemon still knows it can never hit.
  EXPECT_TRUE(pvm_guest_allowed_va(&kRanges, 0x0000800000000000));
}

TEST(ValidateTest, GivesTheBitsOnSuccessOnly) {
  unsigned long bits = 0;
  const pvm_bp_request ok = {2, PVM_BP_RW, 4, kL4Start + 0x100, 48};
  ASSERT_EQ(pvm_bp_validate(&ok, PVM_VA_RULE_POSITIVE_OR_RANGES, &kRanges, &bits), PVM_BP_OK);
  EXPECT_EQ(bits, 0x0f000010ul);
  bits = 7;
  const pvm_bp_request end = {2, PVM_BP_RW, 4, kL4End - 4, 48};
  EXPECT_EQ(pvm_bp_validate(&end, PVM_VA_RULE_POSITIVE_OR_RANGES, &kRanges, &bits),
            PVM_BP_EADDR_END);
  EXPECT_EQ(bits, 7ul);
  EXPECT_EQ(pvm_bp_validate(&end, PVM_VA_RULE_NONE, nullptr, nullptr), PVM_BP_OK);
}

std::string Describe(pvm_bp_status st, const pvm_bp_request& req) {
  char buf[160];
  const int n = pvm_bp_describe(buf, sizeof(buf), st, &req);
  EXPECT_GT(n, 0);
  EXPECT_LT(n, static_cast<int>(sizeof(buf)));
  return buf;
}

TEST(DescribeTest, SaysWhyInWordsAUserCanActOn) {
  const pvm_bp_request host = {0, PVM_BP_WRITE, 8, 0xffff888000000000, 48};
  EXPECT_EQ(Describe(PVM_BP_EADDR, host),
            "address 0xffff888000000000 is outside the guest's address ranges: "
            "the module would drop it");
  const pvm_bp_request end = {0, PVM_BP_WRITE, 4, 0x7ffffffffffffffc, 48};
  EXPECT_EQ(Describe(PVM_BP_EADDR_END, end),
            "address 0x7ffffffffffffffc + 7 is outside the guest's address ranges: "
            "the module would drop it");
  const pvm_bp_request exec = {0, PVM_BP_EXEC, 4, 0x1000, 48};
  EXPECT_EQ(Describe(PVM_BP_EEXECLEN, exec), "an execute breakpoint has length 1, not 4");
  const pvm_bp_request odd = {0, PVM_BP_WRITE, 4, 0x1002, 48};
  EXPECT_EQ(Describe(PVM_BP_EALIGN, odd), "address 0x1002 is not aligned to the length 4");
  const pvm_bp_request len = {0, PVM_BP_WRITE, 3, 0x1000, 48};
  EXPECT_EQ(Describe(PVM_BP_EBADLEN, len), "length 3 is not supported: use 1, 2, 4 or 8");
  const pvm_bp_request slot = {5, PVM_BP_WRITE, 4, 0x1000, 48};
  EXPECT_EQ(Describe(PVM_BP_EBADSLOT, slot), "debug register slot 5 does not exist: use 0-3");
}

TEST(DescribeTest, EveryStatusHasAReason) {
  for (int s = PVM_BP_OK; s <= PVM_BP_EADDR_END; ++s) {
    const auto st = static_cast<pvm_bp_status>(s);
    EXPECT_STRNE(pvm_bp_strerror(st), "unknown breakpoint status") << s;
    const pvm_bp_request req = {0, PVM_BP_WRITE, 4, 0x1000, 48};
    EXPECT_FALSE(Describe(st, req).empty());
  }
  EXPECT_STREQ(pvm_bp_strerror(static_cast<pvm_bp_status>(99)), "unknown breakpoint status");
}

TEST(DescribeTest, TruncatesLikeSnprintf) {
  char buf[8];
  const pvm_bp_request host = {0, PVM_BP_WRITE, 8, kHostText, 48};
  const int n = pvm_bp_describe(buf, sizeof(buf), PVM_BP_EADDR, &host);
  EXPECT_GT(n, 7);
  EXPECT_STREQ(buf, "address");
}

}  // namespace
