// Which debugging mechanism the engine uses for each feature, chosen from what
// pvmd's start-up probe measured on this host's module (never from the machine's
// name): debug exits where the module delivers them, exception interception and
// page protection where it does not.
#ifndef PVMD_DAEMON_DEBUG_CONFIG_H_
#define PVMD_DAEMON_DEBUG_CONFIG_H_

#include "absl/status/statusor.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/host/debug_probe.h"

namespace pvm {

// A failed probe gives the plain KVM_SET_GUEST_DEBUG mechanism with no address rule:
// what a host with full guest-debug support needs, and nothing is refused that such
// a host would accept.
debug::DebugConfig DebugConfigFromProbe(const absl::StatusOr<host::DebugCapabilities>& probe);

}  // namespace pvm

#endif  // PVMD_DAEMON_DEBUG_CONFIG_H_
