// Which breakpoint addresses the host's module accepts: the effective-DR7 rule of
// kmod/ (or none), plus the guest's kernel ranges and the linear-address width.
#ifndef PVMD_DAEMON_DEBUG_ADDRESS_POLICY_H_
#define PVMD_DAEMON_DEBUG_ADDRESS_POLICY_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "daemon/debug/debug_types.h"
#include "pvm_debug.h"

namespace pvm::debug {

struct AddressPolicy {
  pvm_va_rule rule = PVM_VA_RULE_NONE;  // kvm-pvm here and VMX/SVM drop nothing
  pvm_va_ranges ranges{};
  unsigned va_bits = 48;
};

// "the module drops breakpoints on ..." in words, for GetDebugState.
std::string DescribeRule(const AddressPolicy& policy);

// Checks kind, length, alignment, canonical form and the module's rule, through
// the kmod core. INVALID_ARGUMENT says why the breakpoint could never fire.
// dr7_bits receives the slot's DR7 bits (hardware kinds only).
absl::Status ValidateBreakpoint(const AddressPolicy& policy, const BreakpointSpec& spec, int slot,
                                unsigned long* dr7_bits);

// The DR7 the module would give the hardware for this requested DR7: GD cleared and
// every slot whose address (or address + 7) the rule refuses dropped.
uint64_t EffectiveDr7(const AddressPolicy& policy, uint64_t dr7, const std::array<uint64_t, 4>& db);

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_ADDRESS_POLICY_H_
