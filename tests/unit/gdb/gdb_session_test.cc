// The gdb stub's session layer against a scripted target: GdbSession::Run serves one
// end of a socketpair in a thread while the test speaks gdb's packets on the other.
// No KVM. Every wait is on the socket (poll) or on the fake's condition variable.
#include "daemon/gdb/gdb_session.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/debug_event.h"
#include "daemon/debug/debug_types.h"
#include "daemon/gdb/rsp_framing.h"
#include "daemon/gdb/x86_64_registers.h"
#include "tests/unit/gdb/fake_gdb_target.h"
#include "tests/unit/gdb/rsp_test_client.h"

namespace pvm::gdb {
namespace {

using ::pvm::gdb::testing::FakeGdbTarget;
using ::pvm::gdb::testing::GdbClient;
using ::pvm::gdb::testing::MakeEvent;
using ::pvm::gdb::testing::Resumption;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using Kind = RspEvent::Kind;
using std::chrono::milliseconds;

constexpr milliseconds kTimeout = ::pvm::gdb::testing::kRspTestTimeout;

constexpr char kGdbFeatures[] =
    "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
    "exec-events+;vContSupported+;QThreadEvents+;no-resumed+;xmlRegisters=i386";

std::vector<std::byte> Bytes(std::string_view text) {
  std::vector<std::byte> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<std::byte>(text[i]);
  return out;
}

std::string ToString(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

class GdbSessionTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kVcpus = 3;

  void TearDown() override {
    CloseClient();
    if (session_thread_.joinable()) {
      session_thread_.join();
    }
    if (stop_pipe_[0] >= 0) ::close(stop_pipe_[0]);
    if (stop_pipe_[1] >= 0) ::close(stop_pipe_[1]);
    if (stub_fd_ >= 0) ::close(stub_fd_);
  }

  // Runs the session on one end of a socketpair; the test gets the other.
  void Start(bool with_stop_fd = false) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    stub_fd_ = fds[0];
    client_fd_ = fds[1];
    client_.emplace(client_fd_);
    if (with_stop_fd) {
      ASSERT_EQ(::pipe2(stop_pipe_, O_CLOEXEC), 0);
    }
    run_result_ = run_promise_.get_future();
    session_thread_ = std::thread([this] {
      GdbSession session(target_, stub_fd_, stop_pipe_[0]);
      run_promise_.set_value(session.Run());
    });
  }

  // Start, then the first packets gdb sends on `target remote`.
  void StartAndHandshake(std::string_view supported = kGdbFeatures) {
    Start();
    ASSERT_THAT(client().Exchange(supported), StartsWith("PacketSize="));
    client().StartNoAckMode();
  }

  GdbClient& client() { return *client_; }

  void CloseClient() {
    if (client_fd_ >= 0) {
      ::close(client_fd_);
      client_fd_ = -1;
    }
  }

  // Run's result once the session ended; a failure when it is still serving.
  absl::Status WaitForRun() {
    if (!run_result_.valid() || run_result_.wait_for(kTimeout) != std::future_status::ready) {
      ADD_FAILURE() << "GdbSession::Run did not return";
      return absl::DeadlineExceededError("still running");
    }
    return run_result_.get();
  }

  // The engine id behind the only breakpoint at `address`.
  uint32_t EngineIdAt(uint64_t address) {
    for (const auto& [id, spec] : target_.breakpoints()) {
      if (spec.address == address) return id;
    }
    ADD_FAILURE() << "no engine breakpoint at " << address;
    return 0;
  }

  // The calls made since the `n`th one.
  std::vector<std::string> CallsFrom(size_t n) {
    std::vector<std::string> all = target_.calls();
    return std::vector<std::string>(all.begin() + static_cast<ptrdiff_t>(std::min(n, all.size())),
                                    all.end());
  }

