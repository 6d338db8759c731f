// The VM's guest memory as KVM sees it: which memslots cover which GPAs.
//
// Normally one slot (id 0) covers all of guest memory from GPA 0. To watch memory
// without debug registers, single 4 KiB pages are carved out of it: a page made
// read-only lies in a KVM_MEM_READONLY slot of its own (loads run at full speed,
// stores exit as KVM_EXIT_MMIO), a page made absent lies in no slot at all (loads
// and stores both exit as KVM_EXIT_MMIO). The data stays in the one host mapping:
// every slot points at its own offset of it, so what the VMM writes there is what
// the guest reads once the page is back.
//
// KVM's rules, which shape how the layout changes:
// - slots may not overlap (EEXIST), so deletions come before creations;
// - an existing slot cannot be resized, moved-and-resized, or have KVM_MEM_READONLY
//   toggled (EINVAL): such a slot is deleted (size 0) and created again;
// - slot ids are below KVM_CAP_NR_MEMSLOTS; an id becomes free once deleted;
// - every change zaps KVM's mappings of the affected GPAs, which is only safe while
//   no vCPU runs: call everything here with every vCPU parked (Vm::WithAllParked).
// Slots that stay the same keep their ids; new ones take the lowest free ids, so
// with no page protected the layout is exactly the original one: slot 0, all of
// memory, no flags.
#ifndef PVMD_DAEMON_VMM_MEMSLOTS_H_
#define PVMD_DAEMON_VMM_MEMSLOTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace pvm::vmm {

inline constexpr uint64_t kGuestPageSize = 4096;

// What KVM lets through for a page without exiting to the VMM.
enum class PageAccess : uint8_t {
  kReadWrite,  // normal memory
  kReadOnly,   // stores exit as KVM_EXIT_MMIO
  kNone,       // loads and stores exit as KVM_EXIT_MMIO (no slot)
};
const char* PageAccessName(PageAccess access);

struct Memslot {
  uint32_t id = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
  bool read_only = false;
  bool operator==(const Memslot&) const = default;
};

// A slot without its id: what the layout wants at a place.
struct MemRegion {
  uint64_t gpa = 0;
  uint64_t size = 0;
  bool read_only = false;
  bool operator==(const MemRegion&) const = default;
};

// The regions (sorted by GPA) that cover [0, memory_size) with `pages` protected:
// runs of normal pages become one slot, runs of read-only pages one read-only slot,
// absent pages none. Pure, for tests.
std::vector<MemRegion> LayoutFor(uint64_t memory_size, const std::map<uint64_t, PageAccess>& pages);

struct MemslotCaps {
  bool readonly = false;    // KVM_CAP_READONLY_MEM
  uint32_t max_slots = 32;  // KVM_CAP_NR_MEMSLOTS
};

class Memslots {
 public:
  // KVM_SET_USER_MEMORY_REGION (size 0 deletes); VmFd::SetMemoryRegion in a VM,
  // a fake that enforces KVM's rules in unit tests.
  using SetRegionFn = std::function<absl::Status(uint32_t slot, uint64_t gpa, uint64_t size,
                                                 void* host_address, uint32_t flags)>;

  // host_address/size: the guest memory mapping (GPA 0 at host_address).
  Memslots(SetRegionFn set_region, void* host_address, uint64_t size);
  Memslots(const Memslots&) = delete;
  Memslots& operator=(const Memslots&) = delete;

  // Creates slot 0 over all of memory. Once, before any vCPU runs.
  absl::Status Install(const MemslotCaps& caps);

  // With every vCPU parked. Gives the 4 KiB page at page_gpa this access
  // (kReadWrite puts it back). On failure the previous layout is restored and
  // nothing changes; INTERNAL if even that failed (the VM's memory is then
  // unusable). INVALID_ARGUMENT for an unaligned or outside page,
  // FAILED_PRECONDITION for kReadOnly without KVM_CAP_READONLY_MEM,
  // RESOURCE_EXHAUSTED when the layout would need more slots than KVM has.
  absl::Status SetPageAccess(uint64_t page_gpa, PageAccess access);

  PageAccess AccessOf(uint64_t gpa) const;
  // What KVM was told, sorted by GPA.
  std::vector<Memslot> Slots() const;
  const std::map<uint64_t, PageAccess>& protected_pages() const { return pages_; }
  bool readonly_supported() const { return caps_.readonly; }
  uint64_t memory_size() const { return size_; }
  // KVM_SET_USER_MEMORY_REGION calls so far, for tests and benchmarks.
  uint64_t region_calls() const { return region_calls_; }

 private:
  // Moves KVM from slots_ to `desired`, rolling back on failure.
  absl::Status Apply(const std::vector<MemRegion>& desired);
  absl::Status Set(const Memslot& slot);
  absl::Status Delete(const Memslot& slot);

  SetRegionFn set_region_;
  void* const host_address_;
  const uint64_t size_;
  MemslotCaps caps_;
  bool installed_ = false;
  std::map<uint64_t, PageAccess> pages_;  // protected pages only
  std::vector<Memslot> slots_;            // sorted by gpa
  uint64_t region_calls_ = 0;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_MEMSLOTS_H_
