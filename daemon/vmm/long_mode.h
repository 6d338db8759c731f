// Puts a vCPU into the state pvm_boot_abi.h promises at a guest's entry point:
// 64-bit long mode, CPL0, paging on the VMM's identity map.
#ifndef PVMD_DAEMON_VMM_LONG_MODE_H_
#define PVMD_DAEMON_VMM_LONG_MODE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/vcpu_fd.h"

namespace pvm::vmm {

struct BootParams {
  uint64_t entry = 0;
  uint32_t vcpu_id = 0;
  uint32_t vcpu_count = 1;
  uint64_t memory_size = 0;
};

// The boot GDT (null, kernel code, kernel data) at PVM_BOOT_GDT_GPA; the page
// tables come from BuildIdentityMap.
absl::Status WriteBootGdt(GuestMemory& memory);

// Segments, control registers and EFER through KVM_SET_SREGS; RIP, RSP and the
// argument registers through KVM_SET_REGS.
absl::Status EnterLongMode(VcpuFd& vcpu, const BootParams& params);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_LONG_MODE_H_
