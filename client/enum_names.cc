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

// The zero values mean the default (all-stop, exec, virtual): the daemon treats them
// so, and printing the default's word says what happened.
absl::string_view StopModeName(v1::StopMode mode) {
  switch (static_cast<int>(mode)) {
    case v1::STOP_MODE_UNSPECIFIED:
    case v1::STOP_MODE_ALL_STOP:
      return "all_stop";
    case v1::STOP_MODE_TRACE:
      return "trace";
  }
  return "unknown";
}

absl::string_view BreakpointKindName(v1::BreakpointKind kind) {
  switch (static_cast<int>(kind)) {
    case v1::BREAKPOINT_KIND_UNSPECIFIED:
    case v1::BREAKPOINT_KIND_EXEC:
      return "exec";
    case v1::BREAKPOINT_KIND_WRITE:
      return "write";
    case v1::BREAKPOINT_KIND_READ_WRITE:
      return "rw";
    case v1::BREAKPOINT_KIND_SOFTWARE:
      return "sw";
  }
  return "unknown";
}

absl::string_view EventKindName(v1::EventKind kind) {
  switch (static_cast<int>(kind)) {
    case v1::EVENT_KIND_UNSPECIFIED:
      return "unspecified";
    case v1::EVENT_KIND_HW_BREAKPOINT:
      return "hw_breakpoint";
    case v1::EVENT_KIND_WATCHPOINT:
      return "watchpoint";
    case v1::EVENT_KIND_SW_BREAKPOINT:
      return "sw_breakpoint";
    case v1::EVENT_KIND_SINGLE_STEP:
      return "single_step";
  }
  return "unknown";
}

absl::string_view AddressSpaceName(v1::AddressSpace space) {
  switch (static_cast<int>(space)) {
    case v1::ADDRESS_SPACE_UNSPECIFIED:
    case v1::ADDRESS_SPACE_VIRTUAL:
      return "virtual";
    case v1::ADDRESS_SPACE_PHYSICAL:
      return "physical";
  }
  return "unknown";
}

}  // namespace pvm::ctl
