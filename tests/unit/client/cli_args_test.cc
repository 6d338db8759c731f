// Argument parsing of pvmctl, without a server: CommandLine::Parse only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client/cli.h"

namespace pvm::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;

EnvLookup FakeEnvironment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

struct Parsed {
  std::unique_ptr<CommandLine> command_line;
  std::optional<int> exit_status;
  std::string out;
  std::string err;
};

Parsed Parse(std::vector<std::string> args, const EnvLookup& env = FakeEnvironment({})) {
  args.insert(args.begin(), "pvmctl");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  Parsed parsed;
  parsed.command_line = std::make_unique<CommandLine>(env);
  std::ostringstream out, err;
  parsed.exit_status =
      parsed.command_line->Parse(static_cast<int>(argv.size()), argv.data(), out, err);
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

TEST(CommandLine, DefaultsToTheSystemSocketAndText) {
  Parsed parsed = Parse({"vm", "list"});
  EXPECT_EQ(parsed.exit_status, std::nullopt) << parsed.err;
  EXPECT_EQ(parsed.command_line->global().socket_path, "/run/pvmd/pvmd.sock");
  EXPECT_EQ(parsed.command_line->global().output, OutputFormat::kText);
  EXPECT_TRUE(parsed.command_line->action());
}

TEST(CommandLine, SocketComesFromPvmdSocketWhenSet) {
  Parsed parsed = Parse({"vm", "list"}, FakeEnvironment({{"PVMD_SOCKET", "/tmp/p.sock"}}));
  EXPECT_EQ(parsed.command_line->global().socket_path, "/tmp/p.sock");
}

TEST(CommandLine, EmptyPvmdSocketMeansTheDefault) {
  Parsed parsed = Parse({"vm", "list"}, FakeEnvironment({{"PVMD_SOCKET", ""}}));
  EXPECT_EQ(parsed.command_line->global().socket_path, "/run/pvmd/pvmd.sock");
}

TEST(CommandLine, SocketFlagBeatsTheEnvironment) {
  Parsed parsed = Parse({"--socket", "/tmp/flag.sock", "vm", "list"},
                        FakeEnvironment({{"PVMD_SOCKET", "/tmp/env.sock"}}));
  EXPECT_EQ(parsed.command_line->global().socket_path, "/tmp/flag.sock");
}

TEST(CommandLine, EmptySocketFlagIsAUsageError) {
  Parsed parsed = Parse({"--socket", "", "vm", "list"});
  EXPECT_THAT(parsed.exit_status, Optional(kExitUsage));
  EXPECT_THAT(parsed.err, StartsWith("pvmctl: --socket: must not be empty"));
}

TEST(CommandLine, GlobalOptionsWorkBeforeAndAfterTheCommand) {
  EXPECT_EQ(Parse({"-o", "json", "vm", "list"}).command_line->global().output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"vm", "list", "-o", "json"}).command_line->global().output, OutputFormat::kJson);
  EXPECT_EQ(Parse({"vm", "show", "vm-7", "--output=json"}).command_line->global().output,
            OutputFormat::kJson);
  EXPECT_EQ(Parse({"host", "info", "--socket", "/tmp/x.sock"}).command_line->global().socket_path,
            "/tmp/x.sock");
}

TEST(CommandLine, ExplicitTextOutput) {
  EXPECT_EQ(Parse({"-o", "text", "vm", "list"}).command_line->global().output, OutputFormat::kText);
}

TEST(CommandLine, EveryCommandParsesToAnAction) {
  const std::vector<std::vector<std::string>> commands = {
      {"host", "info"},
      {"vm", "create", "vm-7"},
      {"vm", "create", "vm-7", "--vcpus", "4", "--memory", "256", "--image", "builtin:smp",
       "--start", "--cpus", "0-3"},
      {"vm", "list"},
      {"vm", "show", "vm-7"},
      {"vm", "start", "vm-7"},
      {"vm", "pause", "vm-7"},
      {"vm", "resume", "vm-7"},
      {"vm", "delete", "vm-7"},
      {"vm", "console", "vm-7"},
      {"vm", "console", "vm-7", "--follow"},
      {"vm", "console", "vm-7", "-f"},
  };
  for (const auto& command : commands) {
    Parsed parsed = Parse(command);
    EXPECT_EQ(parsed.exit_status, std::nullopt) << command[1] << ": " << parsed.err;
    EXPECT_TRUE(parsed.command_line->action()) << command[1];
    EXPECT_THAT(parsed.out, IsEmpty());
  }
}

struct UsageErrorCase {
  std::vector<std::string> args;
  std::string message;  // CLI11's, after "pvmctl: "
};

