// The probe VM's guest: a layout in one 2 MiB memslot, hand-assembled code blocks
// that each end in an OUT the VMM stops at, and the CPL0 scaffolding (GDT, IDT whose
// stubs report their vector on a port, TSS with RSP0 and an I/O bitmap that lets
// CPL3 code use OUT) that exceptions delivered into the guest need.
#ifndef PVMD_DAEMON_HOST_DEBUG_PROBE_GUEST_H_
#define PVMD_DAEMON_HOST_DEBUG_PROBE_GUEST_H_

#include <linux/kvm.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/vcpu_fd.h"

namespace pvm::host::probe {

inline constexpr uint64_t kMemorySize = 2ull << 20;  // one 2 MiB page, identity mapped

// I/O ports: a block's OUT says "ran to my end" with its mark in AL; an IDT stub's
// OUT says "vector AL arrived in the guest".
inline constexpr uint16_t kMarkPort = 0x10;
inline constexpr uint16_t kVectorPort = 0xe1;

// nop; nop (exec breakpoint here; the first single-step lands here); nop; OUT mark.
inline constexpr uint64_t kStraightEntry = 0x10000;
inline constexpr uint64_t kStraightBreakpoint = 0x10001;
inline constexpr uint8_t kStraightMark = 1;

// movq $7, kWatched; OUT mark.
inline constexpr uint64_t kStoreEntry = 0x10040;
inline constexpr uint64_t kStoreNext = 0x1004c;  // the instruction after the store
inline constexpr uint64_t kWatched = 0x20000;
inline constexpr uint64_t kStoredValue = 7;
inline constexpr uint8_t kStoreMark = 2;

// nop; int3; nop; OUT mark.
inline constexpr uint64_t kInt3Entry = 0x10080;
inline constexpr uint64_t kInt3Site = 0x10081;
inline constexpr uint8_t kInt3Mark = 3;

// The address-rule walk: nop; nop (breakpoint on a lower-half address) at kRuleEntry,
// jump to the same code page seen through a host-half address (breakpoint there), jump
// to address 0 (breakpoint there), OUT mark.
inline constexpr uint64_t kHostHalfBase = 0xffff888000000000ull;  // the host's direct map
inline constexpr uint64_t kRuleEntry = 0x100c0;
inline constexpr uint64_t kRuleLowBreakpoint = 0x100c1;
inline constexpr uint64_t kRuleHighCode = 0x10100;  // its GPA; runs at kHostHalfBase + this
inline constexpr uint64_t kRuleHighBreakpoint = kHostHalfBase + kRuleHighCode + 1;
inline constexpr uint64_t kRuleZeroBreakpoint = 0;
inline constexpr uint8_t kRuleMark = 5;

// IDT stub for vector v at kStubs + kStubSize * v: mov $v, %al; OUT to kVectorPort.
inline constexpr uint64_t kStubs = 0x10800;
inline constexpr uint64_t kStubSize = 8;
inline constexpr int kVectors = 32;
inline constexpr uint64_t kStubsEnd = kStubs + kStubSize * kVectors;

inline constexpr uint64_t kUserStackTop = 0x80000;
inline constexpr uint64_t kKernelStackTop = 0x9f000;  // TSS.RSP0

// Page tables (identity map plus the host-half alias), GDT, IDT, TSS and the code.
absl::Status WriteProbeGuest(vmm::GuestMemory& memory);

// The vCPU's system registers for the probe (long mode, the probe's GDT, IDT and TR),
// built on the sregs EnterLongMode left; segments for CPL3 (native) or CPL0.
kvm_sregs ProbeSregs(const kvm_sregs& long_mode, bool native);

}  // namespace pvm::host::probe

#endif  // PVMD_DAEMON_HOST_DEBUG_PROBE_GUEST_H_
