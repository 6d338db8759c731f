// The guest's 4-level page tables: the identity map the VMM builds at boot, and a
// walk of whatever tables the guest runs on (GVA -> GPA).
#ifndef PVMD_DAEMON_VMM_PAGE_TABLES_H_
#define PVMD_DAEMON_VMM_PAGE_TABLES_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/guest_memory.h"

namespace pvm::vmm {

// Writes identity-mapped 4-level tables (2 MiB pages, P|RW|US on every level) that
// cover all of `memory`, at the GPAs of pvm_boot_abi.h. Fails (INVALID_ARGUMENT) when
// the memory is larger than the boot tables can map (PVM_BOOT_MAX_PD_PAGES GiB) or
// not a multiple of 2 MiB: every mapped address has memory behind it.
absl::Status BuildIdentityMap(GuestMemory& memory);

struct Translation {
  uint64_t gpa = 0;
  uint64_t page_size = 0;  // 4 KiB, 2 MiB or 1 GiB
  bool writable = false;   // R/W set on every level
  bool user = false;       // U/S set on every level
};

bool IsCanonical(uint64_t gva);

// Walks the 4-level tables rooted at cr3. Errors: INVALID_ARGUMENT for a
// non-canonical address, NOT_FOUND when a level is not present (the message names
// the level; also for reserved bits, which make the CPU fault just the same),
// OUT_OF_RANGE when a table or the result lies outside guest memory.
absl::StatusOr<Translation> TranslateGva(const GuestMemory& memory, uint64_t cr3, uint64_t gva);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_PAGE_TABLES_H_
