// Where a guest #DB or #BP goes, by the VMM's KVM_SET_GUEST_DEBUG flags.
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include "pvm_debug.h"

namespace {

static_assert(PVM_GUESTDBG_ENABLE == KVM_GUESTDBG_ENABLE);
static_assert(PVM_GUESTDBG_SINGLESTEP == KVM_GUESTDBG_SINGLESTEP);
static_assert(PVM_GUESTDBG_USE_SW_BP == KVM_GUESTDBG_USE_SW_BP);
static_assert(PVM_GUESTDBG_USE_HW_BP == KVM_GUESTDBG_USE_HW_BP);

constexpr unsigned kOn = KVM_GUESTDBG_ENABLE;

TEST(RouteTest, DebuggingOffReinjectsEverything) {
  for (unsigned flags : {0u, unsigned{KVM_GUESTDBG_USE_HW_BP}, unsigned{KVM_GUESTDBG_USE_SW_BP},
                         unsigned{KVM_GUESTDBG_SINGLESTEP}}) {
    EXPECT_EQ(pvm_route_exception(flags, 1, false), PVM_EXC_REINJECT) << flags;
    EXPECT_EQ(pvm_route_exception(flags, 3, true), PVM_EXC_REINJECT) << flags;
  }
}

TEST(RouteTest, DebugExitsWithHardwareBreakpointsOrSingleStep) {
  EXPECT_EQ(pvm_route_exception(kOn | KVM_GUESTDBG_USE_HW_BP, 1, false), PVM_EXC_EXIT_DEBUG);
  EXPECT_EQ(pvm_route_exception(kOn | KVM_GUESTDBG_SINGLESTEP, 1, false), PVM_EXC_EXIT_DEBUG);
  EXPECT_EQ(pvm_route_exception(kOn, 1, false), PVM_EXC_REINJECT);
  EXPECT_EQ(pvm_route_exception(kOn | KVM_GUESTDBG_USE_SW_BP, 1, false), PVM_EXC_REINJECT);
}

TEST(RouteTest, BreakpointExitsOnlyForInt3WithSoftwareBreakpoints) {
  EXPECT_EQ(pvm_route_exception(kOn | KVM_GUESTDBG_USE_SW_BP, 3, true), PVM_EXC_EXIT_DEBUG);
  // "int $3" is the guest's own.
  EXPECT_EQ(pvm_route_exception(kOn | KVM_GUESTDBG_USE_SW_BP, 3, false), PVM_EXC_REINJECT);
  EXPECT_EQ(pvm_route_exception(kOn | KVM_GUESTDBG_USE_HW_BP | KVM_GUESTDBG_SINGLESTEP, 3, true),
            PVM_EXC_REINJECT);
}

TEST(RouteTest, OtherVectorsAreNeverDebugExits) {
  const unsigned all =
      kOn | KVM_GUESTDBG_USE_HW_BP | KVM_GUESTDBG_USE_SW_BP | KVM_GUESTDBG_SINGLESTEP;
  for (unsigned vector = 0; vector < 256; ++vector) {
    if (vector == 1 || vector == 3) continue;
    EXPECT_EQ(pvm_route_exception(all, vector, true), PVM_EXC_REINJECT) << vector;
  }
}

}  // namespace
