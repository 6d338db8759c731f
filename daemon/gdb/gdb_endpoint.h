// Where a VM's gdb stub listens: loopback TCP or a unix socket, parsed from what a
// user types and bound with the checks that keep the stub local.
#ifndef PVMD_DAEMON_GDB_GDB_ENDPOINT_H_
#define PVMD_DAEMON_GDB_GDB_ENDPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"

namespace pvm::gdb {

struct GdbEndpoint {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host = "127.0.0.1";  // numeric, or "localhost"
  uint16_t port = 0;               // 0: any free port (the bound one is reported)
  std::string path;                // kUnix: absolute
};

// "127.0.0.1:1234", "[::1]:1234", "localhost:1234", "unix:/run/x.sock" or an absolute
// path. INVALID_ARGUMENT, saying which part is wrong, for anything else.
absl::StatusOr<GdbEndpoint> ParseGdbEndpoint(std::string_view text);

struct BoundEndpoint {
  vmm::UniqueFd fd;     // listening, close-on-exec
  std::string address;  // as gdb's `target remote` takes it: "127.0.0.1:40123", "/run/x.sock"
};

// PERMISSION_DENIED for a TCP host that is not loopback unless allow_remote (the
// stub has no authentication of its own: anyone who reaches it controls the VM).
// A unix socket is created mode 0600; its peers are checked again when they connect.
absl::StatusOr<BoundEndpoint> Listen(const GdbEndpoint& endpoint, bool allow_remote);

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_ENDPOINT_H_
