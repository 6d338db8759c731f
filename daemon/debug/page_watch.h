// Watchpoints without debug registers: the watched page is taken away from the
// guest through memslots (vmm/memslots.h), every access to it exits as
// KVM_EXIT_MMIO, the VMM completes the access against guest memory exactly as the
// guest asked, and reports a hit when the access touched a watched range.
//
// For hosts whose module never fires DR7 data breakpoints (kvm-pvm here, for
// native and emulated code alike). A write watch makes its page read-only (loads
// run at full speed, stores exit); a read/write watch makes it absent (loads and
// stores exit). A page with both kinds is absent.
//
// Threads: Add/Remove/RemoveAll run with every vCPU of the VM parked
// (Vm::WithAllParked); OnMmio runs on vCPU threads, concurrently, and neither
// locks nor allocates: it only reads the tables that the park handshake
// published.
//
// What an exit looks like (measured on kvm-pvm, native and emulated code alike;
// tests/integration/page_watch_test.cc):
// - a store: run.mmio {is_write=1, phys_addr, len, data}; RIP already past the
//   store. OnMmio writes the data into guest memory.
// - a load: run.mmio {is_write=0, phys_addr, len}; RIP still at the load, whose
//   destination KVM writes from run.mmio.data on the next KVM_RUN. A KVM_RUN with
//   immediate_exit set (a kick) finishes the load and runs nothing further, so a
//   vCPU kicked right after a load exit parks with RIP past the load. OnMmio
//   fills run.mmio.data from guest memory.
// - a read-modify-write (incq) on an absent page: a load exit, then a store exit.
//
// Limits (see also ReservedGuestPages). Measured here where it says so; the rest
// follows from how KVM's emulator treats MMIO and is not exercised by the
// built-in guests:
// - Only what KVM can emulate works on a watched page: loads, stores and
//   read-modify-write instructions through the emulator. A locked RMW (lock inc,
//   xchg; KVM emulates cmpxchg on MMIO as a plain write) becomes a load exit and a
//   store exit: not atomic against other vCPUs that touch the page meanwhile.
// - An instruction fetch from an absent page fails the vCPU (KVM_EXIT_INTERNAL_ERROR,
//   emulation failure, measured): the image's code pages are refused for
//   read/write watches, but code the guest writes elsewhere and runs from a page
//   under a read/write watch is not detected. Read-only code pages execute
//   normally (measured), so a write watch on code is allowed.
// - An access that crosses into the watched page from a neighbour exits with only
//   the fragment on the watched page: the hit reports that fragment's gpa/length.
//   String instructions (rep movs/stos) exit once per element; wider accesses
//   (SSE, 16 bytes and up) arrive as several exits of at most 8 bytes.
// - Structures KVM itself reads or writes outside its instruction emulator must
//   not be protected: page tables (A/D bits), descriptor tables, exception stacks,
//   code. Add checks the ones it can find (ReservedGuestPages) at the time of the
//   Add, and only then: a guest that later moves one of them onto a watched page
//   is not detected, and KVM is then likely to fail the vCPU.
#ifndef PVMD_DAEMON_DEBUG_PAGE_WATCH_H_
#define PVMD_DAEMON_DEBUG_PAGE_WATCH_H_

#include <linux/kvm.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/memslots.h"

namespace pvm::vmm {
class Vm;
}

