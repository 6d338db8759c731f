// The breakpoints and watchpoints gdb inserted (Z0-Z4), each backed by one breakpoint
// of the VM's debug engine, so that gdb's and gRPC's points share the same slots and
// events. gdb inserts a point again on every resume and may repeat an insert: both
// are idempotent here, as the protocol asks.
#ifndef PVMD_DAEMON_GDB_GDB_POINTS_H_
#define PVMD_DAEMON_GDB_GDB_POINTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>

#include "absl/status/status.h"
#include "daemon/gdb/gdb_command.h"
#include "daemon/gdb/gdb_target.h"

namespace pvm::gdb {

// gdb's hardware points (Z1-Z4) share the four debug-register slots; the fifth is
// refused here before the engine is asked, so gdb learns the limit as an error.
inline constexpr int kMaxHardwarePoints = 4;

struct GdbPoint {
  PointType type = PointType::kSoftware;
  uint64_t address = 0;
  uint64_t kind = 0;
};

class GdbPoints {
 public:
  // RESOURCE_EXHAUSTED past kMaxHardwarePoints; INVALID_ARGUMENT for a watch length
  // other than 1, 2, 4 or 8; the engine's own refusals (an address the module would
  // drop, a non-canonical one, no free slot) as it gives them.
  absl::Status Insert(GdbTarget& target, const GdbPoint& point);
  // Removing a point gdb never inserted is no error: gdb removes after a failed insert.
  absl::Status Remove(GdbTarget& target, const GdbPoint& point);
  // Every point of gdb's, as detaching removes them. Keeps going past a failure and
  // returns the first.
  absl::Status RemoveAll(GdbTarget& target);

  // The gdb point behind engine breakpoint `id`, if it is one of gdb's.
  std::optional<GdbPoint> FindByEngineId(uint32_t id) const;
  bool Contains(const GdbPoint& point) const { return engine_ids_.contains(KeyOf(point)); }
  int hardware_points() const;

 private:
  using Key = std::tuple<PointType, uint64_t, uint64_t>;
  static Key KeyOf(const GdbPoint& point) { return {point.type, point.address, point.kind}; }
  std::map<Key, uint32_t> engine_ids_;
};

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_POINTS_H_
