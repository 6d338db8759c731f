#include "daemon/host/module_loader.h"

#include <libkmod.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace pvm::host {
namespace {

struct CtxDeleter {
  void operator()(kmod_ctx* ctx) const { kmod_unref(ctx); }
};
struct ListDeleter {
  void operator()(kmod_list* list) const { kmod_module_unref_list(list); }
};
struct ModDeleter {
  void operator()(kmod_module* mod) const { kmod_module_unref(mod); }
};

std::string KernelRelease() {
  utsname uts{};
  return uname(&uts) == 0 ? uts.release : "this kernel";
}

// For systemd's ERRNO=, from what the insert said.
int ErrnoOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kPermissionDenied:
      return EPERM;
    case absl::StatusCode::kInvalidArgument:
      return EINVAL;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    default:
      return EIO;
  }
}

// A module that is already in the kernel gets no parameters from pvmd: say so rather
// than let someone believe they were applied.
std::string UnappliedParameters(const ModuleRequest& request, const ModuleStatus& status) {
  if (request.parameters.empty()) return "";
  return absl::StrCat(
      "; module.parameters '", request.parameters, "' not applied (",
      status.state == ModuleState::kBuiltin
          ? absl::StrCat("give them on the kernel command line as ", status.name, ".NAME=VALUE")
          : "unload the module, or set them in modprobe.d",
      ")");
}

}  // namespace

std::string SysfsModuleName(const std::string& name) {
  std::string sysfs = name;
  std::replace(sysfs.begin(), sysfs.end(), '-', '_');
  return sysfs;
}

absl::Status InsertWithLibkmod(const std::string& name, const std::string& parameters) {
  std::unique_ptr<kmod_ctx, CtxDeleter> ctx(kmod_new(nullptr, nullptr));
  if (ctx == nullptr) {
    return absl::UnavailableError("libkmod cannot start (kmod_new failed)");
  }
  const std::string where =
      absl::StrCat(kmod_get_dirname(ctx.get()), " (kernel ", KernelRelease(), ")");
  kmod_list* raw_list = nullptr;
  if (int err = kmod_module_new_from_lookup(ctx.get(), name.c_str(), &raw_list); err < 0) {
    return absl::InternalError(
        absl::StrCat("libkmod cannot look up ", name, " in ", where, ": ", std::strerror(-err)));
  }
  std::unique_ptr<kmod_list, ListDeleter> list(raw_list);
  if (list == nullptr) {
    return absl::NotFoundError(absl::StrCat("no module ", name, " in ", where));
  }
  int err = -ENOENT;
  kmod_list* entry = nullptr;
  kmod_list_foreach(entry, list.get()) {
    std::unique_ptr<kmod_module, ModDeleter> mod(kmod_module_get_module(entry));
    err = kmod_module_probe_insert_module(mod.get(), KMOD_PROBE_IGNORE_COMMAND,
                                          parameters.empty() ? nullptr : parameters.c_str(),
                                          nullptr, nullptr, nullptr);
    if (err == 0) return absl::OkStatus();
  }
  const std::string reason =
      absl::StrCat("inserting ", name, " from ", where, ": ", std::strerror(-err));
  switch (-err) {
    case EPERM:
      return absl::PermissionDeniedError(absl::StrCat(
          reason, " (loading needs CAP_SYS_MODULE and a kernel that allows module loading)"));
    case ENOENT:
      return absl::NotFoundError(reason);
    case EINVAL:
      return absl::InvalidArgumentError(
          absl::StrCat(reason, " (an unknown or malformed parameter? see the kernel log)"));
    case EEXIST:
      return absl::AlreadyExistsError(reason);
    default:
      return absl::InternalError(reason);
  }
}

ModuleStatus EnsureModule(const ModuleRequest& request, const InsertModule& insert,
                          const std::string& sysfs_root) {
  const std::string name = SysfsModuleName(request.name);
  ModuleStatus status = DetectModule(name, sysfs_root);
  status.requested_parameters = request.parameters;
  switch (status.state) {
    case ModuleState::kBuiltin:
      status.action = absl::StrCat("built in, nothing to do", UnappliedParameters(request, status));
      return status;
    case ModuleState::kLoaded:
      status.action =
          absl::StrCat("already loaded, nothing to do", UnappliedParameters(request, status));
      return status;
    case ModuleState::kAbsent:
    case ModuleState::kLoadFailed:
      break;
  }
  if (!request.load) {
    status.action = "absent; not loading it (module.load is false)";
    return status;
  }
  // ALREADY_EXISTS: someone else (udev, modprobe) inserted it meanwhile; sysfs says
  // whether it is usable now.
  const absl::Status inserted = insert(name, request.parameters);
  if (!inserted.ok() && !absl::IsAlreadyExists(inserted)) {
    status.state = ModuleState::kLoadFailed;
    status.action = absl::StrCat("load failed: ", inserted.message());
    status.load_errno = ErrnoOf(inserted);
    return status;
  }
  ModuleStatus after = DetectModule(name, sysfs_root);
  after.requested_parameters = request.parameters;
  if (after.state != ModuleState::kLoaded && after.state != ModuleState::kBuiltin) {
    after.state = ModuleState::kLoadFailed;
    after.action = absl::StrCat("load failed: the insert returned, but ", after.detail);
    after.load_errno = ENODEV;
    return after;
  }
  after.loaded_by_pvmd = inserted.ok();
  if (!inserted.ok()) {
    after.action = "loaded meanwhile by someone else, nothing to do";
  } else if (request.parameters.empty()) {
    after.action = "loaded";
  } else {
    after.action = absl::StrCat("loaded with parameters '", request.parameters, "'");
  }
  return after;
}

}  // namespace pvm::host
