#include "daemon/access/groups.h"

#include <grp.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::access {
namespace {

// Resolves `names` into `out`; `what` names the option in messages.
absl::Status ResolveList(const std::vector<std::string>& names, const char* what, bool missing_ok,
                         std::vector<Group>* out, std::vector<std::string>* warnings) {
  for (const std::string& name : names) {
    absl::StatusOr<gid_t> gid = LookupGroup(name);
    if (gid.ok()) {
      out->push_back({.name = name, .gid = *gid});
      continue;
    }
    if (gid.status().code() != absl::StatusCode::kNotFound) return gid.status();
    if (!missing_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": there is no group '", name,
                       "' on this system (see getent group; create it or ", "name another)"));
    }
    warnings->push_back(absl::StrCat(what, ": there is no group '", name,
                                     "' on this system; its members get no access (create it, ",
                                     "e.g. with systemd-sysusers or groupadd)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<gid_t> LookupGroup(const std::string& name) {
  long size = sysconf(_SC_GETGR_R_SIZE_MAX);
  std::string buffer(size > 0 ? static_cast<size_t>(size) : 4096, '\0');
  for (;;) {
    group entry{};
    group* result = nullptr;
    const int error = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
    if (error == ERANGE) {
      buffer.resize(buffer.size() * 2);  // a group with many members
      continue;
    }
    if (error != 0) return vmm::ErrnoStatus(error, absl::StrCat("looking up group '", name, "'"));
    if (result == nullptr) return absl::NotFoundError(absl::StrCat("no group '", name, "'"));
    return result->gr_gid;
  }
}

absl::StatusOr<ResolvedPolicy> ResolveAccessPolicy(const std::vector<std::string>& groups,
                                                   const std::vector<std::string>& read_only_groups,
                                                   bool missing_ok) {
  ResolvedPolicy resolved;
  if (absl::Status s = ResolveList(groups, "access.groups (--group)", missing_ok,
                                   &resolved.policy.groups, &resolved.warnings);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ResolveList(read_only_groups, "access.read_only_groups (--read-only-group)", missing_ok,
                      &resolved.policy.read_only_groups, &resolved.warnings);
      !s.ok()) {
    return s;
  }
  return resolved;
}

}  // namespace pvm::access
