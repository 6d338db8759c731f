#include "daemon/debug_config.h"

namespace pvm {

using host::DebugDelivery;

debug::DebugConfig DebugConfigFromProbe(const absl::StatusOr<host::DebugCapabilities>& probe) {
  debug::DebugConfig config;
  if (!probe.ok()) {
    return config;
  }
  config.policy.rule = probe->ValidationRule();
  const host::PathDebugCapabilities& native = probe->native;
  const host::PathDebugCapabilities& emulated = probe->emulated;
  // Interception stops the vCPU at the guest's handler entry, which runs at CPL0:
  // it needs execute breakpoints on emulated code to exit.
  const bool native_gives_no_exits = native.hw_exec_breakpoint != DebugDelivery::kDebugExit ||
                                     native.single_step != DebugDelivery::kDebugExit;
  config.intercept_native_exceptions =
      native_gives_no_exits && emulated.hw_exec_breakpoint == DebugDelivery::kDebugExit;
  config.page_protection_watchpoints = native.write_watchpoint != DebugDelivery::kDebugExit ||
                                       emulated.write_watchpoint != DebugDelivery::kDebugExit;
  return config;
}

}  // namespace pvm
