// What every pvmctl command group shares: how a parsed command runs, and how it
// prints its result. A group (cmd_host.cc, cmd_vm.cc, cmd_debug.cc) adds its
// subcommands to the CLI11 app; the subcommand that argv selects stores its action.
#ifndef PVMD_CLIENT_COMMAND_H_
#define PVMD_CLIENT_COMMAND_H_

#include <functional>
#include <ostream>
#include <stop_token>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "client/format_json.h"
#include "client/pvm_client.h"

namespace pvm::ctl {

enum class OutputFormat { kText, kJson };

struct CommandContext {
  client::PvmClient& client;
  OutputFormat output;
  std::ostream& out;
  std::ostream& err;
};

// A command once argv is parsed. Errors are printed by the caller, not the command.
using CommandAction = std::function<absl::Status(CommandContext&)>;

// Writes the result in the chosen format; only the chosen formatter runs.
void PrintResult(CommandContext& context, absl::FunctionRef<std::string()> text,
                 absl::FunctionRef<Json()> json);

// Command groups. `selected` outlives `parent` and receives the selected action.
void AddHostCommands(CLI::App& parent, CommandAction& selected);
void AddVmCommands(CLI::App& parent, CommandAction& selected);
void AddDebugCommands(CLI::App& parent, CommandAction& selected);
// `pvmctl debug gdb`, under the debug group (cmd_debug_gdb.cc).
void AddGdbCommand(CLI::App& debug, CommandAction& selected);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_COMMAND_H_
