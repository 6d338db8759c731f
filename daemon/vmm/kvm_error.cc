#include "daemon/vmm/kvm_error.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace pvm::vmm {

absl::Status ErrnoStatus(int error_number, absl::string_view what) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, ": ", std::strerror(error_number)));
}

}  // namespace pvm::vmm