  FakeGdbTarget target_{kVcpus};
  int stub_fd_ = -1;
  int client_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::optional<GdbClient> client_;
  std::promise<absl::Status> run_promise_;
  std::future<absl::Status> run_result_;
  std::thread session_thread_;
};

// Calls that only look (State, events, waits) left out: what changed the VM.
std::vector<std::string> Actions(const std::vector<std::string>& calls) {
  std::vector<std::string> out;
  for (const std::string& c : calls) {
    if (c.starts_with("SetEnabled") || c.starts_with("Interrupt") || c.starts_with("Continue") ||
        c.starts_with("Step") || c.starts_with("AddBreakpoint") ||
        c.starts_with("RemoveBreakpoint")) {
      out.push_back(c);
    }
  }
  return out;
}

// --- Acknowledgements ---

TEST_F(GdbSessionTest, AckModeAcksEachPacketResendsOnNackAndNacksBadChecksum) {
  Start();
  client().SendPacket("qC");
  client().ExpectAck();
  std::optional<RspEvent> reply = client().Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(*reply, (RspEvent{.kind = Kind::kPacket, .payload = "QC1"}));

  // gdb did not get it right: '-' makes the stub send its last packet again.
  const size_t before = client().raw().size();
  client().SendRaw("-");
  reply = client().Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->payload, "QC1");
  EXPECT_EQ(client().raw().substr(before), EncodePacket("QC1"));
  client().SendRaw("+");

  // A packet with a wrong checksum is refused with '-' and not answered.
  client().SendRaw("$qC#00");
  std::optional<RspEvent> nack = client().Next();
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->kind, Kind::kNack);
  // gdb resends it properly.
  EXPECT_EQ(client().Exchange("qAttached"), "1");
}

TEST_F(GdbSessionTest, NoAckModeSendsNoAcksAndDropsBadPackets) {
  Start();
  client().StartNoAckMode();  // OK is still acknowledged both ways
  client().SendPacket("qC");
  std::optional<RspEvent> reply = client().Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(*reply, (RspEvent{.kind = Kind::kPacket, .payload = "QC1"}));

  client().SendRaw("$qC#00");  // dropped silently
  client().SendPacket("qAttached");
  reply = client().Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(*reply, (RspEvent{.kind = Kind::kPacket, .payload = "1"}));
  EXPECT_EQ(client().raw().find('+', client().raw().find("$OK")), std::string::npos);
}

// --- Attaching ---

TEST_F(GdbSessionTest, QSupportedAdvertisesPacketSizeAndBreakFeatures) {
  Start();
  const std::string reply = client().Exchange(kGdbFeatures);
  EXPECT_EQ(reply,
            "PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;"
            "vContSupported+");
  EXPECT_THAT(reply, HasSubstr("PacketSize=4000"));
  EXPECT_THAT(reply, HasSubstr("swbreak+"));
  EXPECT_THAT(reply, HasSubstr("hwbreak+"));
}

TEST_F(GdbSessionTest, AttachEnablesDebuggingAndInterruptsARunningVm) {
  // Debugging off, the guest running: the stub turns all-stop on and stops the VM.
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("?"), "T05thread:1;");
  EXPECT_THAT(Actions(target_.calls()), ElementsAre("SetEnabled(1)", "Interrupt()"));
  EXPECT_TRUE(target_.enabled());
  EXPECT_TRUE(target_.all_stopped());
}

TEST_F(GdbSessionTest, AttachToAStoppedEnabledVmChangesNothing) {
  target_.SetInitialState(true, debug::StopMode::kAllStop, /*stopped=*/true);
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("?"), "T05thread:1;");
  EXPECT_THAT(Actions(target_.calls()), IsEmpty());
}

TEST_F(GdbSessionTest, TraceModeIsRefusedUnanswered) {
  target_.SetInitialState(true, debug::StopMode::kTrace, /*stopped=*/false);
  Start();
  absl::Status status = WaitForRun();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(Actions(target_.calls()), IsEmpty());
  EXPECT_TRUE(client().Quiet(milliseconds(0)));
  EXPECT_TRUE(client().raw().empty());
}

// --- Registers ---

TEST_F(GdbSessionTest, GReturnsTheWholeLayoutLittleEndian) {
  kvm_regs regs = target_.regs(0);
  regs.rax = 0x0102030405060708;
  regs.rip = 0x1122334455667788;
  regs.rflags = 0x246;
  target_.SetRegs(0, regs);
  StartAndHandshake();

  const std::string g = client().Exchange("g");
  // 17 x 8 (rax..rip) + 4 (eflags) + 6 x 4 (selectors) + 8 x 10 (st0-7) + 8 x 4 (x87
  // control) + 16 x 16 (xmm) + 4 (mxcsr) + 8 x 8 (fs_base..efer) bytes, in hex.
  ASSERT_EQ(g.size(), 2u * 600);
  EXPECT_EQ(g.substr(0, 16), "0807060504030201");                      // rax
  EXPECT_EQ(g.substr(16 * 16, 16), "8877665544332211");                // rip, register 16
  EXPECT_EQ(g.substr(17 * 16, 8), "46020000");                         // eflags
  EXPECT_EQ(g.substr(17 * 16 + 8, 8), "10000000");                     // cs
  EXPECT_EQ(g.substr(17 * 16 + 8 + 6 * 8, 20), std::string(20, 'x'));  // st0: unavailable
  EXPECT_EQ(g.substr(2 * 536, 16), "00000000007f0000");  // fs_base 0x7f0000000000, register 57
  EXPECT_EQ(g.substr(2 * 536 + 16 * 7, 16), "010d000000000000");  // efer, the last
  EXPECT_EQ(target_.CountCalls("GetRegs(0)"), 1);
}

