#include "daemon/vmm/vm_registry.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pvm::vmm {

absl::Status ValidateVmName(const std::string& name) {
  constexpr size_t kMaxNameLength = 64;
  if (name.empty()) {
    return absl::InvalidArgumentError("a VM needs a name");
  }
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VM name is ", name.size(), " characters long; the limit is ", kMaxNameLength));
  }
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (!plain || name.front() == '.' || name.front() == '-') {
    return absl::InvalidArgumentError(absl::StrCat("VM name '", name,
                                                   "' is not allowed: use letters, digits, '.', "
                                                   "'_' and '-', starting with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCpuList(const std::vector<int>& cpus) {
  const long configured = ::sysconf(_SC_NPROCESSORS_CONF);
  for (int cpu : cpus) {
    if (cpu < 0 || cpu >= configured || cpu >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "host CPU ", cpu, " does not exist; this host has CPUs 0..", configured - 1));
    }
  }
  return absl::OkStatus();
}

VmRegistry::VmRegistry(const Kvm& kvm, ImageCatalog catalog, VmLimits limits)
    : kvm_(kvm), catalog_(std::move(catalog)), limits_(limits) {}

VmRegistry::~VmRegistry() { DeleteAll(); }

absl::StatusOr<VmConfig> VmRegistry::BuildConfig(const VmRequestSpec& spec) const {
  VmConfig config;
  config.name = spec.name;
  config.vcpus = spec.vcpus.value_or(1);
  if (config.vcpus == 0 || config.vcpus > limits_.max_vcpus_per_vm) {
    return absl::InvalidArgumentError(
        absl::StrCat("vcpus must be in 1..", limits_.max_vcpus_per_vm, ", not ", config.vcpus));
  }
  const uint64_t memory_mib = spec.memory_mib.value_or(limits_.default_memory_mib);
  if (memory_mib == 0) {
    return absl::InvalidArgumentError("memory must be at least 2 MiB, not 0");
  }
  if (memory_mib > limits_.max_memory_mib) {
    return absl::InvalidArgumentError(absl::StrCat("memory ", memory_mib,
                                                   " MiB is beyond this daemon's limit of ",
                                                   limits_.max_memory_mib, " MiB"));
  }
  if (memory_mib % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory must be a multiple of 2 MiB, not ", memory_mib, " MiB"));
  }
  config.memory_bytes = memory_mib << 20;
  config.cpu_affinity =
      spec.cpu_affinity.empty() ? limits_.default_cpu_affinity : spec.cpu_affinity;
  if (absl::Status s = ValidateCpuList(config.cpu_affinity); !s.ok()) {
    return s;
  }
  config.console_capacity = limits_.console_capacity;
  config.on_state_change = state_observer_;
  config.image_label = spec.image;

  absl::StatusOr<std::string> path = catalog_.Resolve(spec.image);
  if (!path.ok()) {
    return path.status();
  }
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(*path, limits_.max_image_bytes);
  if (!bytes.ok()) {
    // Whatever went wrong, the request named an image pvmd cannot use.
    return absl::InvalidArgumentError(
        absl::StrCat("image '", spec.image, "': ", bytes.status().message()));
  }
  config.image = *std::move(bytes);
  return config;
}

absl::StatusOr<std::shared_ptr<Vm>> VmRegistry::Create(const VmRequestSpec& spec) {
  if (absl::Status s = ValidateVmName(spec.name); !s.ok()) {
    return s;
  }
  absl::StatusOr<VmConfig> config = BuildConfig(spec);
  if (!config.ok()) {
    return config.status();
  }
  {
    std::lock_guard lock(mu_);
    if (vms_.contains(spec.name)) {
      return absl::AlreadyExistsError(absl::StrCat("a VM named '", spec.name, "' already exists"));
    }
    if (vms_.size() >= limits_.max_vms) {
      return absl::ResourceExhaustedError(
          absl::StrCat("this daemon already runs its limit of ", limits_.max_vms, " VMs"));
    }
    vms_.emplace(spec.name, nullptr);  // reserve the name while the VM is built
  }
  absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Create(kvm_, *std::move(config));
  std::lock_guard lock(mu_);
  if (!vm.ok()) {
    vms_.erase(spec.name);
    return vm.status();
  }
  std::shared_ptr<Vm> shared = *std::move(vm);
  vms_[spec.name] = shared;
  return shared;
}

absl::StatusOr<std::shared_ptr<Vm>> VmRegistry::Get(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = vms_.find(name);
  if (it == vms_.end() || it->second == nullptr) {
    return absl::NotFoundError(absl::StrCat("no VM named '", name, "'"));
  }
  return it->second;
}

void VmRegistry::SetStateObserver(VmStateObserver observer) {
  state_observer_ = std::move(observer);
}

std::vector<std::shared_ptr<Vm>> VmRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Vm>> result;
  for (const auto& [name, vm] : vms_) {
    if (vm != nullptr) {
      result.push_back(vm);
    }
  }
  return result;
}

absl::Status VmRegistry::Delete(const std::string& name) {
  std::shared_ptr<Vm> vm;
  {
    std::lock_guard lock(mu_);
    auto it = vms_.find(name);
    if (it == vms_.end() || it->second == nullptr) {
      return absl::NotFoundError(absl::StrCat("no VM named '", name, "'"));
    }
    vm = std::move(it->second);
    vms_.erase(it);
  }
  // Outside the lock: joining vCPU threads must not hold up other VMs' requests.
  vm->Shutdown();
  return absl::OkStatus();
}

void VmRegistry::DeleteAll() {
  std::map<std::string, std::shared_ptr<Vm>> all;
  {
    std::lock_guard lock(mu_);
    for (auto it = vms_.begin(); it != vms_.end();) {
      if (it->second != nullptr) {
        all.insert(vms_.extract(it++));
      } else {
        ++it;
      }
    }
  }
  for (auto& [name, vm] : all) {
    vm->Shutdown();
  }
}

}  // namespace pvm::vmm
