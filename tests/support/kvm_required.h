// Tests that need the real /dev/kvm: skip on a developer machine without it, fail
// loudly under CI=true, where a missing /dev/kvm means the run proves nothing.
#ifndef PVMD_TESTS_SUPPORT_KVM_REQUIRED_H_
#define PVMD_TESTS_SUPPORT_KVM_REQUIRED_H_

#include <gtest/gtest.h>

namespace pvm::testing {

// Empty when /dev/kvm can be opened read/write, else why it cannot.
std::string KvmUnavailableReason();
bool RunningUnderCi();

}  // namespace pvm::testing

// Put at the top of a test (or SetUp) that runs guests on the real KVM.
#define PVM_REQUIRE_KVM()                                                      \
  do {                                                                         \
    const std::string pvm_kvm_reason = ::pvm::testing::KvmUnavailableReason(); \
    if (!pvm_kvm_reason.empty()) {                                             \
      if (::pvm::testing::RunningUnderCi()) {                                  \
        FAIL() << "CI=true but " << pvm_kvm_reason;                            \
      }                                                                        \
      GTEST_SKIP() << pvm_kvm_reason;                                          \
    }                                                                          \
  } while (0)

#endif  // PVMD_TESTS_SUPPORT_KVM_REQUIRED_H_