TEST_F(GdbSessionTest, PReadsAndPWritesOneRegister) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("p10"), "0010400000000000");  // rip 0x401000
  EXPECT_EQ(client().Exchange("P0=1122334455667788"), "OK");
  EXPECT_EQ(target_.regs(0).rax, 0x8877665544332211u);
  EXPECT_THAT(target_.calls(), Contains("SetRegs(0,0=0x8877665544332211)"));
  EXPECT_EQ(client().Exchange("p0"), "1122334455667788");
  // gdb's rsp (7) is kvm_regs' index 6.
  EXPECT_EQ(client().Exchange("P7=0000100000000000"), "OK");
  EXPECT_EQ(target_.regs(0).rsp, 0x100000u);
  EXPECT_EQ(client().Exchange("P12=10000000"), "E01");        // cs: read-only
  EXPECT_EQ(client().Exchange("P0=11"), "E16");               // wrong size
  EXPECT_EQ(client().Exchange("p41"), "E16");                 // past the last register
  EXPECT_EQ(client().Exchange("p18"), std::string(20, 'x'));  // st0
}

TEST_F(GdbSessionTest, GWritesTheGeneralRegisters) {
  StartAndHandshake();
  std::string g = client().Exchange("g");
  ASSERT_EQ(g.size(), 1200u);
  for (char& c : g) {
    if (c == 'x') c = '0';
  }
  g.replace(0, 16, "efbeadde00000000");  // rax
  EXPECT_EQ(client().Exchange("G" + g), "OK");
  EXPECT_EQ(target_.regs(0).rax, 0xdeadbeefu);
  EXPECT_EQ(target_.regs(0).rip, 0x401000u);
}

// --- Memory ---

TEST_F(GdbSessionTest, MReadsMappedMemoryAndFailsUnmapped) {
  target_.MapMemory(0x1000, Bytes(std::string("\x00\x01\x02\x03\xaa\xbb\xcc\xdd", 8)));
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("m1000,4"), "00010203");
  EXPECT_EQ(client().Exchange("m1002,6"), "0203aabbccdd");
  EXPECT_THAT(target_.calls(), Contains("ReadMemory(0x1002,6,0)"));
  EXPECT_EQ(client().Exchange("m5000,4"), "E0e");  // EFAULT
  EXPECT_EQ(client().Exchange("m1006,4"), "E0e");  // runs off the end
  EXPECT_EQ(client().Exchange("m1000,0"), "");
}

TEST_F(GdbSessionTest, MAndXWriteMemoryIncludingEscapedBytes) {
  target_.MapMemory(0x2000, std::vector<std::byte>(16));
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("M2000,4:deadbeef"), "OK");
  EXPECT_EQ(ToString(target_.memory(0x2000, 4)), "\xde\xad\xbe\xef");

  // X carries binary: '#', '$', '}' and '*' go escaped on the wire.
  const std::string binary("\x23\x24\x7d\x2a\x00\x03", 6);
  const std::string packet = EncodePacket("X2008,6:" + binary);
  EXPECT_THAT(packet, HasSubstr("}\x03}\x04}]}\x0a"));
  client().SendRaw(packet);
  EXPECT_EQ(client().ReadReply(), "OK");
  EXPECT_EQ(ToString(target_.memory(0x2008, 6)), binary);

  const int writes = target_.CountCalls("WriteMemory");
  EXPECT_EQ(client().Exchange("X2000,0:"), "OK");  // gdb's probe for X: nothing written
  EXPECT_EQ(target_.CountCalls("WriteMemory"), writes);
  EXPECT_EQ(client().Exchange("M9000,1:00"), "E0e");
}

// --- Breakpoints and watchpoints ---

