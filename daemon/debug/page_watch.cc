#include "daemon/debug/page_watch.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/vmm/guest_abi.h"
#include "daemon/vmm/page_tables.h"
#include "daemon/vmm/vm.h"

namespace pvm::debug {
namespace {

using vmm::kGuestPageSize;
using vmm::PageAccess;

constexpr uint64_t kPageMask = ~(kGuestPageSize - 1);
constexpr uint64_t kPteAddress = 0x000ffffffffff000;
constexpr uint64_t kPtePresent = 1;
constexpr uint64_t kPteLarge = 1 << 7;
constexpr uint64_t kCr0Paging = 1ull << 31;
constexpr uint64_t kCr4La57 = 1ull << 12;
// A 64-bit exception frame with error code is 48 bytes, aligned down to 16.
constexpr uint64_t kFrameBytes = 64;
// More page-table pages than this are not walked (a guest kernel with that many
// has its tables spread over memory anyway; the rest stays unchecked).
constexpr size_t kMaxTablePages = 1 << 16;

uint64_t PageOf(uint64_t gpa) { return gpa & kPageMask; }

// Every table page reachable from the PML4 at cr3 (4-level paging).
void CollectTablePages(const vmm::GuestMemory& memory, uint64_t cr3, std::set<uint64_t>& pages) {
  struct Level {
    uint64_t table;
    int depth;  // 4 = PML4 ... 1 = PT
  };
  std::vector<Level> todo{{cr3 & kPteAddress, 4}};
  while (!todo.empty() && pages.size() < kMaxTablePages) {
    const Level level = todo.back();
    todo.pop_back();
    absl::StatusOr<std::span<const std::byte>> bytes = memory.Slice(level.table, kGuestPageSize);
    if (!bytes.ok() || !pages.insert(level.table).second || level.depth == 1) {
      continue;
    }
    for (size_t i = 0; i < 512; ++i) {
      uint64_t entry;
      std::memcpy(&entry, bytes->data() + i * 8, 8);
      // PDPT and PD entries with PS map memory, not a table.
      if ((entry & kPtePresent) == 0 || (level.depth <= 3 && (entry & kPteLarge) != 0)) {
        continue;
      }
      todo.push_back({entry & kPteAddress, level.depth - 1});
    }
  }
}

class Reserver {
 public:
  Reserver(const vmm::GuestMemory& memory, std::vector<ReservedRange>& out)
      : memory_(memory), out_(out) {}

  // [gva, gva + size) through the tables at cr3; unmapped pieces are skipped (the
  // guest cannot be using them for this either).
  void Virtual(uint64_t cr3, uint64_t gva, uint64_t size, bool kvm_writes,
               const std::string& what) {
    uint64_t done = 0;
    while (done < size) {
      const uint64_t va = gva + done;
      const uint64_t piece = std::min(size - done, kGuestPageSize - (va & ~kPageMask));
      if (absl::StatusOr<vmm::Translation> t = vmm::TranslateGva(memory_, cr3, va); t.ok()) {
        out_.push_back({t->gpa, piece, kvm_writes, what});
      }
      done += piece;
    }
  }

  absl::StatusOr<uint64_t> ReadVirtualU64(uint64_t cr3, uint64_t gva) const {
    absl::StatusOr<vmm::Translation> t = vmm::TranslateGva(memory_, cr3, gva);
    if (!t.ok()) {
      return t.status();
    }
    if ((gva & ~kPageMask) > kGuestPageSize - 8) {
      return absl::OutOfRangeError("crosses a page");
    }
    return memory_.ReadObject<uint64_t>(t->gpa);
  }

