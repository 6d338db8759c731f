// One vCPU: its fd and the thread that runs KVM_RUN on it.
//
// Only the vCPU thread enters KVM_RUN. Other threads change what the thread should
// do (run, park, stop) under a mutex, then kick it: immediate_exit=1 plus a signal,
// so a KVM_RUN in progress returns EINTR and one about to start returns at once.
// The requester then waits for the thread to confirm it is parked (the handshake):
// KVM_SET_GUEST_DEBUG and friends block while KVM_RUN holds the vCPU, and a kick
// without a handshake was seen lost here.
#ifndef PVMD_DAEMON_VMM_VCPU_H_
#define PVMD_DAEMON_VMM_VCPU_H_

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/exit_handler.h"
#include "daemon/vmm/vcpu_fd.h"

namespace pvm::vmm {

enum class VcpuState { kCreated, kRunning, kParked, kHalted, kFailed };
const char* VcpuStateName(VcpuState state);

class Vcpu {
 public:
  // observer outlives the vCPU; it is called on the vCPU thread.
  Vcpu(uint32_t id, VcpuFd fd, ExitObserver& observer);
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();  // stops and joins the thread

  uint32_t id() const { return id_; }
  VcpuFd& fd() { return fd_; }

  // Spawns the thread, parked until Run(). cpus: host CPUs to pin it to (empty: any).
  absl::Status StartThread(const std::vector<int>& cpus);
  // Lets a parked (or not yet run) vCPU run and waits until its thread has taken
  // that up (or the vCPU cannot run: halted, failed, stopped). Returns at once when
  // already running.
  void Run();
  // Asks the thread to park and kicks it; does not wait.
  void RequestPark();
  // Waits until the thread is parked, halted, failed or gone.
  void WaitUntilParked();
  // The same, for at most `timeout`; false when the vCPU still runs then.
  bool WaitUntilParkedFor(std::chrono::nanoseconds timeout);
  // Keeps the vCPU parked until Release(), whatever Run() asks: the debugger's stops.
  // Safe from any thread, the vCPU's own included; does not wait.
  void Hold();
  void Release();
  bool held() const;
  // A hold of a vCPU thread's own, apart from Hold() and RequestPark() and never
  // undoing them: a vCPU that must run alone for a moment keeps its peers out of
  // the guest with it (the peer leaves KVM_RUN and parks; in_kvm_run() tells when).
  // ReleaseFromPeer lets it go on as the control side last asked.
  void HoldForPeer();
  void ReleaseFromPeer();
  // Stops the thread for good and joins it. Idempotent.
  void Stop();

  // With the vCPU parked (WaitUntilParked), runs fn on the caller's thread while
  // keeping the vCPU thread from running; for register and debug state changes.
  absl::Status WithParked(const std::function<absl::Status(VcpuFd&)>& fn);

  // On the vCPU's own thread, from an exit handler that has just supplied the data
  // of an MMIO load: one KVM_RUN with immediate_exit set, so KVM finishes that
  // instruction (writes its destination, moves RIP past it) and runs nothing after
  // it. kInterrupted: done. kExit: finishing it caused another exit (the store half
  // of a read-modify-write, or a single-step trap), which kvm_run now describes. A
  // park request or kick that arrives meanwhile is not lost.
  absl::StatusOr<RunOutcome> FinishPendingAccess();

  VcpuState state() const;
  uint64_t exit_count() const { return exit_count_.load(std::memory_order_relaxed); }
  // Whether the thread is inside KVM_RUN. After a Hold() or RequestPark(), false
  // means the vCPU runs no more guest instructions until it is let run again: its
  // next KVM_RUN sees immediate_exit and returns at once.
  bool in_kvm_run() const { return in_kvm_run_.load(std::memory_order_seq_cst); }
  uint64_t last_rip() const { return last_rip_.load(std::memory_order_relaxed); }

 private:
  void ThreadMain();
  // Returns false when the thread should leave its run loop to park.
  bool RunOnce();
  void Kick();
  bool ParkedLocked() const;

  const uint32_t id_;
  VcpuFd fd_;
  ExitObserver& observer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool want_run_ = false;
  bool stop_ = false;
  bool held_ = false;
  bool peer_hold_ = false;
  bool in_run_loop_ = false;  // the thread is between unpark and park
  uint64_t unparks_ = 0;      // times the thread left its park
  VcpuState state_ = VcpuState::kCreated;

  std::thread thread_;
  std::atomic<pthread_t> native_handle_{};
  std::atomic<uint64_t> exit_count_{0};
  std::atomic<bool> in_kvm_run_{false};
  std::atomic<uint64_t> last_rip_{0};
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VCPU_H_
