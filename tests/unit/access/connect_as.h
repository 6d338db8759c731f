// Connections made by another user, for tests of what pvmd reads off a unix socket.
// SO_PEERCRED records the connecting process's credentials at connect(), so the
// only way to get another uid's connection into a test process is to let a child
// with those credentials connect and pass the fd back (SCM_RIGHTS).
#ifndef PVMD_TESTS_UNIT_ACCESS_CONNECT_AS_H_
#define PVMD_TESTS_UNIT_ACCESS_CONNECT_AS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/vmm/unique_fd.h"
#include "tests/support/kvm_required.h"

namespace pvm::testing {

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary
};

struct Connection {
  vmm::UniqueFd fd;
  pid_t pid = 0;  // of the child that connected (exited by now)
};

// A unix stream connection to `path` that a child process running as `who` made.
// connect()'s failure comes back as its errno status (EACCES: the socket file's
// permissions refused `who`). Needs root (setgroups/setgid/setuid).
absl::StatusOr<Connection> ConnectAs(const std::string& path, const Identity& who);

// Empty when this process may change its credentials (root), else why not. Tests
// that need it fail under CI=true (tests run as root there) and skip elsewhere.
std::string RootUnavailableReason();

}  // namespace pvm::testing

// At the top of a test that needs root.
#define PVM_REQUIRE_ROOT()                                                               \
  do {                                                                                   \
    const std::string pvm_root_reason = ::pvm::testing::RootUnavailableReason();         \
    if (!pvm_root_reason.empty()) {                                                      \
      if (::pvm::testing::RunningUnderCi()) FAIL() << "CI=true but " << pvm_root_reason; \
      GTEST_SKIP() << pvm_root_reason;                                                   \
    }                                                                                    \
  } while (0)

#endif  // PVMD_TESTS_UNIT_ACCESS_CONNECT_AS_H_
