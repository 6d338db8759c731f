#include "client/cli.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"

#ifndef PVMCTL_VERSION
#define PVMCTL_VERSION "unknown"
#endif

namespace pvm::ctl {
namespace {

// CLI11's own message, prefixed like every other pvmctl error.
std::string UsageErrorMessage(const CLI::App* app, const CLI::Error& error) {
  // For "pvmctl vm frob" CLI11 complains that a subcommand is missing; the word it
  // did not know is the more useful news.
  const std::vector<std::string> unknown = app->remaining(/*recurse=*/true);
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr && !unknown.empty()) {
    return absl::StrCat("pvmctl: ", CLI::FailureMessage::simple(app, CLI::ExtrasError(unknown)));
  }
  return absl::StrCat("pvmctl: ", CLI::FailureMessage::simple(app, error));
}

std::string NonEmpty(const std::string& value) { return value.empty() ? "must not be empty" : ""; }

}  // namespace

std::optional<std::string> ProcessEnvironment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

CommandLine::CommandLine(const EnvLookup& env)
    : app_("Control pvmd, the host service for PVM guests.", "pvmctl") {
  const std::optional<std::string> env_socket = env("PVMD_SOCKET");
  global_.socket_path = env_socket.has_value() && !env_socket->empty()
                            ? *env_socket
                            : std::string(client::kDefaultSocketPath);

  // Inherited by the subcommands created below: global options may come after the
  // command ("pvmctl vm list -o json"), and usage errors look alike everywhere.
  app_.fallthrough();
  app_.failure_message(UsageErrorMessage);
  app_.require_subcommand(1);
  app_.set_version_flag("--version", PVMCTL_VERSION);

  CLI::Option* socket =
      app_.add_option("--socket", global_.socket_path, "pvmd's unix socket (env PVMD_SOCKET)")
          ->type_name("PATH")
          ->capture_default_str()
          ->check(NonEmpty);
  CLI::Option* address =
      app_.add_option("--address", global_.address,
                      "pvmd over TCP instead of the socket (pvmd --listen): TLS with --tls-*, "
                      "plain TCP without (pvmd --insecure-tcp)")
          ->type_name("HOST:PORT")
          ->check(NonEmpty)
          ->excludes(socket);
  app_.add_option("--tls-ca", global_.tls_ca,
                  "PEM CA that signed pvmd's certificate (default: the system's roots)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile)
      ->needs(address);
  CLI::Option* tls_cert = app_.add_option("--tls-cert", global_.tls_cert,
                                          "PEM client certificate (chain) for pvmd's client CA")
                              ->type_name("FILE")
                              ->check(CLI::ExistingFile)
                              ->needs(address);
  CLI::Option* tls_key = app_.add_option("--tls-key", global_.tls_key, "PEM key of --tls-cert")
                             ->type_name("FILE")
                             ->check(CLI::ExistingFile)
                             ->needs(address);
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  // A string checked against the names, which reads better in --help and in the
  // error than CLI11's enum mapping.
  app_.add_option_function<std::string>(
          "-o,--output",
          [this](const std::string& name) {
            global_.output = name == "json" ? OutputFormat::kJson : OutputFormat::kText;
          },
          "Output format: text (for people) or json (for scripts)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));

  AddHostCommands(app_, action_);
  AddVmCommands(app_, action_);
  AddDebugCommands(app_, action_);
}

std::optional<int> CommandLine::Parse(int argc, const char* const argv[], std::ostream& out,
                                      std::ostream& err) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int cli11_status = app_.exit(error, out, err);
    // CLI11 numbers its errors from 100 up; pvmctl promises 2 for any usage error.
    return cli11_status == 0 ? kExitOk : kExitUsage;
  }
  if (!action_) {
    // Every leaf command sets an action and require_subcommand stops at a group,
    // so this is a command that forgot its callback: a bug, reported as such.
    err << "pvmctl: internal error: the command has no action\n";
    return kExitFailure;
  }
  return std::nullopt;
}

client::ConnectionOptions ConnectionFor(const GlobalOptions& global) {
  client::ConnectionOptions connection{.rpc_timeout = global.rpc_timeout};
  if (global.address.empty()) {
    connection.target = client::UnixSocketTarget(global.socket_path);
    return connection;
  }
  connection.target = global.address;
  if (!global.tls_ca.empty() || !global.tls_cert.empty() || !global.tls_key.empty()) {
    connection.tls =
        client::TlsFiles{.ca = global.tls_ca, .cert = global.tls_cert, .key = global.tls_key};
  }
  return connection;
}

std::string ErrorLine(const absl::Status& status, absl::string_view target, bool tls) {
  if (status.code() == absl::StatusCode::kUnavailable) {
    // A server that refuses our certificate closes the connection during the
    // handshake, which gRPC reports as "Socket closed" (or names OpenSSL's reason when
    // the client refused the server's): say what to check first.
    const bool handshake = tls && (absl::StrContains(status.message(), "Socket closed") ||
                                   absl::StrContains(status.message(), "andshake") ||
                                   absl::StrContains(status.message(), "SSL") ||
                                   absl::StrContains(status.message(), "ertificate"));
    return absl::StrCat("pvmctl: cannot reach pvmd at ", target,
                        handshake ? " (TLS handshake failed: pvmd needs a --tls-cert/--tls-key "
                                    "its client CA signed, and --tls-ca must have signed pvmd's "
                                    "certificate)"
                                  : "",
                        ": ", status.message());
  }
  return absl::StrCat("pvmctl: ", absl::StatusCodeToString(status.code()), ": ", status.message());
}

int RunPvmctl(int argc, const char* const argv[], const ProcessContext& process) {
  CommandLine command_line(process.env);
  if (std::optional<int> exit_status = command_line.Parse(argc, argv, process.out, process.err)) {
    return *exit_status;
  }
  const GlobalOptions& global = command_line.global();
  const client::ConnectionOptions connection = ConnectionFor(global);
  const bool tls = connection.tls.has_value();
  absl::StatusOr<client::PvmClient> client = client::PvmClient::Connect(connection, process.stop);
  if (!client.ok()) {
    // Options that can never work (an unreadable TLS file): no server said anything,
    // so no status code either.
    process.err << "pvmctl: " << client.status().message() << "\n";
    return kExitFailure;
  }
  CommandContext context = {
      .client = *client,
      .output = global.output,
      .out = process.out,
      .err = process.err,
  };
  const absl::Status status = command_line.action()(context);
  if (status.ok()) return kExitOk;
  if (process.stop.stop_requested()) {
    process.err << "pvmctl: interrupted\n";
    return kExitInterrupted;
  }
  process.err << ErrorLine(status, connection.target, tls) << "\n";
  return kExitFailure;
}

}  // namespace pvm::ctl
