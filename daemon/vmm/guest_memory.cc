#include "daemon/vmm/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace pvm::vmm {
namespace {

// Names the range without computing an end that may have wrapped around: a caller
// that passes gpa near UINT64_MAX should read what it asked for, not a small number.
std::string DescribeRange(uint64_t gpa, uint64_t len) {
  if (len > UINT64_MAX - gpa) {
    return absl::StrFormat("[0x%x, 0x%x + 0x%x) (end beyond 2^64)", gpa, gpa, len);
  }
  return absl::StrFormat("[0x%x, 0x%x)", gpa, gpa + len);
}

absl::Status OutOfRange(uint64_t gpa, uint64_t len, uint64_t size) {
  return absl::OutOfRangeError(absl::StrFormat(
      "GPA range %s lies outside guest memory of 0x%x bytes", DescribeRange(gpa, len), size));
}

}  // namespace

absl::StatusOr<GuestMemory> GuestMemory::Create(uint64_t size) {
  const long page = sysconf(_SC_PAGESIZE);
  const uint64_t page_size = page > 0 ? static_cast<uint64_t>(page) : 4096;
  if (size == 0 || size % page_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest memory size 0x%x is not a non-zero multiple of the page size 0x%x",
                        size, page_size));
  }
  if (size > SIZE_MAX) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest memory size 0x%x does not fit the host address space", size));
  }
  // MAP_NORESERVE: a guest that never touches most of its memory should not be
  // charged for it up front. MAP_SHARED makes it shmem-backed, never copy-on-write:
  // a fork (a helper process) cannot split the daemon's view from the one KVM uses.
  void* base = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    return absl::ResourceExhaustedError(
        absl::StrFormat("cannot map 0x%x bytes of guest memory: %s", size, std::strerror(err)));
  }
  return GuestMemory(base, size);
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) {
      munmap(base_, static_cast<size_t>(size_));
    }
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

GuestMemory::~GuestMemory() {
  if (base_ != nullptr) {
    munmap(base_, static_cast<size_t>(size_));
  }
}

bool GuestMemory::Contains(uint64_t gpa, uint64_t len) const {
  // Written so that nothing can wrap: gpa + len is never computed.
  return len <= size_ && gpa <= size_ - len;
}

absl::Status GuestMemory::Read(uint64_t gpa, std::span<std::byte> out) const {
  if (!Contains(gpa, out.size())) {
    return OutOfRange(gpa, out.size(), size_);
  }
  if (!out.empty()) {
    std::memcpy(out.data(), static_cast<const std::byte*>(base_) + gpa, out.size());
  }
  return absl::OkStatus();
}

absl::Status GuestMemory::Write(uint64_t gpa, std::span<const std::byte> data) {
  if (!Contains(gpa, data.size())) {
    return OutOfRange(gpa, data.size(), size_);
  }
  if (!data.empty()) {
    std::memcpy(static_cast<std::byte*>(base_) + gpa, data.data(), data.size());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::span<std::byte>> GuestMemory::Slice(uint64_t gpa, uint64_t len) {
  if (!Contains(gpa, len)) {
    return OutOfRange(gpa, len, size_);
  }
  if (len == 0) {
    return std::span<std::byte>();
  }
  return std::span<std::byte>(static_cast<std::byte*>(base_) + gpa, static_cast<size_t>(len));
}

absl::StatusOr<std::span<const std::byte>> GuestMemory::Slice(uint64_t gpa, uint64_t len) const {
  if (!Contains(gpa, len)) {
    return OutOfRange(gpa, len, size_);
  }
  if (len == 0) {
    return std::span<const std::byte>();
  }
  return std::span<const std::byte>(static_cast<const std::byte*>(base_) + gpa,
                                    static_cast<size_t>(len));
}

}  // namespace pvm::vmm
