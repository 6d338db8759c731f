#include "daemon/vmm/console_buffer.h"

#include <gtest/gtest.h>

#include <thread>

namespace pvm::vmm {
namespace {

TEST(ConsoleBufferTest, KeepsEverythingWhileThereIsRoom) {
  ConsoleBuffer console(16);
  console.Append("hello ");
  console.Append("world\n");
  const ConsoleRead all = console.ReadFrom(0);
  EXPECT_EQ(all.data, "hello world\n");
  EXPECT_EQ(all.offset, 0u);
  EXPECT_EQ(all.dropped, 0u);
  EXPECT_EQ(console.ReadFrom(6).data, "world\n");
  EXPECT_EQ(console.ReadFrom(12).data, "");
  EXPECT_EQ(console.ReadFrom(99).offset, 12u) << "a reader ahead is clamped to the end";
}

TEST(ConsoleBufferTest, OverwritesTheOldestAndSaysHowMuchWasLost) {
  ConsoleBuffer console(4);
  console.Append("abcdef");
  const ConsoleRead read = console.ReadFrom(0);
  EXPECT_EQ(read.data, "cdef");
  EXPECT_EQ(read.offset, 2u);
  EXPECT_EQ(read.dropped, 2u);
  console.Append("gh");
  EXPECT_EQ(console.ReadFrom(5).data, "fgh");
  EXPECT_EQ(console.ReadFrom(5).dropped, 0u);
  EXPECT_EQ(console.total_written(), 8u);
}

TEST(ConsoleBufferTest, WaitEndsWhenBytesArrive) {
  ConsoleBuffer console(8);
  std::thread writer([&] { console.Append("x"); });
  EXPECT_TRUE(console.WaitBeyond(0, std::chrono::steady_clock::now() + std::chrono::minutes(1)));
  writer.join();
  EXPECT_EQ(console.ReadFrom(0).data, "x");
}

TEST(ConsoleBufferTest, CloseWakesWaitersWithNothingNew) {
  ConsoleBuffer console(8);
  console.Append("x");
  std::thread closer([&] { console.Close(); });
  EXPECT_FALSE(console.WaitBeyond(1, std::chrono::steady_clock::now() + std::chrono::minutes(1)));
  closer.join();
  EXPECT_TRUE(console.closed());
}

}  // namespace
}  // namespace pvm::vmm
