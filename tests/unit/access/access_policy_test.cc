// The access policy as a pure function: credentials and a method name in, a
// decision and its reason out.
#include "daemon/access/access_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pvm::access {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr gid_t kPvm = 990;
constexpr gid_t kReaders = 991;
constexpr gid_t kOther = 992;

AccessPolicy Policy() {
  return {.groups = {{.name = "pvm", .gid = kPvm}},
          .read_only_groups = {{.name = "pvm-ro", .gid = kReaders}}};
}

PeerCredentials Peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  return {.pid = 4242, .uid = uid, .gid = gid, .groups = std::move(groups)};
}

TEST(IsReadOnlyMethod, GetListAndStreamFollowedByAWord) {
  for (const char* method : {"GetVm", "GetHostInfo", "GetRegisters", "ListVms", "ListBreakpoints",
                             "StreamConsole", "StreamEvents", "GetDebugState"}) {
    EXPECT_TRUE(IsReadOnlyMethod(method)) << method;
  }
}

TEST(IsReadOnlyMethod, EverythingElseChangesSomething) {
  for (const char* method :
       {"CreateVm", "DeleteVm", "StartVm", "PauseVm", "ResumeVm", "SetGuestDebug", "AddBreakpoint",
        "RemoveBreakpoint", "Continue", "Step", "Interrupt", "SetRegisters", "WriteMemory",
        // ReadMemory only reads, but the rule is the name: not one of the three prefixes.
        "ReadMemory", "Get", "List", "Stream", "Getaway", "Listen", "Streamline", "getVm", ""}) {
    EXPECT_FALSE(IsReadOnlyMethod(method)) << method;
  }
}

TEST(LevelOf, RootIsFullWithoutAnyGroup) {
  EXPECT_EQ(LevelOf(Policy(), Peer(0, 0)), AccessLevel::kFull);
  EXPECT_EQ(LevelOf(AccessPolicy{}, Peer(0, 0)), AccessLevel::kFull);
}

TEST(LevelOf, PrimaryOrSupplementaryGroupCounts) {
  EXPECT_EQ(LevelOf(Policy(), Peer(1000, kPvm)), AccessLevel::kFull);
  EXPECT_EQ(LevelOf(Policy(), Peer(1000, 1000, {kOther, kPvm})), AccessLevel::kFull);
  EXPECT_EQ(LevelOf(Policy(), Peer(1000, kReaders)), AccessLevel::kReadOnly);
  EXPECT_EQ(LevelOf(Policy(), Peer(1000, 1000, {kReaders})), AccessLevel::kReadOnly);
  EXPECT_EQ(LevelOf(Policy(), Peer(1000, 1000, {kOther})), AccessLevel::kNone);
}

TEST(LevelOf, FullWinsOverReadOnly) {
  EXPECT_EQ(LevelOf(Policy(), Peer(1000, kReaders, {kPvm})), AccessLevel::kFull);
}

TEST(LevelOf, TheUidIsNotAGid) {
  // uid 990 is not group 990: only gids count.
  EXPECT_EQ(LevelOf(Policy(), Peer(kPvm, 1000)), AccessLevel::kNone);
}

TEST(Authorize, FullMemberMayCallEverything) {
  for (const char* method : {"CreateVm", "DeleteVm", "WriteMemory", "GetVm", "StreamEvents"}) {
    EXPECT_TRUE(Authorize(Policy(), Peer(1000, 1000, {kPvm}), method).ok()) << method;
  }
}

TEST(Authorize, ReadOnlyMemberMayReadOnly) {
  const PeerCredentials reader = Peer(1000, 1000, {kReaders});
  for (const char* method : {"GetHostInfo", "ListVms", "GetVm", "StreamConsole"}) {
    EXPECT_TRUE(Authorize(Policy(), reader, method).ok()) << method;
  }
  for (const char* method : {"CreateVm", "DeleteVm", "StartVm", "SetRegisters", "ReadMemory"}) {
    const absl::Status status = Authorize(Policy(), reader, method);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << method;
    EXPECT_THAT(status.message(),
                AllOf(HasSubstr("uid 1000"), HasSubstr(method), HasSubstr("may only read"),
                      HasSubstr("pvm-ro (gid 991)"), HasSubstr("pvm (gid 990)")))
        << method;
  }
}

TEST(Authorize, NonMemberIsRefusedWithWhatItLacks) {
  const absl::Status status = Authorize(Policy(), Peer(65534, 65534, {kOther}), "GetVm");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("uid 65534"), HasSubstr("GetVm"), HasSubstr("pvm (gid 990)"),
                    HasSubstr("(to read) in pvm-ro (gid 991)")));
}

TEST(Authorize, NonMemberOfAWriteIsToldOnlyTheFullGroups) {
  const absl::Status status = Authorize(Policy(), Peer(65534, 65534), "CreateVm");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("CreateVm"), HasSubstr("pvm (gid 990)"), Not(HasSubstr("pvm-ro"))));
}

TEST(Authorize, WithoutGroupsOnlyRoot) {
  EXPECT_TRUE(Authorize(AccessPolicy{}, Peer(0, 0), "DeleteVm").ok());
  const absl::Status status = Authorize(AccessPolicy{}, Peer(1000, 1000, {kPvm}), "GetVm");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("only root may"));
}

TEST(Authorize, ReadOnlyGroupsWithoutFullGroupsNameRoot) {
  const AccessPolicy policy{.groups = {},
                            .read_only_groups = {{.name = "pvm-ro", .gid = kReaders}}};
  EXPECT_TRUE(Authorize(policy, Peer(1000, kReaders), "ListVms").ok());
  const absl::Status status = Authorize(policy, Peer(1000, kReaders), "CreateVm");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("needs root (no full-access group is configured)"));
}

TEST(Authorize, TheCallerDecidesReadOnlyForOtherServices) {
  // grpc.health.v1.Health/Check is not named Get*, but pvmd treats it as a read.
  EXPECT_TRUE(Authorize(Policy(), Peer(1000, kReaders), "Check", /*read_only=*/true).ok());
  EXPECT_FALSE(Authorize(Policy(), Peer(1000, 1000), "Check", /*read_only=*/true).ok());
  EXPECT_FALSE(Authorize(Policy(), Peer(1000, kReaders), "GetVm", /*read_only=*/false).ok());
}

}  // namespace
}  // namespace pvm::access