TEST_F(GdbSessionTest, ZPacketsMapToEngineKindsAndLengths) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("Z0,401000,1"), "OK");
  EXPECT_EQ(client().Exchange("Z1,401010,1"), "OK");
  EXPECT_EQ(client().Exchange("Z2,2000,4"), "OK");
  EXPECT_EQ(client().Exchange("Z3,2008,2"), "OK");
  EXPECT_EQ(client().Exchange("Z4,2010,8"), "OK");
  const std::vector<std::string> added = {
      "AddBreakpoint(sw,0x401000,1)", "AddBreakpoint(exec,0x401010,1)",
      "AddBreakpoint(write,0x2000,4)", "AddBreakpoint(rw,0x2008,2)", "AddBreakpoint(rw,0x2010,8)"};
  EXPECT_EQ(Actions(CallsFrom(0)),
            (std::vector<std::string>{"SetEnabled(1)", "Interrupt()", added[0], added[1], added[2],
                                      added[3], added[4]}));

  // A fifth hardware point: refused before the engine is asked.
  EXPECT_EQ(client().Exchange("Z1,401020,1"), "E1c");  // ENOSPC
  EXPECT_EQ(client().Exchange("Z2,3000,1"), "E1c");
  // The same software breakpoint again (gdb re-inserts on resume): nothing new.
  EXPECT_EQ(client().Exchange("Z0,401000,1"), "OK");
  EXPECT_EQ(target_.CountCalls("AddBreakpoint"), 5);
  EXPECT_EQ(target_.breakpoints().size(), 5u);

  // z removes the engine breakpoint behind gdb's point; an unknown one is no error.
  const uint32_t sw = EngineIdAt(0x401000);
  const uint32_t watch = EngineIdAt(0x2000);
  EXPECT_EQ(client().Exchange("z0,401000,1"), "OK");
  EXPECT_EQ(client().Exchange("z2,2000,4"), "OK");
  EXPECT_EQ(client().Exchange("z2,2000,4"), "OK");
  EXPECT_EQ(client().Exchange("z1,7777,1"), "OK");
  EXPECT_THAT(target_.removed_ids(), ElementsAre(sw, watch));
  // With a slot free again, a hardware point fits.
  EXPECT_EQ(client().Exchange("Z1,401020,1"), "OK");
  EXPECT_EQ(target_.breakpoints().size(), 4u);
}

TEST_F(GdbSessionTest, WatchLengthOtherThan1248IsRefused) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("Z2,2000,3"), "E16");
  EXPECT_EQ(client().Exchange("Z4,2000,10"), "E16");
  EXPECT_EQ(target_.CountCalls("AddBreakpoint"), 0);
}

TEST_F(GdbSessionTest, EngineRefusalsBecomeErrors) {
  target_.FailBreakpointAt(0xdead0000, absl::InvalidArgumentError("dropped by the module"));
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("Z0,dead0000,1"), "E16");
  EXPECT_THAT(target_.breakpoints(), IsEmpty());
  // A gRPC client holds a debug register: the engine runs out before gdb's own limit.
  ASSERT_TRUE(
      target_.AddBreakpoint({.kind = debug::BreakpointKind::kExec, .address = 0x9000}).ok());
  EXPECT_EQ(client().Exchange("Z1,401000,1"), "OK");
  EXPECT_EQ(client().Exchange("Z1,401001,1"), "OK");
  EXPECT_EQ(client().Exchange("Z1,401002,1"), "OK");
  EXPECT_EQ(client().Exchange("Z1,401003,1"), "E1c");
  EXPECT_EQ(target_.breakpoints().size(), 4u);
}

// --- Resuming and stop replies ---

// Two vCPUs hit gdb's hardware breakpoints (0x405000, 0x406000) in one all-stop, and
// gdb hears of the first.
class KeptStopTest : public GdbSessionTest {
 protected:
  void StopBothVcpus() {
    StartAndHandshake();
    ASSERT_EQ(client().Exchange("Z1,405000,1"), "OK");
    ASSERT_EQ(client().Exchange("Z1,406000,1"), "OK");
    target_.ScriptContinue({Resumption::Kind::kStop, {HitOn(0, 0x405000), HitOn(1, 0x406000)}});
    ASSERT_EQ(client().Exchange("c"), "T05thread:1;hwbreak:;");
  }
  debug::DebugEvent HitOn(uint32_t vcpu, uint64_t address) {
    return MakeEvent(debug::EventKind::kHwBreakpoint, vcpu, address, EngineIdAt(address));
  }
  // The VM runs again and vCPU 0 hits once more: that is what the next `c` reports.
  void ExpectTheNextContinueResumes(int continues_before) {
    target_.ScriptContinue({Resumption::Kind::kStop, {HitOn(0, 0x405000)}});
    EXPECT_EQ(client().Exchange("c"), "T05thread:1;hwbreak:;");
    EXPECT_EQ(target_.CountCalls("Continue()"), continues_before + 1);
  }
};

