// The debug engine's vocabulary: what a user asks for and what the engine reports.
// Plain values, no gRPC: the API layer translates them.
#ifndef PVMD_DAEMON_DEBUG_DEBUG_TYPES_H_
#define PVMD_DAEMON_DEBUG_DEBUG_TYPES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pvm::debug {

enum class BreakpointKind { kExec, kWrite, kReadWrite, kSoftware };
const char* BreakpointKindName(BreakpointKind kind);  // "exec", "write", "rw", "sw"

enum class StopMode { kAllStop, kTrace };
const char* StopModeName(StopMode mode);  // "all-stop", "trace"

enum class AddressSpace { kVirtual, kPhysical };

struct BreakpointSpec {
  BreakpointKind kind = BreakpointKind::kExec;
  uint64_t address = 0;  // guest-virtual
  uint32_t length = 1;
  bool trace = false;
};

struct BreakpointInfo {
  uint32_t id = 0;
  BreakpointSpec spec;
  int slot = -1;  // DR index; -1 for software breakpoints
  uint64_t hits = 0;
  std::string location;   // "symbol+0x4" when the image has a symbol there
  std::string mechanism;  // "debug register DR1", "INT3 patch"
};

struct SlotInfo {
  bool in_use = false;
  uint32_t breakpoint_id = 0;
  uint64_t address = 0;
  uint64_t requested_dr7 = 0;    // this slot's bits
  uint64_t effective_dr7 = 0;    // after the module's address rule
  bool page_protection = false;  // a page watch: no debug register behind the slot
};

struct VcpuDebugInfo {
  uint32_t id = 0;
  bool stopped = false;
  std::string reason;
  uint64_t rip = 0;
  uint64_t last_event = 0;
  bool ended = false;  // halted or failed: it will not run again
};

struct DebugStateInfo {
  bool enabled = false;
  StopMode stop_mode = StopMode::kAllStop;
  std::array<SlotInfo, 4> slots{};
  uint64_t requested_dr7 = 0;
  uint64_t effective_dr7 = 0;
  std::vector<VcpuDebugInfo> vcpus;
  uint32_t software_breakpoints = 0;
  uint64_t last_event = 0;
  std::string address_rule;
  std::vector<std::string> mechanisms;  // one line per feature: how this host serves it
};

struct StepResult {
  uint32_t vcpu = 0;
  uint32_t steps = 0;
  uint64_t rip = 0;
  std::string reason;
  uint64_t last_event = 0;
};

// The general-purpose registers; unset optionals in a change are left alone.
struct RegisterChange {
  std::array<std::optional<uint64_t>, 18> values;  // kvm_regs order: rax..r15, rip, rflags
};

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_DEBUG_TYPES_H_
