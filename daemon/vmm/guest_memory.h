// Guest-physical memory: one anonymous host mapping that KVM sees as a memslot at
// GPA 0. Every access by GPA is bounds-checked (overflow-safe).
#ifndef PVMD_DAEMON_VMM_GUEST_MEMORY_H_
#define PVMD_DAEMON_VMM_GUEST_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pvm::vmm {

class GuestMemory {
 public:
  // size: a non-zero multiple of the host page size.
  static absl::StatusOr<GuestMemory> Create(uint64_t size);

  GuestMemory(GuestMemory&& other) noexcept;
  GuestMemory& operator=(GuestMemory&& other) noexcept;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  ~GuestMemory();

  uint64_t size() const { return size_; }
  // For KVM_SET_USER_MEMORY_REGION only; everything else goes through the checked API.
  void* host_address() const { return base_; }

  // True when [gpa, gpa + len) lies inside guest memory (len 0 is inside when gpa <= size).
  bool Contains(uint64_t gpa, uint64_t len) const;

  absl::Status Read(uint64_t gpa, std::span<std::byte> out) const;
  absl::Status Write(uint64_t gpa, std::span<const std::byte> data);
  // A view of guest memory; valid while this object lives.
  absl::StatusOr<std::span<std::byte>> Slice(uint64_t gpa, uint64_t len);
  absl::StatusOr<std::span<const std::byte>> Slice(uint64_t gpa, uint64_t len) const;

  template <typename T>
  absl::StatusOr<T> ReadObject(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    if (absl::Status s = Read(gpa, std::as_writable_bytes(std::span(&value, 1))); !s.ok()) {
      return s;
    }
    return value;
  }
  template <typename T>
  absl::Status WriteObject(uint64_t gpa, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return Write(gpa, std::as_bytes(std::span(&value, 1)));
  }

 private:
  GuestMemory(void* base, uint64_t size) : base_(base), size_(size) {}

  void* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_GUEST_MEMORY_H_
