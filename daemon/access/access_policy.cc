#include "daemon/access/access_policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pvm::access {
namespace {

bool IsMember(const PeerCredentials& peer, const std::vector<Group>& groups) {
  return std::any_of(groups.begin(), groups.end(), [&](const Group& group) {
    return peer.gid == group.gid ||
           std::find(peer.groups.begin(), peer.groups.end(), group.gid) != peer.groups.end();
  });
}

// "pvm (gid 998), admin (gid 27)"
std::string Names(const std::vector<Group>& groups) {
  return absl::StrJoin(groups, ", ", [](std::string* out, const Group& group) {
    absl::StrAppend(out, group.name, " (gid ", group.gid, ")");
  });
}

// What would let the peer call a method that changes something.
std::string FullAccessNeeds(const AccessPolicy& policy) {
  if (policy.groups.empty()) return "root (no full-access group is configured)";
  return absl::StrCat("root or membership in ", Names(policy.groups));
}

}  // namespace

bool IsReadOnlyMethod(absl::string_view method) {
  for (absl::string_view prefix : {"Get", "List", "Stream"}) {
    if (absl::StartsWith(method, prefix) && method.size() > prefix.size() &&
        absl::ascii_isupper(static_cast<unsigned char>(method[prefix.size()]))) {
      return true;
    }
  }
  return false;
}

AccessLevel LevelOf(const AccessPolicy& policy, const PeerCredentials& peer) {
  if (peer.uid == 0 || IsMember(peer, policy.groups)) return AccessLevel::kFull;
  if (IsMember(peer, policy.read_only_groups)) return AccessLevel::kReadOnly;
  return AccessLevel::kNone;
}

absl::Status Authorize(const AccessPolicy& policy, const PeerCredentials& peer,
                       absl::string_view method, bool read_only) {
  switch (LevelOf(policy, peer)) {
    case AccessLevel::kFull:
      return absl::OkStatus();
    case AccessLevel::kReadOnly:
      if (read_only) return absl::OkStatus();
      return absl::PermissionDeniedError(absl::StrCat(
          "uid ", peer.uid, " may only read (Get*, List*, Stream*) as a member of ",
          Names(policy.read_only_groups), "; ", method, " needs ", FullAccessNeeds(policy)));
    case AccessLevel::kNone:
      break;
  }
  if (policy.groups.empty() && policy.read_only_groups.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("uid ", peer.uid, " may not call ", method,
                     ": only root may (no access group is configured)"));
  }
  std::string needs = read_only && !policy.read_only_groups.empty()
                          ? absl::StrCat(FullAccessNeeds(policy), ", or (to read) in ",
                                         Names(policy.read_only_groups))
                          : FullAccessNeeds(policy);
  return absl::PermissionDeniedError(absl::StrCat("uid ", peer.uid, " may not call ", method,
                                                  ": it is in no allowed group; it needs ", needs));
}

}  // namespace pvm::access
