// A KVM vCPU fd and its shared kvm_run page.
#ifndef PVMD_DAEMON_VMM_VCPU_FD_H_
#define PVMD_DAEMON_VMM_VCPU_FD_H_

#include <linux/kvm.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"

namespace pvm::vmm {

enum class RunOutcome {
  kExit,         // kvm_run::exit_reason says why
  kInterrupted,  // EINTR: a kick (signal or immediate_exit) reached the vCPU
};

class VcpuFd {
 public:
  VcpuFd(UniqueFd fd, kvm_run* run, int run_size)
      : fd_(std::move(fd)), run_(run), run_size_(run_size) {}
  VcpuFd(VcpuFd&& other) noexcept;
  VcpuFd& operator=(VcpuFd&& other) noexcept;
  VcpuFd(const VcpuFd&) = delete;
  VcpuFd& operator=(const VcpuFd&) = delete;
  ~VcpuFd();

  absl::StatusOr<RunOutcome> Run();
  kvm_run& run() { return *run_; }
  const kvm_run& run() const { return *run_; }

  // Safe from any thread: asks the next (or current, with a signal) KVM_RUN to return.
  void SetImmediateExit(bool value);

  // Registers and special registers are cached between KVM_RUNs: an exit handler
  // and the debugger read them several times per exit, and each ioctl costs ~7 us
  // here. The cache holds what KVM_RUN mirrored (sync regs), what was last read or
  // written, and is dropped by KVM_RUN and by KVM_SET_GUEST_DEBUG (which can change
  // RFLAGS.TF). Not thread-safe: callers own the vCPU (its thread, or parked).
  absl::StatusOr<kvm_regs> GetRegs() const;
  absl::Status SetRegs(const kvm_regs& regs);
  absl::StatusOr<kvm_sregs> GetSregs() const;
  absl::Status SetSregs(const kvm_sregs& sregs);
  absl::StatusOr<kvm_debugregs> GetDebugRegs() const;
  absl::Status SetDebugRegs(const kvm_debugregs& debugregs);
  absl::Status SetGuestDebug(const kvm_guest_debug& debug);

  // Asks KVM to mirror these register sets (KVM_SYNC_X86_*) into kvm_run on every exit,
  // which saves a GET_REGS ioctl (~7 us here) per exit.
  void SyncRegsOnExit(uint64_t mask) { run_->kvm_valid_regs = mask; }

 private:
  void Release();

  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  int run_size_ = 0;
  mutable kvm_regs regs_{};
  mutable kvm_sregs sregs_{};
  mutable bool regs_valid_ = false;
  mutable bool sregs_valid_ = false;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VCPU_FD_H_
