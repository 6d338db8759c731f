// Makes sure the PVM module is in the kernel before pvmd opens /dev/kvm: a built-in
// or loaded module is left alone, an absent loadable one is loaded through libkmod.
// The decision reads sysfs only and the insert is injected, so every branch is
// tested on a fake /sys without loading anything.
#ifndef PVMD_DAEMON_HOST_MODULE_LOADER_H_
#define PVMD_DAEMON_HOST_MODULE_LOADER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "daemon/host/module_status.h"

namespace pvm::host {

struct ModuleRequest {
  std::string name = "kvm_pvm";  // kvm-pvm and kvm_pvm are the same module
  std::string parameters;        // "a=1 b=2", only when pvmd loads it
  bool load = true;              // false: report an absent module, never load it
};

// Inserts module `name` (what it depends on too) with `parameters`. NOT_FOUND: no
// such module for this kernel; PERMISSION_DENIED: not allowed to load modules.
using InsertModule =
    std::function<absl::Status(const std::string& name, const std::string& parameters)>;

// The real one: libkmod's probe-insert (dependencies resolved from modules.dep,
// modprobe.d options applied before `parameters`; modprobe.d install commands are
// not run, a daemon does not run shell commands from there).
absl::Status InsertWithLibkmod(const std::string& name, const std::string& parameters);

// "kvm-pvm" -> "kvm_pvm": sysfs and the kernel spell module names with '_'.
std::string SysfsModuleName(const std::string& name);

// What is there after pvmd did what it should, with `action` saying what that was.
// state kLoadFailed (and load_errno) when loading was needed and failed; pvmd then
// refuses to start. An absent module with request.load false stays kAbsent: /dev/kvm
// decides then (a VMX/SVM host runs pvmd on kvm_intel or kvm_amd).
ModuleStatus EnsureModule(const ModuleRequest& request, const InsertModule& insert,
                          const std::string& sysfs_root = "/sys");

}  // namespace pvm::host

#endif  // PVMD_DAEMON_HOST_MODULE_LOADER_H_
