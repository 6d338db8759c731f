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

absl::StatusOr<vmm::UniqueFd> ListenOnUnixSocket(const std::string& path, unsigned mode) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path '", path, "' is longer than ",
                                                   sizeof(address.sun_path) - 1, " bytes"));
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  vmm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return vmm::ErrnoStatus(errno, "socket(AF_UNIX)");
  // The umask is the process's, but nothing else creates files while pvmd starts.
  const mode_t old_umask = ::umask(0777 & ~mode);
  const int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  const int bind_errno = errno;
  ::umask(old_umask);
  if (bound != 0) return vmm::ErrnoStatus(bind_errno, absl::StrCat("bind ", path));
  // The umask cannot add bits (setgid, sticky) or keep ones it masks: say it exactly.
  if (::chmod(path.c_str(), mode) != 0)
    return vmm::ErrnoStatus(errno, absl::StrCat("chmod ", path));
  if (::listen(fd.get(), SOMAXCONN) != 0) {
    return vmm::ErrnoStatus(errno, absl::StrCat("listen ", path));
  }
  return fd;
}

absl::Status SetSocketGroup(const std::string& path, gid_t gid) {
  if (::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return vmm::ErrnoStatus(errno, absl::StrCat("chown ", path, " to gid ", gid));
  }
  return absl::OkStatus();
}

}  // namespace pvm
