// A guest address range as the pieces of guest-physical memory behind it.
#ifndef PVMD_DAEMON_DEBUG_GUEST_RANGE_H_
#define PVMD_DAEMON_DEBUG_GUEST_RANGE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/debug/debug_types.h"
#include "daemon/vmm/guest_memory.h"

namespace pvm::debug {

struct PhysicalChunk {
  uint64_t gpa = 0;
  size_t offset = 0;  // into the range
  size_t length = 0;
};

// Virtual ranges are translated page by page through the tables at cr3, so a range
// may span pages mapped anywhere. Every byte must be mapped and inside guest memory:
// the error names the first address that is not (INVALID_ARGUMENT / OUT_OF_RANGE).
absl::StatusOr<std::vector<PhysicalChunk>> MapGuestRange(const vmm::GuestMemory& memory,
                                                         AddressSpace space, uint64_t cr3,
                                                         uint64_t address, size_t length);

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_GUEST_RANGE_H_
