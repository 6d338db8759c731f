// pvmd's options: defaults here, then the config file (daemon/config_file.h), then
// the command line, each overriding the one before.
#ifndef PVMD_DAEMON_DAEMON_OPTIONS_H_
#define PVMD_DAEMON_DAEMON_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm {

// Who may call over the unix socket (SO_PEERCRED): root always; members of
// `groups` may call everything, members of `read_only_groups` only Get/List/Stream.
struct AccessOptions {
  std::vector<std::string> groups = {"pvm"};
  std::vector<std::string> read_only_groups;
  bool operator==(const AccessOptions&) const = default;
};

// TCP for orchestrators: mutual TLS, or plain TCP on loopback with insecure_tcp.
struct TcpOptions {
  std::string listen_address;  // HOST:PORT; empty: no TCP listener
  std::string tls_cert;        // PEM server certificate chain
  std::string tls_key;         // PEM private key
  std::string tls_client_ca;   // PEM CA that client certificates must chain to
  bool insecure_tcp = false;
  bool operator==(const TcpOptions&) const = default;
};

struct ModuleOptions {
  std::string name = "kvm_pvm";  // as in /sys/module
  std::string parameters;        // passed to the module when pvmd loads it, "a=1 b=2"
  bool load = true;              // load it when it is a loadable module that is absent
  bool operator==(const ModuleOptions&) const = default;
};

// What the flags and the config file accept, so both refuse the same values.
template <typename T>
struct OptionRange {
  T min;
  T max;
};
inline constexpr OptionRange<uint32_t> kMaxVmsRange{1, 4096};
inline constexpr OptionRange<uint32_t> kMaxVcpusRange{1, 1024};
inline constexpr OptionRange<uint64_t> kMemoryMibRange{2, 8192};
inline constexpr OptionRange<uint64_t> kImageMibRange{1, 1024};
inline constexpr OptionRange<size_t> kConsoleBufferRange{1, size_t{64} << 20};
// A slot is a few cache lines: 2^18 events are ~32 MiB per VM.
inline constexpr OptionRange<size_t> kEventRingRange{16, size_t{1} << 18};
inline constexpr OptionRange<uint32_t> kSubscribersRange{1, 4096};

struct DaemonOptions {
  std::string config_path = "/etc/pvmd/pvmd.conf";
  std::string socket_path = "/run/pvmd/pvmd.sock";
  unsigned socket_mode = 0660;
  std::string socket_group = "pvm";  // group owner of a socket pvmd creates; empty: keep
  AccessOptions access;
  TcpOptions tcp;
  std::string guest_dir;  // built-in guests; empty: the installed or build-tree default
  std::string kvm_device = "/dev/kvm";
  ModuleOptions module;
  vmm::VmLimits limits;
  size_t event_ring_size = 4096;         // debug events kept per VM
  uint32_t max_subscribers_per_vm = 64;  // concurrent StreamEvents per VM
  // A gdb stub (pvmctl debug gdb) may listen on a non-loopback TCP address. Off: the
  // stub has no authentication of its own, so only loopback and unix sockets.
  bool gdb_allow_remote = false;
};

// Parses argv, reading the config file first (--config, or the default path, which
// may be missing; an empty --config reads none). `exit_code` is set when the process should end at
// once (--help,
// --version, or a usage error, with the message already printed).
absl::StatusOr<DaemonOptions> ParseDaemonOptions(int argc, char** argv, int* exit_code);

// The directory with the built-in guests when --guest-dir is not given.
std::string DefaultGuestDir();

}  // namespace pvm

#endif  // PVMD_DAEMON_DAEMON_OPTIONS_H_
