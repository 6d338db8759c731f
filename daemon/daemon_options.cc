#include "daemon/daemon_options.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/config_file.h"

namespace pvm {
namespace {

// What the command line carries that is not a DaemonOptions field as it stands.
struct FlagValues {
  std::string socket_mode;
  uint64_t max_image_mib = 0;
  bool no_module_load = false;
};

// The flags, bound to `o`: CLI11 writes a variable only when its flag is given, so
// parsing onto options that already hold the config file's values overrides just
// what the command line names.
void AddFlags(CLI::App& app, DaemonOptions& o, FlagValues& v) {
  app.set_version_flag("--version", PVMD_VERSION);
  app.footer(absl::StrCat("Every flag overrides the config file's value (default ",
                          DaemonOptions().config_path,
                          "; a missing default file is fine, an empty --config reads none)."));
  app.add_option("--config", o.config_path, "Config file (TOML)")->capture_default_str();
  app.add_option("--socket", o.socket_path, "Unix socket to serve the API on")
      ->capture_default_str();
  app.add_option("--socket-mode", v.socket_mode, "Permission bits of the socket (octal)")
      ->default_str("0660");
  app.add_option("--socket-group", o.socket_group,
                 "Group owner of the socket pvmd creates (empty: keep pvmd's)")
      ->capture_default_str();
  app.add_option("--group", o.access.groups,
                 "Members may call everything over the unix socket (repeatable)")
      ->default_str("pvm");
  app.add_option("--read-only-group", o.access.read_only_groups,
                 "Members may only Get/List/Stream over the unix socket (repeatable)");
  app.add_option("--listen", o.tcp.listen_address,
                 "Also serve on TCP HOST:PORT (mutual TLS unless --insecure-tcp)");
  app.add_option("--tls-cert", o.tcp.tls_cert, "PEM server certificate chain for --listen");
  app.add_option("--tls-key", o.tcp.tls_key, "PEM private key for --listen");
  app.add_option("--tls-client-ca", o.tcp.tls_client_ca,
                 "PEM CA that client certificates must chain to");
  app.add_flag("--insecure-tcp", o.tcp.insecure_tcp, "Plain TCP without TLS (loopback only)");
  app.add_flag("--gdb-allow-remote", o.gdb_allow_remote,
               "Let `pvmctl debug gdb --listen` use a non-loopback address (no authentication)");
  app.add_option("--guest-dir", o.guest_dir,
                 "Directory of built-in guests (builtin:NAME is NAME.elf there)");
  app.add_option("--kvm-device", o.kvm_device, "KVM device")->capture_default_str();
  app.add_option("--module", o.module.name, "PVM module name as in /sys/module")
      ->capture_default_str();
  app.add_option("--module-params", o.module.parameters,
                 "Parameters for the module when pvmd loads it (\"a=1 b=2\")");
  app.add_flag("--no-module-load", v.no_module_load,
               "Never load the module, only report whether it is there");
  app.add_option("--max-vms", o.limits.max_vms, "Most VMs at once")
      ->capture_default_str()
      ->check(CLI::Range(kMaxVmsRange.min, kMaxVmsRange.max));
  app.add_option("--max-vcpus", o.limits.max_vcpus_per_vm, "Most vCPUs per VM")
      ->capture_default_str()
      ->check(CLI::Range(kMaxVcpusRange.min, kMaxVcpusRange.max));
  app.add_option("--default-memory-mib", o.limits.default_memory_mib,
                 "Guest memory when a request names none")
      ->capture_default_str()
      ->check(CLI::Range(kMemoryMibRange.min, kMemoryMibRange.max));
  app.add_option("--max-memory-mib", o.limits.max_memory_mib, "Most guest memory per VM")
      ->capture_default_str()
      ->check(CLI::Range(kMemoryMibRange.min, kMemoryMibRange.max));
  app.add_option("--max-image-mib", v.max_image_mib, "Largest guest image file")
      ->default_str(std::to_string(o.limits.max_image_bytes >> 20))
      ->check(CLI::Range(kImageMibRange.min, kImageMibRange.max));
  app.add_option("--console-buffer", o.limits.console_capacity, "Console bytes kept per VM")
      ->capture_default_str()
      ->check(CLI::Range(kConsoleBufferRange.min, kConsoleBufferRange.max));
  app.add_option("--event-ring-size", o.event_ring_size,
                 "Debug events kept per VM (rounded up to a power of two)")
      ->capture_default_str()
      ->check(CLI::Range(kEventRingRange.min, kEventRingRange.max));
  app.add_option("--subscribers-per-vm", o.max_subscribers_per_vm,
                 "Most concurrent debug event streams per VM")
      ->capture_default_str()
      ->check(CLI::Range(kSubscribersRange.min, kSubscribersRange.max));
  app.add_option("--vcpu-cpus", o.limits.default_cpu_affinity,
                 "Pin vCPU threads of VMs that name no CPUs to these host CPUs (e.g. 2,3)")
      ->delimiter(',');
}

// Where a value came from, for a check that spans two of them.
std::string Origin(const CLI::App& app, const char* flag, const ConfigPositions& file,
                   const char* key) {
  if (app.count(flag) > 0) return flag;
  if (auto it = file.find(key); it != file.end()) return absl::StrCat(it->second, ": ", key);
  return absl::StrCat(key, " (the default)");
}

// The checks of values from both places, after the merge; each message names the flag
// or the file position it is about.
absl::Status Validate(const CLI::App& app, const FlagValues& flags, const ConfigPositions& file,
                      DaemonOptions& options) {
  if (app.count("--socket-mode") > 0) {
    absl::StatusOr<unsigned> mode = ParseSocketMode(flags.socket_mode);
    if (!mode.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--socket-mode: ", mode.status().message()));
    }
    options.socket_mode = *mode;
  }
  if (flags.no_module_load) options.module.load = false;
  if (app.count("--max-image-mib") > 0) options.limits.max_image_bytes = flags.max_image_mib << 20;
  if (options.socket_path.empty()) {
    return absl::InvalidArgumentError("--socket: the socket path is empty");
  }
  if (options.kvm_device.empty()) {
    return absl::InvalidArgumentError("--kvm-device: the device path is empty");
  }
  if (app.count("--listen") > 0) {
    if (absl::Status s = ValidateListenAddress(options.tcp.listen_address); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--listen: ", s.message()));
    }
  }
  if (app.count("--module") > 0) {
    if (absl::Status s = ValidateModuleName(options.module.name); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--module: ", s.message()));
    }
  }
  for (const char* flag : {"--group", "--read-only-group"}) {
    const auto& groups = absl::string_view(flag) == "--group" ? options.access.groups
                                                              : options.access.read_only_groups;
    if (app.count(flag) > 0 && std::find(groups.begin(), groups.end(), "") != groups.end()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": a group name is empty"));
    }
  }
  if (app.count("--vcpu-cpus") > 0) {
    if (absl::Status s = vmm::ValidateCpuList(options.limits.default_cpu_affinity); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--vcpu-cpus: ", s.message()));
    }
  }
  if (options.limits.default_memory_mib > options.limits.max_memory_mib) {
    return absl::InvalidArgumentError(
        absl::StrCat(Origin(app, "--default-memory-mib", file, "limits.default_memory_mib"), " (",
                     options.limits.default_memory_mib, " MiB) is larger than ",
                     Origin(app, "--max-memory-mib", file, "limits.max_memory_mib"), " (",
                     options.limits.max_memory_mib, " MiB)"));
  }
  return absl::OkStatus();
}

