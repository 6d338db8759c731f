// The daemon's VMs by name, with the limits that guard the host.
#ifndef PVMD_DAEMON_VMM_VM_REGISTRY_H_
#define PVMD_DAEMON_VMM_VM_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/image_catalog.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm.h"

namespace pvm::vmm {

struct VmLimits {
  uint32_t max_vms = 64;
  uint32_t max_vcpus_per_vm = 64;
  uint64_t default_memory_mib = 64;
  uint64_t max_memory_mib = 4096;
  uint64_t max_image_bytes = 64 << 20;
  size_t console_capacity = 64 * 1024;
  // The daemon-wide pinning policy: host CPUs for the vCPU threads of every VM that
  // names none itself. Empty: the scheduler decides.
  std::vector<int> default_cpu_affinity;
};

// What a client asks for; validated here, so every caller gets the same errors.
struct VmRequestSpec {
  std::string name;
  std::optional<uint32_t> vcpus;       // unset: one
  std::optional<uint64_t> memory_mib;  // unset: the default
  std::string image;                   // absolute path or builtin:NAME
  std::vector<int> cpu_affinity;       // empty: the daemon's policy
};

class VmRegistry {
 public:
  VmRegistry(const Kvm& kvm, ImageCatalog catalog, VmLimits limits);
  ~VmRegistry();  // shuts every VM down

  // ALREADY_EXISTS for a taken name; INVALID_ARGUMENT for a bad name, vCPU count,
  // memory size or image; RESOURCE_EXHAUSTED at the VM limit.
  absl::StatusOr<std::shared_ptr<Vm>> Create(const VmRequestSpec& spec);
  // NOT_FOUND names the VM.
  absl::StatusOr<std::shared_ptr<Vm>> Get(const std::string& name) const;
  std::vector<std::shared_ptr<Vm>> List() const;  // sorted by name
  // Stops and joins the VM's threads before returning.
  absl::Status Delete(const std::string& name);
  // Deletes every VM (daemon shutdown).
  void DeleteAll();

  // Every VM created from now on reports its state changes here (the daemon logs
  // them, guest-caused ones included: a halt or a triple fault has no request).
  // Set before the first Create: it is read without the lock.
  void SetStateObserver(VmStateObserver observer);

  const VmLimits& limits() const { return limits_; }
  const ImageCatalog& catalog() const { return catalog_; }

 private:
  absl::StatusOr<VmConfig> BuildConfig(const VmRequestSpec& spec) const;

  const Kvm& kvm_;
  const ImageCatalog catalog_;
  const VmLimits limits_;
  VmStateObserver state_observer_;
  mutable std::mutex mu_;
  // A null entry is a name reserved by a Create still in progress.
  std::map<std::string, std::shared_ptr<Vm>> vms_;
};

// Every CPU must exist on this host (INVALID_ARGUMENT otherwise).
absl::Status ValidateCpuList(const std::vector<int>& cpus);

// Names are what people type: letters, digits, '.', '_' and '-', at most 64.
absl::Status ValidateVmName(const std::string& name);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VM_REGISTRY_H_