TEST(CommandLine, UsageErrorsExitWithTwoAndSayWhy) {
  const std::vector<UsageErrorCase> cases = {
      {{}, "A subcommand is required"},
      {{"vm"}, "A subcommand is required"},
      {{"host"}, "A subcommand is required"},
      {{"frob"}, "The following argument was not expected: frob"},
      {{"vm", "frob"}, "The following argument was not expected: frob"},
      {{"vm", "show"}, "NAME is required"},
      {{"vm", "start"}, "NAME is required"},
      {{"vm", "console", "--follow"}, "NAME is required"},
      {{"vm", "show", "a", "b"}, "The following argument was not expected: b"},
      {{"vm", "list", "--frob"}, "The following argument was not expected: --frob"},
      {{"-o", "xml", "vm", "list"}, "--output: xml not in {text,json}"},
      {{"vm", "create", "a", "--vcpus", "0"}, "--vcpus: Value 0 not in range"},
      {{"vm", "create", "a", "--vcpus", "-1"}, "--vcpus"},
      {{"vm", "create", "a", "--vcpus", "two"}, "--vcpus"},
      {{"vm", "create", "a", "--memory", "0"}, "--memory: Value 0 not in range"},
      {{"vm", "create", "a", "--cpus", "3-1"}, "--cpus: invalid CPU list '3-1': range 3-1"},
      {{"vm", "create", "a", "--cpus", ""}, "--cpus: invalid CPU list: it is empty"},
  };
  for (const UsageErrorCase& c : cases) {
    Parsed parsed = Parse(c.args);
    const std::string args = ::testing::PrintToString(c.args);
    EXPECT_THAT(parsed.exit_status, Optional(kExitUsage)) << args;
    EXPECT_THAT(parsed.err, StartsWith("pvmctl: " + c.message)) << args;
    EXPECT_THAT(parsed.err, HasSubstr("Run with --help for more information.")) << args;
    EXPECT_THAT(parsed.out, IsEmpty()) << args;
  }
}

TEST(CommandLine, HelpGoesToStdoutAndExitsZero) {
  Parsed parsed = Parse({"--help"});
  EXPECT_THAT(parsed.exit_status, Optional(kExitOk));
  EXPECT_THAT(parsed.out, HasSubstr("Usage: pvmctl [OPTIONS] SUBCOMMAND"));
  EXPECT_THAT(parsed.out, HasSubstr("PVMD_SOCKET"));
  EXPECT_THAT(parsed.err, IsEmpty());
}

TEST(CommandLine, HelpOfASubcommandDescribesItsOptions) {
  Parsed parsed = Parse({"vm", "create", "--help"});
  EXPECT_THAT(parsed.exit_status, Optional(kExitOk));
  EXPECT_THAT(parsed.out, HasSubstr("pvmctl vm create [OPTIONS] NAME"));
  for (const char* option :
       {"--vcpus", "--memory", "--image PATH|builtin:NAME", "--start", "--cpus LIST"}) {
    EXPECT_THAT(parsed.out, HasSubstr(option));
  }
}

TEST(CommandLine, Version) {
  Parsed parsed = Parse({"--version"});
  EXPECT_THAT(parsed.exit_status, Optional(kExitOk));
  EXPECT_THAT(parsed.out, Not(IsEmpty()));
}

TEST(RunPvmctl, UsageErrorNeverConnects) {
  std::ostringstream out, err;
  const char* argv[] = {"pvmctl", "--socket", "/nonexistent/pvmd.sock", "vm", "show"};
  EXPECT_EQ(RunPvmctl(5, argv, {.out = out, .err = err, .env = FakeEnvironment({})}), kExitUsage);
  EXPECT_THAT(err.str(), StartsWith("pvmctl: NAME is required"));
  EXPECT_THAT(err.str(), Not(HasSubstr("cannot reach")));
}

TEST(ErrorLine, RpcErrorsNameTheCode) {
  EXPECT_EQ(ErrorLine(absl::NotFoundError("no VM named 'vm-9'"), "unix:/x.sock"),
            "pvmctl: NOT_FOUND: no VM named 'vm-9'");
  EXPECT_EQ(ErrorLine(absl::FailedPreconditionError("vm-7 is not paused"), "unix:/x.sock"),
            "pvmctl: FAILED_PRECONDITION: vm-7 is not paused");
}

TEST(ErrorLine, UnavailableSaysWhereThePvmdWasLookedFor) {
  EXPECT_EQ(ErrorLine(absl::UnavailableError("connection refused"), "unix:/run/pvmd/pvmd.sock"),
            "pvmctl: cannot reach pvmd at unix:/run/pvmd/pvmd.sock: connection refused");
}

}  // namespace
}  // namespace pvm::ctl
