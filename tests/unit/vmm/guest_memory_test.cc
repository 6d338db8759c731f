#include "daemon/vmm/guest_memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

namespace pvm::vmm {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSize = 2 << 20;

GuestMemory MakeMemory(uint64_t size = kSize) {
  absl::StatusOr<GuestMemory> memory = GuestMemory::Create(size);
  EXPECT_TRUE(memory.ok()) << memory.status();
  return *std::move(memory);
}

// True when [addr, addr + len) is mapped in this process (mincore fails with
// ENOMEM on unmapped pages).
bool IsMapped(void* addr, size_t len) {
  std::vector<unsigned char> vec((len + 4095) / 4096);
  return mincore(addr, len, vec.data()) == 0;
}

TEST(GuestMemoryTest, RefusesZeroAndUnalignedSizes) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{4097}, kSize + 100}) {
    absl::StatusOr<GuestMemory> memory = GuestMemory::Create(size);
    ASSERT_FALSE(memory.ok()) << size;
    EXPECT_EQ(memory.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(memory.status().message(), HasSubstr("multiple of the page size"));
  }
}

TEST(GuestMemoryTest, StartsZeroedAndRoundTrips) {
  GuestMemory memory = MakeMemory();
  EXPECT_EQ(memory.size(), kSize);
  EXPECT_NE(memory.host_address(), nullptr);

  absl::StatusOr<uint64_t> zero = memory.ReadObject<uint64_t>(0x1234);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, 0u);

  ASSERT_TRUE(memory.WriteObject<uint64_t>(0x1000, 0x1122334455667788).ok());
  absl::StatusOr<uint64_t> value = memory.ReadObject<uint64_t>(0x1000);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 0x1122334455667788u);

  std::array<std::byte, 3> out{};
  ASSERT_TRUE(memory.Read(0x1001, out).ok());
  EXPECT_EQ(out[0], std::byte{0x77});
  EXPECT_EQ(out[2], std::byte{0x55});

  // The host mapping is what KVM sees: a write through it is visible to Read.
  static_cast<unsigned char*>(memory.host_address())[kSize - 1] = 0xab;
  absl::StatusOr<uint8_t> last = memory.ReadObject<uint8_t>(kSize - 1);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 0xab);
}

TEST(GuestMemoryTest, ContainsIsExactAtTheEdges) {
  GuestMemory memory = MakeMemory();
  EXPECT_TRUE(memory.Contains(0, kSize));
  EXPECT_TRUE(memory.Contains(kSize - 1, 1));
  EXPECT_TRUE(memory.Contains(kSize, 0));
  EXPECT_FALSE(memory.Contains(kSize, 1));
  EXPECT_FALSE(memory.Contains(kSize + 1, 0));
  EXPECT_FALSE(memory.Contains(0, kSize + 1));
  EXPECT_FALSE(memory.Contains(kSize - 1, 2));
}

TEST(GuestMemoryTest, ContainsDoesNotWrapAround) {
  GuestMemory memory = MakeMemory();
  // Each of these would look "inside" if gpa + len were computed and wrapped.
  EXPECT_FALSE(memory.Contains(UINT64_MAX, 1));
  EXPECT_FALSE(memory.Contains(UINT64_MAX, 2));
  EXPECT_FALSE(memory.Contains(UINT64_MAX - 7, 16));
  EXPECT_FALSE(memory.Contains(1, UINT64_MAX));
  EXPECT_FALSE(memory.Contains(UINT64_MAX, UINT64_MAX));
  EXPECT_FALSE(memory.Contains(0x1000, UINT64_MAX - 0xfff));  // end wraps to exactly 0
}

TEST(GuestMemoryTest, ReadNearUint64MaxIsOutOfRangeWithAPreciseMessage) {
  GuestMemory memory = MakeMemory();
  absl::StatusOr<uint64_t> value = memory.ReadObject<uint64_t>(UINT64_MAX - 3);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(value.status().message(), HasSubstr("0xfffffffffffffffc"));
  EXPECT_THAT(value.status().message(), HasSubstr("end beyond 2^64"));
  EXPECT_THAT(value.status().message(), HasSubstr("guest memory of 0x200000 bytes"));
}

