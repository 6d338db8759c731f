// gdb's stop replies (T, W) from the debug engine's events: the signal, the thread
// (vCPU i is thread i + 1), and why, in the words gdb negotiated.
#ifndef PVMD_DAEMON_GDB_GDB_STOP_REPLY_H_
#define PVMD_DAEMON_GDB_GDB_STOP_REPLY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/debug/debug_event.h"
#include "daemon/gdb/gdb_points.h"

namespace pvm::gdb {

inline constexpr uint8_t kSigInt = 2;   // an interrupt (Ctrl-C, or a gRPC Interrupt)
inline constexpr uint8_t kSigTrap = 5;  // breakpoints, watchpoints, steps

struct StopFeatures {
  bool swbreak = false;  // gdb sent swbreak+ in qSupported
  bool hwbreak = false;
};

// "T05thread:1;hwbreak:;" and the like. A watchpoint of gdb's reports gdb's own
// address (watch:/rwatch:/awatch:), which is what gdb matches its watchpoints by.
// `point`: gdb's point behind the event (GdbPoints::FindByEngineId), if any.
std::string StopReplyFor(const debug::DebugEvent& event, const std::optional<GdbPoint>& point,
                         StopFeatures features);
std::string SignalStopReply(uint8_t signal, uint32_t vcpu);
// Every vCPU has halted or failed: the "process" exited.
inline constexpr char kExitedReply[] = "W00";

// A write that hit a read watchpoint of gdb's (served as a read/write watch, since
// x86 has no read-only one): gdb asked to hear only of reads, so it is not reported.
bool IsWriteOnReadWatch(const debug::DebugEvent& event, const std::optional<GdbPoint>& point);

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_STOP_REPLY_H_
