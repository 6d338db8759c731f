#include "client/console_writer.h"

#include <gtest/gtest.h>

#include <sstream>

namespace pvm::ctl {
namespace {

v1::ConsoleChunk Chunk(std::string data, uint64_t offset, uint64_t dropped = 0) {
  v1::ConsoleChunk chunk;
  chunk.set_data(std::move(data));
  chunk.set_offset(offset);
  chunk.set_dropped(dropped);
  return chunk;
}

TEST(ConsoleWriter, WritesRawBytesInOrderAndNothingOnStderr) {
  std::ostringstream out, err;
  ConsoleWriter writer("vm-7", out, err);
  ASSERT_TRUE(writer.Write(Chunk("hello\n", 0)).ok());
  ASSERT_TRUE(writer.Write(Chunk(std::string("\0\xff\r\n", 4), 6)).ok());
  EXPECT_EQ(out.str(), std::string("hello\n\0\xff\r\n", 10));
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(writer.bytes_dropped(), 0u);
}

TEST(ConsoleWriter, ReportsDroppedBytesOnStderr) {
  std::ostringstream out, err;
  ConsoleWriter writer("vm-7", out, err);
  ASSERT_TRUE(writer.Write(Chunk("abc", 0)).ok());
  ASSERT_TRUE(writer.Write(Chunk("xyz", 103, 100)).ok());
  EXPECT_EQ(out.str(), "abcxyz");
  EXPECT_EQ(err.str(),
            "pvmctl: vm-7: 100 console bytes dropped before offset 103 "
            "(pvmd's console buffer overflowed)\n");
  EXPECT_EQ(writer.bytes_dropped(), 100u);
}

TEST(ConsoleWriter, AnOffsetJumpIsALossEvenWithoutDropped) {
  std::ostringstream out, err;
  ConsoleWriter writer("vm-7", out, err);
  // The buffer had wrapped before we came: the first byte we get is at 4096.
  ASSERT_TRUE(writer.Write(Chunk("tail", 4096)).ok());
  EXPECT_EQ(writer.bytes_dropped(), 4096u);
  EXPECT_NE(err.str().find("4096 console bytes dropped before offset 4096"), std::string::npos)
      << err.str();
}

TEST(ConsoleWriter, ALossIsCountedOnceWhenDroppedAndOffsetsAgree) {
  std::ostringstream out, err;
  ConsoleWriter writer("vm-7", out, err);
  ASSERT_TRUE(writer.Write(Chunk("ab", 0)).ok());
  ASSERT_TRUE(writer.Write(Chunk("cd", 12, 10)).ok());
  EXPECT_EQ(writer.bytes_dropped(), 10u);
}

TEST(ConsoleWriter, FailsWhenStdoutCannotBeWritten) {
  std::ostringstream out, err;
  out.setstate(std::ios::badbit);
  ConsoleWriter writer("vm-7", out, err);
  EXPECT_FALSE(writer.Write(Chunk("x", 0)).ok());
}

}  // namespace
}  // namespace pvm::ctl
