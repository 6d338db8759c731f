#include "daemon/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace pvm {
namespace {

// A STATUS value is one line: newlines would start new assignments.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

void Notify(const std::string& message) { (void)sd_notify(0, message.c_str()); }

}  // namespace

ServiceNotifier::ServiceNotifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_period_ = std::chrono::microseconds(usec / 2);
  }
}

void ServiceNotifier::Ready(const std::string& status) const {
  Notify(absl::StrCat("READY=1\nSTATUS=", OneLine(status)));
}

void ServiceNotifier::Status(const std::string& status) const {
  Notify(absl::StrCat("STATUS=", OneLine(status)));
}

void ServiceNotifier::Failed(const std::string& status, int error) const {
  Notify(absl::StrCat("STATUS=", OneLine(status), "\nERRNO=", error));
}

void ServiceNotifier::Stopping(const std::string& status) const {
  Notify(absl::StrCat("STOPPING=1\nSTATUS=", OneLine(status)));
}

void ServiceNotifier::PingWatchdog() const { Notify("WATCHDOG=1"); }

}  // namespace pvm
