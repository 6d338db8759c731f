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

  // KVM_SET_USER_MEMORY_REGION; size 0 deletes the slot. KVM's rules (see
  // memslots.h for the layout that follows them): slots may not overlap; an
  // existing slot's size and KVM_MEM_READONLY flag cannot change, so a slot is
  // deleted and created again instead; flags: KVM_MEM_READONLY (stores exit as
  // KVM_EXIT_MMIO) when KVM_CAP_READONLY_MEM says so.
  absl::Status SetMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host_address,
                               uint32_t flags = 0);
  // The same with size 0.
  absl::Status DeleteMemoryRegion(uint32_t slot);
  // KVM_CHECK_EXTENSION on the VM fd (the VM's own answer, e.g. KVM_CAP_NR_MEMSLOTS);
  // 0 when absent.
  int CheckExtension(int capability) const;
  // KVM_CREATE_VCPU and the mapping of its kvm_run page.
  absl::StatusOr<VcpuFd> CreateVcpu(uint32_t id);

 private:
  UniqueFd fd_;
  int vcpu_mmap_size_;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VM_FD_H_
