#include "daemon/gdb/gdb_stop_reply.h"

#include "absl/strings/str_format.h"

namespace pvm::gdb {
namespace {

const char* WatchWord(PointType type) {
  switch (type) {
    case PointType::kWrite:
      return "watch";
    case PointType::kRead:
      return "rwatch";
    default:
      return "awatch";
  }
}

}  // namespace

std::string SignalStopReply(uint8_t signal, uint32_t vcpu) {
  return absl::StrFormat("T%02xthread:%x;", signal, vcpu + 1);
}

std::string StopReplyFor(const debug::DebugEvent& event, const std::optional<GdbPoint>& point,
                         StopFeatures features) {
  std::string reply = SignalStopReply(kSigTrap, event.vcpu);
  if (point && point->type >= PointType::kWrite) {
    absl::StrAppendFormat(&reply, "%s:%x;", WatchWord(point->type), point->address);
    return reply;
  }
  // Only a point of gdb's own is named: for one a gRPC client set, gdb would look
  // for its breakpoint at the pc, find none, take the stop for a stale hit of a
  // removed one and resume silently. A plain SIGTRAP makes gdb show the stop.
  // (gdb's hbreak may be an INT3 patch here: its own type decides the word.)
  if (point && point->type == PointType::kSoftware && features.swbreak) {
    reply += "swbreak:;";
  } else if (point && point->type == PointType::kHardware && features.hwbreak) {
    reply += "hwbreak:;";
  }
  return reply;
}

bool IsWriteOnReadWatch(const debug::DebugEvent& event, const std::optional<GdbPoint>& point) {
  return event.kind == debug::EventKind::kWatchpoint && event.access_length != 0 &&
         event.is_write && point && point->type == PointType::kRead;
}

}  // namespace pvm::gdb
