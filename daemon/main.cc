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

#include "absl/strings/str_cat.h"
#include "daemon/api/debug_service.h"
#include "daemon/api/host_service.h"
#include "daemon/api/vm_service.h"
#include "daemon/daemon_options.h"
#include "daemon/debug_config.h"
#include "daemon/fd_acceptor.h"
#include "daemon/host/debug_probe.h"
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

int Run(const DaemonOptions& options) {
  const sigset_t shutdown_signals = BlockShutdownSignals();
  const ServiceNotifier notifier;

  host::ModuleStatus module = host::DetectModule(options.module.name);
  LogDaemon(LogPriority::kInfo, "module ", module.name, ": ", host::ModuleStateName(module.state),
            " (", module.detail, ")");
  absl::StatusOr<vmm::Kvm> kvm = vmm::Kvm::Open(options.kvm_device);
  if (!kvm.ok()) {
    LogDaemon(LogPriority::kError, "cannot use KVM: ", kvm.status().message(),
              "; is the PVM module (", options.module.name, ") loaded?");
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
  const debug::DebugConfig debug_config = DebugConfigFromProbe(debug_caps);

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
  api::DebugServiceImpl debug_service(registry, debug_config);

  // Socket-activated (pvmd.socket): serve the socket systemd listens on, which stays
  // systemd's (no unlink, no chmod). Otherwise listen on --socket ourselves.
  absl::StatusOr<std::optional<ActivatedSocket>> activated = TakeActivatedSocket();
  if (!activated.ok()) {
    LogDaemon(LogPriority::kError, activated.status().message());
    notifier.Failed(std::string(activated.status().message()), EBADF);
    return 1;
  }
  const std::string socket_path = *activated ? (*activated)->path : options.socket_path;
  if (!*activated) {
    if (absl::Status s = PrepareSocketPath(options.socket_path); !s.ok()) {
      LogDaemon(LogPriority::kError, "cannot serve on ", options.socket_path, ": ", s.message());
      notifier.Failed(absl::StrCat("cannot serve on ", options.socket_path, ": ", s.message()),
                      EADDRINUSE);
      return 1;
    }
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!*activated) {
    builder.AddListeningPort("unix:" + options.socket_path, grpc::InsecureServerCredentials());
  }
  builder.RegisterService(&host_service);
  builder.RegisterService(&vm_service);
  builder.RegisterService(&debug_service);
  // The socket must never exist with looser permissions than asked, not even briefly.
  const mode_t old_umask = ::umask(0777 & ~options.socket_mode);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (server == nullptr) {
    LogDaemon(LogPriority::kError, "cannot listen on unix:", socket_path);
    notifier.Failed(absl::StrCat("cannot listen on unix:", socket_path), EADDRINUSE);
    return 1;
  }
  std::optional<FdAcceptor> acceptor;
  if (*activated) {
    acceptor.emplace((*activated)->fd, *server);
  } else if (absl::Status s = SetSocketMode(options.socket_path, options.socket_mode); !s.ok()) {
    LogDaemon(LogPriority::kError, s.message());
    return 1;
  }
  LogDaemon(LogPriority::kNotice, "pvmd ", PVMD_VERSION, " listening on unix:", socket_path,
            *activated ? " (socket activation: accepting on the passed fd)" : "");
  notifier.Ready(absl::StrCat("serving on unix:", socket_path, "; module ", module.name, " ",
                              host::ModuleStateName(module.state), "; KVM API ",
                              kvm->capabilities().api_version));

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
