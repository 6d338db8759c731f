// pvmctl host ...
#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/format_text.h"

namespace pvm::ctl {
namespace {

absl::Status RunHostInfo(CommandContext& context) {
  absl::StatusOr<v1::HostInfo> info = context.client.GetHostInfo();
  if (!info.ok()) return info.status();
  PrintResult(
      context, [&] { return HostInfoText(*info); }, [&] { return HostInfoJson(*info); });
  return absl::OkStatus();
}

}  // namespace

void AddHostCommands(CLI::App& parent, CommandAction& selected) {
  CLI::App* host = parent.add_subcommand("host", "The host pvmd runs on");
  host->require_subcommand(1);

  host->add_subcommand("info", "Daemon version, PVM module state, KVM capabilities")
      ->callback([&selected] { selected = RunHostInfo; });
}

}  // namespace pvm::ctl
