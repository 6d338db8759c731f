// pvmd's command line.
#ifndef PVMD_DAEMON_DAEMON_OPTIONS_H_
#define PVMD_DAEMON_DAEMON_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm {

struct DaemonOptions {
  std::string socket_path = "/run/pvmd/pvmd.sock";
  unsigned socket_mode = 0660;
  std::string guest_dir;  // built-in guests; empty: the installed or build-tree default
  std::string kvm_device = "/dev/kvm";
  std::string module_name = "kvm_pvm";
  vmm::VmLimits limits;
};

// Parses argv. `exit_code` is set when the process should end at once (--help,
// --version, or a usage error, with the message already printed).
absl::StatusOr<DaemonOptions> ParseDaemonOptions(int argc, char** argv, int* exit_code);

// The directory with the built-in guests when --guest-dir is not given.
std::string DefaultGuestDir();

}  // namespace pvm

#endif  // PVMD_DAEMON_DAEMON_OPTIONS_H_
