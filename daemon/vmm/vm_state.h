// The VM lifecycle as a table: which request is legal in which state.
#ifndef PVMD_DAEMON_VMM_VM_STATE_H_
#define PVMD_DAEMON_VMM_VM_STATE_H_

#include "absl/status/status.h"

namespace pvm::vmm {

enum class VmState { kCreated, kRunning, kPaused, kStopped, kFailed };

enum class VmRequest { kStart, kPause, kResume };

const char* VmStateName(VmState state);

// OK when `request` may be made in `state`, else FAILED_PRECONDITION saying why.
absl::Status CheckRequest(VmState state, VmRequest request);

// The state a legal request leads to.
VmState StateAfter(VmRequest request);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_VM_STATE_H_
