// pvmctl's commands end to end over gRPC against the in-process fake pvmd: argv in,
// stdout, stderr and exit status out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "client/cli.h"
#include "client/format_json.h"
#include "tests/unit/client/fake_pvmd.h"
#include "tests/unit/client/sample_messages.h"

namespace pvm::ctl {
namespace {

using ::pvm::testing::FakePvmd;
using ::pvm::testing::WatchedOutput;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr absl::Duration kWaitLimit = absl::Seconds(30);  // only reached when broken

struct Result {
  int exit_status = -1;
  std::string out;
  std::string err;
};

EnvLookup NoEnvironment() {
  return [](const std::string&) { return std::nullopt; };
}

int RunArgs(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            std::stop_token stop = {}) {
  std::vector<const char*> argv = {"pvmctl"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return RunPvmctl(static_cast<int>(argv.size()), argv.data(),
                   {.out = out, .err = err, .env = NoEnvironment(), .stop = stop});
}

class PvmctlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fake_.ok()); }

  std::vector<std::string> WithSocket(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", fake_.socket_path()});
    return args;
  }

  Result Run(const std::vector<std::string>& args, std::stop_token stop = {}) {
    std::ostringstream out, err;
    Result result;
    result.exit_status = RunArgs(WithSocket(args), out, err, stop);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  void CreateVm(const std::string& name) {
    const Result result = Run({"vm", "create", name, "--image", "builtin:hello"});
    ASSERT_EQ(result.exit_status, kExitOk) << result.err;
  }

  FakePvmd fake_;
};

TEST_F(PvmctlTest, HostInfoText) {
  fake_.SetHostInfo(testing::SampleHostInfo());
  const Result result = Run({"host", "info"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  EXPECT_THAT(result.out, StartsWith("daemon version:     0.1.0\n"));
  EXPECT_THAT(result.out, HasSubstr("module:             kvm_pvm (builtin)\n"));
  EXPECT_THAT(result.err, IsEmpty());
}

TEST_F(PvmctlTest, HostInfoJson) {
  fake_.SetHostInfo(testing::SampleHostInfo());
  const Result result = Run({"host", "info", "-o", "json"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  const Json json = Json::parse(result.out);
  EXPECT_EQ(json["module"]["state"], "builtin");
  EXPECT_EQ(json["kvm"]["num_debug_registers"], 4);
}

TEST_F(PvmctlTest, CreateSendsEveryOption) {
  const Result result = Run({"vm", "create", "vm-7", "--vcpus", "4", "--memory", "256", "--image",
                             "builtin:smp", "--start", "--cpus", "0-2,6"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  const std::optional<v1::CreateVmRequest> request = fake_.last_create_request();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->name(), "vm-7");
  EXPECT_EQ(request->vcpus(), 4u);
  EXPECT_EQ(request->memory_mib(), 256u);
  EXPECT_EQ(request->image(), "builtin:smp");
  EXPECT_TRUE(request->start());
  EXPECT_THAT(request->cpu_affinity(), ElementsAre(0, 1, 2, 6));
  EXPECT_THAT(result.out, StartsWith("name:          vm-7\n"
                                     "state:         running\n"
                                     "vcpus:         4\n"));
}

TEST_F(PvmctlTest, CreateLeavesDefaultsToTheDaemon) {
  ASSERT_EQ(Run({"vm", "create", "vm-7"}).exit_status, kExitOk);
  const std::optional<v1::CreateVmRequest> request = fake_.last_create_request();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->vcpus(), 0u);
  EXPECT_EQ(request->memory_mib(), 0u);
  EXPECT_EQ(request->image(), "");
  EXPECT_FALSE(request->start());
  EXPECT_THAT(request->cpu_affinity(), IsEmpty());
}

TEST_F(PvmctlTest, CreateMakesARelativeImagePathAbsolute) {
  ASSERT_EQ(Run({"vm", "create", "vm-7", "--image", "guests/hello.elf"}).exit_status, kExitOk);
  EXPECT_EQ(fake_.last_create_request()->image(),
            (std::filesystem::current_path() / "guests/hello.elf").string());
  ASSERT_EQ(Run({"vm", "create", "vm-8", "--image", "/abs/hello.elf"}).exit_status, kExitOk);
  EXPECT_EQ(fake_.last_create_request()->image(), "/abs/hello.elf");
}

TEST_F(PvmctlTest, CreateJsonIsTheVm) {
  const Result result = Run({"-o", "json", "vm", "create", "vm-7", "--image", "builtin:hello"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  EXPECT_EQ(Json::parse(result.out), VmJson(*fake_.FindVm("vm-7")));
}

TEST_F(PvmctlTest, DuplicateCreateFailsWithTheServersMessage) {
  CreateVm("vm-7");
  const Result result = Run({"vm", "create", "vm-7"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_EQ(result.err, "pvmctl: ALREADY_EXISTS: a VM named 'vm-7' already exists\n");
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(PvmctlTest, ShowText) {
  CreateVm("vm-7");
  const Result result = Run({"vm", "show", "vm-7"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  EXPECT_EQ(result.out,
            "name:          vm-7\n"
            "state:         created\n"
            "vcpus:         1\n"
            "memory:        64 MiB\n"
            "image:         builtin:hello\n"
            "entry point:   0x100000\n"
            "console bytes: 0\n"
            "created:       2024-11-25 09:15:00 UTC\n"
            "vcpu 0:        created, 0 exits, rip 0x100000\n");
}

TEST_F(PvmctlTest, ShowOfAMissingVmIsNotFound) {
  for (const char* output : {"text", "json"}) {
    const Result result = Run({"-o", output, "vm", "show", "vm-9"});
    EXPECT_EQ(result.exit_status, kExitFailure);
    EXPECT_EQ(result.err, "pvmctl: NOT_FOUND: no VM named 'vm-9'\n");
    EXPECT_THAT(result.out, IsEmpty()) << "nothing on stdout on error, in " << output;
  }
}

TEST_F(PvmctlTest, ListText) {
  CreateVm("vm-7");
  ASSERT_EQ(Run({"vm", "create", "big", "--vcpus", "4", "--memory", "1024"}).exit_status, kExitOk);
  const Result result = Run({"vm", "list"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  EXPECT_EQ(result.out,
            "NAME  STATE    VCPUS  MEMORY    IMAGE          CREATED\n"
            "big   created  4      1024 MiB  -              2024-11-25 09:15:00 UTC\n"
            "vm-7  created  1      64 MiB    builtin:hello  2024-11-25 09:15:00 UTC\n");
}

TEST_F(PvmctlTest, ListJson) {
  CreateVm("vm-7");
  const Result result = Run({"vm", "list", "-o", "json"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  const Json json = Json::parse(result.out);
  ASSERT_EQ(json["vms"].size(), 1u);
  EXPECT_EQ(json["vms"][0]["name"], "vm-7");
  EXPECT_EQ(json["vms"][0]["state"], "created");
  EXPECT_EQ(json["vms"][0]["memory_mib"], 64);
}

TEST_F(PvmctlTest, EmptyList) {
  EXPECT_EQ(Run({"vm", "list"}).out, "no VMs\n");
  EXPECT_EQ(Json::parse(Run({"vm", "list", "-o", "json"}).out), Json::parse(R"({"vms": []})"));
}

TEST_F(PvmctlTest, StartPauseResumePrintTheNewState) {
  CreateVm("vm-7");
  EXPECT_THAT(Run({"vm", "start", "vm-7"}).out, HasSubstr("state:         running\n"));
  EXPECT_EQ(Json::parse(Run({"vm", "pause", "vm-7", "-o", "json"}).out)["state"], "paused");
  EXPECT_THAT(Run({"vm", "resume", "vm-7"}).out, HasSubstr("state:         running\n"));
  EXPECT_EQ(fake_.FindVm("vm-7")->state(), v1::VM_STATE_RUNNING);
}

TEST_F(PvmctlTest, TransitionFromTheWrongStateIsAFailedPrecondition) {
  CreateVm("vm-7");
  const Result result = Run({"vm", "resume", "vm-7"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_EQ(result.err, "pvmctl: FAILED_PRECONDITION: vm-7 is created, not paused\n");
}

TEST_F(PvmctlTest, Delete) {
  CreateVm("vm-7");
  CreateVm("vm-8");
  const Result text = Run({"vm", "delete", "vm-7"});
  EXPECT_EQ(text.exit_status, kExitOk) << text.err;
  EXPECT_EQ(text.out, "deleted vm-7\n");
  const Result json = Run({"vm", "delete", "vm-8", "-o", "json"});
  EXPECT_EQ(Json::parse(json.out), Json::parse(R"({"name": "vm-8", "deleted": true})"));
  EXPECT_FALSE(fake_.FindVm("vm-7").has_value());
  EXPECT_EQ(Run({"vm", "delete", "vm-7"}).err, "pvmctl: NOT_FOUND: no VM named 'vm-7'\n");
}

TEST_F(PvmctlTest, ConsoleWritesRawBytesEvenWithJsonOutput) {
  CreateVm("vm-7");
  const std::string bytes("hello\n\0\x01\xff", 9);
  fake_.AppendConsole("vm-7", bytes);
  for (const char* output : {"text", "json"}) {
    const Result result = Run({"-o", output, "vm", "console", "vm-7"});
    EXPECT_EQ(result.exit_status, kExitOk) << result.err;
    EXPECT_EQ(result.out, bytes);
    EXPECT_THAT(result.err, IsEmpty());
  }
}

TEST_F(PvmctlTest, ConsoleReportsDroppedBytesOnStderr) {
  CreateVm("vm-7");
  fake_.AppendConsole("vm-7", "0123456789tail\n");
  fake_.DropConsoleBefore("vm-7", 10);
  const Result result = Run({"vm", "console", "vm-7"});
  EXPECT_EQ(result.exit_status, kExitOk) << result.err;
  EXPECT_EQ(result.out, "tail\n");
  EXPECT_EQ(result.err,
            "pvmctl: vm-7: 10 console bytes dropped before offset 10 "
            "(pvmd's console buffer overflowed)\n");
}

TEST_F(PvmctlTest, ConsoleOfAMissingVm) {
  const Result result = Run({"vm", "console", "vm-9", "--follow"});
  EXPECT_EQ(result.exit_status, kExitFailure);
  EXPECT_EQ(result.err, "pvmctl: NOT_FOUND: no VM named 'vm-9'\n");
}

TEST_F(PvmctlTest, ConsoleFollowStreamsUntilTheVmIsDeleted) {
  CreateVm("vm-7");
  fake_.AppendConsole("vm-7", "boot\n");
  WatchedOutput out;
  std::ostringstream err;
  int exit_status = -1;
  std::thread follower([&] {
    exit_status = RunArgs(WithSocket({"vm", "console", "vm-7", "--follow"}), out, err);
  });
  ASSERT_TRUE(out.WaitFor("boot\n", kWaitLimit));
  fake_.AppendConsole("vm-7", "counter 1\n");
  ASSERT_TRUE(out.WaitFor("counter 1\n", kWaitLimit));
  EXPECT_EQ(Run({"vm", "delete", "vm-7"}).exit_status, kExitOk);
  follower.join();
  EXPECT_EQ(exit_status, kExitOk) << err.str();
  EXPECT_EQ(out.text(), "boot\ncounter 1\n");
  EXPECT_THAT(err.str(), IsEmpty());
}

TEST_F(PvmctlTest, ConsoleFollowEndsCleanlyOnInterrupt) {
  CreateVm("vm-7");
  fake_.AppendConsole("vm-7", "boot\n");
  WatchedOutput out;
  std::ostringstream err;
  std::stop_source interrupt;
  int exit_status = -1;
  std::thread follower([&] {
    exit_status =
        RunArgs(WithSocket({"vm", "console", "vm-7", "--follow"}), out, err, interrupt.get_token());
  });
  ASSERT_TRUE(out.WaitFor("boot\n", kWaitLimit));
  interrupt.request_stop();  // what main's InterruptWatcher does on SIGINT
  follower.join();
  EXPECT_EQ(exit_status, kExitOk) << err.str();
  EXPECT_EQ(out.text(), "boot\n");
  EXPECT_THAT(err.str(), IsEmpty());
}

TEST_F(PvmctlTest, InterruptedCallExitsWith130) {
  fake_.BlockHostInfo();
  std::ostringstream out, err;
  std::stop_source interrupt;
  int exit_status = -1;
  std::thread caller([&] {
    exit_status = RunArgs(WithSocket({"host", "info"}), out, err, interrupt.get_token());
  });
  ASSERT_TRUE(fake_.WaitForBlockedHostInfo(kWaitLimit));
  interrupt.request_stop();
  caller.join();
  EXPECT_EQ(exit_status, kExitInterrupted);
  EXPECT_EQ(err.str(), "pvmctl: interrupted\n");
  EXPECT_THAT(out.str(), IsEmpty());
}

TEST(Pvmctl, NoDaemonSaysWhereItLookedAndExitsOne) {
  const std::string socket =
      (std::filesystem::temp_directory_path() / "pvmctl-test-no-such-dir" / "pvmd.sock").string();
  std::ostringstream out, err;
  const absl::Time start = absl::Now();
  EXPECT_EQ(RunArgs({"--socket", socket, "vm", "list"}, out, err), kExitFailure);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(err.str(), StartsWith("pvmctl: cannot reach pvmd at unix:" + socket + ": "));
  EXPECT_THAT(out.str(), IsEmpty());
}

}  // namespace
}  // namespace pvm::ctl
