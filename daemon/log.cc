#include "daemon/log.h"

#include <cstdio>

namespace pvm {

void LogLine(LogPriority priority, const std::string& line) {
  // One fprintf per line so lines from different threads never interleave.
  std::fprintf(stderr, "<%d>%s\n", static_cast<int>(priority), line.c_str());
}

void LogRefused(const std::string& what, const std::string& vm_name, const absl::Status& status) {
  LogLine(LogPriority::kNotice,
          absl::StrCat("refused ", what, " of '", vm_name,
                       "': ", absl::StatusCodeToString(status.code()), ": ", status.message()));
}

}  // namespace pvm
