// The gdb stub's session on the real debug engine and /dev/kvm: GdbSession::Run serves
// one end of a socketpair in a thread, over MakeVmDebuggerTarget of a running ustep
// VM, while the test speaks gdb's packets on the other end (tests/unit/gdb's client).
// Every wait is on the socket, the event log or a bounded poll of the engine's state.
// On kvm-pvm ustep's execute breakpoints are served by exception interception; in
// the SVM host (svm_host_gdb) only stepping, interrupts and watchpoints fire.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/gdb/gdb_session.h"
#include "daemon/gdb/gdb_target.h"
#include "daemon/gdb/rsp_framing.h"
#include "daemon/gdb/x86_64_registers.h"
#include "tests/integration/debug/debug_fixture.h"
#include "tests/integration/guest_harness.h"
#include "tests/unit/gdb/rsp_test_client.h"

namespace pvm::testing {
namespace {

using debug::EventKind;
using gdb::testing::GdbClient;
using ::testing::StartsWith;

constexpr char kSupported[] = "qSupported:swbreak+;hwbreak+;vContSupported+";

// A little-endian hex register or memory value (as p and m send it) as a number.
uint64_t LittleEndian(const std::string& hex) {
  std::string bytes;
  EXPECT_TRUE(gdb::HexDecode(hex, &bytes)) << hex;
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    value |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return value;
}

std::string Hex(uint64_t value) { return absl::StrFormat("%x", value); }

class GdbStubTest : public DebugTest {
 protected:
  void TearDown() override {
    CloseClient();
    if (session_thread_.joinable()) {
      session_thread_.join();
    }
    if (stub_fd_ >= 0) {
      ::close(stub_fd_);
    }
    DebugTest::TearDown();
  }

  // The ustep VM, running its loop (its counter moved). `enable`: debugging on
  // before gdb comes (as CreateDebugged does); else the session turns it on.
  void StartUstep(const debug::DebugConfig& config, bool enable = true) {
    if (enable) {
      CreateDebugged("ustep", 1, debug::StopMode::kAllStop, config);
    } else {
      vm_ = CreateGuest("ustep", "ustep", 1);
      ASSERT_NE(vm_, nullptr);
      debugger_ = &debug::DebuggerFor(*vm_, config);
    }
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(vm_->Start().ok());
    WaitUntil([this] { return ReadU64("ustep_counters") > 0; }, "ustep's loop running");
  }

  // The session on one end of a socketpair, the client on the other, handshaken.
  void Connect() {
    target_ = gdb::MakeVmDebuggerTarget(vm_, *debugger_);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    stub_fd_ = fds[0];
    client_fd_ = fds[1];
    client_.emplace(client_fd_, std::chrono::duration_cast<std::chrono::milliseconds>(kPatience));
    run_result_ = run_promise_.get_future();
    session_thread_ = std::thread([this] {
      gdb::GdbSession session(*target_, stub_fd_, -1);
      run_promise_.set_value(session.Run());
    });
    ASSERT_THAT(client().Exchange(kSupported), StartsWith("PacketSize="));
    client().StartNoAckMode();
  }

  void CloseClient() {
    if (client_fd_ >= 0) {
      ::close(client_fd_);
      client_fd_ = -1;
    }
  }

  absl::Status WaitForRun() {
    if (!run_result_.valid() || run_result_.wait_for(kPatience) != std::future_status::ready) {
      ADD_FAILURE() << "GdbSession::Run did not return";
      return absl::DeadlineExceededError("still running");
    }
    return run_result_.get();
  }

  uint64_t GdbRip() {
    return LittleEndian(client().Exchange(absl::StrFormat("p%x", gdb::kRipRegister)));
  }

  // Every event in the engine's log so far.
  std::vector<debug::DebugEvent> AllEvents() {
    std::shared_ptr<debug::EventLog> log = debugger_->events();
    std::vector<debug::DebugEvent> events;
    uint64_t cursor = 1;
    std::array<debug::DebugEvent, 64> buffer;
    while (cursor <= log->last_sequence()) {
      debug::EventLog::Batch batch = log->Read(&cursor, buffer);
      if (batch.count == 0) {
        break;
      }
      events.insert(events.end(), buffer.begin(), buffer.begin() + batch.count);
    }
    return events;
  }

