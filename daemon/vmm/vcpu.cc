#include "daemon/vmm/vcpu.h"

#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kick_signal.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::vmm {

const char* VcpuStateName(VcpuState state) {
  switch (state) {
    case VcpuState::kCreated:
      return "created";
    case VcpuState::kRunning:
      return "running";
    case VcpuState::kParked:
      return "paused";
    case VcpuState::kHalted:
      return "halted";
    case VcpuState::kFailed:
      return "failed";
  }
  return "unknown";
}

Vcpu::Vcpu(uint32_t id, VcpuFd fd, ExitObserver& observer)
    : id_(id), fd_(std::move(fd)), observer_(observer) {
  // Registers come back in kvm_run on every exit: cheap RIP for status and messages.
  fd_.SyncRegsOnExit(KVM_SYNC_X86_REGS);
}

Vcpu::~Vcpu() { Stop(); }

absl::Status Vcpu::StartThread(const std::vector<int>& cpus) {
  InstallKickSignalHandler();
  {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) {
      return absl::FailedPreconditionError(absl::StrCat("vCPU ", id_, " already has a thread"));
    }
    thread_ = std::thread([this] { ThreadMain(); });
    native_handle_.store(thread_.native_handle());
  }
  if (cpus.empty()) {
    return absl::OkStatus();
  }
  // The thread stays parked until Run(), so pinning it now is in time.
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) {
    CPU_SET(cpu, &set);
  }
  if (int err = pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set); err != 0) {
    Stop();
    return ErrnoStatus(err, absl::StrCat("pinning vCPU ", id_, " to its host CPUs"));
  }
  return absl::OkStatus();
}

void Vcpu::Run() {
  std::unique_lock lock(mu_);
  if (state_ == VcpuState::kHalted || state_ == VcpuState::kFailed || !thread_.joinable() ||
      held_) {
    return;
  }
  want_run_ = true;
  if (in_run_loop_) {
    // Still running: a park it was asked for, and not yet taken, is off, and so is
    // the kick's immediate_exit (or every KVM_RUN would return at once), unless a
    // peer hold still wants it out. Under mu_: a later RequestPark sets both again.
    if (!peer_hold_) {
      fd_.SetImmediateExit(false);
    }
    return;
  }
  const uint64_t unparks = unparks_;
  cv_.notify_all();
  // The generation, not the state: the vCPU may run and park again (a debug stop)
  // before this thread looks.
  // A Hold() or RequestPark() from another thread may take the run back before
  // the thread wakes; then there is nothing to wait for.
  cv_.wait(lock, [&] {
    return unparks_ != unparks || stop_ || !want_run_ || peer_hold_ ||
           state_ == VcpuState::kHalted || state_ == VcpuState::kFailed;
  });
}

void Vcpu::RequestPark() {
  {
    std::lock_guard lock(mu_);
    want_run_ = false;
  }
  cv_.notify_all();  // a Run() waiting for the thread to start stops waiting
  Kick();
}

void Vcpu::Hold() {
  {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  RequestPark();
}

void Vcpu::HoldForPeer() {
  {
    std::lock_guard lock(mu_);
    peer_hold_ = true;
  }
  Kick();
}

void Vcpu::ReleaseFromPeer() {
  {
    std::lock_guard lock(mu_);
    peer_hold_ = false;
    if (in_run_loop_ && want_run_ && !stop_) {
      fd_.SetImmediateExit(false);  // the kick not yet taken is off (see Run)
    }
  }
  cv_.notify_all();
}

void Vcpu::Release() {
  std::lock_guard lock(mu_);
  held_ = false;
}

bool Vcpu::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

void Vcpu::WaitUntilParked() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return ParkedLocked(); });
}

bool Vcpu::WaitUntilParkedFor(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return ParkedLocked(); });
}

void Vcpu::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    want_run_ = false;
  }
  cv_.notify_all();
  Kick();
  if (thread_.joinable()) {
    thread_.join();
  }
  native_handle_.store(pthread_t{});
}

absl::Status Vcpu::WithParked(const std::function<absl::Status(VcpuFd&)>& fn) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return ParkedLocked(); });
  return fn(fd_);
}

absl::StatusOr<RunOutcome> Vcpu::FinishPendingAccess() {
  fd_.SetImmediateExit(true);
  absl::StatusOr<RunOutcome> outcome = fd_.Run();
  // RequestPark and Stop change want_run_/stop_ under mu_ before they kick, so a
  // kick that set immediate_exit meanwhile is seen here and its flag stays set.
  std::lock_guard lock(mu_);
  if (want_run_ && !stop_ && !peer_hold_) {
    fd_.SetImmediateExit(false);
  }
  return outcome;
}

VcpuState Vcpu::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool Vcpu::ParkedLocked() const { return !in_run_loop_ || !thread_.joinable(); }

void Vcpu::Kick() {
  fd_.SetImmediateExit(true);
  const pthread_t thread = native_handle_.load();
  if (thread != pthread_t{}) {
    // ESRCH only when the thread already ended, which is fine.
    pthread_kill(thread, KickSignal());
  }
}

void Vcpu::ThreadMain() {
  UnblockKickSignal();
  // Shows in top, gdb and /proc: which thread is which vCPU.
  pthread_setname_np(pthread_self(), absl::StrCat("vcpu", id_).c_str());
  while (true) {
    {
      std::unique_lock lock(mu_);
      in_run_loop_ = false;
      if (state_ == VcpuState::kRunning) {
        state_ = VcpuState::kParked;
      }
      cv_.notify_all();
      cv_.wait(lock, [this] { return stop_ || (want_run_ && !peer_hold_); });
      if (stop_) {
        return;
      }
      in_run_loop_ = true;
      ++unparks_;
      state_ = VcpuState::kRunning;
      cv_.notify_all();
      // Cleared under the lock: a kick after this point sets it again and is not lost.
      fd_.SetImmediateExit(false);
    }
    while (RunOnce()) {
    }
  }
}

bool Vcpu::RunOnce() {
  in_kvm_run_.store(true, std::memory_order_seq_cst);
  absl::StatusOr<RunOutcome> outcome = fd_.Run();
  in_kvm_run_.store(false, std::memory_order_seq_cst);
  ExitDecision decision;
  if (!outcome.ok()) {
    decision = {ExitAction::kFail, absl::StrCat("vCPU ", id_, ": ", outcome.status().message())};
  } else if (*outcome == RunOutcome::kInterrupted) {
    std::lock_guard lock(mu_);
    return want_run_ && !stop_ && !peer_hold_;
  } else {
    exit_count_.fetch_add(1, std::memory_order_relaxed);
    last_rip_.store(fd_.run().s.regs.regs.rip, std::memory_order_relaxed);
    decision = HandleExit(id_, fd_, observer_);
  }

  switch (decision.action) {
    case ExitAction::kContinue:
      return true;
    case ExitAction::kPark: {
      std::lock_guard lock(mu_);
      want_run_ = false;
      return false;
    }
    case ExitAction::kHalt: {
      std::lock_guard lock(mu_);
      want_run_ = false;
      state_ = VcpuState::kHalted;
    }
      observer_.OnVcpuHalted(id_);
      return false;
    case ExitAction::kFail: {
      std::lock_guard lock(mu_);
      want_run_ = false;
      state_ = VcpuState::kFailed;
    }
      observer_.OnVcpuFailed(id_, decision.reason);
      return false;
  }
  return false;
}

}  // namespace pvm::vmm