// The second hit is reported at gdb's next continue without the VM running in
// between (else the continue would step vCPU 1 over its breakpoint unseen), once.
TEST_F(KeptStopTest, ReportedAtTheNextContinueWithoutResuming) {
  StopBothVcpus();
  // gdb takes its breakpoints out at the stop and puts them back to continue.
  for (const char* packet : {"z1,405000,1", "z1,406000,1", "Z1,405000,1", "Z1,406000,1"}) {
    ASSERT_EQ(client().Exchange(packet), "OK");
  }
  EXPECT_EQ(client().Exchange("c"), "T05thread:2;hwbreak:;");
  EXPECT_EQ(target_.CountCalls("Continue()"), 1);
  EXPECT_EQ(client().Exchange("qC"), "QC2");
  ExpectTheNextContinueResumes(1);
}

// ... and dropped when gdb deleted that breakpoint before continuing.
TEST_F(KeptStopTest, DroppedWhenGdbDeletedItsBreakpoint) {
  StopBothVcpus();
  ASSERT_EQ(client().Exchange("z1,406000,1"), "OK");
  ExpectTheNextContinueResumes(1);
}

TEST_F(GdbSessionTest, ContinueReportsAWatchpointAtGdbsAddress) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z2,2000,4"), "OK");
  debug::DebugEvent hit = MakeEvent(debug::EventKind::kWatchpoint, 1, 0x401234, EngineIdAt(0x2000));
  hit.address = 0x2002;  // the access itself, inside gdb's watched range
  hit.has_address = true;
  target_.ScriptContinue({Resumption::Kind::kStop, {hit}});
  EXPECT_EQ(client().Exchange("c"), "T05thread:2;watch:2000;");
  EXPECT_EQ(client().Exchange("?"), "T05thread:2;watch:2000;");
  // The stopped vCPU becomes gdb's current thread.
  EXPECT_EQ(client().Exchange("qC"), "QC2");
  const int reads = target_.CountCalls("GetRegs(1)");
  client().Exchange("g");
  EXPECT_EQ(target_.CountCalls("GetRegs(1)"), reads + 1);
}

TEST_F(GdbSessionTest, WriteOnAReadWatchIsContinuedPast) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z3,3000,4"), "OK");
  const uint32_t id = EngineIdAt(0x3000);
  debug::DebugEvent write = MakeEvent(debug::EventKind::kWatchpoint, 0, 0x401100, id);
  write.is_write = true;
  write.access_length = 4;
  debug::DebugEvent read = MakeEvent(debug::EventKind::kWatchpoint, 0, 0x401200, id);
  read.access_length = 4;
  target_.ScriptContinue({Resumption::Kind::kStop, {write}});
  target_.ScriptContinue({Resumption::Kind::kStop, {read}});
  EXPECT_EQ(client().Exchange("c"), "T05thread:1;rwatch:3000;");
  EXPECT_EQ(target_.CountCalls("Continue()"), 2);
}

TEST_F(GdbSessionTest, AWriteOfUnknownLengthOnAReadWatchIsReported) {
  // DR7 watchpoints cannot tell a read from a write: reported as gdb's rwatch.
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z3,3000,4"), "OK");
  debug::DebugEvent hit = MakeEvent(debug::EventKind::kWatchpoint, 0, 0x401100, EngineIdAt(0x3000));
  hit.is_write = true;
  target_.ScriptContinue({Resumption::Kind::kStop, {hit}});
  EXPECT_EQ(client().Exchange("c"), "T05thread:1;rwatch:3000;");
  EXPECT_EQ(target_.CountCalls("Continue()"), 1);
}

TEST_F(GdbSessionTest, HardwareBreakpointSaysHwbreakWhenGdbAskedForIt) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z1,401000,1"), "OK");
  ASSERT_EQ(client().Exchange("Z0,402000,1"), "OK");
  target_.ScriptContinue(
      {Resumption::Kind::kStop,
       {MakeEvent(debug::EventKind::kHwBreakpoint, 0, 0x401000, EngineIdAt(0x401000))}});
  target_.ScriptContinue(
      {Resumption::Kind::kStop,
       {MakeEvent(debug::EventKind::kSwBreakpoint, 2, 0x402000, EngineIdAt(0x402000))}});
  EXPECT_EQ(client().Exchange("c"), "T05thread:1;hwbreak:;");
  EXPECT_EQ(client().Exchange("c"), "T05thread:3;swbreak:;");
}

