#include "daemon/gdb/gdb_session.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/gdb/rsp_framing.h"
#include "daemon/gdb/x86_64_registers.h"

namespace pvm::gdb {
namespace {

using std::chrono::steady_clock;

// How often a wait for the guest looks at the socket for gdb's Ctrl-C. A stop
// wakes the wait at once; only an interrupt can be this late.
constexpr auto kInterruptPoll = std::chrono::milliseconds(20);

// gdb shows the number of an "Enn" reply; errno values, as gdbserver sends them.
std::string ErrorReply(const absl::Status& status) {
  int code = 1;  // EPERM
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      code = 22;  // EINVAL
      break;
    case absl::StatusCode::kNotFound:
      code = 2;  // ENOENT
      break;
    case absl::StatusCode::kOutOfRange:
      code = 14;  // EFAULT: memory that is not there
      break;
    case absl::StatusCode::kResourceExhausted:
      code = 28;  // ENOSPC: no debug-register slot left
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      code = 11;  // EAGAIN
      break;
    default:
      break;
  }
  return absl::StrFormat("E%02x", code);
}

constexpr char kMalformedReply[] = "E16";  // EINVAL

bool HasFeature(const QuerySupported& query, std::string_view feature) {
  return std::find(query.features.begin(), query.features.end(), feature) != query.features.end();
}

}  // namespace

GdbSession::GdbSession(GdbTarget& target, int fd, int stop_fd)
    : target_(target), connection_(fd, stop_fd) {}

absl::Status GdbSession::Run() {
  if (absl::Status attached = Attach(); !attached.ok()) {
    return attached;
  }
  while (!ended_) {
    RspConnection::Incoming in = connection_.Receive();
    if (in.kind == RspConnection::Incoming::Kind::kEnd) {
      break;
    }
    if (in.kind == RspConnection::Incoming::Kind::kInterrupt) {
      continue;  // the VM is stopped already: nothing to interrupt
    }
    const Command command = ParseCommand(in.payload);
    const bool no_ack = std::holds_alternative<StartNoAckMode>(command);
    const bool leaving =
        std::holds_alternative<Detach>(command) || std::holds_alternative<Kill>(command);
    std::optional<std::string> reply = Handle(command);
    const bool sent = !reply || connection_.Send(*reply).ok();
    if (leaving) {
      return absl::OkStatus();  // Handle has left already: a second Leave would resume again
    }
    if (!sent) {
      break;
    }
    if (no_ack) {
      connection_.DisableAcks();  // after the OK, which gdb still acknowledges
    }
  }
  Leave();
  return absl::OkStatus();
}

absl::Status GdbSession::Attach() {
  debug::DebugStateInfo state = target_.State();
  if (state.enabled && state.stop_mode == debug::StopMode::kTrace) {
    return absl::FailedPreconditionError(
        "the VM is debugged in trace mode: gdb needs all-stop (pvmctl debug disable first)");
  }
  if (state.vcpus.empty()) {
    return absl::FailedPreconditionError("the VM has no vCPUs");
  }
  vcpu_count_ = static_cast<uint32_t>(state.vcpus.size());
  if (!state.enabled) {
    if (absl::Status s = target_.SetEnabled(true); !s.ok()) {
      return s;
    }
    enabled_by_stub_ = true;
  }
  const uint64_t since = target_.events()->last_sequence();
  const bool all_stopped = std::all_of(state.vcpus.begin(), state.vcpus.end(),
                                       [](const auto& v) { return v.stopped || v.ended; });
  if (!all_stopped) {
    if (absl::Status s = target_.Interrupt(); !s.ok()) {
      Leave();
      return s;
    }
  }
  // Stopping the VM to attach is no signal the user sent: gdb shows a plain stop.
  last_stop_ = StopReplySince(since, kSigTrap);
  return absl::OkStatus();
}

