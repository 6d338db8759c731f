// The debug engine's values as pvm.v1 messages, and requests back into the engine's
// vocabulary. No behaviour here: DebugServiceImpl validates and calls the engine.
#ifndef PVMD_DAEMON_API_DEBUG_PROTO_H_
#define PVMD_DAEMON_API_DEBUG_PROTO_H_

#include <linux/kvm.h>

#include <string>

#include "absl/status/statusor.h"
#include "daemon/debug/debug_event.h"
#include "daemon/debug/debug_types.h"
#include "pvm/v1/debug.pb.h"

namespace pvm::api {

void ToProto(const std::string& vm_name, const debug::DebugStateInfo& state,
             pvm::v1::DebugState* out);
void ToProto(const debug::BreakpointInfo& breakpoint, pvm::v1::Breakpoint* out);
void ToProto(const debug::StepResult& step, pvm::v1::StepResponse* out);
void ToProto(const kvm_regs& regs, pvm::v1::GeneralRegisters* out);
void ToProto(const kvm_sregs& sregs, pvm::v1::SpecialRegisters* out);
void ToProto(const kvm_debugregs& debugregs, pvm::v1::DebugRegisters* out);
// `vm_name` goes into every event: a subscriber of several VMs can tell them apart.
void ToProto(const std::string& vm_name, const debug::DebugEvent& event, pvm::v1::DebugEvent* out);

pvm::v1::StopMode ToProto(debug::StopMode mode);
pvm::v1::BreakpointKind ToProto(debug::BreakpointKind kind);
pvm::v1::EventKind ToProto(debug::EventKind kind);

// UNSPECIFIED is the documented default (all-stop, exec, virtual); a number this
// daemon does not know is INVALID_ARGUMENT.
absl::StatusOr<debug::StopMode> FromProto(pvm::v1::StopMode mode);
absl::StatusOr<debug::BreakpointKind> FromProto(pvm::v1::BreakpointKind kind);
absl::StatusOr<debug::AddressSpace> FromProto(pvm::v1::AddressSpace space);

// The fields set in `general`, in kvm_regs order; the others stay unset.
debug::RegisterChange ToRegisterChange(const pvm::v1::GeneralRegisters& general);

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_DEBUG_PROTO_H_
