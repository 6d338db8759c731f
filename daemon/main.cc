// pvmd: makes sure the PVM module is there, runs PVM guests on /dev/kvm and serves
// the pvm.v1 API on a unix socket.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/access/authorizer.h"
#include "daemon/access/groups.h"
#include "daemon/access/peer_credentials.h"
#include "daemon/access/tcp_listener.h"
#include "daemon/api/debug_service.h"
#include "daemon/api/host_service.h"
#include "daemon/api/vm_service.h"
#include "daemon/daemon_options.h"
#include "daemon/debug_config.h"
#include "daemon/fd_acceptor.h"
#include "daemon/host/debug_probe.h"
#include "daemon/host/module_loader.h"
#include "daemon/host/module_status.h"
#include "daemon/log.h"
#include "daemon/service_notifier.h"
#include "daemon/unix_socket.h"
#include "daemon/vmm/image_catalog.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm {
namespace {

// gRPC's threads would otherwise take SIGTERM and SIGINT; blocked everywhere, they
// wait for sigwait() on the main thread.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The next SIGTERM/SIGINT, or 0 once `period` has passed without one.
int WaitForShutdownSignal(const sigset_t& signals,
                          std::optional<std::chrono::microseconds> period) {
  if (!period) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    return signal_number;
  }
  const timespec timeout{.tv_sec = static_cast<time_t>(period->count() / 1'000'000),
                         .tv_nsec = static_cast<long>(period->count() % 1'000'000 * 1000)};
  for (;;) {
    const int signal_number = sigtimedwait(&signals, nullptr, &timeout);
    if (signal_number > 0) {
      return signal_number;
    }
    if (errno == EAGAIN) {
      return 0;
    }
    // EINTR: another signal (a vCPU kick aimed at this thread never comes): go on.
  }
}

// Healthy: KVM still answers and no VM is stuck between states; what the watchdog
// ping vouches for. The line is the service's STATUS.
bool CheckHealth(const vmm::Kvm& kvm, const vmm::VmRegistry& registry, std::string* status) {
  if (kvm.CheckExtension(KVM_CAP_USER_MEMORY) <= 0) {
    *status = "KVM does not answer (KVM_CHECK_EXTENSION failed)";
    return false;
  }
  int running = 0;
  int total = 0;
  for (const auto& vm : registry.List()) {
    ++total;
    running += vm->state() == vmm::VmState::kRunning;
  }
  *status = absl::StrCat("serving; ", total, " VM(s), ", running, " running");
  return true;
}

// A start-up refusal: one error line in the log and the same words in systemd's
// STATUS=, with ERRNO=. Returns pvmd's exit status.
int RefuseToStart(const ServiceNotifier& notifier, const std::string& why, int error,
                  int exit_status = 1) {
  LogDaemon(LogPriority::kError, why);
  notifier.Failed(why, error);
  return exit_status;
}

// ", full: pvm (gid 998); read-only: users (gid 100)" for the start-up log.
std::string AccessSummary(const access::AccessPolicy& policy) {
  const auto names = [](const std::vector<access::Group>& groups) {
    return groups.empty() ? std::string("none")
                          : absl::StrJoin(groups, ", ", [](std::string* out, const auto& g) {
                              absl::StrAppend(out, g.name, " (gid ", g.gid, ")");
                            });
  };
  return absl::StrCat("; full: ", names(policy.groups),
                      "; read-only: ", names(policy.read_only_groups));
}