void GdbSession::Leave() {
  (void)points_.RemoveAll(target_);
  if (enabled_by_stub_) {
    (void)target_.SetEnabled(false);  // resumes every vCPU it stopped
    enabled_by_stub_ = false;
  } else {
    (void)target_.Continue();  // FAILED_PRECONDITION when nothing is stopped: fine
  }
  ended_ = true;
}

std::optional<std::string> GdbSession::Handle(const Command& command) {
  return std::visit(
      [this](const auto& c) -> std::optional<std::string> {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, QuerySupported>) {
          return Supported(c);
        } else if constexpr (std::is_same_v<T, StartNoAckMode>) {
          return "OK";
        } else if constexpr (std::is_same_v<T, QueryStopReason>) {
          return last_stop_;
        } else if constexpr (std::is_same_v<T, struct ReadRegisters>) {
          return ReadRegisters();
        } else if constexpr (std::is_same_v<T, struct WriteRegisters>) {
          return WriteRegisters(c);
        } else if constexpr (std::is_same_v<T, struct ReadRegister>) {
          return ReadRegister(c);
        } else if constexpr (std::is_same_v<T, struct WriteRegister>) {
          return WriteRegister(c);
        } else if constexpr (std::is_same_v<T, struct ReadMemory>) {
          return ReadMemory(c);
        } else if constexpr (std::is_same_v<T, struct WriteMemory>) {
          return WriteMemory(c);
        } else if constexpr (std::is_same_v<T, Resume>) {
          return ResumeCommand(c);
        } else if constexpr (std::is_same_v<T, VContQuery>) {
          return "vCont;c;C;s;S";
        } else if constexpr (std::is_same_v<T, VCont>) {
          return VContCommand(c);
        } else if constexpr (std::is_same_v<T, Breakpoint>) {
          return BreakpointCommand(c);
        } else if constexpr (std::is_same_v<T, SetThread>) {
          return SetThreadCommand(c);
        } else if constexpr (std::is_same_v<T, ThreadAlive>) {
          return VcpuOf(c.thread) && c.thread > 0 ? "OK" : "E02";
        } else if constexpr (std::is_same_v<T, ThreadInfoFirst>) {
          return ThreadList();
        } else if constexpr (std::is_same_v<T, ThreadInfoNext>) {
          return "l";
        } else if constexpr (std::is_same_v<T, CurrentThread>) {
          return absl::StrFormat("QC%x", current_vcpu_ + 1);
        } else if constexpr (std::is_same_v<T, ThreadExtraInfo>) {
          return ThreadExtra(c.thread);
        } else if constexpr (std::is_same_v<T, Attached>) {
          return "1";  // an existing VM: quitting gdb detaches, it never kills
        } else if constexpr (std::is_same_v<T, ReadFeatures>) {
          return Features(c);
        } else if constexpr (std::is_same_v<T, Detach>) {
          Leave();
          return "OK";
        } else if constexpr (std::is_same_v<T, Kill>) {
          // The VM belongs to pvmd's API, not to gdb: kill ends the session as a
          // detach does and leaves deleting the VM to `pvmctl vm delete`.
          Leave();
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Malformed>) {
          return kMalformedReply;
        } else {
          return "";  // Unsupported: the empty reply
        }
      },
      command);
}

std::string GdbSession::Supported(const QuerySupported& query) {
  features_.swbreak = HasFeature(query, "swbreak+");
  features_.hwbreak = HasFeature(query, "hwbreak+");
  return absl::StrFormat(
      "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;vContSupported+",
      kMaxPacketPayload);
}

absl::StatusOr<GdbSession::RegisterFile> GdbSession::CurrentRegisters() {
  absl::StatusOr<kvm_regs> regs = target_.GetRegs(current_vcpu_);
  if (!regs.ok()) {
    return regs.status();
  }
  absl::StatusOr<kvm_sregs> sregs = target_.GetSregs(current_vcpu_);
  if (!sregs.ok()) {
    return sregs.status();
  }
  return RegisterFile{*regs, *sregs};
}

