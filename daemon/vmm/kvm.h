// The KVM system fd (/dev/kvm): API version check and capability queries.
#ifndef PVMD_DAEMON_VMM_KVM_H_
#define PVMD_DAEMON_VMM_KVM_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"
#include "daemon/vmm/vm_fd.h"

namespace pvm::vmm {

inline constexpr int kKvmApiVersion = 12;

struct KvmCapabilities {
  int api_version = 0;
  int max_vcpus = 0;
  bool guest_debug = false;
  int guest_debug2 = 0;  // supported KVM_GUESTDBG_* flags, 0 when unknown
  int num_debug_registers = 0;
  bool readonly_mem = false;
  int sync_regs = 0;  // KVM_SYNC_X86_* mask
};

class Kvm {
 public:
  // Opens the device and refuses any API version but 12.
  static absl::StatusOr<Kvm> Open(const std::string& path = "/dev/kvm");

  // KVM_CHECK_EXTENSION on the system fd: 0 when absent.
  int CheckExtension(int capability) const;
  const KvmCapabilities& capabilities() const { return capabilities_; }
  int vcpu_mmap_size() const { return vcpu_mmap_size_; }

  absl::StatusOr<VmFd> CreateVm() const;

 private:
  explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
  KvmCapabilities capabilities_;
  int vcpu_mmap_size_ = 0;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_KVM_H_
