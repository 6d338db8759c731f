#include "daemon/vmm/vm.h"

#include <linux/kvm.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/vmm/guest_abi.h"
#include "daemon/vmm/long_mode.h"
#include "daemon/vmm/page_tables.h"

namespace pvm::vmm {
namespace {

constexpr uint64_t kMemoryGranule = 2 << 20;  // the boot identity map uses 2 MiB pages

absl::Status ValidateLayout(const VmConfig& config) {
  if (config.vcpus == 0) {
    return absl::InvalidArgumentError("a VM needs at least one vCPU");
  }
  if (config.memory_bytes == 0 || config.memory_bytes % kMemoryGranule != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "guest memory must be a non-zero multiple of 2 MiB, not ", config.memory_bytes, " bytes"));
  }
  const uint64_t stacks = uint64_t{config.vcpus} * PVM_BOOT_STACK_SIZE;
  if (config.memory_bytes < PVM_BOOT_IMAGE_BASE + stacks) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d MiB of memory cannot hold the boot area, an image and %d vCPU stacks",
                        config.memory_bytes >> 20, config.vcpus));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Vm>> Vm::Create(const Kvm& kvm, VmConfig config) {
  if (absl::Status s = ValidateLayout(config); !s.ok()) {
    return s;
  }
  absl::StatusOr<GuestMemory> memory = GuestMemory::Create(config.memory_bytes);
  if (!memory.ok()) {
    return memory.status();
  }
  if (absl::Status s = BuildIdentityMap(*memory); !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteBootGdt(*memory); !s.ok()) {
    return s;
  }
  // Images live between the boot area and the vCPU stacks at the top of memory.
  const LoadWindow window{
      .floor = PVM_BOOT_IMAGE_BASE,
      .ceiling = PVM_BOOT_STACK_TOP(config.memory_bytes, config.vcpus),
  };
  absl::StatusOr<GuestImage> image = LoadElfImage(config.image, window, *memory);
  if (!image.ok()) {
    return absl::Status(image.status().code(), absl::StrCat("image '", config.image_label,
                                                            "': ", image.status().message()));
  }

  absl::StatusOr<VmFd> vm_fd = kvm.CreateVm();
  if (!vm_fd.ok()) {
    return vm_fd.status();
  }
  const MemslotCaps slot_caps{
      .readonly = kvm.capabilities().readonly_mem,
      .max_slots = static_cast<uint32_t>(vm_fd->CheckExtension(KVM_CAP_NR_MEMSLOTS)),
  };

  auto vm = std::make_unique<Vm>(ConstructionKey{}, std::move(config), *std::move(vm_fd),
                                 *std::move(memory), *std::move(image));
  // All of memory in slot 0; the debugger may carve pages out later (memslots.h).
  if (absl::Status s = vm->memslots_.Install(slot_caps); !s.ok()) {
    return s;
  }
  const VmConfig& cfg = vm->config_;
  for (uint32_t id = 0; id < cfg.vcpus; ++id) {
    absl::StatusOr<VcpuFd> vcpu_fd = vm->vm_fd_.CreateVcpu(id);
    if (!vcpu_fd.ok()) {
      return vcpu_fd.status();
    }
    const BootParams boot{.entry = vm->image_.entry(),
                          .vcpu_id = id,
                          .vcpu_count = cfg.vcpus,
                          .memory_size = cfg.memory_bytes};
    if (absl::Status s = EnterLongMode(*vcpu_fd, boot); !s.ok()) {
      return s;
    }
    vm->vcpus_.push_back(
        std::make_unique<Vcpu>(id, *std::move(vcpu_fd), static_cast<ExitObserver&>(*vm)));
  }
  for (auto& vcpu : vm->vcpus_) {
    if (absl::Status s = vcpu->StartThread(cfg.cpu_affinity); !s.ok()) {
      return s;  // ~Vm stops the threads already started
    }
  }
  return vm;
}

Vm::Vm(ConstructionKey, VmConfig config, VmFd vm_fd, GuestMemory memory, GuestImage image)
    : config_(std::move(config)),
      created_at_(std::chrono::system_clock::now()),
      vm_fd_(std::move(vm_fd)),
      memory_(std::move(memory)),
      memslots_(
          [this](uint32_t slot, uint64_t gpa, uint64_t size, void* host, uint32_t flags) {
            return vm_fd_.SetMemoryRegion(slot, gpa, size, host, flags);
          },
          memory_.host_address(), memory_.size()),
      image_(std::move(image)),
      console_(config_.console_capacity) {}

Vm::~Vm() { Shutdown(); }

absl::Status Vm::Start() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard lock(mu_);
    if (absl::Status s = CheckRequest(state_, VmRequest::kStart); !s.ok()) {
      return s;
    }
    SetStateLocked(VmState::kRunning);
  }
  for (auto& vcpu : vcpus_) {
    vcpu->Run();
  }
  return absl::OkStatus();
}

absl::Status Vm::Pause() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard lock(mu_);
    if (absl::Status s = CheckRequest(state_, VmRequest::kPause); !s.ok()) {
      return s;
    }
  }
  // Kick all first, then wait: the vCPUs leave KVM_RUN in parallel.
  for (auto& vcpu : vcpus_) {
    vcpu->RequestPark();
  }
  for (auto& vcpu : vcpus_) {
    vcpu->WaitUntilParked();
  }
  std::lock_guard lock(mu_);
  // A vCPU may have halted the VM or failed it while we waited; that state stands.
  if (state_ == VmState::kRunning) {
    SetStateLocked(VmState::kPaused);
  }
  return absl::OkStatus();
}