absl::Status Refuse(absl::Status status, int* exit_code) {
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    std::cerr << "pvmd: " << line << "\n";
  }
  *exit_code = 2;
  return status;
}

}  // namespace

std::string DefaultGuestDir() {
  std::error_code error;
  if (std::filesystem::is_directory(PVMD_INSTALLED_GUEST_DIR, error)) {
    return PVMD_INSTALLED_GUEST_DIR;
  }
  return PVMD_BUILD_GUEST_DIR;
}

absl::StatusOr<DaemonOptions> ParseDaemonOptions(int argc, char** argv, int* exit_code) {
  // First pass: --help, --version, usage errors, and which config file to read.
  DaemonOptions from_flags;
  FlagValues first_values;
  CLI::App first("pvmd: host service for PVM guests", "pvmd");
  AddFlags(first, from_flags, first_values);
  try {
    first.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105 for a value out of range) become 2, the usage-error code
    // of pvmctl and of every other mistake in pvmd's options.
    *exit_code = first.exit(e) == 0 ? 0 : 2;
    return absl::CancelledError("exit requested");
  }

  DaemonOptions options;
  ConfigPositions file;
  options.config_path = from_flags.config_path;
  if (!options.config_path.empty()) {
    absl::StatusOr<ConfigPositions> applied = ApplyConfigFile(options.config_path, &options);
    if (applied.ok()) {
      file = *std::move(applied);
    } else if (!absl::IsNotFound(applied.status()) || first.count("--config") > 0) {
      return Refuse(applied.status(), exit_code);
    }
  }

  // Second pass, onto the file's values: only the flags given override them.
  FlagValues values;
  CLI::App second("pvmd: host service for PVM guests", "pvmd");
  AddFlags(second, options, values);
  try {
    second.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = second.exit(e) == 0 ? 0 : 2;
    return absl::CancelledError("exit requested");
  }
  if (absl::Status s = Validate(second, values, file, options); !s.ok()) {
    return Refuse(s, exit_code);
  }
  if (options.guest_dir.empty()) {
    options.guest_dir = DefaultGuestDir();
  }
  return options;
}

}  // namespace pvm
