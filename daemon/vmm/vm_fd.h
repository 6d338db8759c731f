// A KVM VM fd: memory slots and vCPU creation.
#ifndef PVMD_DAEMON_VMM_VM_FD_H_
#define PVMD_DAEMON_VMM_VM_FD_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"
#include "daemon/vmm/vcpu_fd.h"

namespace pvm::vmm {

class VmFd {
 public:
  VmFd(UniqueFd fd, int vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  // KVM_SET_USER_MEMORY_REGION; size 0 deletes the slot.
  absl::Status SetMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host_address,
                               uint32_t flags = 0);
  // KVM_CREATE_VCPU and the mapping of its kvm_run page.
  absl::StatusOr<VcpuFd> CreateVcpu(uint32_t id);

 private:
  UniqueFd fd_;
  int vcpu_mmap_size_;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VM_FD_H_
