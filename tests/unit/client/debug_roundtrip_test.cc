// `pvmctl debug` end to end over gRPC against an in-process fake DebugService:
// argv in, the request the daemon receives, stdout, stderr and exit status out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/cli.h"
#include "client/format_debug.h"
#include "tests/unit/client/fake_debug_pvmd.h"
#include "tests/unit/client/fake_pvmd.h"
#include "tests/unit/client/sample_debug_messages.h"

namespace pvm::ctl {
namespace {

using ::pvm::testing::FakeDebugPvmd;
using ::pvm::testing::SampleBreakpoint;
using ::pvm::testing::SampleDebugState;
using ::pvm::testing::SampleEventRecord;
using ::pvm::testing::SampleGapRecord;
using ::pvm::testing::SampleMemory;
using ::pvm::testing::SampleRegisters;
using ::pvm::testing::SampleStep;
using ::pvm::testing::SampleWatchpointRecord;
using ::pvm::testing::WatchedOutput;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr absl::Duration kWaitLimit = absl::Seconds(30);  // only reached when broken

struct Result {
  int exit_status = -1;
  std::string out;
  std::string err;
};

class PvmctlDebugTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fake_.ok()); }

  int RunArgs(std::vector<std::string> args, std::ostream& out, std::ostream& err,
              std::stop_token stop = {}) {
    args.insert(args.begin(), {"pvmctl", "--socket", fake_.socket_path()});
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    return RunPvmctl(
        static_cast<int>(argv.size()), argv.data(),
        {.out = out,
         .err = err,
         .env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; },
         .stop = stop});
  }

  Result Run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    Result result;
    result.exit_status = RunArgs(args, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  Result RunOk(const std::vector<std::string>& args) {
    Result result = Run(args);
    EXPECT_EQ(result.exit_status, kExitOk) << result.err;
    EXPECT_THAT(result.err, IsEmpty());
    return result;
  }

  FakeDebugPvmd fake_;
};

TEST_F(PvmctlDebugTest, EnableSendsAllStopAndPrintsTheState) {
  fake_.SetState(SampleDebugState());
  const Result result = RunOk({"debug", "enable", "vm-7"});
  EXPECT_EQ(result.out, DebugStateText(SampleDebugState()));
  const auto request = fake_.last<v1::SetGuestDebugRequest>();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->name(), "vm-7");
  EXPECT_TRUE(request->enabled());
  EXPECT_EQ(request->stop_mode(), v1::STOP_MODE_ALL_STOP);
}

TEST_F(PvmctlDebugTest, EnableTraceAndDisable) {
  RunOk({"debug", "enable", "vm-7", "--trace"});
  EXPECT_EQ(fake_.last<v1::SetGuestDebugRequest>()->stop_mode(), v1::STOP_MODE_TRACE);
  RunOk({"debug", "disable", "vm-7"});
  EXPECT_FALSE(fake_.last<v1::SetGuestDebugRequest>()->enabled());
}

TEST_F(PvmctlDebugTest, StatusContinueInterruptPrintTheStateAsJson) {
  fake_.SetState(SampleDebugState());
  for (const char* command : {"status", "continue", "interrupt"}) {
    const Result result = RunOk({"-o", "json", "debug", command, "vm-7"});
    EXPECT_EQ(result.out, DumpJson(DebugStateJson(SampleDebugState()))) << command;
  }
  EXPECT_EQ(fake_.last<v1::DebugRef>()->name(), "vm-7");
}

TEST_F(PvmctlDebugTest, BreakAddByHexAddress) {
  fake_.SetBreakpoint(SampleBreakpoint());
  const Result result = RunOk({"debug", "break", "add", "vm-7", "--addr", "0x100C10"});
  EXPECT_EQ(result.out, BreakpointText(SampleBreakpoint()));
  const auto request = fake_.last<v1::AddBreakpointRequest>();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->location_case(), v1::AddBreakpointRequest::kAddress);
  EXPECT_EQ(request->address(), 0x100c10u);
  EXPECT_EQ(request->kind(), v1::BREAKPOINT_KIND_EXEC);
  EXPECT_EQ(request->length(), 0u);  // unset: the daemon's default
  EXPECT_FALSE(request->trace());
}

TEST_F(PvmctlDebugTest, BreakAddByDecimalAddressZero) {
  RunOk({"debug", "break", "add", "vm-7", "--addr", "0"});
  const auto request = fake_.last<v1::AddBreakpointRequest>();
  // Address 0 is still an address, not "no location".
  EXPECT_EQ(request->location_case(), v1::AddBreakpointRequest::kAddress);
  EXPECT_EQ(request->address(), 0u);
}