absl::Status Vm::Resume() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard lock(mu_);
    if (absl::Status s = CheckRequest(state_, VmRequest::kResume); !s.ok()) {
      return s;
    }
    SetStateLocked(VmState::kRunning);
  }
  for (auto& vcpu : vcpus_) {
    vcpu->Run();
  }
  return absl::OkStatus();
}

absl::Status Vm::WithAllParked(const std::function<absl::Status()>& fn) {
  std::lock_guard control(control_mu_);
  if (shut_down_) {
    return absl::FailedPreconditionError(absl::StrCat("VM '", config_.name, "' is shut down"));
  }
  for (auto& vcpu : vcpus_) {
    vcpu->RequestPark();
  }
  for (auto& vcpu : vcpus_) {
    vcpu->WaitUntilParked();
  }
  absl::Status status = fn();
  if (state() == VmState::kRunning) {
    for (auto& vcpu : vcpus_) {
      vcpu->Run();  // a held vCPU stays parked
    }
  }
  return status;
}

DebugExitHook& Vm::DebugHook(const std::function<std::unique_ptr<DebugExitHook>()>& make) {
  std::lock_guard control(control_mu_);
  if (owned_debug_hook_ == nullptr) {
    owned_debug_hook_ = make();
    debug_hook_.store(owned_debug_hook_.get());
  }
  return *owned_debug_hook_;
}

void Vm::Shutdown() {
  std::lock_guard control(control_mu_);
  if (shut_down_) {
    return;
  }
  shut_down_ = true;
  for (auto& vcpu : vcpus_) {
    vcpu->RequestPark();
  }
  for (auto& vcpu : vcpus_) {
    vcpu->Stop();
  }
  console_.Close();
  if (owned_debug_hook_ != nullptr) {
    owned_debug_hook_->OnVmShutdown();
  }
  state_cv_.notify_all();
}

VmState Vm::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

VmSnapshot Vm::Snapshot() const {
  VmSnapshot snapshot;
  snapshot.name = config_.name;
  snapshot.vcpus = config_.vcpus;
  snapshot.memory_bytes = config_.memory_bytes;
  snapshot.image_label = config_.image_label;
  snapshot.entry = image_.entry();
  snapshot.created_at = created_at_;
  snapshot.console_bytes = console_.total_written();
  for (const auto& vcpu : vcpus_) {
    snapshot.vcpu_snapshots.push_back(
        {vcpu->id(), vcpu->state(), vcpu->exit_count(), vcpu->last_rip()});
  }
  std::lock_guard lock(mu_);
  snapshot.state = state_;
  snapshot.failure = failure_;
  return snapshot;
}

VmState Vm::WaitForState(const std::function<bool(VmState)>& pred,
                         std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  state_cv_.wait_until(lock, deadline, [&] { return pred(state_); });
  return state_;
}

void Vm::SetStateLocked(VmState state) {
  state_ = state;
  state_cv_.notify_all();
  if (config_.on_state_change) {
    config_.on_state_change(config_.name, state, state == VmState::kFailed ? failure_ : "");
  }
}

void Vm::OnConsoleOutput(std::string_view bytes) { console_.Append(bytes); }

std::optional<ExitDecision> Vm::OnDebugExit(uint32_t vcpu_id, VcpuFd& fd) {
  DebugExitHook* hook = debug_hook_.load();
  if (hook == nullptr) {
    return std::nullopt;
  }
  return hook->OnDebugExit(vcpu_id, fd);
}

std::optional<ExitDecision> Vm::OnInstructionExit(uint32_t vcpu_id, VcpuFd& fd) {
  DebugExitHook* hook = debug_hook_.load();
  if (hook == nullptr) {
    return std::nullopt;
  }
  return hook->OnInstructionExit(vcpu_id, fd);
}

std::optional<ExitDecision> Vm::OnMmioExit(uint32_t vcpu_id, VcpuFd& fd) {
  DebugExitHook* hook = debug_hook_.load();
  if (hook == nullptr) {
    return std::nullopt;
  }
  return hook->OnMmioExit(vcpu_id, fd);
}

void Vm::OnVcpuHalted(uint32_t vcpu_id) {
  {
    std::lock_guard lock(mu_);
    ++halted_vcpus_;
    if (halted_vcpus_ == config_.vcpus &&
        (state_ == VmState::kRunning || state_ == VmState::kPaused)) {
      SetStateLocked(VmState::kStopped);
    }
  }
  if (DebugExitHook* hook = debug_hook_.load()) {
    hook->OnVcpuEnded(vcpu_id);
  }
}

void Vm::OnVcpuFailed(uint32_t vcpu_id, const std::string& reason) {
  if (DebugExitHook* hook = debug_hook_.load()) {
    hook->OnVcpuEnded(vcpu_id);
  }
  {
    std::lock_guard lock(mu_);
    if (state_ == VmState::kFailed) {
      return;  // the first failure is the one worth reporting
    }
    failure_ = reason;
    SetStateLocked(VmState::kFailed);
  }
  // Do not wait here: another vCPU may be failing at the same moment and waiting
  // for this one.
  for (auto& vcpu : vcpus_) {
    if (vcpu->id() != vcpu_id) {
      vcpu->RequestPark();
    }
  }
}

}  // namespace pvm::vmm
