#include "daemon/vmm/vm_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pvm::vmm {
namespace {

using ::testing::HasSubstr;

constexpr VmState kAllStates[] = {VmState::kCreated, VmState::kRunning, VmState::kPaused,
                                  VmState::kStopped, VmState::kFailed};

TEST(VmStateTest, EachRequestIsLegalInExactlyOneState) {
  const std::pair<VmRequest, VmState> legal[] = {{VmRequest::kStart, VmState::kCreated},
                                                 {VmRequest::kPause, VmState::kRunning},
                                                 {VmRequest::kResume, VmState::kPaused}};
  for (const auto& [request, allowed] : legal) {
    for (VmState state : kAllStates) {
      const absl::Status status = CheckRequest(state, request);
      if (state == allowed) {
        EXPECT_TRUE(status.ok()) << status;
      } else {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
            << VmStateName(state) << " " << static_cast<int>(request);
      }
    }
  }
}

TEST(VmStateTest, RefusalSaysWhatStateTheVmIsIn) {
  EXPECT_THAT(std::string(CheckRequest(VmState::kStopped, VmRequest::kPause).message()),
              HasSubstr("cannot pause a VM that is stopped: only a running VM can be paused"));
  EXPECT_THAT(std::string(CheckRequest(VmState::kRunning, VmRequest::kStart).message()),
              HasSubstr("only a created VM can be started"));
  EXPECT_THAT(std::string(CheckRequest(VmState::kFailed, VmRequest::kResume).message()),
              HasSubstr("cannot resume a VM that is failed"));
}

TEST(VmStateTest, LegalRequestsLeadWhereExpected) {
  EXPECT_EQ(StateAfter(VmRequest::kStart), VmState::kRunning);
  EXPECT_EQ(StateAfter(VmRequest::kPause), VmState::kPaused);
  EXPECT_EQ(StateAfter(VmRequest::kResume), VmState::kRunning);
}

}  // namespace
}  // namespace pvm::vmm