TEST_F(PvmctlDebugTest, BreakAddBySymbolWithEveryOption) {
  fake_.SetBreakpoint(SampleBreakpoint());
  const Result result = RunOk({"-o", "json", "debug", "break", "add", "vm-7", "--symbol",
                               "counter_value+0x8", "--kind", "rw", "--len", "8", "--trace"});
  EXPECT_EQ(result.out, DumpJson(BreakpointJson(SampleBreakpoint())));
  const auto request = fake_.last<v1::AddBreakpointRequest>();
  EXPECT_EQ(request->location_case(), v1::AddBreakpointRequest::kSymbol);
  EXPECT_EQ(request->symbol(), "counter_value+0x8");
  EXPECT_EQ(request->kind(), v1::BREAKPOINT_KIND_READ_WRITE);
  EXPECT_EQ(request->length(), 8u);
  EXPECT_TRUE(request->trace());
}

TEST_F(PvmctlDebugTest, BreakAddPassesAnyLengthForTheDaemonToJudge) {
  fake_.FailNextCall(
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "length 3 is not 1, 2, 4 or 8"));
  const Result result =
      Run({"debug", "break", "add", "vm-7", "--addr", "0x1000", "--kind", "write", "--len", "3"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_EQ(result.err, "pvmctl: INVALID_ARGUMENT: length 3 is not 1, 2, 4 or 8\n");
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(fake_.last<v1::AddBreakpointRequest>()->length(), 3u);
}

TEST_F(PvmctlDebugTest, GdbStartsOnLoopbackByDefaultAndPrintsTheAddress) {
  Result started = RunOk({"debug", "gdb", "vm-7"});
  EXPECT_EQ(started.out,
            "VM 'vm-7': gdb stub on 127.0.0.1:40123\n"
            "connect with: gdb -ex 'target remote 127.0.0.1:40123' IMAGE.elf\n");
  auto request = fake_.last<v1::StartGdbServerRequest>();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->name(), "vm-7");
  EXPECT_EQ(request->listen(), "");  // the daemon's default: 127.0.0.1, a free port

  RunOk({"debug", "gdb", "vm-7", "--listen", "127.0.0.1:1234"});
  EXPECT_EQ(fake_.last<v1::StartGdbServerRequest>()->listen(), "127.0.0.1:1234");
  RunOk({"debug", "gdb", "vm-7", "--unix", "/run/vm-7.gdb"});
  EXPECT_EQ(fake_.last<v1::StartGdbServerRequest>()->listen(), "unix:/run/vm-7.gdb");
  EXPECT_EQ(Json::parse(RunOk({"-o", "json", "debug", "gdb", "vm-7"}).out),
            Json::parse(R"({"vm": "vm-7", "address": "127.0.0.1:40123"})"));
}

TEST_F(PvmctlDebugTest, GdbStopEndsTheStub) {
  EXPECT_EQ(RunOk({"debug", "gdb", "vm-7", "--stop"}).out,
            "VM 'vm-7': gdb stub on 127.0.0.1:40123 stopped\n");
  EXPECT_EQ(fake_.last<v1::DebugRef>()->name(), "vm-7");
  EXPECT_FALSE(fake_.last<v1::StartGdbServerRequest>().has_value());
  EXPECT_EQ(Json::parse(RunOk({"-o", "json", "debug", "gdb", "vm-7", "--stop"}).out),
            Json::parse(R"({"vm": "vm-7", "address": "127.0.0.1:40123", "stopped": true})"));
}

TEST_F(PvmctlDebugTest, GdbListenAndUnixAndStopExcludeEachOther) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"debug", "gdb", "vm-7", "--listen", "127.0.0.1:1", "--unix", "/x"},
           {"debug", "gdb", "vm-7", "--stop", "--listen", "127.0.0.1:1"},
           {"debug", "gdb"}}) {
    Result result = Run(args);
    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
  }
  EXPECT_FALSE(fake_.last<v1::StartGdbServerRequest>().has_value());
}