TEST(GuestMemoryTest, OutOfRangeMessageNamesTheRange) {
  GuestMemory memory = MakeMemory();
  std::array<std::byte, 16> buf{};
  absl::Status s = memory.Read(kSize - 8, buf);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(),
              HasSubstr("GPA range [0x1ffff8, 0x200008) lies outside guest memory of 0x200000"));
}

TEST(GuestMemoryTest, FailedWriteChangesNothing) {
  GuestMemory memory = MakeMemory();
  ASSERT_TRUE(memory.WriteObject<uint32_t>(kSize - 4, 0xdeadbeef).ok());
  absl::Status s = memory.WriteObject<uint64_t>(kSize - 4, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<uint32_t> tail = memory.ReadObject<uint32_t>(kSize - 4);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, 0xdeadbeefu);

  std::array<std::byte, 4> data{};
  EXPECT_EQ(memory.Write(UINT64_MAX - 1, data).code(), absl::StatusCode::kOutOfRange);
}

TEST(GuestMemoryTest, EmptyAccessesAtTheEndAreFine) {
  GuestMemory memory = MakeMemory();
  EXPECT_TRUE(memory.Read(kSize, {}).ok());
  EXPECT_TRUE(memory.Write(kSize, {}).ok());
  EXPECT_EQ(memory.Read(kSize + 1, {}).code(), absl::StatusCode::kOutOfRange);
}

TEST(GuestMemoryTest, SliceIsAViewAndIsBoundsChecked) {
  GuestMemory memory = MakeMemory();
  absl::StatusOr<std::span<std::byte>> slice = memory.Slice(0x2000, 16);
  ASSERT_TRUE(slice.ok());
  ASSERT_EQ(slice->size(), 16u);
  (*slice)[3] = std::byte{0x5a};
  absl::StatusOr<uint8_t> read = memory.ReadObject<uint8_t>(0x2003);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, 0x5a);

  const GuestMemory& const_memory = memory;
  absl::StatusOr<std::span<const std::byte>> view = const_memory.Slice(kSize - 16, 16);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->size(), 16u);

  EXPECT_EQ(memory.Slice(kSize - 15, 16).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(const_memory.Slice(UINT64_MAX, 2).status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<std::span<std::byte>> empty = memory.Slice(kSize, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(GuestMemoryTest, MoveTransfersOwnershipAndLeavesAnEmptySource) {
  GuestMemory a = MakeMemory();
  ASSERT_TRUE(a.WriteObject<uint32_t>(0x10, 42).ok());
  void* base = a.host_address();

  GuestMemory b(std::move(a));
  EXPECT_EQ(b.host_address(), base);
  EXPECT_EQ(b.size(), kSize);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.host_address(), nullptr);
  EXPECT_EQ(a.ReadObject<uint32_t>(0x10).status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<uint32_t> moved = b.ReadObject<uint32_t>(0x10);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 42u);
  EXPECT_TRUE(IsMapped(base, kSize));
}

TEST(GuestMemoryTest, DestructionAndMoveAssignmentUnmap) {
  void* first = nullptr;
  void* second = nullptr;
  {
    GuestMemory a = MakeMemory();
    GuestMemory b = MakeMemory(4 * kSize);
    first = a.host_address();
    second = b.host_address();
    ASSERT_TRUE(IsMapped(first, kSize));
    a = std::move(b);  // a's old mapping must go now, not at scope end
    EXPECT_FALSE(IsMapped(first, kSize));
    EXPECT_EQ(a.host_address(), second);
    EXPECT_EQ(a.size(), 4 * kSize);
    EXPECT_TRUE(IsMapped(second, 4 * kSize));
  }
  EXPECT_FALSE(IsMapped(second, 4 * kSize));
}

}  // namespace
}  // namespace pvm::vmm
