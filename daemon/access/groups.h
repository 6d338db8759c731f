// Group names from the options resolved to gids once, at start-up: a policy that
// named a group the system does not have would silently grant nothing.
#ifndef PVMD_DAEMON_ACCESS_GROUPS_H_
#define PVMD_DAEMON_ACCESS_GROUPS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/access/access_policy.h"

namespace pvm::access {

// The gid of group `name` (getgrnam_r); NOT_FOUND when there is no such group.
absl::StatusOr<gid_t> LookupGroup(const std::string& name);

struct ResolvedPolicy {
  AccessPolicy policy;
  std::vector<std::string> warnings;  // for the log: groups left out (missing_ok)
};

// Every name resolved; an unknown name is INVALID_ARGUMENT saying which list it is
// in. With `missing_ok` an unknown name is left out with a warning instead: for the
// built-in default ("pvm"), which exists once the package's sysusers.d entry ran but
// not on a development machine, where only root may then call.
absl::StatusOr<ResolvedPolicy> ResolveAccessPolicy(const std::vector<std::string>& groups,
                                                   const std::vector<std::string>& read_only_groups,
                                                   bool missing_ok);

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_GROUPS_H_
