#include "client/text_layout.h"

#include <gtest/gtest.h>

namespace pvm::ctl {
namespace {

TEST(KeyValueLines, AlignsValuesAfterTheLongestKey) {
  EXPECT_EQ(KeyValueLines({{"name", "vm-7"}, {"entry point", "0x1000"}, {"x", ""}}),
            "name:        vm-7\n"
            "entry point: 0x1000\n"
            "x:           \n");
}

TEST(KeyValueLines, NoRowsNoText) { EXPECT_EQ(KeyValueLines({}), ""); }

TEST(AlignedTable, PadsColumnsToTheWidestCellWithoutTrailingSpaces) {
  EXPECT_EQ(AlignedTable({{"NAME", "STATE", "X"}, {"a-long-name", "running", "1"}, {"b", "", ""}}),
            "NAME         STATE    X\n"
            "a-long-name  running  1\n"
            "b\n");
}

}  // namespace
}  // namespace pvm::ctl