TEST_F(PvmctlDebugTest, GdbRefusalIsTheDaemonsError) {
  fake_.FailNextCall(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "VM 'vm-7' has a gdb stub"));
  Result result = Run({"debug", "gdb", "vm-7"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_THAT(result.err, ::testing::HasSubstr("has a gdb stub"));
}

TEST_F(PvmctlDebugTest, BreakListAndRemove) {
  v1::ListBreakpointsResponse list;
  *list.add_breakpoints() = SampleBreakpoint();
  fake_.SetBreakpoints(list);
  EXPECT_EQ(RunOk({"debug", "break", "list", "vm-7"}).out, BreakpointListText(list));
  EXPECT_EQ(RunOk({"debug", "break", "list", "vm-7", "-o", "json"}).out,
            DumpJson(BreakpointListJson(list)));

  EXPECT_EQ(RunOk({"debug", "break", "remove", "vm-7", "1"}).out, "removed breakpoint 1 of vm-7\n");
  const auto request = fake_.last<v1::RemoveBreakpointRequest>();
  EXPECT_EQ(request->name(), "vm-7");
  EXPECT_EQ(request->id(), 1u);
  EXPECT_EQ(Json::parse(RunOk({"-o", "json", "debug", "break", "remove", "vm-7", "1"}).out),
            Json::parse(R"({"name": "vm-7", "id": 1, "removed": true})"));
}

TEST_F(PvmctlDebugTest, EventsTextOneLinePerRecordWithTheGap) {
  fake_.AppendEvents({SampleGapRecord(1, 11), SampleEventRecord(), SampleWatchpointRecord()});
  const Result result = RunOk({"debug", "events", "vm-7"});
  EXPECT_EQ(result.out, EventRecordText(SampleGapRecord(1, 11)) +
                            EventRecordText(SampleEventRecord()) +
                            EventRecordText(SampleWatchpointRecord()));
  const auto request = fake_.last<v1::StreamEventsRequest>();
  EXPECT_FALSE(request->follow());
  EXPECT_EQ(request->since(), 0u);
}

TEST_F(PvmctlDebugTest, EventsJsonIsOneObjectPerLine) {
  fake_.AppendEvents({SampleGapRecord(1, 11), SampleEventRecord(), SampleWatchpointRecord()});
  const Result result = RunOk({"-o", "json", "debug", "events", "vm-7", "--since", "1"});
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n');
  ASSERT_EQ(lines.size(), 4u) << result.out;
  EXPECT_EQ(lines[3], "");  // every line ends in a newline
  EXPECT_EQ(Json::parse(lines[0]), EventRecordJson(SampleGapRecord(1, 11)));
  EXPECT_EQ(Json::parse(lines[1]), EventRecordJson(SampleEventRecord()));
  EXPECT_EQ(Json::parse(lines[2]), EventRecordJson(SampleWatchpointRecord()));
  EXPECT_EQ(fake_.last<v1::StreamEventsRequest>()->since(), 1u);
}

TEST_F(PvmctlDebugTest, EventsSincePassesTheSequence) {
  fake_.AppendEvents({SampleEventRecord(), SampleWatchpointRecord()});
  const Result result = RunOk({"debug", "events", "vm-7", "--since", "13"});
  EXPECT_EQ(result.out, EventRecordText(SampleWatchpointRecord()));
  EXPECT_EQ(fake_.last<v1::StreamEventsRequest>()->since(), 13u);
}

TEST_F(PvmctlDebugTest, NoEvents) {
  EXPECT_EQ(RunOk({"debug", "events", "vm-7"}).out, "no events\n");
  // JSON Lines of nothing is nothing.
  EXPECT_EQ(RunOk({"-o", "json", "debug", "events", "vm-7"}).out, "");
}

TEST_F(PvmctlDebugTest, EventsFollowStreamsUntilTheLogCloses) {
  fake_.AppendEvents({SampleEventRecord()});
  WatchedOutput out;
  std::ostringstream err;
  int exit_status = -1;
  std::thread follower([&] {
    exit_status = RunArgs({"-o", "json", "debug", "events", "vm-7", "--follow"}, out, err);
  });
  ASSERT_TRUE(out.WaitFor("\"sequence\":12", kWaitLimit));
  fake_.AppendEvents({SampleWatchpointRecord()});
  ASSERT_TRUE(out.WaitFor("\"sequence\":13", kWaitLimit));
  fake_.CloseEvents();
  follower.join();
  EXPECT_EQ(exit_status, kExitOk) << err.str();
  EXPECT_EQ(out.text(), DumpJsonLine(EventRecordJson(SampleEventRecord())) +
                            DumpJsonLine(EventRecordJson(SampleWatchpointRecord())));
  EXPECT_TRUE(fake_.last<v1::StreamEventsRequest>()->follow());
}

TEST_F(PvmctlDebugTest, EventsFollowEndsCleanlyOnInterrupt) {
  fake_.AppendEvents({SampleEventRecord()});
  WatchedOutput out;
  std::ostringstream err;
  std::stop_source interrupt;
  int exit_status = -1;
  std::thread follower([&] {
    exit_status = RunArgs({"debug", "events", "vm-7", "-f"}, out, err, interrupt.get_token());
  });
  ASSERT_TRUE(out.WaitFor(" stopped\n", kWaitLimit));
  interrupt.request_stop();  // what main's InterruptWatcher does on SIGINT
  follower.join();
  EXPECT_EQ(exit_status, kExitOk) << err.str();
  EXPECT_EQ(out.text(), EventRecordText(SampleEventRecord()));
  EXPECT_THAT(err.str(), IsEmpty());
}

TEST_F(PvmctlDebugTest, StepSendsVcpuAndCount) {
  fake_.SetStep(SampleStep());
  EXPECT_EQ(RunOk({"debug", "step", "vm-7", "--vcpu", "1", "--count", "3"}).out,
            StepText(SampleStep()));
  const auto request = fake_.last<v1::StepRequest>();
  EXPECT_EQ(request->vcpu(), 1u);
  EXPECT_EQ(request->count(), 3u);
  RunOk({"debug", "step", "vm-7"});
  EXPECT_EQ(fake_.last<v1::StepRequest>()->vcpu(), 0u);
  EXPECT_EQ(fake_.last<v1::StepRequest>()->count(), 1u);
}

TEST_F(PvmctlDebugTest, RegsOfAVcpu) {
  fake_.SetRegisters(SampleRegisters());
  EXPECT_EQ(RunOk({"debug", "regs", "vm-7", "--vcpu", "2"}).out, RegistersText(SampleRegisters()));
  EXPECT_EQ(fake_.last<v1::GetRegistersRequest>()->vcpu(), 2u);
  EXPECT_EQ(RunOk({"debug", "regs", "vm-7", "-o", "json"}).out,
            DumpJson(RegistersJson(SampleRegisters())));
  EXPECT_EQ(fake_.last<v1::GetRegistersRequest>()->vcpu(), 0u);
}

TEST_F(PvmctlDebugTest, MemVirtualAndPhysical) {
  fake_.SetMemory(SampleMemory());
  EXPECT_EQ(RunOk({"debug", "mem", "vm-7", "0x100c10", "20"}).out, MemoryText(SampleMemory()));
  auto request = fake_.last<v1::ReadMemoryRequest>();
  EXPECT_EQ(request->address(), 0x100c10u);
  EXPECT_EQ(request->length(), 20u);
  EXPECT_EQ(request->space(), v1::ADDRESS_SPACE_VIRTUAL);
  EXPECT_EQ(request->vcpu(), 0u);

  EXPECT_EQ(
      RunOk({"-o", "json", "debug", "mem", "vm-7", "4096", "0x14", "--phys", "--vcpu", "1"}).out,
      DumpJson(MemoryJson(SampleMemory())));
  request = fake_.last<v1::ReadMemoryRequest>();
  EXPECT_EQ(request->address(), 4096u);
  EXPECT_EQ(request->length(), 20u);
  EXPECT_EQ(request->space(), v1::ADDRESS_SPACE_PHYSICAL);
  EXPECT_EQ(request->vcpu(), 1u);
}

TEST_F(PvmctlDebugTest, MemTooLongStillReachesTheDaemonWhichRefusesIt) {
  fake_.FailNextCall(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "at most 1 MiB"));
  const Result result = Run({"debug", "mem", "vm-7", "0", "0x100000000"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_EQ(result.err, "pvmctl: INVALID_ARGUMENT: at most 1 MiB\n");
  // Not truncated to 32 bits (which would be 0, or a small read that succeeds).
  EXPECT_EQ(fake_.last<v1::ReadMemoryRequest>()->length(), (1u << 20) + 1);
}

TEST_F(PvmctlDebugTest, ServerErrorsExitOneWithTheCodeAndMessage) {
  fake_.FailNextCall(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                  "guest debugging is off for VM 'vm-7': enable it first"));
  Result result = Run({"debug", "regs", "vm-7"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_EQ(result.err,
            "pvmctl: FAILED_PRECONDITION: guest debugging is off for VM 'vm-7': enable it first\n");
  EXPECT_THAT(result.out, IsEmpty());

  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"debug", "status", "ghost"},
                                             {"debug", "events", "ghost"},
                                             {"debug", "events", "ghost", "--follow"},
                                             {"-o", "json", "debug", "break", "list", "ghost"}}) {
    result = Run(command);
    EXPECT_EQ(result.exit_status, kExitFailure) << command[1];
    EXPECT_EQ(result.err, "pvmctl: NOT_FOUND: no VM named 'ghost'\n");
    EXPECT_THAT(result.out, IsEmpty());
  }
}

}  // namespace
}  // namespace pvm::ctl