TEST_F(GdbSessionTest, NoHwbreakWordWithoutGdbsFeature) {
  StartAndHandshake("qSupported:multiprocess+;xmlRegisters=i386");
  ASSERT_EQ(client().Exchange("Z1,401000,1"), "OK");
  target_.ScriptContinue(
      {Resumption::Kind::kStop,
       {MakeEvent(debug::EventKind::kHwBreakpoint, 0, 0x401000, EngineIdAt(0x401000))}});
  EXPECT_EQ(client().Exchange("c"), "T05thread:1;");
}

TEST_F(GdbSessionTest, VContStepsOneVcpuAlone) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("vCont?"), "vCont;c;C;s;S");
  const size_t mark = target_.calls().size();
  EXPECT_EQ(client().Exchange("vCont;s:2;c"), "T05thread:2;");
  EXPECT_THAT(Actions(CallsFrom(mark)), ElementsAre("Step(1)"));
  EXPECT_EQ(target_.regs(1).rip, 0x401101u);
  // A plain 's' steps gdb's current thread, now vCPU 1.
  EXPECT_EQ(client().Exchange("s"), "T05thread:2;");
  EXPECT_THAT(Actions(CallsFrom(mark)), ElementsAre("Step(1)", "Step(1)"));
  EXPECT_EQ(client().Exchange("vCont;s:7"), "E02");
}

TEST_F(GdbSessionTest, ContinueAtAnAddressSetsRipFirst) {
  StartAndHandshake();
  target_.ScriptContinue(
      {Resumption::Kind::kStop, {MakeEvent(debug::EventKind::kSwBreakpoint, 0, 0x405000)}});
  // Not a point of gdb's: a plain SIGTRAP.
  EXPECT_EQ(client().Exchange("c404000"), "T05thread:1;");
  EXPECT_THAT(target_.calls(), Contains("SetRegs(0,16=0x404000)"));
}

TEST_F(GdbSessionTest, CtrlCWhileRunningInterruptsWithSigint) {
  StartAndHandshake();
  target_.ScriptContinue({Resumption::Kind::kRun, {}});
  const size_t mark = target_.calls().size();
  client().SendPacket("vCont;c");
  ASSERT_TRUE(target_.WaitForCalls("Continue()", 1, kTimeout));
  EXPECT_FALSE(target_.all_stopped());
  client().SendRaw("\x03");
  EXPECT_EQ(client().ReadReply(), "T02thread:1;");
  EXPECT_THAT(Actions(CallsFrom(mark)), ElementsAre("Continue()", "Interrupt()"));
  EXPECT_TRUE(target_.all_stopped());
  // A Ctrl-C while the VM is stopped already is nothing to do.
  client().SendRaw("\x03");
  EXPECT_EQ(client().Exchange("qC"), "QC1");
  EXPECT_EQ(target_.CountCalls("Interrupt()"), 2);  // attach's and gdb's
}

TEST_F(GdbSessionTest, CtrlCDuringAStepThatDoesNotEndInterrupts) {
  StartAndHandshake();
  target_.ScriptStep({Resumption::Kind::kRun, {}});  // e.g. a HLT that never wakes
  client().SendPacket("vCont;s:2");
  ASSERT_TRUE(target_.WaitForCalls("Step(1)", 1, kTimeout));
  client().SendRaw("\x03");
  EXPECT_THAT(client().ReadReply(), StartsWith("T02thread:"));
  EXPECT_EQ(target_.CountCalls("Interrupt()"), 2);  // attach's and gdb's
  EXPECT_EQ(target_.CountCalls("Continue()"), 0);
}

TEST_F(GdbSessionTest, StopByAnotherClientWhileRunningIsReported) {
  StartAndHandshake();
  client().SendPacket("c");
  ASSERT_TRUE(target_.WaitForCalls("Continue()", 1, kTimeout));
  target_.StopNow({MakeEvent(debug::EventKind::kHwBreakpoint, 2, 0x409000, 99)});
  // A gRPC client's breakpoint: a plain SIGTRAP, since gdb has no breakpoint there
  // and would resume silently on "hwbreak".
  EXPECT_EQ(client().ReadReply(), "T05thread:3;");
}

