// Is the PVM module in the running kernel, and how? Read from sysfs, cross-checked
// with libkmod.
#ifndef PVMD_DAEMON_HOST_MODULE_STATUS_H_
#define PVMD_DAEMON_HOST_MODULE_STATUS_H_

#include <string>
#include <utility>
#include <vector>

namespace pvm::host {

enum class ModuleState { kBuiltin, kLoaded, kAbsent, kLoadFailed };

const char* ModuleStateName(ModuleState state);

struct ModuleStatus {
  std::string name;  // as in /sys/module, e.g. "kvm_pvm"
  ModuleState state = ModuleState::kAbsent;
  std::vector<std::pair<std::string, std::string>> parameters;  // sorted by name
  std::string detail;  // how the state was established, for people
  // What pvmd did about it at start (EnsureModule, module_loader.h): "built in,
  // nothing to do", "loaded with parameters 'a=1'", "load failed: ...". Empty when
  // only detected.
  std::string action;
  bool loaded_by_pvmd = false;
  std::string requested_parameters;  // what pvmd was told to load it with
  int load_errno = 0;                // with kLoadFailed: for systemd's ERRNO=
};

// sysfs_root is "/sys" outside tests. A module directory without an `initstate`
// file is built in: libkmod, lacking modules.builtin on these hosts, calls such a
// module "coming", so sysfs decides and libkmod's answer goes into `detail`.
ModuleStatus DetectModule(const std::string& name, const std::string& sysfs_root = "/sys");

}  // namespace pvm::host

#endif  // PVMD_DAEMON_HOST_MODULE_STATUS_H_
