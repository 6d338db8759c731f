// Turns a failed KVM ioctl into a status that names the ioctl and the errno.
#ifndef PVMD_DAEMON_VMM_KVM_ERROR_H_
#define PVMD_DAEMON_VMM_KVM_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pvm::vmm {

// errno-derived code (e.g. ENOMEM -> RESOURCE_EXHAUSTED), message "what: strerror".
absl::Status ErrnoStatus(int error_number, absl::string_view what);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_KVM_ERROR_H_
