#include "daemon/debug/address_policy.h"

#include <array>

#include "absl/strings/str_format.h"

namespace pvm::debug {
namespace {

pvm_bp_kind HardwareKind(BreakpointKind kind) {
  switch (kind) {
    case BreakpointKind::kWrite:
      return PVM_BP_WRITE;
    case BreakpointKind::kReadWrite:
      return PVM_BP_RW;
    case BreakpointKind::kExec:
    case BreakpointKind::kSoftware:
      break;
  }
  return PVM_BP_EXEC;
}

}  // namespace

std::string DescribeRule(const AddressPolicy& policy) {
  const std::string kernel_ranges = absl::StrFormat(
      "the guest kernel ranges [0x%x, 0x%x) and [0x%x, 0x%x)", policy.ranges.l4_start,
      policy.ranges.l4_end, policy.ranges.l5_start, policy.ranges.l5_end);
  switch (policy.rule) {
    case PVM_VA_RULE_NONE:
      return "the module drops no breakpoint address";
    case PVM_VA_RULE_POSITIVE_OR_RANGES:
      return "the module drops breakpoints outside the lower half (above 0) and " + kernel_ranges;
    case PVM_VA_RULE_NONNEG_OR_RANGES:
      return "the module drops breakpoints outside the lower half and " + kernel_ranges;
    case PVM_VA_RULE_LOWER_HALF:
      return "the module drops breakpoints outside the lower half";
  }
  return "unknown address rule";
}

absl::Status ValidateBreakpoint(const AddressPolicy& policy, const BreakpointSpec& spec, int slot,
                                unsigned long* dr7_bits) {
  const bool software = spec.kind == BreakpointKind::kSoftware;
  const pvm_bp_request request{
      .drnum = software ? 0 : slot,
      .kind = HardwareKind(spec.kind),
      .len = spec.length,
      .addr = spec.address,
      .va_bits = policy.va_bits,
  };
  // An INT3 patch is not subject to the module's DR7 rule: only its form is checked.
  const pvm_va_rule rule = software ? PVM_VA_RULE_NONE : policy.rule;
  unsigned long bits = 0;
  const pvm_bp_status status = pvm_bp_validate(&request, rule, &policy.ranges, &bits);
  if (status != PVM_BP_OK) {
    std::array<char, 256> message{};
    pvm_bp_describe(message.data(), message.size(), status, &request);
    return absl::InvalidArgumentError(message.data());
  }
  if (dr7_bits != nullptr) {
    *dr7_bits = software ? 0 : bits;
  }
  return absl::OkStatus();
}

uint64_t EffectiveDr7(const AddressPolicy& policy, uint64_t dr7,
                      const std::array<uint64_t, 4>& db) {
  if (policy.rule == PVM_VA_RULE_NONE) {
    return dr7;
  }
  constexpr uint64_t kGeneralDetect = 1u << 13;
  uint64_t effective = dr7 & ~kGeneralDetect;
  for (int i = 0; i < 4; ++i) {
    const auto addr = static_cast<u64>(db[i]);
    if (!pvm_va_allowed_by_rule(policy.rule, &policy.ranges, addr) ||
        !pvm_va_allowed_by_rule(policy.rule, &policy.ranges, addr + 7)) {
      effective &= ~static_cast<uint64_t>(pvm_dr7_mask(i));
    }
  }
  return effective;
}

}  // namespace pvm::debug
