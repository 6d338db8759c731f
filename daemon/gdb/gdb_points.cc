#include "daemon/gdb/gdb_points.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace pvm::gdb {
namespace {

bool IsHardware(PointType type) { return type != PointType::kSoftware; }

debug::BreakpointKind EngineKind(PointType type) {
  switch (type) {
    case PointType::kSoftware:
      return debug::BreakpointKind::kSoftware;
    case PointType::kHardware:
      return debug::BreakpointKind::kExec;
    case PointType::kWrite:
      return debug::BreakpointKind::kWrite;
    case PointType::kRead:  // x86 has no read-only watch: the session drops write hits
    case PointType::kAccess:
      return debug::BreakpointKind::kReadWrite;
  }
  return debug::BreakpointKind::kExec;
}

}  // namespace

absl::Status GdbPoints::Insert(GdbTarget& target, const GdbPoint& point) {
  if (engine_ids_.contains(KeyOf(point))) {
    return absl::OkStatus();
  }
  debug::BreakpointSpec spec;
  spec.kind = EngineKind(point.type);
  spec.address = point.address;
  spec.length = 1;
  if (point.type >= PointType::kWrite) {
    if (point.kind != 1 && point.kind != 2 && point.kind != 4 && point.kind != 8) {
      return absl::InvalidArgumentError(
          absl::StrCat("a watchpoint covers 1, 2, 4 or 8 bytes, not ", point.kind));
    }
    spec.length = static_cast<uint32_t>(point.kind);
  }
  if (IsHardware(point.type) && hardware_points() >= kMaxHardwarePoints) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", kMaxHardwarePoints, " debug-register slots hold gdb's hardware points"));
  }
  absl::StatusOr<debug::BreakpointInfo> added = target.AddBreakpoint(spec);
  if (!added.ok()) {
    return added.status();
  }
  engine_ids_.emplace(KeyOf(point), added->id);
  return absl::OkStatus();
}

absl::Status GdbPoints::Remove(GdbTarget& target, const GdbPoint& point) {
  auto it = engine_ids_.find(KeyOf(point));
  if (it == engine_ids_.end()) {
    return absl::OkStatus();
  }
  absl::Status removed = target.RemoveBreakpoint(it->second);
  // NOT_FOUND: a gRPC client removed it already; gdb's view is right either way.
  if (removed.ok() || absl::IsNotFound(removed)) {
    engine_ids_.erase(it);
    return absl::OkStatus();
  }
  return removed;
}

absl::Status GdbPoints::RemoveAll(GdbTarget& target) {
  absl::Status first;
  for (auto& [key, id] : engine_ids_) {
    absl::Status removed = target.RemoveBreakpoint(id);
    if (!removed.ok() && !absl::IsNotFound(removed) && first.ok()) {
      first = removed;
    }
  }
  engine_ids_.clear();
  return first;
}

std::optional<GdbPoint> GdbPoints::FindByEngineId(uint32_t id) const {
  for (const auto& [key, engine_id] : engine_ids_) {
    if (engine_id == id) {
      return GdbPoint{std::get<0>(key), std::get<1>(key), std::get<2>(key)};
    }
  }
  return std::nullopt;
}

int GdbPoints::hardware_points() const {
  return static_cast<int>(std::count_if(engine_ids_.begin(), engine_ids_.end(), [](const auto& e) {
    return IsHardware(std::get<0>(e.first));
  }));
}

}  // namespace pvm::gdb
