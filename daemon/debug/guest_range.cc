#include "daemon/debug/guest_range.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "daemon/vmm/page_tables.h"

namespace pvm::debug {

absl::StatusOr<std::vector<PhysicalChunk>> MapGuestRange(const vmm::GuestMemory& memory,
                                                         AddressSpace space, uint64_t cr3,
                                                         uint64_t address, size_t length) {
  if (length > 0 && address + (length - 1) < address) {
    return absl::InvalidArgumentError(
        absl::StrFormat("range 0x%x + %d wraps around the address space", address, length));
  }
  std::vector<PhysicalChunk> chunks;
  if (space == AddressSpace::kPhysical) {
    if (!memory.Contains(address, length)) {
      return absl::OutOfRangeError(
          absl::StrFormat("guest-physical range 0x%x + %d is outside guest memory (0x%x bytes)",
                          address, length, memory.size()));
    }
    chunks.push_back({address, 0, length});
    return chunks;
  }
  size_t done = 0;
  while (done < length) {
    const uint64_t gva = address + done;
    absl::StatusOr<vmm::Translation> translation = vmm::TranslateGva(memory, cr3, gva);
    if (!translation.ok()) {
      return absl::Status(
          translation.status().code(),
          absl::StrFormat("guest-virtual address 0x%x: %s", gva, translation.status().message()));
    }
    const uint64_t page_left = translation->page_size - (gva & (translation->page_size - 1));
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(page_left, length - done));
    if (!memory.Contains(translation->gpa, piece)) {
      return absl::OutOfRangeError(absl::StrFormat(
          "guest-virtual address 0x%x maps to 0x%x, outside guest memory", gva, translation->gpa));
    }
    if (!chunks.empty() && chunks.back().gpa + chunks.back().length == translation->gpa) {
      chunks.back().length += piece;
    } else {
      chunks.push_back({translation->gpa, done, piece});
    }
    done += piece;
  }
  return chunks;
}

}  // namespace pvm::debug
