// The module's own self-tests, run in userspace: what insmod checks in the
// booted kernel passes here too, and an injected failure is reported.
#include <gtest/gtest.h>

#include "pvm_debug_selftest.h"

namespace {

TEST(ModuleSelftestTest, PassesInUserspace) {
  pvm_selftest st = {};
  pvm_debug_selftest_run(&st);
  EXPECT_GT(st.checks, 100u);
  EXPECT_EQ(st.failures, 0u);
}

TEST(ModuleSelftestTest, ReportsTheInjectedFailure) {
  pvm_selftest st = {};
  st.inject_failure = true;
  ::testing::internal::CaptureStderr();
  pvm_debug_selftest_run(&st);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(st.failures, 1u);
  EXPECT_NE(log.find("FAILED GD cleared"), std::string::npos) << log;
}

}  // namespace
