// pvmctl debug gdb NAME [--listen HOST:PORT | --unix PATH] [--stop]
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/command.h"
#include "client/format_json.h"

namespace pvm::ctl {
namespace {

struct GdbOptions {
  std::string name;
  std::string listen;     // HOST:PORT
  std::string unix_path;  // a unix socket instead
  bool stop = false;
};

absl::Status RunGdb(CommandContext& context, const GdbOptions& options) {
  absl::StatusOr<v1::GdbServer> server;
  if (options.stop) {
    server = context.client.StopGdbServer(options.name);
  } else {
    v1::StartGdbServerRequest request;
    request.set_name(options.name);
    request.set_listen(options.unix_path.empty() ? options.listen
                                                 : absl::StrCat("unix:", options.unix_path));
    server = context.client.StartGdbServer(request);
  }
  if (!server.ok()) return server.status();
  PrintResult(
      context,
      [&] {
        if (options.stop) {
          return absl::StrCat("VM '", server->name(), "': gdb stub on ", server->address(),
                              " stopped\n");
        }
        return absl::StrCat("VM '", server->name(), "': gdb stub on ", server->address(),
                            "\nconnect with: gdb -ex 'target remote ", server->address(),
                            "' IMAGE.elf\n");
      },
      [&] {
        Json json{{"vm", server->name()}, {"address", server->address()}};
        if (options.stop) json["stopped"] = true;
        return json;
      });
  return absl::OkStatus();
}

}  // namespace

void AddGdbCommand(CLI::App& debug, CommandAction& selected) {
  auto options = std::make_shared<GdbOptions>();
  CLI::App* gdb = debug.add_subcommand(
      "gdb", "Serve the VM to gdb (remote protocol): `target remote ADDRESS` in gdb");
  gdb->add_option("NAME", options->name, "VM name")->required();
  CLI::Option* listen = gdb->add_option("--listen", options->listen,
                                        "Loopback TCP HOST:PORT (default 127.0.0.1 on a free port)")
                            ->type_name("HOST:PORT");
  CLI::Option* unix_path =
      gdb->add_option("--unix", options->unix_path, "A unix socket at PATH instead of TCP")
          ->type_name("PATH");
  CLI::Option* stop = gdb->add_flag("--stop", options->stop, "End the VM's gdb stub");
  listen->excludes(unix_path);
  stop->excludes(listen)->excludes(unix_path);
  gdb->callback([options, &selected] {
    selected = [options](CommandContext& context) { return RunGdb(context, *options); };
  });
}

}  // namespace pvm::ctl
