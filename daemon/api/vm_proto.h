// VM snapshots as pvm.v1 messages.
#ifndef PVMD_DAEMON_API_VM_PROTO_H_
#define PVMD_DAEMON_API_VM_PROTO_H_

#include "daemon/vmm/vm.h"
#include "pvm/v1/vm.pb.h"

namespace pvm::api {

void ToProto(const vmm::VmSnapshot& snapshot, pvm::v1::Vm* out);

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_VM_PROTO_H_
