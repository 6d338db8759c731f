// Who may call what over the unix socket, as a pure function: the peer's
// credentials (what SO_PEERCRED and SO_PEERGROUPS said at accept) and the method's
// name in, OK or PERMISSION_DENIED with a reason out. No sockets, no group database,
// no gRPC here, so every rule is a unit test away.
#ifndef PVMD_DAEMON_ACCESS_ACCESS_POLICY_H_
#define PVMD_DAEMON_ACCESS_ACCESS_POLICY_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pvm::access {

// The kernel's record of the process that connected, taken when it connected.
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;              // primary group
  std::vector<gid_t> groups;  // supplementary groups
};

struct Group {
  std::string name;
  gid_t gid = 0;
};

// Group names resolved to gids (daemon/access/groups.h) at start-up.
struct AccessPolicy {
  std::vector<Group> groups;            // members may call everything
  std::vector<Group> read_only_groups;  // members may call read-only methods only
};

enum class AccessLevel { kNone, kReadOnly, kFull };

// A method that only reads: its name starts with Get, List or Stream and the next
// letter is upper case ("GetVm", "ListVms", "StreamConsole"; not "Getaway"). The
// API's naming is the contract: a method that changes something never starts so.
bool IsReadOnlyMethod(absl::string_view method);

// uid 0 is full; else the best level any of the peer's gids (primary or
// supplementary) grants.
AccessLevel LevelOf(const AccessPolicy& policy, const PeerCredentials& peer);

// OK when `peer` may call `method` (the bare name, "CreateVm"); PERMISSION_DENIED
// naming the uid and what it lacks otherwise. `read_only`: whether the method only
// reads (IsReadOnlyMethod for pvm.v1; the caller decides for other services).
absl::Status Authorize(const AccessPolicy& policy, const PeerCredentials& peer,
                       absl::string_view method, bool read_only);
inline absl::Status Authorize(const AccessPolicy& policy, const PeerCredentials& peer,
                              absl::string_view method) {
  return Authorize(policy, peer, method, IsReadOnlyMethod(method));
}

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_ACCESS_POLICY_H_
