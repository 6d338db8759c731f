// Text and JSON output of `pvmctl debug`: the same conventions as format_text.h
// (for people; enum words with '-' for '_': "all-stop", "hw-breakpoint") and
// format_json.h (the machine-readable contract: snake_case keys always present, enum
// words of enum_names.h, 64-bit values as JSON numbers).
#ifndef PVMD_CLIENT_FORMAT_DEBUG_H_
#define PVMD_CLIENT_FORMAT_DEBUG_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "client/format_json.h"
#include "pvm/v1/debug.pb.h"

namespace pvm::ctl {

// "key: value" lines: enabled, stop mode, address rule, the four slots with their
// requested and effective DR7 bits, and every vCPU, stopped or not, and why.
std::string DebugStateText(const v1::DebugState& state);
std::string BreakpointText(const v1::Breakpoint& breakpoint);
// A table with one row per breakpoint, or "no breakpoints".
std::string BreakpointListText(const v1::ListBreakpointsResponse& list);
std::string BreakpointRemovedText(absl::string_view name, uint32_t id);
std::string StepText(const v1::StepResponse& step);
// One line per record: "#12 vcpu 0 hw-breakpoint bp 1 rip 0x100123 dr6 0xffff0ff1
// dr7 0x401 stopped", or for a gap "-- 57 events lost (#100..#156) --". Empty for
// a record that holds neither (a newer daemon's record kind).
std::string EventRecordText(const v1::EventRecord& record);
// gdb-like: general registers with hex and decimal, RFLAGS decoded, segments as a
// table, descriptor tables, control and debug registers.
std::string RegistersText(const v1::Registers& registers);
// 16 bytes a line: guest address, hex bytes, printable ASCII.
std::string MemoryText(const v1::MemoryData& memory);

Json DebugStateJson(const v1::DebugState& state);
Json BreakpointJson(const v1::Breakpoint& breakpoint);
// {"breakpoints": [...]}
Json BreakpointListJson(const v1::ListBreakpointsResponse& list);
// {"name": ..., "id": ..., "removed": true}
Json BreakpointRemovedJson(absl::string_view name, uint32_t id);
Json StepJson(const v1::StepResponse& step);
// {"type": "event", ...the event's fields...} or {"type": "gap", "first_lost", "lost"};
// null for a record that holds neither.
Json EventRecordJson(const v1::EventRecord& record);
Json RegistersJson(const v1::Registers& registers);
// {"address": ..., "length": ..., "hex": "5548..."}: lowercase hex, two digits a byte.
Json MemoryJson(const v1::MemoryData& memory);

// One document on one line, newline-terminated: JSON Lines for streams.
std::string DumpJsonLine(const Json& json);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_FORMAT_DEBUG_H_
