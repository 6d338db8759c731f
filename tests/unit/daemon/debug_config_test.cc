#include "daemon/debug_config.h"

#include <gtest/gtest.h>

namespace pvm {
namespace {

using host::DebugCapabilities;
using host::DebugDelivery;
using host::PathDebugCapabilities;

PathDebugCapabilities Everything(DebugDelivery delivery) {
  return {delivery, delivery, delivery, delivery};
}

// What the probe measured on kvm-pvm here (DESIGN.md).
DebugCapabilities KvmPvmHere() {
  DebugCapabilities caps;
  caps.native = {DebugDelivery::kNone, DebugDelivery::kGuestIdt, DebugDelivery::kNone,
                 DebugDelivery::kGuestIdt};
  caps.emulated = {DebugDelivery::kDebugExit, DebugDelivery::kDebugExit, DebugDelivery::kNone,
                   DebugDelivery::kEmulationFailure};
  caps.address_rule = PVM_VA_RULE_NONE;
  caps.address_rule_known = true;
  return caps;
}

TEST(DebugConfigFromProbe, KvmPvmHereInterceptsNativeCodeAndProtectsPages) {
  const debug::DebugConfig config = DebugConfigFromProbe(KvmPvmHere());
  EXPECT_TRUE(config.intercept_native_exceptions);
  EXPECT_TRUE(config.page_protection_watchpoints);
  EXPECT_EQ(config.policy.rule, PVM_VA_RULE_NONE);
}

TEST(DebugConfigFromProbe, AFullHostUsesTheModulesDebugExitsAndItsAddressRule) {
  DebugCapabilities caps;
  caps.native = Everything(DebugDelivery::kDebugExit);
  caps.emulated = Everything(DebugDelivery::kDebugExit);
  caps.address_rule = PVM_VA_RULE_POSITIVE_OR_RANGES;
  caps.address_rule_known = true;
  const debug::DebugConfig config = DebugConfigFromProbe(caps);
  EXPECT_FALSE(config.intercept_native_exceptions);
  EXPECT_FALSE(config.page_protection_watchpoints);
  EXPECT_EQ(config.policy.rule, PVM_VA_RULE_POSITIVE_OR_RANGES);
}

TEST(DebugConfigFromProbe, AnUnseenAddressRuleRefusesNothing) {
  DebugCapabilities caps = KvmPvmHere();
  caps.address_rule = PVM_VA_RULE_LOWER_HALF;
  caps.address_rule_known = false;
  EXPECT_EQ(DebugConfigFromProbe(caps).policy.rule, PVM_VA_RULE_NONE);
}

// Interception stops at the guest's handler entry, which must itself give an
// execute-breakpoint exit; without one there is nothing to intercept with.
TEST(DebugConfigFromProbe, NoInterceptionWithoutExecBreakpointsOnEmulatedCode) {
  DebugCapabilities caps = KvmPvmHere();
  caps.emulated.hw_exec_breakpoint = DebugDelivery::kNone;
  EXPECT_FALSE(DebugConfigFromProbe(caps).intercept_native_exceptions);
}

// The SVM host under QEMU/TCG: single-steps everywhere, no DR breakpoints at all.
TEST(DebugConfigFromProbe, DataBreakpointsThatNeverFireMeanPageProtection) {
  DebugCapabilities caps;
  caps.native = Everything(DebugDelivery::kDebugExit);
  caps.emulated = Everything(DebugDelivery::kDebugExit);
  caps.native.write_watchpoint = DebugDelivery::kNone;
  EXPECT_TRUE(DebugConfigFromProbe(caps).page_protection_watchpoints);
  EXPECT_FALSE(DebugConfigFromProbe(caps).intercept_native_exceptions);
}

TEST(DebugConfigFromProbe, AFailedProbeGivesThePlainMechanism) {
  const debug::DebugConfig config = DebugConfigFromProbe(absl::UnavailableError("no probe VM"));
  EXPECT_FALSE(config.intercept_native_exceptions);
  EXPECT_FALSE(config.page_protection_watchpoints);
  EXPECT_EQ(config.policy.rule, PVM_VA_RULE_NONE);
}

}  // namespace
}  // namespace pvm
