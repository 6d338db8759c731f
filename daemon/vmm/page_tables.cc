#include "daemon/vmm/page_tables.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "guests/runtime/pvm_boot_abi.h"

namespace pvm::vmm {
namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kUser = 1ull << 2;
constexpr uint64_t kPageSizeBit = 1ull << 7;

constexpr uint64_t k4K = 1ull << 12;
constexpr uint64_t k2M = 1ull << 21;
constexpr uint64_t k1G = 1ull << 30;
constexpr uint64_t kEntriesPerTable = 512;
constexpr uint64_t kTableBytes = kEntriesPerTable * sizeof(uint64_t);

// The host's MAXPHYADDR is unknown here, so the walk accepts the architectural
// maximum (52 bits): a frame beyond guest memory is caught by the bounds check on
// the next read or on the result instead.
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;  // bits 51:12
constexpr uint64_t k2MFrameMask = 0x000fffffffe00000ull;  // bits 51:21
constexpr uint64_t k1GFrameMask = 0x000fffffc0000000ull;  // bits 51:30
// Bit 12 of a large-page entry is PAT; the bits between it and the frame are
// reserved and make the CPU fault with PFEC.RSVD.
constexpr uint64_t k2MReservedMask = 0x00000000001fe000ull;  // bits 20:13
constexpr uint64_t k1GReservedMask = 0x000000003fffe000ull;  // bits 29:13

struct Level {
  const char* name;  // as the SDM names the entry
  int shift;         // of the GVA bits that index this table
};
constexpr std::array<Level, 4> kLevels = {{
    {"PML4E", 39},
    {"PDPTE", 30},
    {"PDE", 21},
    {"PTE", 12},
}};

absl::Status ZeroRange(GuestMemory& memory, uint64_t gpa, uint64_t len) {
  absl::StatusOr<std::span<std::byte>> bytes = memory.Slice(gpa, len);
  if (!bytes.ok()) return bytes.status();
  std::fill(bytes->begin(), bytes->end(), std::byte{0});
  return absl::OkStatus();
}

}  // namespace

