// pvmd's config file (/etc/pvmd/pvmd.conf): TOML onto DaemonOptions, with the same
// checks as the command line, and every mistake named by file, line and column so a
// daemon that refuses to start says exactly what to fix.
#ifndef PVMD_DAEMON_CONFIG_FILE_H_
#define PVMD_DAEMON_CONFIG_FILE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/daemon_options.h"

namespace pvm {

// Where the file set each key: dotted key ("limits.max_vms") -> "path:line:column".
// Checks that span several keys (default memory beyond the maximum) happen after the
// command line is merged in, and use this to say where a value came from.
using ConfigPositions = std::map<std::string, std::string>;

// Applies the TOML document `text` onto *options; `source` (the path) starts every
// message. INVALID_ARGUMENT for a syntax error, an unknown key (with a "did you mean"
// when one is close), a value of the wrong type or out of range; every such mistake
// is on its own line of the message, "source:line:column: what", in file order. On
// error *options is partly changed: throw it away.
absl::StatusOr<ConfigPositions> ApplyConfigText(absl::string_view text, const std::string& source,
                                                DaemonOptions* options);

// Reads `path` and applies it as above. NOT_FOUND when the file does not exist (the
// caller decides whether that matters); another error reading it is
// FAILED_PRECONDITION with the reason.
absl::StatusOr<ConfigPositions> ApplyConfigFile(const std::string& path, DaemonOptions* options);

// Every key the file knows, dotted, in the order of the shipped deploy/pvmd.conf.
const std::vector<std::string>& KnownConfigKeys();

// Shared with the command line, so a flag and a key refuse the same values.
// "0660" -> 0660; not octal, beyond 0777, or world-writable (the socket would let
// anyone on the host drive pvmd) is INVALID_ARGUMENT.
absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text);
// "HOST:PORT" ("127.0.0.1:7000", "[::1]:7000", "host.example:7000"), port 1-65535.
// Empty is fine: no TCP listener.
absl::Status ValidateListenAddress(absl::string_view address);
// A module name as modprobe takes it: letters, digits, '_' and '-', at most 55.
absl::Status ValidateModuleName(absl::string_view name);

}  // namespace pvm

#endif  // PVMD_DAEMON_CONFIG_FILE_H_
