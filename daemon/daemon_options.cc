#include "daemon/daemon_options.h"

#include <filesystem>
#include <iostream>

#include "CLI/CLI.hpp"

namespace pvm {

std::string DefaultGuestDir() {
  std::error_code error;
  if (std::filesystem::is_directory(PVMD_INSTALLED_GUEST_DIR, error)) {
    return PVMD_INSTALLED_GUEST_DIR;
  }
  return PVMD_BUILD_GUEST_DIR;
}

absl::StatusOr<DaemonOptions> ParseDaemonOptions(int argc, char** argv, int* exit_code) {
  DaemonOptions options;
  CLI::App app("pvmd: host service for PVM guests", "pvmd");
  app.set_version_flag("--version", PVMD_VERSION);
  std::string mode = "0660";
  app.add_option("--socket", options.socket_path, "Unix socket to serve the API on")
      ->capture_default_str();
  app.add_option("--socket-mode", mode, "Permission bits of the socket (octal)")
      ->capture_default_str();
  app.add_option("--guest-dir", options.guest_dir,
                 "Directory of built-in guests (builtin:NAME is NAME.elf there)");
  app.add_option("--kvm-device", options.kvm_device, "KVM device")->capture_default_str();
  app.add_option("--module", options.module.name, "PVM module name as in /sys/module")
      ->capture_default_str();
  app.add_option("--max-vms", options.limits.max_vms, "Most VMs at once")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--max-vcpus", options.limits.max_vcpus_per_vm, "Most vCPUs per VM")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--default-memory-mib", options.limits.default_memory_mib,
                 "Guest memory when a request names none")
      ->capture_default_str()
      ->check(CLI::Range(2u, 8192u));
  app.add_option("--max-memory-mib", options.limits.max_memory_mib, "Most guest memory per VM")
      ->capture_default_str()
      ->check(CLI::Range(2u, 8192u));
  app.add_option("--console-buffer", options.limits.console_capacity, "Console bytes kept per VM")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{64} << 20));
  app.add_option("--vcpu-cpus", options.limits.default_cpu_affinity,
                 "Pin vCPU threads of VMs that name no CPUs to these host CPUs (e.g. 2,3)")
      ->delimiter(',');
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    return absl::CancelledError("exit requested");
  }
  try {
    size_t used = 0;
    options.socket_mode = static_cast<unsigned>(std::stoul(mode, &used, 8));
    if (used != mode.size() || options.socket_mode > 0777) {
      throw std::invalid_argument(mode);
    }
  } catch (const std::exception&) {
    std::cerr << "pvmd: --socket-mode must be octal permission bits like 0660, not '" << mode
              << "'\n";
    *exit_code = 2;
    return absl::InvalidArgumentError("bad --socket-mode");
  }
  if ((options.socket_mode & 0002) != 0) {
    std::cerr << "pvmd: refusing a world-writable socket (--socket-mode " << mode << ")\n";
    *exit_code = 2;
    return absl::InvalidArgumentError("world-writable socket");
  }
  if (options.limits.default_memory_mib > options.limits.max_memory_mib) {
    std::cerr << "pvmd: --default-memory-mib is larger than --max-memory-mib\n";
    *exit_code = 2;
    return absl::InvalidArgumentError("default memory beyond limit");
  }
  if (absl::Status s = vmm::ValidateCpuList(options.limits.default_cpu_affinity); !s.ok()) {
    std::cerr << "pvmd: --vcpu-cpus: " << s.message() << "\n";
    *exit_code = 2;
    return s;
  }
  if (options.guest_dir.empty()) {
    options.guest_dir = DefaultGuestDir();
  }
  return options;
}

}  // namespace pvm