int Run(const DaemonOptions& options) {
  const sigset_t shutdown_signals = BlockShutdownSignals();
  const ServiceNotifier notifier;

  // The module first: built in or loaded is left alone, an absent loadable one is
  // loaded (libkmod) unless module.load is off; without it there is no /dev/kvm.
  const host::ModuleStatus module = host::EnsureModule({.name = options.module.name,
                                                        .parameters = options.module.parameters,
                                                        .load = options.module.load},
                                                       host::InsertWithLibkmod);
  LogDaemon(
      module.state == host::ModuleState::kLoadFailed ? LogPriority::kError : LogPriority::kInfo,
      "module ", module.name, ": ", module.action, " (", module.detail, ")");
  if (module.state == host::ModuleState::kLoadFailed) {
    notifier.Failed(absl::StrCat("cannot start: module ", module.name, " ", module.action),
                    module.load_errno);
    return 1;
  }
  absl::StatusOr<vmm::Kvm> kvm = vmm::Kvm::Open(options.kvm_device);
  if (!kvm.ok()) {
    // Where /dev/kvm should have come from. Loaded just now under the unit's
    // DevicePolicy=closed, systemd resolved DeviceAllow=/dev/kvm before the node
    // existed; the restart Restart=on-failure makes finds it.
    const std::string hint = [&]() -> std::string {
      if (module.loaded_by_pvmd) {
        return absl::StrCat("pvmd loaded ", module.name,
                            " just now: a device policy set up before /dev/kvm existed "
                            "(systemd's DeviceAllow) refuses it until pvmd restarts");
      }
      if (module.state == host::ModuleState::kAbsent) {
        return absl::StrCat("the PVM module ", module.name, " is ", module.action);
      }
      return absl::StrCat("the PVM module ", module.name, " is ",
                          host::ModuleStateName(module.state), ": is --kvm-device right?");
    }();
    LogDaemon(LogPriority::kError, "cannot use KVM: ", kvm.status().message(), "; ", hint);
    notifier.Failed(absl::StrCat("cannot use KVM: ", kvm.status().message()), ENODEV);
    return 1;
  }
  LogDaemon(LogPriority::kInfo, "KVM API ", kvm->capabilities().api_version, ", up to ",
            kvm->capabilities().max_vcpus, " vCPUs per VM, guests from ", options.guest_dir);

  // What guest debugging the module really delivers, measured on a probe VM (a few
  // milliseconds). Without a verdict pvmd still serves; validation then drops nothing.
  const auto probe_start = std::chrono::steady_clock::now();
  absl::StatusOr<host::DebugCapabilities> debug_caps = host::ProbeGuestDebug(*kvm);
  if (debug_caps.ok()) {
    LogDaemon(LogPriority::kInfo, debug_caps->OneLine());
  } else {
    LogDaemon(LogPriority::kWarning, "guest-debug probe failed after ",
              std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - probe_start)
                  .count(),
              " us: ", debug_caps.status().message(),
              "; breakpoints are validated as if the module dropped none");
  }
  debug::DebugConfig debug_config = DebugConfigFromProbe(debug_caps);
  debug_config.event_ring_size = options.event_ring_size;

  vmm::VmLimits limits = options.limits;
  limits.max_vcpus_per_vm = std::min<uint32_t>(
      limits.max_vcpus_per_vm, static_cast<uint32_t>(kvm->capabilities().max_vcpus));
  vmm::VmRegistry registry(*kvm, vmm::ImageCatalog(options.guest_dir), limits);
  registry.SetStateObserver(
      [](const std::string& vm_name, vmm::VmState state, const std::string& failure) {
        LogInfo(vm_name, "now ", vmm::VmStateName(state), failure.empty() ? "" : ": ", failure);
      });
  api::HostServiceImpl host_service(*kvm, module, debug_caps);
  api::VmServiceImpl vm_service(registry);
  api::DebugServiceImpl debug_service(registry, debug_config, options.max_subscribers_per_vm);
  debug_service.AllowRemoteGdb(options.gdb_allow_remote);

  // Who may call, resolved before anything listens: an unknown group name or a TCP
  // listener pvmd would not secure is a configuration error (exit 2). Only the
  // built-in default group may be missing (a development machine has no "pvm"):
  // then only root may call over the unix socket.
  const bool default_groups =
      options.access.groups == AccessOptions{}.groups && options.access.read_only_groups.empty();
  absl::StatusOr<access::ResolvedPolicy> access_policy = access::ResolveAccessPolicy(
      options.access.groups, options.access.read_only_groups, /*missing_ok=*/default_groups);
  absl::StatusOr<std::optional<access::TcpListener>> tcp =
      access_policy.ok() ? access::PrepareTcpListener(options.tcp)
                         : absl::StatusOr<std::optional<access::TcpListener>>(std::nullopt);
  for (const absl::Status& s : {access_policy.status(), tcp.status()}) {
    if (!s.ok())
      return RefuseToStart(notifier, absl::StrCat("cannot start: ", s.message()), EINVAL, 2);
  }
  for (const std::string& warning : access_policy->warnings) {
    LogDaemon(LogPriority::kWarning, warning);
  }

  // Socket-activated (pvmd.socket): serve the socket systemd listens on, which stays
  // systemd's (no unlink, no chmod, no chown). Otherwise create --socket ourselves.
  // Either way pvmd accepts every connection itself (FdAcceptor), reading the peer's
  // credentials before gRPC serves it.
  absl::StatusOr<std::optional<ActivatedSocket>> activated = TakeActivatedSocket();
  if (!activated.ok()) {
    return RefuseToStart(notifier, std::string(activated.status().message()), EBADF);
  }
  const std::string socket_path = *activated ? (*activated)->path : options.socket_path;
  vmm::UniqueFd own_socket;
  if (!*activated) {
    absl::Status s = PrepareSocketPath(options.socket_path);
    absl::StatusOr<vmm::UniqueFd> listening =
        s.ok() ? ListenOnUnixSocket(options.socket_path, options.socket_mode)
               : absl::StatusOr<vmm::UniqueFd>(s);
    if (!listening.ok()) {
      return RefuseToStart(
          notifier,
          absl::StrCat("cannot serve on ", options.socket_path, ": ", listening.status().message()),
          EADDRINUSE);
    }
    own_socket = *std::move(listening);
    // root:GROUP: connecting takes group membership (the mode), calling takes the
    // access policy. Without the group the socket keeps pvmd's, which only narrows it.
    if (!options.socket_group.empty()) {
      absl::StatusOr<gid_t> gid = access::LookupGroup(options.socket_group);
      absl::Status s = gid.ok() ? SetSocketGroup(options.socket_path, *gid) : gid.status();
      if (!s.ok()) {
        LogDaemon(LogPriority::kWarning, "socket group ", options.socket_group, ": ", s.message(),
                  "; ", options.socket_path, " keeps pvmd's group");
      }
    }
  }
  const int listen_fd = *activated ? (*activated)->fd : own_socket.get();

  access::PeerRegistry peers;
  const access::Authorizer authorizer(
      access_policy->policy, peers,
      *tcp ? std::optional<access::TcpSecurity>((*tcp)->security) : std::nullopt);
  host_service.EnforceAccess(&authorizer);
  vm_service.EnforceAccess(&authorizer);
  debug_service.EnforceAccess(&authorizer);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int tcp_port = 0;
  if (*tcp) {
    builder.AddListeningPort((*tcp)->address, (*tcp)->credentials, &tcp_port);
  }
  builder.RegisterService(&host_service);
  builder.RegisterService(&vm_service);
  builder.RegisterService(&debug_service);
  // Health and reflection have no CallGuard of their own.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> filters;
  filters.push_back(access::UnguardedServiceFilter(authorizer));
  builder.experimental().SetInterceptorCreators(std::move(filters));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (*tcp && tcp_port == 0)) {
    const std::string what = *tcp ? absl::StrCat("cannot listen on ", (*tcp)->address,
                                                 " (in use, or not an address of this host?)")
                                  : std::string("cannot start the gRPC server");
    if (!*activated) ::unlink(options.socket_path.c_str());
    return RefuseToStart(notifier, what, EADDRINUSE);
  }
  std::optional<FdAcceptor> acceptor;
  acceptor.emplace(listen_fd, *server, peers);
  LogDaemon(LogPriority::kNotice, "pvmd ", PVMD_VERSION, " listening on unix:", socket_path,
            *activated ? " (socket activation: accepting on the passed fd)" : "");
  LogDaemon(LogPriority::kInfo, "unix socket access: root", AccessSummary(authorizer.policy()));
  std::string tcp_endpoint;
  if (*tcp) {
    // The port gRPC bound, which is the one to dial when the configuration said 0.
    const absl::string_view host = access::HostOfAddress((*tcp)->address);
    tcp_endpoint = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]:", tcp_port)
                                                : absl::StrCat(host, ":", tcp_port);
    LogDaemon(LogPriority::kNotice, "listening on tcp ", tcp_endpoint, ": ", (*tcp)->description);
  }
  notifier.Ready(absl::StrCat("serving on unix:", socket_path,
                              tcp_endpoint.empty() ? "" : absl::StrCat(" and tcp ", tcp_endpoint),
                              "; module ", module.name, " ", host::ModuleStateName(module.state),
                              "; KVM API ", kvm->capabilities().api_version));

  // The main loop: signals, and the watchdog ping while healthy.
  int signal_number = 0;
  while ((signal_number = WaitForShutdownSignal(shutdown_signals, notifier.watchdog_period())) ==
         0) {
    std::string status;
    if (CheckHealth(*kvm, registry, &status)) {
      notifier.PingWatchdog();
    } else {
      LogDaemon(LogPriority::kError, "unhealthy: ", status, "; the watchdog is not pinged");
    }
    notifier.Status(status);
  }
  LogDaemon(LogPriority::kNotice, "signal ", signal_number, ": shutting down");
  notifier.Stopping(absl::StrCat("stopping on signal ", signal_number, ": deleting every VM"));

  // VMs first: their console streams end, so the server drains quickly.
  registry.DeleteAll();
  acceptor.reset();  // no new connections while the server drains
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!*activated) {
    ::unlink(options.socket_path.c_str());
  }
  LogDaemon(LogPriority::kNotice, "stopped");
  return 0;
}

}  // namespace
}  // namespace pvm

int main(int argc, char** argv) {
  int exit_code = 0;
  absl::StatusOr<pvm::DaemonOptions> options = pvm::ParseDaemonOptions(argc, argv, &exit_code);
  if (!options.ok()) {
    return exit_code;
  }
  return pvm::Run(*options);
}
