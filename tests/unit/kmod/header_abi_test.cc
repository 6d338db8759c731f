// The shared header means the same thing to C and to C++.
#include <gtest/gtest.h>

#include <cstddef>
#include <type_traits>

#include "pvm_debug.h"
#include "tests/unit/kmod/header_c_abi.h"

namespace {

static_assert(std::is_same_v<u64, unsigned long long>, "u64 must match the kernel's and __u64");
static_assert(std::is_standard_layout_v<pvm_debug_vcpu>);
static_assert(std::is_trivially_copyable_v<pvm_debug_vcpu>);
static_assert(sizeof(unsigned long) == 8, "DR7 values are 64-bit");

TEST(HeaderAbiTest, CAndCppAgreeOnLayout) {
  EXPECT_EQ(pvm_c_layout(PVM_C_SIZEOF_VCPU), sizeof(pvm_debug_vcpu));
  EXPECT_EQ(pvm_c_layout(PVM_C_OFFSETOF_RANGES), offsetof(pvm_debug_vcpu, ranges));
  EXPECT_EQ(pvm_c_layout(PVM_C_OFFSETOF_EXIT_DR6), offsetof(pvm_debug_vcpu, exit_dr6));
  EXPECT_EQ(pvm_c_layout(PVM_C_SIZEOF_OPS), sizeof(pvm_debug_hw_ops));
  EXPECT_EQ(pvm_c_layout(PVM_C_SIZEOF_REQUEST), sizeof(pvm_bp_request));
  EXPECT_EQ(pvm_c_layout(PVM_C_SIZEOF_KIND), sizeof(pvm_bp_kind));
}

}  // namespace
