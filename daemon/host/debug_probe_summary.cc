// The probe's verdict in words: for people (GetHostInfo, pvmctl host info) and for
// the one log line pvmd writes at start-up.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "daemon/host/debug_probe.h"

namespace pvm::host {
namespace {

struct Check {
  const char* name;  // as a person names it, plural where it reads better
  bool plural;
  DebugDelivery delivery;
};

std::array<Check, 4> Checks(const PathDebugCapabilities& path) {
  return {{{"hardware breakpoints", true, path.hw_exec_breakpoint},
           {"single-step", false, path.single_step},
           {"watchpoints", true, path.write_watchpoint},
           {"INT3", false, path.int3}}};
}

// "a", "a and b", "a, b and c".
std::string JoinAnd(const std::vector<std::string>& items) {
  if (items.size() <= 1) return items.empty() ? "" : items[0];
  return absl::StrCat(absl::StrJoin(std::vector<std::string>(items.begin(), items.end() - 1), ", "),
                      " and ", items.back());
}

// What the module delivers on one path, grouped by where the events end up.
std::string DeliveryClause(const PathDebugCapabilities& path) {
  std::vector<std::string> parts;
  auto group = [&](DebugDelivery delivery, const char* singular_verb, const char* plural_verb) {
    std::vector<std::string> names;
    bool plural = false;
    for (const Check& c : Checks(path)) {
      if (c.delivery == delivery) {
        names.push_back(c.name);
        plural = plural || c.plural;
      }
    }
    if (names.empty()) return;
    plural = plural || names.size() > 1;
    parts.push_back(absl::StrCat(JoinAnd(names), " ", plural ? plural_verb : singular_verb));
  };
  const bool exits = path.hw_exec_breakpoint == DebugDelivery::kDebugExit ||
                     path.single_step == DebugDelivery::kDebugExit ||
                     path.write_watchpoint == DebugDelivery::kDebugExit ||
                     path.int3 == DebugDelivery::kDebugExit ||
                     path.int3 == DebugDelivery::kEmulationFailure;
  if (!exits) parts.push_back("no debug exits from the module");
  group(DebugDelivery::kDebugExit, "exits to pvmd", "exit to pvmd");
  group(DebugDelivery::kEmulationFailure, "arrives as an emulation failure",
        "arrive as emulation failures");
  group(DebugDelivery::kGuestIdt, "goes into the guest's IDT", "go into the guest's IDT");
  group(DebugDelivery::kNone, "does not fire", "do not fire");
  group(DebugDelivery::kInconclusive, "is inconclusive", "are inconclusive");
  return absl::StrJoin(parts, "; ");
}

// The mechanism pvmd uses where the module gives no debug exit.
std::string MechanismClause(const PathDebugCapabilities& path) {
  const bool int3_reaches_pvmd =
      path.int3 == DebugDelivery::kDebugExit || path.int3 == DebugDelivery::kEmulationFailure;
  std::vector<std::string> intercepted;
  std::vector<std::string> parts;
  if (path.hw_exec_breakpoint != DebugDelivery::kDebugExit) {
    if (int3_reaches_pvmd) {
      parts.push_back("execute breakpoints by INT3 patches");
    } else {
      intercepted.push_back("breakpoints");
    }
  } else if (!int3_reaches_pvmd) {
    intercepted.push_back("software breakpoints");
  }
  if (path.single_step != DebugDelivery::kDebugExit) intercepted.push_back("single-step");
  if (!intercepted.empty()) {
    parts.insert(parts.begin(), absl::StrCat(JoinAnd(intercepted),
                                             " by exception interception at the guest's IDT "
                                             "handlers"));
  }
  if (path.write_watchpoint != DebugDelivery::kDebugExit) {
    parts.push_back("watchpoints by page protection (split memslots)");
  }
  if (parts.empty()) return "";
  return absl::StrCat("pvmd serves ", JoinAnd(parts));
}

std::string PathLine(const char* name, const PathDebugCapabilities& path) {
  std::string line = absl::StrCat(name, ": ", DeliveryClause(path));
  if (std::string mechanism = MechanismClause(path); !mechanism.empty()) {
    absl::StrAppend(&line, "; ", mechanism);
  }
  return line;
}

const char* RuleWords(pvm_va_rule rule) {
  switch (rule) {
    case PVM_VA_RULE_NONE:
      return "the module drops no breakpoint address";
    case PVM_VA_RULE_POSITIVE_OR_RANGES:
      return "the module drops breakpoints outside the lower half above 0 and the guest's "
             "kernel ranges";
    case PVM_VA_RULE_NONNEG_OR_RANGES:
      return "the module drops breakpoints outside the lower half and the guest's kernel "
             "ranges (or outside the lower half alone: the same for a guest without kernel "
             "ranges)";
    case PVM_VA_RULE_LOWER_HALF:
      return "the module drops breakpoints outside the lower half";
  }
  return "an unknown rule";
}

const char* RuleShortName(pvm_va_rule rule) {
  switch (rule) {
    case PVM_VA_RULE_NONE:
      return "none";
    case PVM_VA_RULE_POSITIVE_OR_RANGES:
      return "positive-or-ranges";
    case PVM_VA_RULE_NONNEG_OR_RANGES:
      return "nonneg-or-ranges";
    case PVM_VA_RULE_LOWER_HALF:
      return "lower-half";
  }
  return "?";
}

const char* ShortDelivery(DebugDelivery delivery) {
  switch (delivery) {
    case DebugDelivery::kDebugExit:
      return "exit";
    case DebugDelivery::kEmulationFailure:
      return "emulation-failure";
    case DebugDelivery::kGuestIdt:
      return "guest-idt";
    case DebugDelivery::kNone:
      return "none";
    case DebugDelivery::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

std::string ShortPath(const PathDebugCapabilities& path) {
  return absl::StrCat("exec-bp ", ShortDelivery(path.hw_exec_breakpoint), ", step ",
                      ShortDelivery(path.single_step), ", watch ",
                      ShortDelivery(path.write_watchpoint), ", int3 ", ShortDelivery(path.int3));
}

double Milliseconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace

const char* DebugDeliveryName(DebugDelivery delivery) {
  switch (delivery) {
    case DebugDelivery::kDebugExit:
      return "debug exit";
    case DebugDelivery::kEmulationFailure:
      return "emulation failure";
    case DebugDelivery::kGuestIdt:
      return "guest IDT";
    case DebugDelivery::kNone:
      return "none";
    case DebugDelivery::kInconclusive:
      return "inconclusive";
  }
  return "unknown";
}

std::vector<std::string> DebugCapabilities::SummaryLines() const {
  std::vector<std::string> lines;
  lines.push_back(PathLine("native code (CPL3)", native));
  lines.push_back(PathLine("emulated code (CPL0)", emulated));
  if (address_rule_known) {
    lines.push_back(
        absl::StrCat("address rule: ", RuleWords(address_rule), " (", address_rule_evidence, ")"));
  } else {
    lines.push_back(absl::StrCat("address rule: unknown (", address_rule_evidence,
                                 "); breakpoints are validated as if the module dropped none"));
  }
  lines.push_back(absl::StrFormat(
      "probe time: %.2f ms (%.2f ms of checks, the rest creating and destroying the VM)",
      Milliseconds(duration), Milliseconds(checks_duration)));
  for (const std::string& note : notes) {
    lines.push_back(absl::StrCat("note: ", note));
  }
  return lines;
}

std::string DebugCapabilities::Summary() const { return absl::StrJoin(SummaryLines(), "\n"); }

std::string DebugCapabilities::OneLine() const {
  return absl::StrFormat("guest-debug probe (%.2f ms): native: %s; emulated: %s; address rule %s%s",
                         Milliseconds(duration), ShortPath(native), ShortPath(emulated),
                         address_rule_known ? RuleShortName(address_rule) : "unknown",
                         address_rule_known ? "" : " (validating as none)");
}

}  // namespace pvm::host