// --- Threads ---

TEST_F(GdbSessionTest, ThreadQueriesAndSelection) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("qfThreadInfo"), "m1,2,3");
  EXPECT_EQ(client().Exchange("qsThreadInfo"), "l");
  EXPECT_EQ(client().Exchange("qC"), "QC1");
  EXPECT_EQ(client().Exchange("qAttached"), "1");
  EXPECT_EQ(client().Exchange("qAttached:1"), "1");
  EXPECT_EQ(client().Exchange("T3"), "OK");
  EXPECT_EQ(client().Exchange("T4"), "E02");
  EXPECT_EQ(client().Exchange("qThreadExtraInfo,2"), HexEncode("vCPU 1, interrupted"));

  EXPECT_EQ(client().Exchange("Hg2"), "OK");
  EXPECT_EQ(client().Exchange("qC"), "QC2");
  const std::string g = client().Exchange("g");
  EXPECT_EQ(g.substr(16 * 16, 16), "0011400000000000");  // vCPU 1's rip 0x401100
  EXPECT_EQ(target_.CountCalls("GetRegs(1)"), 1);
  EXPECT_EQ(target_.CountCalls("GetRegs(0)"), 0);
  EXPECT_EQ(client().Exchange("m0,1"), "E0e");
  EXPECT_THAT(target_.calls(), Contains("ReadMemory(0x0,1,1)"));

  EXPECT_EQ(client().Exchange("Hg9"), "E02");
  EXPECT_EQ(client().Exchange("qC"), "QC2");
  EXPECT_EQ(client().Exchange("Hgp1.-1"), "OK");  // multiprocess form, all threads
  EXPECT_EQ(client().Exchange("Hg1"), "OK");
  EXPECT_EQ(client().Exchange("qC"), "QC1");
}

TEST_F(GdbSessionTest, HcChoosesTheVcpuAPlainStepSteps) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("Hc3"), "OK");
  EXPECT_EQ(client().Exchange("s"), "T05thread:3;");
  EXPECT_THAT(target_.calls(), Contains("Step(2)"));
}

// --- Target description, unknown and broken packets ---

TEST_F(GdbSessionTest, TargetXmlComesInChunks) {
  StartAndHandshake();
  std::string xml;
  for (int chunks = 0; chunks < 100; ++chunks) {
    const std::string reply = client().Exchange(
        absl::StrFormat("qXfer:features:read:target.xml:%x,%x", xml.size(), 0x200));
    ASSERT_FALSE(reply.empty());
    ASSERT_TRUE(reply[0] == 'm' || reply[0] == 'l') << reply;
    xml += reply.substr(1);
    if (reply[0] == 'l') break;
    EXPECT_EQ(reply.size(), 0x201u);
  }
  EXPECT_EQ(xml, TargetXml());
  EXPECT_EQ(client().Exchange(absl::StrFormat("qXfer:features:read:target.xml:%x,10", xml.size())),
            "l");
  EXPECT_EQ(client().Exchange("qXfer:features:read:other.xml:0,100"), "E00");
}

TEST_F(GdbSessionTest, UnknownPacketsGetTheEmptyReplyMalformedOnesE16) {
  StartAndHandshake();
  EXPECT_EQ(client().Exchange("vMustReplyEmpty"), "");
  EXPECT_EQ(client().Exchange("qTStatus"), "");
  EXPECT_EQ(client().Exchange("m zz,4"), "E16");
  EXPECT_EQ(client().Exchange("Z0,zz,1"), "E16");
  // The session goes on.
  EXPECT_EQ(client().Exchange("qC"), "QC1");
}

// --- Leaving ---

TEST_F(GdbSessionTest, DetachRemovesPointsAndDisablesWhatTheStubEnabled) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z0,401000,1"), "OK");
  ASSERT_EQ(client().Exchange("Z2,2000,4"), "OK");
  const uint32_t sw = EngineIdAt(0x401000);
  const uint32_t watch = EngineIdAt(0x2000);
  const size_t mark = target_.calls().size();
  EXPECT_EQ(client().Exchange("D"), "OK");
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_THAT(target_.removed_ids(), ::testing::UnorderedElementsAre(sw, watch));
  std::vector<std::string> after = Actions(CallsFrom(mark));
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[2], "SetEnabled(0)");  // once, and nothing resumed behind it
  EXPECT_FALSE(target_.enabled());
  EXPECT_THAT(target_.breakpoints(), IsEmpty());
}