namespace pvm::debug {

enum class PageWatchKind { kWrite, kReadWrite };

struct PageWatchSpec {
  uint32_t id = 0;      // the caller's (breakpoint id); unique among the watches
  uint64_t gva = 0;     // what the user named; only for messages
  uint64_t gpa = 0;     // where it lives: the caller translates (the range is one page)
  uint32_t length = 1;  // 1, 2, 4 or 8, gpa aligned to it
  PageWatchKind kind = PageWatchKind::kWrite;
};

struct WatchHit {
  uint32_t watch_id = 0;
  uint64_t gpa = 0;     // the access: first byte
  uint32_t length = 0;  // the access: bytes (1..8; a fragment, see above)
  bool is_write = false;
  // The accessed bytes as a little-endian number. A store: memory before it and
  // after it; a load: both the value read.
  uint64_t old_value = 0;
  uint64_t new_value = 0;
};

struct MmioOutcome {
  // The access was to guest memory and is now complete (a load's data is in
  // run.mmio.data). False: not guest memory, the no-device default applies.
  bool completed = false;
  // Set when the access overlapped a watched range of the right kind. Several
  // watches overlapping one access: the one added first.
  std::optional<WatchHit> hit;
};

// Memory that KVM reads or writes itself (not through its instruction emulator,
// which handles MMIO): making it absent or read-only breaks the guest.
struct ReservedRange {
  uint64_t gpa = 0;
  uint64_t size = 0;
  bool kvm_writes = false;  // so not even read-only: a write watch is refused too
  std::string what;         // "the IDT of vCPU 0", for the error message
};

// With every vCPU parked (their sregs and TSSs are read): the boot area of
// guest_abi.h (boot GDT, boot page tables), the image's executable segments,
// and per vCPU the page tables reachable from CR3, its GDT, IDT and TSS, and the
// top of its exception stacks (TSS.RSP0, the ISTs, and RSP when at CPL0).
absl::StatusOr<std::vector<ReservedRange>> ReservedGuestPages(vmm::Vm& vm);

class PageWatch {
 public:
  using ReservedFn = std::function<absl::StatusOr<std::vector<ReservedRange>>()>;

  // At most this many watches at once (the exit path scans them).
  static constexpr size_t kMaxWatches = 64;

  // memory and slots outlive this; reserved is asked at every Add that changes a
  // page's protection.
  PageWatch(vmm::GuestMemory& memory, vmm::Memslots& slots, ReservedFn reserved);
  // The VM's memory and slots, reserved = ReservedGuestPages(vm).
  explicit PageWatch(vmm::Vm& vm);
  PageWatch(const PageWatch&) = delete;
  PageWatch& operator=(const PageWatch&) = delete;
  // Leaves the slots as they are: call RemoveAll (parked) first to give pages back.
  ~PageWatch() = default;

  // With every vCPU parked. Protects spec's page. INVALID_ARGUMENT: bad length or
  // alignment, outside memory, duplicate id, or a reserved page (the message says
  // which structure); RESOURCE_EXHAUSTED: too many watches or memslots; otherwise
  // Memslots' errors. On error nothing changed.
  absl::Status Add(const PageWatchSpec& spec);
  // With every vCPU parked. The page gets back its previous access when no watch
  // remains on it (the original single slot once no page is watched). NOT_FOUND
  // for an unknown id.
  absl::Status Remove(uint32_t id);
  // With every vCPU parked: Remove for each watch. The first error, after trying all.
  absl::Status RemoveAll();

  // On the vCPU thread, for KVM_EXIT_MMIO (run.exit_reason is not checked).
  MmioOutcome OnMmio(kvm_run& run);

  bool Contains(uint32_t id) const;
  size_t size() const { return watches_.size(); }
  // Pages this object protects and how.
  std::vector<std::pair<uint64_t, vmm::PageAccess>> Pages() const;

 private:
  struct Watch {
    PageWatchSpec spec;
    uint64_t page = 0;
  };
  // The access `page` needs for these watches (all of them on it).
  vmm::PageAccess AccessFor(uint64_t page, const std::vector<Watch>& watches) const;
  absl::Status CheckReserved(const PageWatchSpec& spec, uint64_t page,
                             vmm::PageAccess access) const;

  vmm::GuestMemory& memory_;
  vmm::Memslots& slots_;
  const ReservedFn reserved_;
  // In the order added. Changed only with every vCPU parked; the vCPU threads read
  // it without locks (the park handshake orders the two).
  std::vector<Watch> watches_;
};

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_PAGE_WATCH_H_
