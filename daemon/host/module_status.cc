#include "daemon/host/module_status.h"

#include <libkmod.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace pvm::host {
namespace {

namespace fs = std::filesystem;

std::string ReadTrimmed(const fs::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return std::string(absl::StripAsciiWhitespace(text));
}

std::vector<std::pair<std::string, std::string>> ReadParameters(const fs::path& module_dir) {
  std::vector<std::pair<std::string, std::string>> parameters;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(module_dir / "parameters", error)) {
    parameters.emplace_back(entry.path().filename().string(), ReadTrimmed(entry.path()));
  }
  std::sort(parameters.begin(), parameters.end());
  return parameters;
}

// libkmod's view, for the detail line only.
std::string KmodOpinion(const std::string& name) {
  struct CtxDeleter {
    void operator()(kmod_ctx* ctx) const { kmod_unref(ctx); }
  };
  struct ModDeleter {
    void operator()(kmod_module* mod) const { kmod_module_unref(mod); }
  };
  std::unique_ptr<kmod_ctx, CtxDeleter> ctx(kmod_new(nullptr, nullptr));
  if (ctx == nullptr) {
    return "libkmod unavailable";
  }
  kmod_module* raw = nullptr;
  if (kmod_module_new_from_name(ctx.get(), name.c_str(), &raw) < 0) {
    return "libkmod does not know the module";
  }
  std::unique_ptr<kmod_module, ModDeleter> mod(raw);
  const int initstate = kmod_module_get_initstate(mod.get());
  if (initstate < 0) {
    return "libkmod: not present";
  }
  return absl::StrCat("libkmod: ",
                      kmod_module_initstate_str(static_cast<kmod_module_initstate>(initstate)));
}

}  // namespace

const char* ModuleStateName(ModuleState state) {
  switch (state) {
    case ModuleState::kBuiltin:
      return "built-in";
    case ModuleState::kLoaded:
      return "loaded";
    case ModuleState::kAbsent:
      return "absent";
    case ModuleState::kLoadFailed:
      return "load failed";
  }
  return "unknown";
}

ModuleStatus DetectModule(const std::string& name, const std::string& sysfs_root) {
  ModuleStatus status;
  status.name = name;
  const fs::path module_dir = fs::path(sysfs_root) / "module" / name;
  std::error_code error;
  const std::string kmod = sysfs_root == "/sys" ? KmodOpinion(name) : "libkmod not asked";
  if (!fs::is_directory(module_dir, error)) {
    status.state = ModuleState::kAbsent;
    status.detail = absl::StrCat(module_dir.string(), " does not exist (", kmod, ")");
    return status;
  }
  status.parameters = ReadParameters(module_dir);
  const fs::path initstate = module_dir / "initstate";
  if (!fs::exists(initstate, error)) {
    status.state = ModuleState::kBuiltin;
    status.detail = absl::StrCat(module_dir.string(), " exists without initstate (", kmod, ")");
    return status;
  }
  const std::string state = ReadTrimmed(initstate);
  status.state = state == "live" ? ModuleState::kLoaded : ModuleState::kAbsent;
  status.detail = absl::StrCat(initstate.string(), " says '", state, "' (", kmod, ")");
  return status;
}

}  // namespace pvm::host
