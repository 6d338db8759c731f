// The words pvmctl prints for API enums, in text and in JSON. They are part of the
// JSON contract: scripts compare against them, so they never change once released.
#ifndef PVMD_CLIENT_ENUM_NAMES_H_
#define PVMD_CLIENT_ENUM_NAMES_H_

#include "absl/strings/string_view.h"
#include "pvm/v1/debug.pb.h"
#include "pvm/v1/host.pb.h"
#include "pvm/v1/vm.pb.h"

namespace pvm::ctl {

// "created", "running", "paused", "stopped", "failed"; "unspecified" for 0 and
// "unknown" for a value this pvmctl does not know (a newer daemon).
absl::string_view VmStateName(v1::VmState state);

// "builtin", "loaded", "absent", "load_failed"; "unspecified", "unknown" as above.
absl::string_view ModuleStateName(v1::ModuleState state);

// Debugging. Breakpoint kinds are the words `debug break add --kind` takes, so a
// script can feed them back.
absl::string_view StopModeName(v1::StopMode mode);              // "all_stop", "trace"
absl::string_view BreakpointKindName(v1::BreakpointKind kind);  // "exec", "write", "rw", "sw"
absl::string_view EventKindName(v1::EventKind kind);            // "hw_breakpoint", "watchpoint",
                                                                // "sw_breakpoint", "single_step"
absl::string_view AddressSpaceName(v1::AddressSpace space);     // "virtual", "physical"

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_ENUM_NAMES_H_