std::string GdbSession::ReadRegisters() {
  absl::StatusOr<RegisterFile> file = CurrentRegisters();
  return file.ok() ? EncodeRegisters(file->regs, file->sregs) : ErrorReply(file.status());
}

std::string GdbSession::WriteRegisters(const struct WriteRegisters& write) {
  absl::StatusOr<RegisterFile> file = CurrentRegisters();
  if (!file.ok()) {
    return ErrorReply(file.status());
  }
  absl::StatusOr<debug::RegisterChange> change =
      DecodeRegistersWrite(write.bytes, file->regs, file->sregs);
  if (!change.ok()) {
    return ErrorReply(change.status());
  }
  absl::StatusOr<kvm_regs> written = target_.SetRegs(current_vcpu_, *change);
  return written.ok() ? "OK" : ErrorReply(written.status());
}

std::string GdbSession::ReadRegister(const struct ReadRegister& read) {
  if (read.number >= kRegisterCount) {
    return "E16";
  }
  absl::StatusOr<RegisterFile> file = CurrentRegisters();
  if (!file.ok()) {
    return ErrorReply(file.status());
  }
  absl::StatusOr<std::string> value =
      EncodeRegister(static_cast<uint32_t>(read.number), file->regs, file->sregs);
  return value.ok() ? *value : ErrorReply(value.status());
}

std::string GdbSession::WriteRegister(const struct WriteRegister& write) {
  if (write.number >= kRegisterCount) {
    return "E16";
  }
  absl::StatusOr<debug::RegisterChange> change =
      DecodeRegisterWrite(static_cast<uint32_t>(write.number), write.bytes);
  if (!change.ok()) {
    return ErrorReply(change.status());
  }
  absl::StatusOr<kvm_regs> written = target_.SetRegs(current_vcpu_, *change);
  return written.ok() ? "OK" : ErrorReply(written.status());
}