absl::Status BuildIdentityMap(GuestMemory& memory) {
  const uint64_t size = memory.size();
  constexpr uint64_t kMaxBytes = static_cast<uint64_t>(PVM_BOOT_MAX_PD_PAGES) * k1G;
  // A memory size that is not a whole number of 2 MiB pages is refused rather than
  // rounded: rounding down would leave the top (where the boot stacks live)
  // unmapped, rounding up would map GPAs with nothing behind them.
  if (size == 0 || size % k2M != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "guest memory size 0x%x is not a non-zero multiple of 2 MiB (the boot page tables "
        "map 2 MiB pages)",
        size));
  }
  if (size > kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest memory size 0x%x exceeds the %d GiB the boot page tables can map",
                        size, PVM_BOOT_MAX_PD_PAGES));
  }
  const uint64_t pd_pages = (size + k1G - 1) / k1G;
  const uint64_t tables_end = PVM_BOOT_PD_GPA + pd_pages * kTableBytes;
  static_assert(PVM_BOOT_PD_GPA + PVM_BOOT_MAX_PD_PAGES * 4096 <= PVM_BOOT_IMAGE_BASE,
                "the boot page tables must end below the image");
  static_assert(
      PVM_BOOT_PML4_GPA % 4096 == 0 && PVM_BOOT_PDPT_GPA % 4096 == 0 && PVM_BOOT_PD_GPA % 4096 == 0,
      "page tables must be 4 KiB aligned");

  // Cleared first so that rebuilding over used memory leaves no stale entries.
  if (absl::Status s = ZeroRange(memory, PVM_BOOT_PML4_GPA, kTableBytes); !s.ok()) return s;
  if (absl::Status s = ZeroRange(memory, PVM_BOOT_PDPT_GPA, kTableBytes); !s.ok()) return s;
  if (absl::Status s = ZeroRange(memory, PVM_BOOT_PD_GPA, tables_end - PVM_BOOT_PD_GPA); !s.ok()) {
    return s;
  }

  // kvm-pvm wants U/S on every level, not only on the leaves.
  constexpr uint64_t kFlags = kPresent | kWritable | kUser;
  if (absl::Status s = memory.WriteObject<uint64_t>(PVM_BOOT_PML4_GPA, PVM_BOOT_PDPT_GPA | kFlags);
      !s.ok()) {
    return s;
  }
  for (uint64_t i = 0; i < pd_pages; ++i) {
    const uint64_t pd = PVM_BOOT_PD_GPA + i * kTableBytes;
    if (absl::Status s = memory.WriteObject<uint64_t>(PVM_BOOT_PDPT_GPA + i * 8, pd | kFlags);
        !s.ok()) {
      return s;
    }
  }
  for (uint64_t gpa = 0; gpa < size; gpa += k2M) {
    const uint64_t entry_gpa = PVM_BOOT_PD_GPA + (gpa / k2M) * 8;
    if (absl::Status s = memory.WriteObject<uint64_t>(entry_gpa, gpa | kFlags | kPageSizeBit);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

bool IsCanonical(uint64_t gva) {
  const uint64_t top = gva >> 47;  // bits 63:47 must all equal bit 47
  return top == 0 || top == 0x1ffff;
}

absl::StatusOr<Translation> TranslateGva(const GuestMemory& memory, uint64_t cr3, uint64_t gva) {
  if (!IsCanonical(gva)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GVA 0x%x is not canonical (bits 63:47 differ)", gva));
  }
  // CR3 bits 11:0 are PCID or PWT/PCD, never part of the table address.
  uint64_t table = cr3 & kAddressMask;
  bool writable = true;
  bool user = true;
  for (size_t depth = 0; depth < kLevels.size(); ++depth) {
    const Level& level = kLevels[depth];
    const uint64_t index = (gva >> level.shift) & (kEntriesPerTable - 1);
    const uint64_t entry_gpa = table + index * 8;
    absl::StatusOr<uint64_t> entry = memory.ReadObject<uint64_t>(entry_gpa);
    if (!entry.ok()) {
      return absl::OutOfRangeError(
          absl::StrFormat("GVA 0x%x: %s at GPA 0x%x lies outside guest memory of 0x%x bytes", gva,
                          level.name, entry_gpa, memory.size()));
    }
    if ((*entry & kPresent) == 0) {
      return absl::NotFoundError(absl::StrFormat("GVA 0x%x: %s at GPA 0x%x is not present (0x%x)",
                                                 gva, level.name, entry_gpa, *entry));
    }
    writable = writable && (*entry & kWritable) != 0;
    user = user && (*entry & kUser) != 0;

    const bool leaf_by_level = depth == kLevels.size() - 1;
    const bool large = (*entry & kPageSizeBit) != 0 && !leaf_by_level;
    if (large && depth == 0) {
      // PS is reserved in a PML4E: the CPU faults instead of mapping a 512 GiB page.
      return absl::NotFoundError(
          absl::StrFormat("GVA 0x%x: %s at GPA 0x%x has the reserved PS bit set (0x%x)", gva,
                          level.name, entry_gpa, *entry));
    }
    if (large || leaf_by_level) {
      uint64_t page_size = k4K;
      uint64_t frame = *entry & kAddressMask;
      uint64_t reserved = 0;
      if (large && depth == 1) {
        page_size = k1G;
        frame = *entry & k1GFrameMask;
        reserved = *entry & k1GReservedMask;
      } else if (large && depth == 2) {
        page_size = k2M;
        frame = *entry & k2MFrameMask;
        reserved = *entry & k2MReservedMask;
      }
      if (reserved != 0) {
        return absl::NotFoundError(
            absl::StrFormat("GVA 0x%x: %s at GPA 0x%x has reserved bits 0x%x set (0x%x)", gva,
                            level.name, entry_gpa, reserved, *entry));
      }
      const uint64_t gpa = frame | (gva & (page_size - 1));
      if (!memory.Contains(gpa, 1)) {
        return absl::OutOfRangeError(
            absl::StrFormat("GVA 0x%x maps to GPA 0x%x, outside guest memory of 0x%x bytes", gva,
                            gpa, memory.size()));
      }
      return Translation{.gpa = gpa, .page_size = page_size, .writable = writable, .user = user};
    }
    table = *entry & kAddressMask;
  }
  // Unreachable: the PTE level always returns.
  return absl::InternalError("page walk did not terminate");
}

}  // namespace pvm::vmm
