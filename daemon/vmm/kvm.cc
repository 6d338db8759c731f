#include "daemon/vmm/kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::vmm {

absl::StatusOr<Kvm> Kvm::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoStatus(errno, absl::StrCat("open ", path));
  }
  const int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != kKvmApiVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " speaks KVM API version ", version, ", pvmd needs ", kKvmApiVersion));
  }
  Kvm kvm(std::move(fd));
  const int mmap_size = ::ioctl(kvm.fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size <= 0) {
    return ErrnoStatus(errno, "KVM_GET_VCPU_MMAP_SIZE");
  }
  kvm.vcpu_mmap_size_ = mmap_size;

  KvmCapabilities& caps = kvm.capabilities_;
  caps.api_version = version;
  caps.max_vcpus = kvm.CheckExtension(KVM_CAP_MAX_VCPUS);
  if (caps.max_vcpus == 0) {
    // Older kernels answer only the recommended count; it is also the guaranteed one.
    caps.max_vcpus = kvm.CheckExtension(KVM_CAP_NR_VCPUS);
  }
  caps.guest_debug = kvm.CheckExtension(KVM_CAP_SET_GUEST_DEBUG) > 0;
  caps.guest_debug2 = kvm.CheckExtension(KVM_CAP_SET_GUEST_DEBUG2);
  // x86 has four address slots (DR0-DR3) whenever debug registers are exposed at all.
  caps.num_debug_registers = kvm.CheckExtension(KVM_CAP_DEBUGREGS) > 0 ? 4 : 0;
  caps.readonly_mem = kvm.CheckExtension(KVM_CAP_READONLY_MEM) > 0;
  caps.sync_regs = kvm.CheckExtension(KVM_CAP_SYNC_REGS);
  return kvm;
}

int Kvm::CheckExtension(int capability) const {
  const int result = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return result < 0 ? 0 : result;
}

absl::StatusOr<VmFd> Kvm::CreateVm() const {
  UniqueFd vm_fd(::ioctl(fd_.get(), KVM_CREATE_VM, 0));
  if (!vm_fd.valid()) {
    return ErrnoStatus(errno, "KVM_CREATE_VM");
  }
  return VmFd(std::move(vm_fd), vcpu_mmap_size_);
}

}  // namespace pvm::vmm
