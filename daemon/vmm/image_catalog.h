// Resolves what a client names as a guest image: "builtin:NAME" from the daemon's
// guest directory, or an absolute path.
#ifndef PVMD_DAEMON_VMM_IMAGE_CATALOG_H_
#define PVMD_DAEMON_VMM_IMAGE_CATALOG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pvm::vmm {

inline constexpr char kBuiltinPrefix[] = "builtin:";

class ImageCatalog {
 public:
  explicit ImageCatalog(std::string builtin_dir) : builtin_dir_(std::move(builtin_dir)) {}

  // The file to read; INVALID_ARGUMENT for an unknown built-in, a name that tries to
  // leave the guest directory, or a relative path.
  absl::StatusOr<std::string> Resolve(const std::string& image) const;
  // Built-in guest names present in the directory, sorted.
  std::vector<std::string> BuiltinNames() const;
  const std::string& builtin_dir() const { return builtin_dir_; }

 private:
  std::string builtin_dir_;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_IMAGE_CATALOG_H_
