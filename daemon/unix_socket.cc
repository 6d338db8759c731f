#include "daemon/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm_error.h"
#include "daemon/vmm/unique_fd.h"

namespace pvm {
namespace {

bool SomeoneListens(const std::string& path) {
  vmm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  return fd.valid() &&
         ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

}  // namespace

absl::Status PrepareSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path '", path, "' is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code error;
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", parent.string(), ": ", error.message()));
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return absl::OkStatus();  // nothing there
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  if (SomeoneListens(path)) {
    return absl::FailedPreconditionError(absl::StrCat("another server already listens on ", path));
  }
  if (::unlink(path.c_str()) != 0) {
    return vmm::ErrnoStatus(errno, absl::StrCat("removing stale socket ", path));
  }
  return absl::OkStatus();
}

absl::Status SetSocketMode(const std::string& path, unsigned mode) {
  if (::chmod(path.c_str(), mode) != 0) {
    return vmm::ErrnoStatus(errno, absl::StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

}  // namespace pvm
