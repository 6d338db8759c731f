// The probe VM's guest: a layout in one 2 MiB memslot, hand-assembled code blocks
// that each end in a report the VMM stops at, and the CPL0 scaffolding (GDT, IDT
// whose stubs report their vector, TSS with RSP0) that exceptions delivered into the
// guest need.
//
// Reports are byte stores to guest-physical addresses without a memslot, which exit
// as KVM_EXIT_MMIO on every KVM and from any privilege level. (A CPL3 OUT needs the
// TSS's I/O bitmap, which QEMU's TCG honours only through a TR cached as an available
// TSS; KVM_SET_SREGS on SVM always hands it a busy one, so OUT at CPL3 raises #GP in
// the SVM test host.)
#ifndef PVMD_DAEMON_HOST_DEBUG_PROBE_GUEST_H_
#define PVMD_DAEMON_HOST_DEBUG_PROBE_GUEST_H_

#include <linux/kvm.h>

#include <cstdint>

#include "absl/status/status.h"
#include "daemon/vmm/guest_memory.h"

namespace pvm::host::probe {

inline constexpr uint64_t kMemorySize = 2ull << 20;  // one 2 MiB page, identity mapped

// The second 2 MiB of the identity map has no memory behind it: a store there is an
// MMIO exit. A block stores its mark at kMarkMmio when it ran to its end; an IDT stub
// stores its vector at kVectorMmio.
inline constexpr uint64_t kMmioBase = kMemorySize;
inline constexpr uint64_t kMarkMmio = kMmioBase;
inline constexpr uint64_t kVectorMmio = kMmioBase + 0x100;

// nop; nop (exec breakpoint here; the first single-step lands here); nop; mark.
inline constexpr uint64_t kStraightEntry = 0x10000;
inline constexpr uint64_t kStraightBreakpoint = 0x10001;
inline constexpr uint8_t kStraightMark = 1;

// movq $7, kWatched; mark.
inline constexpr uint64_t kStoreEntry = 0x10040;
inline constexpr uint64_t kStoreNext = 0x1004c;  // the instruction after the store
inline constexpr uint64_t kWatched = 0x20000;
inline constexpr uint64_t kStoredValue = 7;
inline constexpr uint8_t kStoreMark = 2;

// nop; int3; nop; mark.
inline constexpr uint64_t kInt3Entry = 0x10080;
inline constexpr uint64_t kInt3Site = 0x10081;
inline constexpr uint8_t kInt3Mark = 3;

// The address-rule walk: nop; nop (breakpoint on a lower-half address) at kRuleEntry,
// jump to the same code page seen through a host-half address (breakpoint there), jump
// to address 0 (breakpoint there), mark.
inline constexpr uint64_t kHostHalfBase = 0xffff888000000000ull;  // the host's direct map
inline constexpr uint64_t kRuleEntry = 0x100c0;
inline constexpr uint64_t kRuleLowBreakpoint = 0x100c1;
inline constexpr uint64_t kRuleHighCode = 0x10100;  // its GPA; runs at kHostHalfBase + this
inline constexpr uint64_t kRuleHighBreakpoint = kHostHalfBase + kRuleHighCode + 1;
inline constexpr uint64_t kRuleZeroBreakpoint = 0;
inline constexpr uint8_t kRuleMark = 5;

// IDT stub for vector v at kStubs + kStubSize * v: store v at kVectorMmio.
inline constexpr uint64_t kStubs = 0x10800;
inline constexpr uint64_t kStubSize = 16;
inline constexpr int kVectors = 32;

inline constexpr uint64_t kUserStackTop = 0x80000;
inline constexpr uint64_t kKernelStackTop = 0x9f000;  // TSS.RSP0

// Page tables (identity map, the MMIO page and the host-half alias), GDT, IDT, TSS and
// the code.
absl::Status WriteProbeGuest(vmm::GuestMemory& memory);

// The vCPU's system registers for one check, built on the sregs EnterLongMode left
// (control registers, EFER): the probe's GDT, IDT and TR, and segments for CPL3
// (native) or CPL0.
kvm_sregs ProbeSregs(const kvm_sregs& long_mode, bool native);

}  // namespace pvm::host::probe

#endif  // PVMD_DAEMON_HOST_DEBUG_PROBE_GUEST_H_
