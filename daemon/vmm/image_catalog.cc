#include "daemon/vmm/image_catalog.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pvm::vmm {
namespace {

constexpr char kImageSuffix[] = ".elf";

bool IsPlainName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

absl::StatusOr<std::string> ImageCatalog::Resolve(const std::string& image) const {
  if (image.empty()) {
    return absl::InvalidArgumentError(
        "no image given: name an absolute path to an ELF64 file or builtin:NAME");
  }
  if (absl::StartsWith(image, kBuiltinPrefix)) {
    const std::string name = image.substr(sizeof(kBuiltinPrefix) - 1);
    const std::vector<std::string> known = BuiltinNames();
    if (!IsPlainName(name) || std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no built-in guest named '", name, "'; built-in guests: ", absl::StrJoin(known, ", ")));
    }
    return absl::StrCat(builtin_dir_, "/", name, kImageSuffix);
  }
  if (image.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "image path '", image, "' is relative; pvmd needs an absolute path or builtin:NAME"));
  }
  return image;
}

std::vector<std::string> ImageCatalog::BuiltinNames() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(builtin_dir_, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() == kImageSuffix && IsPlainName(path.stem().string())) {
      names.push_back(path.stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace pvm::vmm
