#include "daemon/vmm/memslots.h"

#include <linux/kvm.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pvm::vmm {

const char* PageAccessName(PageAccess access) {
  switch (access) {
    case PageAccess::kReadWrite:
      return "read-write";
    case PageAccess::kReadOnly:
      return "read-only";
    case PageAccess::kNone:
      return "absent";
  }
  return "unknown";
}

std::vector<MemRegion> LayoutFor(uint64_t memory_size,
                                 const std::map<uint64_t, PageAccess>& pages) {
  std::vector<MemRegion> regions;
  // Appends [gpa, gpa + size) with this access, merging with the region before it.
  auto append = [&](uint64_t gpa, uint64_t size, PageAccess access) {
    if (size == 0 || access == PageAccess::kNone) {
      return;
    }
    const bool read_only = access == PageAccess::kReadOnly;
    if (!regions.empty() && regions.back().read_only == read_only &&
        regions.back().gpa + regions.back().size == gpa) {
      regions.back().size += size;
      return;
    }
    regions.push_back({gpa, size, read_only});
  };
  uint64_t next = 0;
  for (const auto& [page, access] : pages) {
    if (page >= memory_size) {
      break;
    }
    append(next, page - next, PageAccess::kReadWrite);
    append(page, kGuestPageSize, access);
    next = page + kGuestPageSize;
  }
  if (next < memory_size) {
    append(next, memory_size - next, PageAccess::kReadWrite);
  }
  return regions;
}

Memslots::Memslots(SetRegionFn set_region, void* host_address, uint64_t size)
    : set_region_(std::move(set_region)), host_address_(host_address), size_(size) {}

absl::Status Memslots::Install(const MemslotCaps& caps) {
  if (installed_) {
    return absl::FailedPreconditionError("guest memory slots are already installed");
  }
  caps_ = caps;
  if (caps_.max_slots == 0) {
    caps_.max_slots = 32;  // KVM's oldest minimum
  }
  const Memslot all{.id = 0, .gpa = 0, .size = size_, .read_only = false};
  if (absl::Status s = Set(all); !s.ok()) {
    return s;
  }
  slots_ = {all};
  installed_ = true;
  return absl::OkStatus();
}

absl::Status Memslots::Set(const Memslot& slot) {
  ++region_calls_;
  return set_region_(slot.id, slot.gpa, slot.size, static_cast<char*>(host_address_) + slot.gpa,
                     slot.read_only ? KVM_MEM_READONLY : 0);
}

absl::Status Memslots::Delete(const Memslot& slot) {
  ++region_calls_;
  return set_region_(slot.id, slot.gpa, 0, static_cast<char*>(host_address_) + slot.gpa, 0);
}

PageAccess Memslots::AccessOf(uint64_t gpa) const {
  auto it = pages_.find(gpa & ~(kGuestPageSize - 1));
  return it == pages_.end() ? PageAccess::kReadWrite : it->second;
}

std::vector<Memslot> Memslots::Slots() const { return slots_; }

absl::Status Memslots::SetPageAccess(uint64_t page_gpa, PageAccess access) {
  if (!installed_) {
    return absl::FailedPreconditionError("guest memory slots are not installed yet");
  }
  if (page_gpa % kGuestPageSize != 0 || page_gpa >= size_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "0x%x is not the start of a 4 KiB page inside guest memory (0x%x bytes)", page_gpa, size_));
  }
  if (access == PageAccess::kReadOnly && !caps_.readonly) {
    return absl::FailedPreconditionError(
        "KVM here has no read-only memory slots (KVM_CAP_READONLY_MEM)");
  }
  if (AccessOf(page_gpa) == access) {
    return absl::OkStatus();
  }
  std::map<uint64_t, PageAccess> pages = pages_;
  if (access == PageAccess::kReadWrite) {
    pages.erase(page_gpa);
  } else {
    pages[page_gpa] = access;
  }
  const std::vector<MemRegion> desired = LayoutFor(size_, pages);
  if (desired.size() > caps_.max_slots) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("protecting page 0x%x would need %d memory slots; KVM here offers %d",
                        page_gpa, desired.size(), caps_.max_slots));
  }
  if (absl::Status s = Apply(desired); !s.ok()) {
    return s;
  }
  pages_ = std::move(pages);
  return absl::OkStatus();
}

absl::Status Memslots::Apply(const std::vector<MemRegion>& desired) {
  // Slots already right keep their ids (and KVM keeps their mappings).
  std::vector<Memslot> kept;
  std::vector<Memslot> removed;
  for (const Memslot& slot : slots_) {
    const MemRegion region{slot.gpa, slot.size, slot.read_only};
    if (std::find(desired.begin(), desired.end(), region) != desired.end()) {
      kept.push_back(slot);
    } else {
      removed.push_back(slot);
    }
  }
  std::set<uint32_t> used;
  for (const Memslot& slot : kept) {
    used.insert(slot.id);
  }
  std::vector<Memslot> added;
  uint32_t candidate = 0;
  for (const MemRegion& region : desired) {
    const bool exists = std::any_of(kept.begin(), kept.end(), [&](const Memslot& s) {
      return s.gpa == region.gpa && s.size == region.size && s.read_only == region.read_only;
    });
    if (exists) {
      continue;
    }
    while (used.count(candidate) != 0) {
      ++candidate;
    }
    used.insert(candidate);
    added.push_back({candidate, region.gpa, region.size, region.read_only});
  }

  // Deletions first: KVM refuses a slot that overlaps one still present.
  size_t deleted = 0;
  size_t created = 0;
  absl::Status failure;
  for (; deleted < removed.size(); ++deleted) {
    if (failure = Delete(removed[deleted]); !failure.ok()) {
      break;
    }
  }
  if (failure.ok()) {
    for (; created < added.size(); ++created) {
      if (failure = Set(added[created]); !failure.ok()) {
        break;
      }
    }
  }
  if (failure.ok()) {
    kept.insert(kept.end(), added.begin(), added.end());
    std::sort(kept.begin(), kept.end(),
              [](const Memslot& a, const Memslot& b) { return a.gpa < b.gpa; });
    slots_ = std::move(kept);
    return absl::OkStatus();
  }

  // Undo in reverse: the new slots go, the old ones come back with their ids.
  bool restored = true;
  for (size_t i = created; i-- > 0;) {
    restored = Delete(added[i]).ok() && restored;
  }
  for (size_t i = deleted; i-- > 0;) {
    restored = Set(removed[i]).ok() && restored;
  }
  if (!restored) {
    return absl::InternalError(
        absl::StrCat("changing guest memory slots failed (", failure.message(),
                     ") and the previous layout could not be restored: guest memory is broken"));
  }
  return absl::Status(failure.code(),
                      absl::StrCat("changing guest memory slots: ", failure.message()));
}

}  // namespace pvm::vmm