TEST_F(GdbSessionTest, DetachFromAVmDebuggedBeforeContinuesItOnce) {
  target_.SetInitialState(true, debug::StopMode::kAllStop, /*stopped=*/true);
  // A gRPC client's own breakpoint stays.
  ASSERT_TRUE(
      target_.AddBreakpoint({.kind = debug::BreakpointKind::kExec, .address = 0x9000}).ok());
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z0,401000,1"), "OK");
  const uint32_t sw = EngineIdAt(0x401000);
  const size_t mark = target_.calls().size();
  EXPECT_EQ(client().Exchange("D;1"), "OK");
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_THAT(Actions(CallsFrom(mark)),
              ElementsAre(absl::StrFormat("RemoveBreakpoint(%d)", sw), "Continue()"));
  EXPECT_TRUE(target_.enabled());
  EXPECT_EQ(target_.breakpoints().size(), 1u);
}

TEST_F(GdbSessionTest, KillEndsTheSessionLikeDetachWithoutAReply) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z1,401000,1"), "OK");
  const size_t mark = target_.calls().size();
  client().SendPacket("k");
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_THAT(Actions(CallsFrom(mark)),
              ElementsAre(::testing::StartsWith("RemoveBreakpoint("), "SetEnabled(0)"));
  EXPECT_TRUE(client().Quiet(milliseconds(0)));
}

TEST_F(GdbSessionTest, PeerClosingWhileRunningCleansUp) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z0,401000,1"), "OK");
  const uint32_t sw = EngineIdAt(0x401000);
  target_.ScriptContinue({Resumption::Kind::kRun, {}});
  client().SendPacket("c");
  ASSERT_TRUE(target_.WaitForCalls("Continue()", 1, kTimeout));
  CloseClient();
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_THAT(target_.removed_ids(), ElementsAre(sw));
  EXPECT_EQ(target_.CountCalls("SetEnabled(0)"), 1);
  EXPECT_FALSE(target_.enabled());
}

TEST_F(GdbSessionTest, PeerClosingWhileStoppedCleansUp) {
  StartAndHandshake();
  ASSERT_EQ(client().Exchange("Z4,2000,8"), "OK");
  CloseClient();
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_EQ(target_.removed_ids().size(), 1u);
  EXPECT_EQ(target_.CountCalls("SetEnabled(0)"), 1);
}

TEST_F(GdbSessionTest, ServerStopEndsTheSession) {
  Start(/*with_stop_fd=*/true);
  ASSERT_EQ(client().Exchange("qC"), "QC1");
  ASSERT_EQ(::write(stop_pipe_[1], "x", 1), 1);
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_EQ(target_.CountCalls("SetEnabled(0)"), 1);
}

TEST_F(GdbSessionTest, DisabledByAnotherClientRightAfterTheResumeIsAnExit) {
  // The disable lands between the resume and the stub's wait.
  StartAndHandshake();
  target_.ScriptContinue({Resumption::Kind::kDisable, {}});
  EXPECT_EQ(client().Exchange("c"), "W00");
  EXPECT_TRUE(WaitForRun().ok());
  EXPECT_FALSE(target_.enabled());
}

TEST_F(GdbSessionTest, DisabledByAnotherClientWhileRunningIsAnExit) {
  StartAndHandshake();
  target_.ScriptContinue({Resumption::Kind::kRun, {}});
  client().SendPacket("c");
  ASSERT_TRUE(target_.WaitForCalls("Continue()", 1, kTimeout));
  const int waits = target_.CountCalls("WaitForAllStopped()");
  ASSERT_TRUE(target_.WaitForCalls("WaitForAllStopped()", waits + 1, kTimeout));
  target_.DisableExternally();
  EXPECT_EQ(client().ReadReply(), "W00");
  EXPECT_TRUE(WaitForRun().ok());
}

TEST_F(GdbSessionTest, DisabledByAnotherClientWhileStoppedIsAnExitOnResume) {
  StartAndHandshake();
  target_.DisableExternally();
  EXPECT_EQ(client().Exchange("c"), "W00");
  EXPECT_TRUE(WaitForRun().ok());
}

TEST_F(GdbSessionTest, VmShutDownWhileRunningIsAnExit) {
  StartAndHandshake();
  target_.ScriptContinue({Resumption::Kind::kShutDown, {}});
  EXPECT_EQ(client().Exchange("c"), "W00");
  EXPECT_TRUE(WaitForRun().ok());
}

}  // namespace
}  // namespace pvm::gdb
