#include "daemon/vmm/vcpu_fd.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "daemon/vmm/kvm_error.h"

namespace pvm::vmm {
namespace {

template <typename T>
absl::StatusOr<T> GetState(int fd, unsigned long request, const char* name) {
  T value{};
  if (::ioctl(fd, request, &value) < 0) {
    return ErrnoStatus(errno, name);
  }
  return value;
}

template <typename T>
absl::Status SetState(int fd, unsigned long request, const T& value, const char* name) {
  if (::ioctl(fd, request, &value) < 0) {
    return ErrnoStatus(errno, name);
  }
  return absl::OkStatus();
}

}  // namespace

VcpuFd::VcpuFd(VcpuFd&& other) noexcept
    : fd_(std::move(other.fd_)),
      run_(std::exchange(other.run_, nullptr)),
      run_size_(std::exchange(other.run_size_, 0)) {}

VcpuFd& VcpuFd::operator=(VcpuFd&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::move(other.fd_);
    run_ = std::exchange(other.run_, nullptr);
    run_size_ = std::exchange(other.run_size_, 0);
  }
  return *this;
}

VcpuFd::~VcpuFd() { Release(); }

void VcpuFd::Release() {
  if (run_ != nullptr) {
    ::munmap(run_, run_size_);
    run_ = nullptr;
  }
  fd_.Reset();
}

absl::StatusOr<RunOutcome> VcpuFd::Run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    if (errno == EINTR || errno == EAGAIN) {
      return RunOutcome::kInterrupted;
    }
    return ErrnoStatus(errno, "KVM_RUN");
  }
  return RunOutcome::kExit;
}

void VcpuFd::SetImmediateExit(bool value) {
  std::atomic_ref<uint8_t>(run_->immediate_exit).store(value ? 1 : 0, std::memory_order_seq_cst);
}

absl::StatusOr<kvm_regs> VcpuFd::GetRegs() const {
  return GetState<kvm_regs>(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS");
}
absl::Status VcpuFd::SetRegs(const kvm_regs& regs) {
  return SetState(fd_.get(), KVM_SET_REGS, regs, "KVM_SET_REGS");
}
absl::StatusOr<kvm_sregs> VcpuFd::GetSregs() const {
  return GetState<kvm_sregs>(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS");
}
absl::Status VcpuFd::SetSregs(const kvm_sregs& sregs) {
  return SetState(fd_.get(), KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
}
absl::StatusOr<kvm_debugregs> VcpuFd::GetDebugRegs() const {
  return GetState<kvm_debugregs>(fd_.get(), KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
}
absl::Status VcpuFd::SetDebugRegs(const kvm_debugregs& debugregs) {
  return SetState(fd_.get(), KVM_SET_DEBUGREGS, debugregs, "KVM_SET_DEBUGREGS");
}
absl::Status VcpuFd::SetGuestDebug(const kvm_guest_debug& debug) {
  return SetState(fd_.get(), KVM_SET_GUEST_DEBUG, debug, "KVM_SET_GUEST_DEBUG");
}

}  // namespace pvm::vmm
