#include "tests/support/kvm_required.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pvm::testing {

std::string KvmUnavailableReason() {
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return std::string("/dev/kvm cannot be opened: ") + std::strerror(errno);
  }
  close(fd);
  return "";
}

bool RunningUnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace pvm::testing
