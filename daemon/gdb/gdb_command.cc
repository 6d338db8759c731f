#include "daemon/gdb/gdb_command.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/gdb/rsp_framing.h"

namespace pvm::gdb {
namespace {

Command Bad(std::string why) { return Malformed{std::move(why)}; }

// Debian's abseil has its own string_view, so these stay on std::string_view.
bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// Every piece of `s` between `sep`s, empty ones included ("" is one empty piece).
std::vector<std::string_view> SplitAll(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (size_t at = s.find(sep); at != std::string_view::npos; at = s.find(sep)) {
    parts.push_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  parts.push_back(s);
  return parts;
}

// Cuts `s` at the first `sep`: *head before it, *tail after it. False (and nothing
// written) when `sep` is absent.
bool SplitAt(std::string_view s, char sep, std::string_view* head, std::string_view* tail) {
  const size_t at = s.find(sep);
  if (at == std::string_view::npos) return false;
  *head = s.substr(0, at);
  *tail = s.substr(at + 1);
  return true;
}

// A bare thread or process id: hex, or "-1" for all.
bool ParseId(std::string_view s, int64_t* id) {
  if (s == "-1") {
    *id = kAllThreads;
    return true;
  }
  uint64_t value = 0;
  if (!ParseHexNumber(s, &value) || value > std::numeric_limits<int64_t>::max()) return false;
  *id = static_cast<int64_t>(value);
  return true;
}

// A thread id as gdb writes it: bare, or multiprocess "p<pid>.<tid>" or "p<pid>" (every
// thread of that process). pvmd has a single process, so the pid is only checked for
// syntax.
bool ParseThreadId(std::string_view s, int64_t* thread) {
  if (!ConsumePrefix(&s, "p")) return ParseId(s, thread);
  std::string_view pid = s;
  std::string_view tid = "-1";
  SplitAt(s, '.', &pid, &tid);
  int64_t ignored = 0;
  return ParseId(pid, &ignored) && ParseId(tid, thread);
}

// A gdb signal number: exactly two hex digits.
bool ParseSignal(std::string_view s, uint8_t* signal) {
  uint64_t value = 0;
  if (s.size() != 2 || !ParseHexNumber(s, &value)) return false;
  *signal = static_cast<uint8_t>(value);
  return true;
}

// "addr,length" with the length bounded by kMaxTransfer.
bool ParseRange(std::string_view s, uint64_t* address, uint64_t* length, std::string* why) {
  std::string_view a;
  std::string_view l;
  if (!SplitAt(s, ',', &a, &l)) {
    *why = "missing ',' between address and length";
  } else if (!ParseHexNumber(a, address)) {
    *why = "bad hex address";
  } else if (!ParseHexNumber(l, length)) {
    *why = "bad hex length";
  } else if (*length > kMaxTransfer) {
    *why = "length " + std::to_string(*length) + " exceeds " + std::to_string(kMaxTransfer);
  } else {
    return true;
  }
  return false;
}

Command ParseReadMemory(std::string_view args) {
  ReadMemory read;
  std::string why;
  if (!ParseRange(args, &read.address, &read.length, &why)) return Bad(std::move(why));
  return read;
}

// M addr,length:hex and X addr,length:binary. The decoder has already undone X's
// '}' escapes, so its data arrives here as plain bytes.
Command ParseWriteMemory(std::string_view args, bool binary) {
  std::string_view range;
  std::string_view data;
  if (!SplitAt(args, ':', &range, &data)) return Bad("missing ':' before the data");
  WriteMemory write;
  uint64_t length = 0;
  std::string why;
  if (!ParseRange(range, &write.address, &length, &why)) return Bad(std::move(why));
  if (binary) {
    write.bytes = std::string(data);
  } else if (!HexDecode(data, &write.bytes)) {
    return Bad("bad hex data");
  }
  if (write.bytes.size() != length) return Bad("data size differs from the length");
  return write;
}

Command ParseWriteRegisters(std::string_view args) {
  WriteRegisters write;
  if (args.empty() || !HexDecode(args, &write.bytes)) return Bad("bad hex register data");
  return write;
}

Command ParseReadRegister(std::string_view args) {
  ReadRegister read;
  if (!ParseHexNumber(args, &read.number)) return Bad("bad hex register number");
  return read;
}

Command ParseWriteRegister(std::string_view args) {
  std::string_view number;
  std::string_view value;
  if (!SplitAt(args, '=', &number, &value)) return Bad("missing '=' after the register number");
  WriteRegister write;
  if (!ParseHexNumber(number, &write.number)) return Bad("bad hex register number");
  if (value.empty() || !HexDecode(value, &write.bytes)) return Bad("bad hex register value");
  return write;
}

// c[addr], s[addr], Csig[;addr], Ssig[;addr].
Command ParseResume(char letter, std::string_view args) {
  Resume resume;
  resume.step = letter == 's' || letter == 'S';
  std::string_view address = args;
  bool has_address = !args.empty();
  if (letter == 'C' || letter == 'S') {
    std::string_view signal = args;
    address = {};
    has_address = SplitAt(args, ';', &signal, &address);
    uint8_t value = 0;
    if (!ParseSignal(signal, &value)) return Bad("bad signal number");
    resume.signal = value;
  }
  if (has_address) {
    uint64_t value = 0;
    if (!ParseHexNumber(address, &value)) return Bad("bad hex resume address");
    resume.address = value;
  }
  return resume;
}

bool ParseVContAction(std::string_view s, VContAction* action) {
  std::string_view verb = s;
  std::string_view thread;
  const bool has_thread = SplitAt(s, ':', &verb, &thread);
  if (verb.empty()) return false;
  const char letter = verb.front();
  verb.remove_prefix(1);
  if (letter == 'C' || letter == 'S') {
    uint8_t signal = 0;
    if (!ParseSignal(verb, &signal)) return false;
    action->signal = signal;
  } else if ((letter != 'c' && letter != 's' && letter != 't') || !verb.empty()) {
    return false;
  }
  action->action = letter == 'C' ? 'c' : letter == 'S' ? 's' : letter;
  return !has_thread || ParseThreadId(thread, &action->thread);
}

Command ParseVCont(std::string_view actions) {
  VCont vcont;
  for (std::string_view part : SplitAll(actions, ';')) {
    VContAction action;
    if (!ParseVContAction(part, &action)) {
      return Bad("bad vCont action '" + std::string(part) + "'");
    }
    vcont.actions.push_back(action);
  }
  return vcont;
}

Command ParseV(std::string_view payload) {
  if (payload == "vCont?") return VContQuery{};
  if (ConsumePrefix(&payload, "vCont;")) return ParseVCont(payload);
  if (payload == "vCont") return Bad("vCont without actions");
  if (payload == "vKill") return Kill{};
  if (ConsumePrefix(&payload, "vKill;")) {
    int64_t pid = 0;
    if (!ParseId(payload, &pid)) return Bad("bad hex process id");
    return Kill{};
  }
  return Unsupported{std::string(payload)};
}

// Z/z type,addr,kind[;cond...]: the conditions (agent bytecode) are not evaluated,
// so they are not parsed either.
Command ParseBreakpoint(bool insert, std::string_view args) {
  std::string_view fields = args;
  std::string_view conditions;
  SplitAt(args, ';', &fields, &conditions);
  const std::vector<std::string_view> parts = SplitAll(fields, ',');
  if (parts.size() != 3) return Bad("expected type,address,kind");
  uint64_t type = 0;
  Breakpoint point;
  point.insert = insert;
  if (!ParseHexNumber(parts[0], &type) || type > static_cast<uint64_t>(PointType::kAccess)) {
    return Bad("bad breakpoint type");
  }
  point.type = static_cast<PointType>(type);
  if (!ParseHexNumber(parts[1], &point.address)) return Bad("bad hex address");
  if (!ParseHexNumber(parts[2], &point.kind)) return Bad("bad hex kind");
  return point;
}

Command ParseSetThread(std::string_view args) {
  if (args.empty() || (args.front() != 'g' && args.front() != 'c')) return Bad("bad H operation");
  SetThread set;
  set.op = args.front();
  args.remove_prefix(1);
  if (!ParseThreadId(args, &set.thread)) return Bad("bad thread id");
  return set;
}

Command ParseThreadAlive(std::string_view args) {
  ThreadAlive alive;
  if (!ParseThreadId(args, &alive.thread)) return Bad("bad thread id");
  return alive;
}

Command ParseDetach(std::string_view args) {
  if (args.empty()) return Detach{};
  int64_t pid = 0;
  if (!ConsumePrefix(&args, ";") || !ParseId(args, &pid)) return Bad("bad D;pid");
  return Detach{};
}

Command ParseSupported(std::string_view args) {
  QuerySupported query;
  for (std::string_view feature : SplitAll(args, ';')) {
    if (!feature.empty()) query.features.emplace_back(feature);
  }
  return query;
}

// qXfer:features:read:annex:offset,length. Only the target description is served;
// every other object (auxv, libraries, ...) stays unsupported.
Command ParseXfer(std::string_view payload, std::string_view args) {
  if (!ConsumePrefix(&args, "features:read:")) return Unsupported{std::string(payload)};
  std::string_view annex;
  std::string_view range;
  if (!SplitAt(args, ':', &annex, &range)) return Bad("missing ':' after the annex");
  std::string_view offset;
  std::string_view length;
  if (!SplitAt(range, ',', &offset, &length)) return Bad("missing ',' between offset and length");
  ReadFeatures read;
  read.annex = std::string(annex);
  if (!ParseHexNumber(offset, &read.offset)) return Bad("bad hex offset");
  if (!ParseHexNumber(length, &read.length)) return Bad("bad hex length");
  // Unlike m, gdb sizes qXfer requests from PacketSize and copes with short replies.
  read.length = std::min(read.length, kMaxTransfer);
  return read;
}

Command ParseQuery(std::string_view payload) {
  // The name ends at ':' or ',' (qSupported:..., qThreadExtraInfo,...), so "qCRC:..."
  // is not mistaken for qC.
  const std::string_view name = payload.substr(0, payload.find_first_of(":,"));
  std::string_view args = payload.substr(name.size());
  const bool has_args = !args.empty();
  if (has_args) args.remove_prefix(1);
  const char sep = has_args ? payload[name.size()] : '\0';
  if (name == "qSupported" && sep != ',') return ParseSupported(args);
  if (name == "qXfer" && sep == ':') return ParseXfer(payload, args);
  if (name == "qThreadExtraInfo" && sep == ',') {
    ThreadExtraInfo info;
    if (!ParseThreadId(args, &info.thread)) return Bad("bad thread id");
    return info;
  }
  if (name == "qAttached" && sep != ',') {
    int64_t pid = 0;
    if (has_args && !ParseId(args, &pid)) return Bad("bad hex process id");
    return Attached{};
  }
  if (!has_args) {
    if (name == "qfThreadInfo") return ThreadInfoFirst{};
    if (name == "qsThreadInfo") return ThreadInfoNext{};
    if (name == "qC") return CurrentThread{};
  }
  return Unsupported{std::string(payload)};
}

// Commands that take no arguments: trailing bytes mean the peer speaks a variant
// pvmd does not know, which is worth an error rather than a silent guess.
Command Exact(std::string_view args, Command command) {
  if (!args.empty()) return Bad("unexpected arguments");
  return command;
}

}  // namespace

Command ParseCommand(std::string_view payload) {
  if (payload.empty()) return Unsupported{};
  const std::string_view args = payload.substr(1);
  switch (payload.front()) {
    case '?':
      return Exact(args, QueryStopReason{});
    case 'g':
      return Exact(args, ReadRegisters{});
    case 'G':
      return ParseWriteRegisters(args);
    case 'p':
      return ParseReadRegister(args);
    case 'P':
      return ParseWriteRegister(args);
    case 'm':
      return ParseReadMemory(args);
    case 'M':
      return ParseWriteMemory(args, /*binary=*/false);
    case 'X':
      return ParseWriteMemory(args, /*binary=*/true);
    case 'c':
    case 's':
    case 'C':
    case 'S':
      return ParseResume(payload.front(), args);
    case 'Z':
    case 'z':
      return ParseBreakpoint(payload.front() == 'Z', args);
    case 'H':
      return ParseSetThread(args);
    case 'T':
      return ParseThreadAlive(args);
    case 'D':
      return ParseDetach(args);
    case 'k':
      return Exact(args, Kill{});
    case 'q':
      return ParseQuery(payload);
    case 'Q':
      if (payload == "QStartNoAckMode") return StartNoAckMode{};
      break;
    case 'v':
      return ParseV(payload);
    default:
      break;
  }
  return Unsupported{std::string(payload)};
}

}  // namespace pvm::gdb
