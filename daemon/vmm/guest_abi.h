// The guest boot contract, for C++: the shared C header in one place.
#ifndef PVMD_DAEMON_VMM_GUEST_ABI_H_
#define PVMD_DAEMON_VMM_GUEST_ABI_H_

#include "guests/runtime/pvm_boot_abi.h"

#endif  // PVMD_DAEMON_VMM_GUEST_ABI_H_
