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
    regs_valid_ = false;
    sregs_valid_ = false;
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
  regs_valid_ = false;
  sregs_valid_ = false;
  if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    const int error = errno;
    if (error == EINTR || error == EAGAIN) {
      // KVM mirrors the registers on this return too.
      regs_valid_ = (run_->kvm_valid_regs & KVM_SYNC_X86_REGS) != 0;
      regs_ = run_->s.regs.regs;
      return RunOutcome::kInterrupted;
    }
    return ErrnoStatus(error, "KVM_RUN");
  }
  regs_valid_ = (run_->kvm_valid_regs & KVM_SYNC_X86_REGS) != 0;
  regs_ = run_->s.regs.regs;
  return RunOutcome::kExit;
}

void VcpuFd::SetImmediateExit(bool value) {
  std::atomic_ref<uint8_t>(run_->immediate_exit).store(value ? 1 : 0, std::memory_order_seq_cst);
}

absl::StatusOr<kvm_regs> VcpuFd::GetRegs() const {
  if (!regs_valid_) {
    absl::StatusOr<kvm_regs> regs = GetState<kvm_regs>(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS");
    if (!regs.ok()) {
      return regs.status();
    }
    regs_ = *regs;
    regs_valid_ = true;
  }
  return regs_;
}
absl::Status VcpuFd::SetRegs(const kvm_regs& regs) {
  regs_valid_ = false;
  if (absl::Status s = SetState(fd_.get(), KVM_SET_REGS, regs, "KVM_SET_REGS"); !s.ok()) {
    return s;
  }
  regs_ = regs;
  regs_.rflags |= 2;  // the always-one bit, as KVM reads it back
  regs_valid_ = true;
  return absl::OkStatus();
}
absl::StatusOr<kvm_sregs> VcpuFd::GetSregs() const {
  if (!sregs_valid_) {
    absl::StatusOr<kvm_sregs> sregs =
        GetState<kvm_sregs>(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS");
    if (!sregs.ok()) {
      return sregs.status();
    }
    sregs_ = *sregs;
    sregs_valid_ = true;
  }
  return sregs_;
}
absl::Status VcpuFd::SetSregs(const kvm_sregs& sregs) {
  // KVM may adjust what it was given (segment flags, CR bits): read it back next time.
  sregs_valid_ = false;
  return SetState(fd_.get(), KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
}
absl::StatusOr<kvm_debugregs> VcpuFd::GetDebugRegs() const {
  return GetState<kvm_debugregs>(fd_.get(), KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
}
absl::Status VcpuFd::SetDebugRegs(const kvm_debugregs& debugregs) {
  return SetState(fd_.get(), KVM_SET_DEBUGREGS, debugregs, "KVM_SET_DEBUGREGS");
}
absl::Status VcpuFd::SetGuestDebug(const kvm_guest_debug& debug) {
  regs_valid_ = false;  // switching single-step changes RFLAGS.TF as read back
  return SetState(fd_.get(), KVM_SET_GUEST_DEBUG, debug, "KVM_SET_GUEST_DEBUG");
}

}  // namespace pvm::vmm
