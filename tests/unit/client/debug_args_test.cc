// Argument parsing of `pvmctl debug`, without a server: the address and kind
// parsers, and CommandLine::Parse for every debug command and its usage errors.
#include "client/debug_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client/cli.h"

namespace pvm::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::StartsWith;

TEST(ParseGuestAddress, HexAndDecimal) {
  EXPECT_EQ(ParseGuestAddress("0x100c10").value(), 0x100c10u);
  EXPECT_EQ(ParseGuestAddress("0X100C10").value(), 0x100c10u);
  EXPECT_EQ(ParseGuestAddress("0xffffffffffffffff").value(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(ParseGuestAddress("1051664").value(), 1051664u);
  EXPECT_EQ(ParseGuestAddress("0").value(), 0u);
  EXPECT_EQ(ParseGuestAddress("18446744073709551615").value(),
            std::numeric_limits<uint64_t>::max());
  // Not octal: a leading zero is still decimal, as a person reads it.
  EXPECT_EQ(ParseGuestAddress("010").value(), 10u);
}

TEST(ParseGuestAddress, RejectsWhatIsNotAnAddress) {
  for (const char* text : {"", "0x", "x10", "-1", "+1", " 1", "1 ", "0x-1", "0xg", "12abc",
                           "kcounter_loop", "0x1_000", "1e6"}) {
    absl::StatusOr<uint64_t> address = ParseGuestAddress(text);
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(address.status().message(), HasSubstr("is not an address")) << text;
  }
}

TEST(ParseGuestAddress, RejectsMoreThan64Bits) {
  for (const char* text : {"0x10000000000000000", "18446744073709551616"}) {
    absl::StatusOr<uint64_t> address = ParseGuestAddress(text);
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(address.status().message(), HasSubstr("does not fit in 64 bits")) << text;
  }
}

TEST(ParseBreakpointKind, TheFourWords) {
  EXPECT_EQ(ParseBreakpointKind("exec").value(), v1::BREAKPOINT_KIND_EXEC);
  EXPECT_EQ(ParseBreakpointKind("write").value(), v1::BREAKPOINT_KIND_WRITE);
  EXPECT_EQ(ParseBreakpointKind("rw").value(), v1::BREAKPOINT_KIND_READ_WRITE);
  EXPECT_EQ(ParseBreakpointKind("sw").value(), v1::BREAKPOINT_KIND_SOFTWARE);
  for (const char* text : {"", "EXEC", "read", "hw", "x"}) {
    EXPECT_EQ(ParseBreakpointKind(text).status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

struct Parsed {
  std::unique_ptr<CommandLine> command_line;
  std::optional<int> exit_status;
  std::string out;
  std::string err;
};

Parsed Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "pvmctl");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  Parsed parsed;
  parsed.command_line = std::make_unique<CommandLine>(
      [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  std::ostringstream out, err;
  parsed.exit_status =
      parsed.command_line->Parse(static_cast<int>(argv.size()), argv.data(), out, err);
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

TEST(DebugCommandLine, EveryCommandParsesToAnAction) {
  const std::vector<std::vector<std::string>> commands = {
      {"debug", "enable", "vm-7"},
      {"debug", "enable", "vm-7", "--trace"},
      {"debug", "disable", "vm-7"},
      {"debug", "status", "vm-7"},
      {"debug", "break", "add", "vm-7", "--addr", "0x100c10"},
      {"debug", "break", "add", "vm-7", "--addr", "1051664", "--kind", "write", "--len", "8"},
      {"debug", "break", "add", "vm-7", "--symbol", "kcounter_loop", "--kind", "sw", "--trace"},
      {"debug", "break", "add", "vm-7", "--symbol", "counter_value", "--kind", "rw", "--len", "4"},
      {"debug", "break", "add", "vm-7", "--addr", "0x10", "--kind", "exec", "--len", "1"},
      {"debug", "break", "list", "vm-7"},
      {"debug", "break", "remove", "vm-7", "2"},
      {"debug", "events", "vm-7"},
      {"debug", "events", "vm-7", "--follow", "--since", "12"},
      {"debug", "events", "vm-7", "-f"},
      {"debug", "continue", "vm-7"},
      {"debug", "step", "vm-7"},
      {"debug", "step", "vm-7", "--vcpu", "1", "--count", "10"},
      {"debug", "interrupt", "vm-7"},
      {"debug", "regs", "vm-7"},
      {"debug", "regs", "vm-7", "--vcpu", "3"},
      {"debug", "mem", "vm-7", "0x100c10", "64"},
      {"debug", "mem", "vm-7", "4096", "0x10", "--phys"},
      {"debug", "mem", "vm-7", "0x100c10", "16", "--vcpu", "1", "-o", "json"},
  };
  for (const auto& command : commands) {
    Parsed parsed = Parse(command);
    const std::string args = ::testing::PrintToString(command);
    EXPECT_EQ(parsed.exit_status, std::nullopt) << args << ": " << parsed.err;
    EXPECT_TRUE(parsed.command_line->action()) << args;
    EXPECT_THAT(parsed.out, IsEmpty()) << args;
  }
}

struct UsageErrorCase {
  std::vector<std::string> args;
  std::string message;  // after "pvmctl: "
};

TEST(DebugCommandLine, UsageErrorsExitWithTwoAndSayWhy) {
  const std::vector<UsageErrorCase> cases = {
      {{"debug"}, "A subcommand is required"},
      {{"debug", "frob"}, "The following argument was not expected: frob"},
      {{"debug", "enable"}, "NAME is required"},
      {{"debug", "break"}, "A subcommand is required"},
      {{"debug", "break", "add", "vm-7"}, "--addr or --symbol is required"},
      {{"debug", "break", "add", "vm-7", "--addr", "0x10", "--symbol", "main"},
       "--addr excludes --symbol"},
      {{"debug", "break", "add", "vm-7", "--addr", "main"},
       "--addr: 'main' is not an address (0x-hex or decimal)"},
      {{"debug", "break", "add", "vm-7", "--addr", "0x10000000000000000"},
       "--addr: '0x10000000000000000' does not fit in 64 bits"},
      {{"debug", "break", "add", "vm-7", "--addr", "0x10", "--kind", "read"},
       "--kind: 'read' is not a breakpoint kind (exec, write, rw or sw)"},
      {{"debug", "break", "add", "vm-7", "--addr", "0x10", "--len", "two"},
       "Could not convert: --len = two"},
      {{"debug", "break", "remove", "vm-7"}, "ID is required"},
      {{"debug", "break", "remove", "vm-7", "one"}, "Could not convert: ID = one"},
      {{"debug", "events", "vm-7", "--since", "-1"}, "--since"},
      {{"debug", "step", "vm-7", "--count", "0"}, "--count: Value 0 not in range"},
      {{"debug", "step", "vm-7", "--vcpu", "-1"}, "Could not convert: --vcpu = -1"},
      {{"debug", "mem", "vm-7", "0x10"}, "LEN is required"},
      {{"debug", "mem", "vm-7", "counter_value", "8"},
       "ADDR: 'counter_value' is not an address (0x-hex or decimal)"},
      {{"debug", "mem", "vm-7", "0x10", "-8"}, "LEN: '-8' is not an address"},
  };
  for (const UsageErrorCase& c : cases) {
    Parsed parsed = Parse(c.args);
    const std::string args = ::testing::PrintToString(c.args);
    EXPECT_THAT(parsed.exit_status, Optional(kExitUsage)) << args;
    EXPECT_THAT(parsed.err, StartsWith("pvmctl: " + c.message)) << args << ": " << parsed.err;
    EXPECT_THAT(parsed.out, IsEmpty()) << args;
  }
}

TEST(DebugCommandLine, HelpOfBreakAddDescribesItsOptions) {
  Parsed parsed = Parse({"debug", "break", "add", "--help"});
  EXPECT_THAT(parsed.exit_status, Optional(kExitOk));
  EXPECT_THAT(parsed.out, HasSubstr("pvmctl debug break add [OPTIONS] NAME"));
  for (const char* option : {"--addr ADDR", "--symbol SYM", "--kind KIND", "--len N", "--trace"}) {
    EXPECT_THAT(parsed.out, HasSubstr(option));
  }
}

}  // namespace
}  // namespace pvm::ctl
