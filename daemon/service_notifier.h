// What pvmd tells its service manager (sd_notify): READY=1 once it serves, STATUS=
// lines a person can read, WATCHDOG=1 pings while healthy, STOPPING=1 on shutdown.
// Without NOTIFY_SOCKET (not started by systemd) every call does nothing.
#ifndef PVMD_DAEMON_SERVICE_NOTIFIER_H_
#define PVMD_DAEMON_SERVICE_NOTIFIER_H_

#include <chrono>
#include <optional>
#include <string>

namespace pvm {

class ServiceNotifier {
 public:
  ServiceNotifier();

  void Ready(const std::string& status) const;
  void Status(const std::string& status) const;
  // A start-up failure: the status, and errno for `systemctl status`.
  void Failed(const std::string& status, int error) const;
  void Stopping(const std::string& status) const;
  void PingWatchdog() const;

  // How often to ping: half of WatchdogSec, or nothing when the manager set none.
  std::optional<std::chrono::microseconds> watchdog_period() const { return watchdog_period_; }

 private:
  std::optional<std::chrono::microseconds> watchdog_period_;
};

}  // namespace pvm

#endif  // PVMD_DAEMON_SERVICE_NOTIFIER_H_