 private:
  const vmm::GuestMemory& memory_;
  std::vector<ReservedRange>& out_;
};

}  // namespace

absl::StatusOr<std::vector<ReservedRange>> ReservedGuestPages(vmm::Vm& vm) {
  std::vector<ReservedRange> out;
  out.push_back({0, PVM_BOOT_IMAGE_BASE, true,
                 "the boot area (boot GDT and page tables, guest_abi.h), which KVM walks and "
                 "updates itself"});
  for (const vmm::LoadedSegment& segment : vm.image().segments()) {
    if (segment.executable) {
      out.push_back({segment.gpa, segment.memory_size, false,
                     "the image's code, which an absent page could not execute"});
    }
  }
  Reserver reserve(vm.memory(), out);
  for (auto& vcpu : vm.vcpus()) {
    vmm::VcpuFd& fd = vcpu->fd();
    absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
    if (!sregs.ok()) {
      return sregs.status();
    }
    absl::StatusOr<kvm_regs> regs = fd.GetRegs();
    if (!regs.ok()) {
      return regs.status();
    }
    const uint32_t id = vcpu->id();
    if ((sregs->cr0 & kCr0Paging) == 0 || (sregs->cr4 & kCr4La57) != 0) {
      // Not the long-mode guest this VMM boots: nothing below can be walked.
      return absl::FailedPreconditionError(absl::StrFormat(
          "vCPU %d is not in 4-level paging (CR0 0x%x, CR4 0x%x): its page tables and descriptor "
          "tables cannot be located to keep watches off them",
          id, sregs->cr0, sregs->cr4));
    }
    const uint64_t cr3 = sregs->cr3;
    std::set<uint64_t> tables;
    CollectTablePages(vm.memory(), cr3, tables);
    const std::string table_what =
        absl::StrCat("a page table of vCPU ", id, ", whose accessed/dirty bits KVM sets itself");
    for (uint64_t page : tables) {
      out.push_back({page, kGuestPageSize, true, table_what});
    }
    reserve.Virtual(
        cr3, sregs->gdt.base, uint64_t{sregs->gdt.limit} + 1, true,
        absl::StrCat("the GDT of vCPU ", id, ", which KVM reads and marks busy/accessed"));
    reserve.Virtual(
        cr3, sregs->idt.base, uint64_t{sregs->idt.limit} + 1, false,
        absl::StrCat("the IDT of vCPU ", id, ", which KVM reads to deliver exceptions"));
    if (sregs->tr.base != 0 || sregs->tr.limit != 0) {
      reserve.Virtual(
          cr3, sregs->tr.base, uint64_t{sregs->tr.limit} + 1, false,
          absl::StrCat("the TSS of vCPU ", id, ", which KVM reads to deliver exceptions"));
      // RSP0 at offset 4, IST1..7 at 0x24: where KVM pushes exception frames.
      for (uint64_t offset : {4, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54}) {
        absl::StatusOr<uint64_t> top = reserve.ReadVirtualU64(cr3, sregs->tr.base + offset);
        if (top.ok() && *top >= kFrameBytes) {
          reserve.Virtual(cr3, *top - kFrameBytes, kFrameBytes, true,
                          absl::StrCat("the exception stack of vCPU ", id,
                                       ", where KVM pushes exception frames"));
        }
      }
    }
    if ((sregs->cs.selector & 3) == 0 && regs->rsp >= kFrameBytes) {
      reserve.Virtual(
          cr3, regs->rsp - kFrameBytes, kFrameBytes, true,
          absl::StrCat("the CPL0 stack of vCPU ", id, ", where KVM pushes exception frames"));
    }
  }
  return out;
}

PageWatch::PageWatch(vmm::GuestMemory& memory, vmm::Memslots& slots, ReservedFn reserved)
    : memory_(memory), slots_(slots), reserved_(std::move(reserved)) {
  // Never reallocated afterwards, though the exit path would not mind (it runs
  // only while no Add/Remove does).
  watches_.reserve(kMaxWatches);
}

PageWatch::PageWatch(vmm::Vm& vm)
    : PageWatch(vm.memory(), vm.memslots(), [&vm] { return ReservedGuestPages(vm); }) {}

PageAccess PageWatch::AccessFor(uint64_t page, const std::vector<Watch>& watches) const {
  PageAccess access = PageAccess::kReadWrite;
  for (const Watch& w : watches) {
    if (w.page != page) {
      continue;
    }
    if (w.spec.kind == PageWatchKind::kReadWrite || !slots_.readonly_supported()) {
      return PageAccess::kNone;  // without read-only slots, absent traps stores too
    }
    access = PageAccess::kReadOnly;
  }
  return access;
}

absl::Status PageWatch::CheckReserved(const PageWatchSpec& spec, uint64_t page,
                                      PageAccess access) const {
  absl::StatusOr<std::vector<ReservedRange>> reserved = reserved_();
  if (!reserved.ok()) {
    return reserved.status();
  }
  for (const ReservedRange& r : *reserved) {
    const bool overlaps = r.size > 0 && r.gpa < page + kGuestPageSize && page < r.gpa + r.size;
    if (!overlaps || (access == PageAccess::kReadOnly && !r.kvm_writes)) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot watch 0x%x: its page (guest-physical 0x%x) would become %s, but it holds %s; "
        "watch a variable on a page of its own",
        spec.gva, page, vmm::PageAccessName(access), r.what));
  }
  return absl::OkStatus();
}

