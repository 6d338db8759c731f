// The per-slot DR7 masks, spelled out from the SDM's DR7 layout.
#include <gtest/gtest.h>

#include "pvm_debug.h"

namespace {

TEST(Dr7MasksTest, EnableMaskIsLocalAndGlobalBitOfEachSlot) {
  EXPECT_EQ(pvm_dr7_enable_mask(0), 0x03ul);
  EXPECT_EQ(pvm_dr7_enable_mask(1), 0x0cul);
  EXPECT_EQ(pvm_dr7_enable_mask(2), 0x30ul);
  EXPECT_EQ(pvm_dr7_enable_mask(3), 0xc0ul);
}

TEST(Dr7MasksTest, MaskAddsRwAndLenBitsOfEachSlot) {
  EXPECT_EQ(pvm_dr7_mask(0), 0x000f0003ul);
  EXPECT_EQ(pvm_dr7_mask(1), 0x00f0000cul);
  EXPECT_EQ(pvm_dr7_mask(2), 0x0f000030ul);
  EXPECT_EQ(pvm_dr7_mask(3), 0xf00000c0ul);
}

TEST(Dr7MasksTest, SlotsAreDisjointAndLeaveOtherBitsAlone) {
  unsigned long all = 0;
  for (int i = 0; i < PVM_NR_DB_REGS; ++i) {
    EXPECT_EQ(all & pvm_dr7_mask(i), 0ul) << "slot " << i;
    EXPECT_EQ(pvm_dr7_enable_mask(i) & ~pvm_dr7_mask(i), 0ul) << "slot " << i;
    all |= pvm_dr7_mask(i);
  }
  // LE, GE, the fixed bit, RTM and GD belong to no slot.
  EXPECT_EQ(all, 0xffff00fful);
  EXPECT_EQ(all & PVM_DR7_GD, 0ul);
}

TEST(Dr7MasksTest, OutOfRangeSlotsHaveNoBits) {
  for (int slot : {-1, 4, 7, 1000}) {
    EXPECT_EQ(pvm_dr7_enable_mask(slot), 0ul) << slot;
    EXPECT_EQ(pvm_dr7_mask(slot), 0ul) << slot;
  }
}

}  // namespace