std::string GdbSession::ReadMemory(const struct ReadMemory& read) {
  if (read.length == 0) {
    return "";
  }
  absl::StatusOr<std::vector<std::byte>> bytes =
      target_.ReadMemory(read.address, static_cast<size_t>(read.length), current_vcpu_);
  if (!bytes.ok()) {
    return ErrorReply(bytes.status());
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
}

std::string GdbSession::WriteMemory(const struct WriteMemory& write) {
  if (write.bytes.empty()) {
    return "OK";  // gdb's X probe
  }
  std::vector<std::byte> data(write.bytes.size());
  std::memcpy(data.data(), write.bytes.data(), data.size());
  absl::Status written = target_.WriteMemory(write.address, data, current_vcpu_);
  return written.ok() ? "OK" : ErrorReply(written);
}

std::string GdbSession::ResumeCommand(const Resume& resume) {
  const uint32_t vcpu = resume_vcpu_.value_or(current_vcpu_);
  if (resume.address) {
    debug::RegisterChange change;
    change.values[16] = *resume.address;  // rip
    if (absl::StatusOr<kvm_regs> set = target_.SetRegs(vcpu, change); !set.ok()) {
      return ErrorReply(set.status());
    }
  }
  return ResumeAndWait(resume.step ? std::optional<uint32_t>(vcpu) : std::nullopt);
}

std::string GdbSession::VContCommand(const VCont& vcont) {
  // All-stop with one stepping thread: gdb's "vCont;s:N;c" steps N while the others
  // would run; here they stay stopped for the step (the engine steps one vCPU alone),
  // which gdb cannot tell from a step that ended before any other thread moved.
  for (const VContAction& action : vcont.actions) {
    if (action.action == 's') {
      std::optional<uint32_t> vcpu = VcpuOf(action.thread);
      if (!vcpu) {
        return "E02";
      }
      return ResumeAndWait(*vcpu);
    }
  }
  for (const VContAction& action : vcont.actions) {
    if (action.action == 'c') {
      return ResumeAndWait(std::nullopt);  // every vCPU: all-stop has no other kind
    }
  }
  return kMalformedReply;
}

std::string GdbSession::BreakpointCommand(const Breakpoint& point) {
  const GdbPoint gdb_point{point.type, point.address, point.kind};
  absl::Status done =
      point.insert ? points_.Insert(target_, gdb_point) : points_.Remove(target_, gdb_point);
  return done.ok() ? "OK" : ErrorReply(done);
}

std::string GdbSession::SetThreadCommand(const SetThread& set) {
  std::optional<uint32_t> vcpu = VcpuOf(set.thread);
  if (!vcpu) {
    return "E02";
  }
  if (set.op == 'g') {
    current_vcpu_ = *vcpu;
  } else if (set.thread > 0) {
    resume_vcpu_ = *vcpu;
  } else {
    resume_vcpu_.reset();
  }
  return "OK";
}

std::string GdbSession::ThreadList() const {
  std::string list = "m";
  for (uint32_t i = 0; i < vcpu_count(); ++i) {
    absl::StrAppendFormat(&list, "%s%x", i == 0 ? "" : ",", i + 1);
  }
  return list;
}

std::string GdbSession::ThreadExtra(int64_t thread) {
  std::optional<uint32_t> vcpu = VcpuOf(thread);
  debug::DebugStateInfo state = target_.State();
  if (!vcpu || thread <= 0 || *vcpu >= state.vcpus.size()) {
    return "E02";
  }
  const debug::VcpuDebugInfo& info = state.vcpus[*vcpu];
  std::string text = absl::StrCat("vCPU ", *vcpu);
  if (info.ended) {
    absl::StrAppend(&text, ", halted");
  } else if (info.stopped && !info.reason.empty()) {
    absl::StrAppend(&text, ", ", info.reason);
  }
  return HexEncode(text);
}

std::string GdbSession::Features(const ReadFeatures& read) const {
  if (read.annex != kTargetXmlAnnex) {
    return "E00";  // qXfer: no such annex
  }
  std::string_view xml = TargetXml();
  if (read.offset >= xml.size()) {
    return "l";
  }
  std::string_view chunk = xml.substr(read.offset, read.length);
  return absl::StrCat(read.offset + chunk.size() >= xml.size() ? "l" : "m", std::string(chunk));
}

std::string GdbSession::ResumeAndWait(std::optional<uint32_t> step_vcpu) {
  if (step_vcpu) {
    // The step moves this vCPU past whatever it had stopped on.
    std::erase_if(pending_, [&](const PendingStop& p) { return p.event.vcpu == *step_vcpu; });
  } else if (std::optional<std::string> pending = TakePendingStop()) {
    return *pending;
  }
  for (;;) {
    const uint64_t since = target_.events()->last_sequence();
    if (step_vcpu) {
      absl::StatusOr<debug::StepResult> stepped =
          target_.Step(*step_vcpu, steady_clock::now() + kInterruptPoll);
      if (!stepped.ok() && !absl::IsDeadlineExceeded(stepped.status())) {
        return ErrorReply(stepped.status());
      }
    } else if (absl::Status resumed = target_.Continue();
               !resumed.ok() && !absl::IsFailedPrecondition(resumed)) {
      // FAILED_PRECONDITION: running already (a gRPC client continued), or debugging
      // is off, which the wait reports.
      return ErrorReply(resumed);
    }
    switch (WaitForStop()) {
      case Waited::kStopped:
        break;
      case Waited::kGone:
        ended_ = true;
        return "";
      case Waited::kDisabled:
      case Waited::kShutDown:
        ended_ = true;
        return kExitedReply;
    }
    // A write that hit a read watchpoint: not gdb's business; go on as before.
    std::string reply = StopReplySince(since, kSigInt);
    if (!reply.empty()) {
      return reply;
    }
    step_vcpu.reset();
  }
}

GdbSession::Waited GdbSession::WaitForStop() {
  for (;;) {
    switch (target_.WaitForAllStopped(steady_clock::now() + kInterruptPoll)) {
      case WaitResult::kAllStopped:
        return Waited::kStopped;
      case WaitResult::kDisabled:
        return Waited::kDisabled;
      case WaitResult::kShutDown:
        return Waited::kShutDown;
      case WaitResult::kTimedOut:
        break;
    }
    switch (connection_.PollInterrupt()) {
      case RspConnection::Poll::kInterrupt:
        (void)target_.Interrupt();  // the stop it makes ends the next wait
        break;
      case RspConnection::Poll::kEnd:
        return Waited::kGone;
      case RspConnection::Poll::kNothing:
        break;
    }
  }
}

std::string GdbSession::StopReplySince(uint64_t since, uint8_t signal_without_event) {
  std::shared_ptr<debug::EventLog> log = target_.events();
  std::array<debug::DebugEvent, 64> batch{};
  uint64_t cursor = since + 1;
  bool only_ignored = false;
  std::vector<PendingStop> stops;  // the first stop of each vCPU, in event order
  for (;;) {
    debug::EventLog::Batch got = log->Read(&cursor, std::span(batch));
    if (got.count == 0) {
      break;
    }
    for (size_t i = 0; i < got.count; ++i) {
      const debug::DebugEvent& event = batch[i];
      if (!event.stopped) {
        continue;
      }
      std::optional<GdbPoint> point;
      if (event.breakpoint_id != 0) {
        point = points_.FindByEngineId(event.breakpoint_id);
      }
      if (IsWriteOnReadWatch(event, point)) {
        only_ignored = true;
        continue;
      }
      const bool vcpu_seen = std::any_of(stops.begin(), stops.end(), [&](const PendingStop& s) {
        return s.event.vcpu == event.vcpu;
      });
      if (!vcpu_seen) {
        stops.push_back({event, point});
      }
    }
  }
  if (!stops.empty()) {
    pending_.insert(pending_.end(), stops.begin() + 1, stops.end());
    current_vcpu_ = stops.front().event.vcpu;
    last_stop_ = StopReplyFor(stops.front().event, stops.front().point, features_);
    return last_stop_;
  }
  if (only_ignored) {
    return "";
  }
  // No stopping event: an interrupt (gdb's or a gRPC client's), or every vCPU ended.
  debug::DebugStateInfo state = target_.State();
  for (const debug::VcpuDebugInfo& vcpu : state.vcpus) {
    if (vcpu.stopped) {
      current_vcpu_ = vcpu.id;
      last_stop_ = SignalStopReply(signal_without_event, vcpu.id);
      return last_stop_;
    }
  }
  last_stop_ = kExitedReply;
  return last_stop_;
}

std::optional<std::string> GdbSession::TakePendingStop() {
  while (!pending_.empty()) {
    const PendingStop stop = pending_.front();
    pending_.pop_front();
    // gdb takes its breakpoints out at every stop and puts back those it keeps.
    if (stop.point && !points_.Contains(*stop.point)) {
      continue;
    }
    absl::StatusOr<kvm_regs> regs = target_.GetRegs(stop.event.vcpu);
    if (!regs.ok() || regs->rip != stop.event.rip) {
      continue;
    }
    current_vcpu_ = stop.event.vcpu;
    last_stop_ = StopReplyFor(stop.event, stop.point, features_);
    return last_stop_;
  }
  return std::nullopt;
}

std::optional<uint32_t> GdbSession::VcpuOf(int64_t thread) const {
  if (thread == kAnyThread || thread == kAllThreads) {
    return current_vcpu_;
  }
  if (thread < 1 || static_cast<uint64_t>(thread) > vcpu_count()) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(thread - 1);
}

}  // namespace pvm::gdb