absl::Status PageWatch::Add(const PageWatchSpec& spec) {
  const uint32_t len = spec.length;
  if (len != 1 && len != 2 && len != 4 && len != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("a watch is 1, 2, 4 or 8 bytes long, not ", len));
  }
  if (spec.gpa % len != 0 || spec.gva % len != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a %d-byte watch must be %d-byte aligned; 0x%x is not", len, len, spec.gva));
  }
  if (!memory_.Contains(spec.gpa, len)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cannot watch 0x%x: guest-physical 0x%x is outside guest memory", spec.gva, spec.gpa));
  }
  if (Contains(spec.id)) {
    return absl::InvalidArgumentError(absl::StrCat("watch ", spec.id, " exists already"));
  }
  if (watches_.size() >= kMaxWatches) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", kMaxWatches, " page watches at once"));
  }
  const uint64_t page = PageOf(spec.gpa);
  std::vector<Watch> after = watches_;
  after.push_back({spec, page});
  const PageAccess access = AccessFor(page, after);
  if (access != slots_.AccessOf(page)) {
    if (absl::Status s = CheckReserved(spec, page, access); !s.ok()) {
      return s;
    }
    if (absl::Status s = slots_.SetPageAccess(page, access); !s.ok()) {
      return s;
    }
  }
  watches_.push_back({spec, page});
  return absl::OkStatus();
}

absl::Status PageWatch::Remove(uint32_t id) {
  auto it = std::find_if(watches_.begin(), watches_.end(),
                         [id](const Watch& w) { return w.spec.id == id; });
  if (it == watches_.end()) {
    return absl::NotFoundError(absl::StrCat("no page watch ", id));
  }
  const uint64_t page = it->page;
  std::vector<Watch> after = watches_;
  after.erase(after.begin() + (it - watches_.begin()));
  const PageAccess access = AccessFor(page, after);
  if (access != slots_.AccessOf(page)) {
    if (absl::Status s = slots_.SetPageAccess(page, access); !s.ok()) {
      return s;  // the watch stays: its page is still protected
    }
  }
  watches_.erase(it);
  return absl::OkStatus();
}

absl::Status PageWatch::RemoveAll() {
  absl::Status first;
  std::vector<uint32_t> ids;
  for (const Watch& w : watches_) {
    ids.push_back(w.spec.id);
  }
  for (uint32_t id : ids) {
    first.Update(Remove(id));
  }
  return first;
}

bool PageWatch::Contains(uint32_t id) const {
  return std::any_of(watches_.begin(), watches_.end(),
                     [id](const Watch& w) { return w.spec.id == id; });
}

std::vector<std::pair<uint64_t, PageAccess>> PageWatch::Pages() const {
  std::set<uint64_t> pages;
  for (const Watch& w : watches_) {
    pages.insert(w.page);
  }
  std::vector<std::pair<uint64_t, PageAccess>> out;
  for (uint64_t page : pages) {
    out.emplace_back(page, slots_.AccessOf(page));
  }
  return out;
}

MmioOutcome PageWatch::OnMmio(kvm_run& run) {
  const uint64_t gpa = run.mmio.phys_addr;
  const uint32_t len = run.mmio.len;
  // Any guest RAM, watched or not: a GPA inside memory exits only because a page
  // is (or, for the rest of an instruction that began before a Remove, was)
  // protected, and the guest must see memory there, not an absent device.
  if (len == 0 || len > sizeof(run.mmio.data) || !memory_.Contains(gpa, len)) {
    return {};
  }
  std::byte* host = static_cast<std::byte*>(memory_.host_address()) + gpa;
  const bool is_write = run.mmio.is_write != 0;
  uint64_t before = 0;
  std::memcpy(&before, host, len);
  uint64_t after = before;
  if (is_write) {
    std::memcpy(host, run.mmio.data, len);
    std::memcpy(&after, run.mmio.data, len);
  } else {
    std::memcpy(run.mmio.data, host, len);
  }

  MmioOutcome outcome{.completed = true};
  for (const Watch& w : watches_) {
    const PageWatchSpec& s = w.spec;
    if (!(is_write || s.kind == PageWatchKind::kReadWrite)) {
      continue;
    }
    if (s.gpa < gpa + len && gpa < s.gpa + s.length) {
      outcome.hit = WatchHit{.watch_id = s.id,
                             .gpa = gpa,
                             .length = len,
                             .is_write = is_write,
                             .old_value = before,
                             .new_value = after};
      break;
    }
  }
  return outcome;
}

}  // namespace pvm::debug
