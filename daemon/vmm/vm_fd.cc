#include "daemon/vmm/vm_fd.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::vmm {

absl::Status VmFd::SetMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host_address,
                                   uint32_t flags) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = flags;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host_address);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return ErrnoStatus(errno, absl::StrCat("KVM_SET_USER_MEMORY_REGION slot ", slot));
  }
  return absl::OkStatus();
}

absl::Status VmFd::DeleteMemoryRegion(uint32_t slot) {
  return SetMemoryRegion(slot, 0, 0, nullptr, 0);
}

int VmFd::CheckExtension(int capability) const {
  const int result = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return result < 0 ? 0 : result;
}

absl::StatusOr<VcpuFd> VmFd::CreateVcpu(uint32_t id) {
  UniqueFd vcpu_fd(::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id)));
  if (!vcpu_fd.valid()) {
    return ErrnoStatus(errno, absl::StrCat("KVM_CREATE_VCPU ", id));
  }
  void* run =
      ::mmap(nullptr, vcpu_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd.get(), 0);
  if (run == MAP_FAILED) {
    return ErrnoStatus(errno, absl::StrCat("mmap kvm_run of vCPU ", id));
  }
  return VcpuFd(std::move(vcpu_fd), static_cast<kvm_run*>(run), vcpu_mmap_size_);
}

}  // namespace pvm::vmm
