// One debug event as the VMM reports it: what a vCPU hit, where, and in which mode.
#ifndef PVMD_DAEMON_DEBUG_DEBUG_EVENT_H_
#define PVMD_DAEMON_DEBUG_DEBUG_EVENT_H_

#include <cstdint>
#include <type_traits>

namespace pvm::debug {

enum class EventKind : uint8_t { kHwBreakpoint, kWatchpoint, kSwBreakpoint, kSingleStep };

constexpr const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kHwBreakpoint:
      return "hw-breakpoint";
    case EventKind::kWatchpoint:
      return "watchpoint";
    case EventKind::kSwBreakpoint:
      return "sw-breakpoint";
    case EventKind::kSingleStep:
      return "single-step";
  }
  return "unknown";
}

// Fixed size and trivially copyable: the event log copies it word by word into a
// preallocated ring, so a vCPU thread never allocates to report an event.
struct DebugEvent {
  uint64_t sequence = 0;     // assigned by EventLog::Append; the first event is 1
  int64_t timestamp_ns = 0;  // CLOCK_REALTIME, set by the producer
  uint64_t rip = 0;
  uint64_t dr6 = 0;
  uint64_t dr7 = 0;      // the DR7 in force when the event happened
  uint64_t address = 0;  // accessed address for watchpoints, when has_address
  uint32_t vcpu = 0;
  uint32_t breakpoint_id = 0;  // 0: no breakpoint of ours (e.g. a single step)
  EventKind kind{};
  uint8_t vector = 0;  // 1 (#DB) or 3 (#BP)
  bool has_address = false;
  bool stopped = false;  // true: the vCPU stopped (all-stop); false: trace, it resumed at once
  // Page-protection watchpoints see the access itself: its bytes before and after
  // (a load: both the value read), as a little-endian number of access_length bytes.
  uint64_t old_value = 0;
  uint64_t new_value = 0;
  uint8_t access_length = 0;  // 0: the access is not known (DR7 watchpoints)
  bool is_write = false;
};

static_assert(std::is_trivially_copyable_v<DebugEvent>);
// The log stores the sequence in the slot's stamp and the rest as words: whole
// words, so the copy word by word covers it exactly.
static_assert(sizeof(DebugEvent) % sizeof(uint64_t) == 0);

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_DEBUG_EVENT_H_
