// A running PVM guest: its KVM VM, memory, image, vCPU threads, console and state.
#ifndef PVMD_DAEMON_VMM_VM_H_
#define PVMD_DAEMON_VMM_VM_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/console_buffer.h"
#include "daemon/vmm/elf_loader.h"
#include "daemon/vmm/exit_handler.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/memslots.h"
#include "daemon/vmm/vcpu.h"
#include "daemon/vmm/vm_fd.h"
#include "daemon/vmm/vm_state.h"

namespace pvm::vmm {

// Told of every state change, with the VM's lock held (so changes arrive in order):
// it must not call back into the VM. `failure` is set for kFailed.
using VmStateObserver =
    std::function<void(const std::string& vm_name, VmState state, const std::string& failure)>;

struct VmConfig {
  std::string name;
  uint32_t vcpus = 1;
  uint64_t memory_bytes = 0;  // a multiple of 2 MiB
  std::string image_label;    // what the user asked for: a path or "builtin:NAME"
  std::vector<std::byte> image;
  std::vector<int> cpu_affinity;  // host CPUs for every vCPU thread; empty: any
  size_t console_capacity = 64 * 1024;
  VmStateObserver on_state_change;  // may be empty
};

struct VcpuSnapshot {
  uint32_t id = 0;
  VcpuState state = VcpuState::kCreated;
  uint64_t exits = 0;
  uint64_t rip = 0;
};

struct VmSnapshot {
  std::string name;
  VmState state = VmState::kCreated;
  uint32_t vcpus = 0;
  uint64_t memory_bytes = 0;
  std::string image_label;
  uint64_t entry = 0;
  std::string failure;
  std::vector<VcpuSnapshot> vcpu_snapshots;
  uint64_t console_bytes = 0;
  std::chrono::system_clock::time_point created_at;
};

// Where the debugger plugs in. The exit calls come on vCPU threads.
class DebugExitHook {
 public:
  virtual ~DebugExitHook() = default;
  // KVM_EXIT_DEBUG and internal errors. nullopt: not the debugger's exit (the VM
  // treats it as a failure).
  virtual std::optional<ExitDecision> OnDebugExit(uint32_t vcpu_id, VcpuFd& fd) = 0;
  // After an I/O or MMIO exit completed an instruction. nullopt: carry on.
  virtual std::optional<ExitDecision> OnInstructionExit(uint32_t vcpu_id, VcpuFd& fd) = 0;
  // KVM_EXIT_MMIO, before the VMM's default for it (no device: loads read all-ones,
  // stores vanish). Pages the debugger protects through memslots() exit here. A
  // value: the hook completed the access (a load's data is in run.mmio.data) and
  // says what the vCPU does next; nullopt: not the hook's, the default applies.
  virtual std::optional<ExitDecision> OnMmioExit(uint32_t /*vcpu_id*/, VcpuFd& /*fd*/) {
    return std::nullopt;
  }
  // A vCPU halted or failed: it will not run again.
  virtual void OnVcpuEnded(uint32_t vcpu_id) = 0;
  // After every vCPU thread has stopped for good.
  virtual void OnVmShutdown() = 0;
};

class Vm : private ExitObserver {
  struct ConstructionKey {};  // only Create() can construct, yet through make_unique

 public:
  // Builds the VM completely (memory, page tables, image, vCPUs in long mode, parked
  // threads); nothing runs until Start().
  static absl::StatusOr<std::unique_ptr<Vm>> Create(const Kvm& kvm, VmConfig config);
  Vm(ConstructionKey, VmConfig config, VmFd vm_fd, GuestMemory memory, GuestImage image);
  ~Vm() override;  // Shutdown()

  absl::Status Start();
  // Returns once every vCPU is parked: the guest executes nothing until Resume().
  absl::Status Pause();
  absl::Status Resume();
  // Parks every vCPU, runs fn on the caller's thread (vCPU fds may be used directly
  // then), and lets the vCPUs run again if the VM is running, except those held
  // (Vcpu::Hold). FAILED_PRECONDITION once the VM is shut down.
  absl::Status WithAllParked(const std::function<absl::Status()>& fn);
  // Stops and joins every vCPU thread and closes the console. Idempotent; the VM
  // keeps its last state for display.
  void Shutdown();

  const std::string& name() const { return config_.name; }
  VmState state() const;
  VmSnapshot Snapshot() const;
  // Waits until pred(state) holds or the deadline passes; returns the last state seen.
  VmState WaitForState(const std::function<bool(VmState)>& pred,
                       std::chrono::steady_clock::time_point deadline) const;

  ConsoleBuffer& console() { return console_; }
  GuestMemory& memory() { return memory_; }
  // How KVM maps memory(): change only with every vCPU parked (WithAllParked).
  Memslots& memslots() { return memslots_; }
  const GuestImage& image() const { return image_; }
  std::vector<std::unique_ptr<Vcpu>>& vcpus() { return vcpus_; }

  // The VM's debugger: made by `make` on the first call, owned by the VM, destroyed
  // after the vCPU threads.
  DebugExitHook& DebugHook(const std::function<std::unique_ptr<DebugExitHook>()>& make);

 private:
  // ExitObserver, on vCPU threads.
  void OnConsoleOutput(std::string_view bytes) override;
  std::optional<ExitDecision> OnDebugExit(uint32_t vcpu_id, VcpuFd& fd) override;
  std::optional<ExitDecision> OnInstructionExit(uint32_t vcpu_id, VcpuFd& fd) override;
  std::optional<ExitDecision> OnMmioExit(uint32_t vcpu_id, VcpuFd& fd) override;
  void OnVcpuHalted(uint32_t vcpu_id) override;
  void OnVcpuFailed(uint32_t vcpu_id, const std::string& reason) override;

  void SetStateLocked(VmState state);

  const VmConfig config_;
  const std::chrono::system_clock::time_point created_at_;
  VmFd vm_fd_;
  GuestMemory memory_;
  Memslots memslots_;  // over vm_fd_ and memory_
  GuestImage image_;
  ConsoleBuffer console_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::unique_ptr<DebugExitHook> owned_debug_hook_;  // guarded by control_mu_
  std::atomic<DebugExitHook*> debug_hook_{nullptr};  // what vCPU threads read

  // Serialises lifecycle requests; never taken on a vCPU thread.
  std::mutex control_mu_;
  bool shut_down_ = false;  // guarded by control_mu_

  // Guards the fields below; vCPU threads take it briefly.
  mutable std::mutex mu_;
  mutable std::condition_variable state_cv_;
  VmState state_ = VmState::kCreated;
  std::string failure_;
  uint32_t halted_vcpus_ = 0;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VM_H_
