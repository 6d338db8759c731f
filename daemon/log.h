// One line per event on stderr with a syslog priority prefix ("<6>"), which
// journald turns into the entry's priority; plain and readable on a terminal too.
#ifndef PVMD_DAEMON_LOG_H_
#define PVMD_DAEMON_LOG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pvm {

enum class LogPriority { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

void LogLine(LogPriority priority, const std::string& line);

// "vm-7: created from builtin:hello with 1 vCPU(s)"
template <typename... Args>
void LogInfo(const std::string& vm_name, const Args&... args) {
  LogLine(LogPriority::kInfo, absl::StrCat(vm_name, ": ", args...));
}

template <typename... Args>
void LogDaemon(LogPriority priority, const Args&... args) {
  LogLine(priority, absl::StrCat(args...));
}

// A request pvmd refused, with the status the client got.
void LogRefused(const std::string& what, const std::string& vm_name, const absl::Status& status);

}  // namespace pvm

#endif  // PVMD_DAEMON_LOG_H_