  size_t BreakpointCount() {
    absl::StatusOr<std::vector<debug::BreakpointInfo>> list = debugger_->ListBreakpoints();
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? list->size() : 0;
  }

  GdbClient& client() { return *client_; }

  std::unique_ptr<gdb::GdbTarget> target_;
  int stub_fd_ = -1;
  int client_fd_ = -1;
  std::optional<GdbClient> client_;
  std::promise<absl::Status> run_promise_;
  std::future<absl::Status> run_result_;
  std::thread session_thread_;
};

TEST_F(GdbStubTest, AttachBreakAndStepOnTheEngine) {
  StartUstep(HostConfig());
  Connect();
  EXPECT_EQ(client().Exchange("?"), "T05thread:1;");

  // The g layout: 16 general registers of 8 bytes, then rip.
  const std::string g = client().Exchange("g");
  ASSERT_GE(g.size(), 17u * 16);
  const uint64_t attached_rip = LittleEndian(g.substr(16 * 16, 16));
  const vmm::GuestSymbol loop = *vm_->image().FindSymbol("ustep_loop");
  EXPECT_GE(attached_rip, loop.address);
  EXPECT_LT(attached_rip, loop.address + loop.size);

  const uint64_t i3 = Symbol("ustep_i3");
  EXPECT_EQ(client().Exchange(absl::StrCat("Z1,", Hex(i3), ",1")), "OK");
  EXPECT_EQ(client().Exchange("c"), "T05thread:1;hwbreak:;");
  EXPECT_EQ(GdbRip(), i3);

  EXPECT_EQ(client().Exchange("vCont;s:1"), "T05thread:1;");
  EXPECT_EQ(GdbRip(), Symbol("ustep_i4"));

  // The same stops in the engine's own log: the hit at i3, then the step to i4.
  const std::vector<debug::DebugEvent> events = AllEvents();
  bool hit = false;
  for (const debug::DebugEvent& e : events) {
    if ((e.kind == EventKind::kHwBreakpoint || e.kind == EventKind::kSwBreakpoint) && e.rip == i3 &&
        e.breakpoint_id != 0 && e.stopped) {
      hit = true;
    }
  }
  EXPECT_TRUE(hit) << "no breakpoint event at ustep_i3 in the engine's log";
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, EventKind::kSingleStep);
  EXPECT_EQ(events.back().rip, Symbol("ustep_i4"));
}

TEST_F(GdbStubTest, BreakpointTheModuleWouldDropIsAnError) {
  debug::DebugConfig config = HostConfig();
  config.policy.rule = PVM_VA_RULE_POSITIVE_OR_RANGES;
  config.policy.ranges = {0xffffffff80000000, 0xffffffffc0000000, 0, 0};
  StartUstep(config);
  Connect();
  EXPECT_EQ(client().Exchange("Z1,ffff800000001000,1"), "E16");
  EXPECT_EQ(BreakpointCount(), 0u);
  EXPECT_EQ(client().Exchange(absl::StrCat("Z1,", Hex(Symbol("ustep_i3")), ",1")), "OK");
  EXPECT_EQ(BreakpointCount(), 1u);
}

TEST_F(GdbStubTest, DetachRemovesPointsAndLetsTheVcpuRun) {
  StartUstep(HostConfig());
  Connect();
  EXPECT_EQ(client().Exchange("?"), "T05thread:1;");
  EXPECT_EQ(client().Exchange(absl::StrCat("Z1,", Hex(Symbol("ustep_i3")), ",1")), "OK");
  EXPECT_EQ(BreakpointCount(), 1u);

  EXPECT_EQ(client().Exchange("D"), "OK");
  EXPECT_TRUE(WaitForRun().ok());
  session_thread_.join();
  EXPECT_EQ(BreakpointCount(), 0u);
  // Debugging was on before gdb came: it stays on, the vCPU resumed.
  WaitUntil([this] { return !debugger_->State().vcpus.at(0).stopped; }, "the vCPU running again");
  EXPECT_TRUE(debugger_->State().enabled);
  const uint64_t before = ReadU64("ustep_counters");
  WaitUntil([&] { return ReadU64("ustep_counters") > before; }, "ustep's counter moving");
}

TEST_F(GdbStubTest, DetachTurnsOffTheDebuggingTheSessionTurnedOn) {
  StartUstep(HostConfig(), /*enable=*/false);
  Connect();
  EXPECT_EQ(client().Exchange("?"), "T05thread:1;");
  EXPECT_TRUE(debugger_->State().enabled);
  EXPECT_TRUE(debugger_->State().vcpus.at(0).stopped);
  EXPECT_EQ(client().Exchange(absl::StrCat("Z1,", Hex(Symbol("ustep_i3")), ",1")), "OK");

  EXPECT_EQ(client().Exchange("D"), "OK");
  EXPECT_TRUE(WaitForRun().ok());
  session_thread_.join();
  WaitUntil([this] { return !debugger_->State().vcpus.at(0).stopped; }, "the vCPU running again");
  EXPECT_FALSE(debugger_->State().enabled);
  const uint64_t before = ReadU64("ustep_counters");
  WaitUntil([&] { return ReadU64("ustep_counters") > before; }, "ustep's counter moving");
}

TEST_F(GdbStubTest, WatchpointReportsGdbsAddress) {
  StartUstep(HostConfig());
  Connect();
  const uint64_t watched = Symbol("watched_value");
  EXPECT_EQ(client().Exchange(absl::StrCat("Z2,", Hex(watched), ",8")), "OK");
  EXPECT_EQ(client().Exchange("c"), absl::StrCat("T05thread:1;watch:", Hex(watched), ";"));

  const std::string memory = client().Exchange(absl::StrCat("m", Hex(watched), ",8"));
  absl::StatusOr<std::vector<std::byte>> engine =
      debugger_->ReadMemory(debug::AddressSpace::kVirtual, watched, 8, 0);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ(memory, gdb::HexEncode(std::string(reinterpret_cast<const char*>(engine->data()), 8)));
  // vCPU 0 stores its loop count (r14) there each pass.
  const uint64_t r14 = LittleEndian(client().Exchange("pe"));
  EXPECT_EQ(LittleEndian(memory), r14);
}

// For the SVM host, whose execute breakpoints never fire: gdb's Ctrl-C stops the
// running VM, and a step from wherever it stopped lands on the next instruction.
TEST_F(GdbStubTest, InterruptThenStepToTheNextInstruction) {
  StartUstep(HostConfig());
  Connect();
  client().SendPacket("c");
  // Ctrl-C once the VM runs again, as a user's comes: while the session waits.
  WaitUntil([this] { return !debugger_->State().vcpus.at(0).stopped; }, "the vCPU resumed");
  client().SendRaw("\x03");
  EXPECT_EQ(client().ReadReply(), "T02thread:1;");

  // The loop's instructions with a symbol each, none a branch: the next one is at
  // address + size. Step off the unnamed ones (test, jnz, jmp) first.
  const char* const kNamed[] = {
      "ustep_i0",           "ustep_i1",    "ustep_i2",         "ustep_i3",  "ustep_i4",
      "ustep_i5",           "ustep_i6",    "ustep_i7",         "ustep_inc", "uwatch_store",
      "uwatch_after_store", "uwatch_load", "uwatch_after_load"};
  auto named_at = [&](uint64_t rip) -> std::optional<vmm::GuestSymbol> {
    for (const char* name : kNamed) {
      std::optional<vmm::GuestSymbol> s = vm_->image().FindSymbol(name);
      if (s && s->address == rip) return s;
    }
    return std::nullopt;
  };
  uint64_t rip = GdbRip();
  for (int i = 0; i < 4 && !named_at(rip); ++i) {
    ASSERT_EQ(client().Exchange("vCont;s:1"), "T05thread:1;");
    rip = GdbRip();
  }
  std::optional<vmm::GuestSymbol> at = named_at(rip);
  ASSERT_TRUE(at.has_value()) << "rip " << Hex(rip) << " is at no instruction of the loop";
  ASSERT_EQ(client().Exchange("vCont;s:1"), "T05thread:1;");
  EXPECT_EQ(GdbRip(), at->address + at->size) << "stepped from " << at->name;
}

}  // namespace
}  // namespace pvm::testing
