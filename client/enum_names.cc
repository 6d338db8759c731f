#include "client/enum_names.h"

namespace pvm::ctl {

// Switches over the raw number: proto3 enums are open, so a newer daemon may send a
// value that has no enumerator here.
absl::string_view VmStateName(v1::VmState state) {
  switch (static_cast<int>(state)) {
    case v1::VM_STATE_UNSPECIFIED:
      return "unspecified";
    case v1::VM_STATE_CREATED:
      return "created";
    case v1::VM_STATE_RUNNING:
      return "running";
    case v1::VM_STATE_PAUSED:
      return "paused";
    case v1::VM_STATE_STOPPED:
      return "stopped";
    case v1::VM_STATE_FAILED:
      return "failed";
  }
  return "unknown";
}

absl::string_view ModuleStateName(v1::ModuleState state) {
  switch (static_cast<int>(state)) {
    case v1::MODULE_STATE_UNSPECIFIED:
      return "unspecified";
    case v1::MODULE_STATE_BUILTIN:
      return "builtin";
    case v1::MODULE_STATE_LOADED:
      return "loaded";
    case v1::MODULE_STATE_ABSENT:
      return "absent";
    case v1::MODULE_STATE_LOAD_FAILED:
      return "load_failed";
  }
  return "unknown";
}

}  // namespace pvm::ctl
