// pvmctl without the process around it: argv in, text out, an exit status back.
// Tests drive it with their own argv, streams, environment and stop token.
#ifndef PVMD_CLIENT_CLI_H_
#define PVMD_CLIENT_CLI_H_

#include <functional>
#include <optional>
#include <ostream>
#include <stop_token>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "client/command.h"

namespace pvm::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;        // the command failed (an RPC error)
inline constexpr int kExitUsage = 2;          // argv was wrong
inline constexpr int kExitInterrupted = 130;  // SIGINT/SIGTERM cut a call short

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> ProcessEnvironment(const std::string& name);

struct GlobalOptions {
  std::string socket_path;
  std::string address;  // HOST:PORT: TCP instead of the socket
  std::string tls_ca;   // with any --tls-*: TLS over TCP
  std::string tls_cert;
  std::string tls_key;
  OutputFormat output = OutputFormat::kText;
  absl::Duration rpc_timeout = absl::Seconds(10);
};

// The CLI11 app with every command group, and what parsing argv selected.
class CommandLine {
 public:
  // `env` supplies PVMD_SOCKET, the default of --socket.
  explicit CommandLine(const EnvLookup& env);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Returns nullopt when action() is to run; otherwise the exit status parsing
  // decided on (0 after --help, 2 after a usage error), having printed CLI11's text.
  std::optional<int> Parse(int argc, const char* const argv[], std::ostream& out,
                           std::ostream& err);

  const GlobalOptions& global() const { return global_; }
  const CommandAction& action() const { return action_; }

 private:
  GlobalOptions global_;
  CommandAction action_;
  CLI::App app_;  // last: its callbacks refer to the members above
};

// Where the global options point: the unix socket, or --address over TCP (with TLS
// when any --tls-* is given).
client::ConnectionOptions ConnectionFor(const GlobalOptions& global);

// The line pvmctl prints for a failed command, without the newline:
// "pvmctl: NOT_FOUND: no VM named 'vm-9'", or for UNAVAILABLE
// "pvmctl: cannot reach pvmd at unix:/run/pvmd/pvmd.sock: <message>" (over TLS with
// a hint at the certificates when the handshake failed).
std::string ErrorLine(const absl::Status& status, absl::string_view target, bool tls = false);

struct ProcessContext {
  std::ostream& out;
  std::ostream& err;
  EnvLookup env = ProcessEnvironment;
  std::stop_token stop;  // requested on SIGINT/SIGTERM
};

// Parses argv, connects, runs the command and reports its error. Returns the exit
// status.
int RunPvmctl(int argc, const char* const argv[], const ProcessContext& process);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_CLI_H_
