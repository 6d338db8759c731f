#include "client/cpu_list.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pvm::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseCpuList, SingleCpusAndRanges) {
  absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList("0-3,6");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_THAT(*cpus, ElementsAre(0, 1, 2, 3, 6));
}

TEST(ParseCpuList, SortsAndRemovesDuplicates) {
  absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList("7,2-3,3,2");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_THAT(*cpus, ElementsAre(2, 3, 7));
}

TEST(ParseCpuList, OneCpuRange) {
  absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList("5-5");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_THAT(*cpus, ElementsAre(5));
}

TEST(ParseCpuList, HighestCpuIsAccepted) {
  absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList("8191");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_THAT(*cpus, ElementsAre(kMaxCpu));
}

TEST(ParseCpuList, RejectsMalformedLists) {
  for (const char* text : {"", ",", "1,", ",1", "a", "1-", "-1", "1-2-3", " 1", "1 ", "+1", "1.5",
                           "0x1", "99999999999999999999"}) {
    absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList(text);
    EXPECT_EQ(cpus.status().code(), absl::StatusCode::kInvalidArgument) << "'" << text << "'";
  }
}

TEST(ParseCpuList, SaysWhatIsWrong) {
  EXPECT_THAT(ParseCpuList("3-1").status().message(), HasSubstr("range 3-1 runs backwards"));
  EXPECT_THAT(ParseCpuList("0,x").status().message(), HasSubstr("'x' is not a CPU number"));
  EXPECT_THAT(ParseCpuList("0-4000000000").status().message(),
              HasSubstr("CPU 4000000000 is above 8191"));
}

}  // namespace
}  // namespace pvm::ctl
