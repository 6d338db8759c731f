// One gdb remote-protocol request, parsed from a packet's payload into a typed
// command. Pure: nothing here touches a VM. A payload that names a known command but
// breaks its syntax (bad hex, a missing field, a length past kMaxTransfer) becomes
// Malformed with the reason; a command pvmd does not implement becomes Unsupported,
// which gdb is answered with an empty packet for.
#ifndef PVMD_DAEMON_GDB_GDB_COMMAND_H_
#define PVMD_DAEMON_GDB_GDB_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pvm::gdb {

// The most bytes one m/M/X or qXfer may move. Bounded by the packet size, so a
// hostile length never becomes a huge allocation.
inline constexpr uint64_t kMaxTransfer = 8192;

// gdb's thread ids: vCPU i is thread i + 1. 0 means "any thread", -1 "all threads".
inline constexpr int64_t kAnyThread = 0;
inline constexpr int64_t kAllThreads = -1;

enum class PointType : uint8_t { kSoftware = 0, kHardware = 1, kWrite = 2, kRead = 3, kAccess = 4 };

struct QuerySupported {               // qSupported[:feature;feature...]
  std::vector<std::string> features;  // as gdb sent them: "swbreak+", "xmlRegisters=i386"
};
struct StartNoAckMode {};   // QStartNoAckMode
struct QueryStopReason {};  // ?
struct ReadRegisters {};    // g
struct WriteRegisters {     // G XX...
  std::string bytes;        // decoded
};
struct ReadRegister {  // p n
  uint64_t number = 0;
};
struct WriteRegister {  // P n=XX...
  uint64_t number = 0;
  std::string bytes;  // decoded
};
struct ReadMemory {  // m addr,length
  uint64_t address = 0;
  uint64_t length = 0;
};
struct WriteMemory {  // M addr,length:XX... and X addr,length:binary
  uint64_t address = 0;
  std::string bytes;  // decoded; its size equals the length gdb gave
};
struct Resume {  // c [addr], s [addr], C sig[;addr], S sig[;addr]
  bool step = false;
  std::optional<uint64_t> address;  // resume there (sets RIP first)
  std::optional<uint8_t> signal;    // C/S: the signal to deliver (pvmd ignores it)
};
struct VContQuery {};  // vCont?
struct VContAction {
  char action = 'c';              // 'c', 's', 't' (stop); 'C'/'S' come as 'c'/'s'
  int64_t thread = kAllThreads;   // no ":thread" means every thread not yet named
  std::optional<uint8_t> signal;  // from C/S
};
struct VCont {  // vCont;action[:thread];...
  std::vector<VContAction> actions;
};
struct Breakpoint {  // Z type,addr,kind / z type,addr,kind (conditions after ';' ignored)
  bool insert = true;
  PointType type = PointType::kSoftware;
  uint64_t address = 0;
  uint64_t kind = 0;  // software/hardware: instruction length hint; watchpoints: bytes
};
struct SetThread {  // H op thread, op 'g' (registers/memory) or 'c' (resume)
  char op = 'g';
  int64_t thread = kAnyThread;
};
struct ThreadAlive {  // T thread
  int64_t thread = 0;
};
struct ThreadInfoFirst {};  // qfThreadInfo
struct ThreadInfoNext {};   // qsThreadInfo
struct CurrentThread {};    // qC
struct ThreadExtraInfo {    // qThreadExtraInfo,thread
  int64_t thread = 0;
};
struct Attached {};    // qAttached[:pid]
struct ReadFeatures {  // qXfer:features:read:annex:offset,length
  std::string annex;   // "target.xml"
  uint64_t offset = 0;
  uint64_t length = 0;  // clamped to kMaxTransfer
};
struct Detach {};     // D, D;pid
struct Kill {};       // k, vKill;pid
struct Unsupported {  // anything else: answered with an empty packet
  std::string payload;
};
struct Malformed {  // a known command with broken syntax: answered with an error
  std::string why;
};

using Command =
    std::variant<QuerySupported, StartNoAckMode, QueryStopReason, ReadRegisters, WriteRegisters,
                 ReadRegister, WriteRegister, ReadMemory, WriteMemory, Resume, VContQuery, VCont,
                 Breakpoint, SetThread, ThreadAlive, ThreadInfoFirst, ThreadInfoNext, CurrentThread,
                 ThreadExtraInfo, Attached, ReadFeatures, Detach, Kill, Unsupported, Malformed>;

// Thread ids are hex ("1", "a"), "-1" or "0"; "p<pid>.<tid>" (multiprocess) is
// accepted and its pid ignored.
Command ParseCommand(std::string_view payload);

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_COMMAND_H_
