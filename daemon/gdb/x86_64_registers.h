// The register file pvmd shows gdb: an x86-64 target description (qXfer:features)
// and the g/G/p/P encodings in its order. General registers, RIP, EFLAGS and the
// segment selectors come from KVM_GET_REGS/KVM_GET_SREGS; fs_base, gs_base and the
// control registers from the sregs too. The x87 and SSE registers are in the
// description, because gdb's amd64 architecture requires them, and reported
// unavailable: the debug engine does not read the FPU.
#ifndef PVMD_DAEMON_GDB_X86_64_REGISTERS_H_
#define PVMD_DAEMON_GDB_X86_64_REGISTERS_H_

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "daemon/debug/debug_types.h"

namespace pvm::gdb {

// The annex gdb asks for (qXfer:features:read:target.xml) and its text.
inline constexpr std::string_view kTargetXmlAnnex = "target.xml";
std::string_view TargetXml();

inline constexpr uint32_t kRegisterCount = 65;
inline constexpr uint32_t kRipRegister = 16;

// The g reply: every register in description order, little-endian hex, "xx" for
// each byte of an unavailable register.
std::string EncodeRegisters(const kvm_regs& regs, const kvm_sregs& sregs);
// The p reply for one register; NOT_FOUND past the last.
absl::StatusOr<std::string> EncodeRegister(uint32_t number, const kvm_regs& regs,
                                           const kvm_sregs& sregs);

// A P write: only the general registers, RIP and EFLAGS can be written
// (FAILED_PRECONDITION for the rest, INVALID_ARGUMENT for a wrong size).
absl::StatusOr<debug::RegisterChange> DecodeRegisterWrite(uint32_t number, std::string_view bytes);
// A G write (the whole g layout, decoded): the writable registers taken from it. The
// others must hold what `regs`/`sregs` hold, or the write is refused rather than
// half applied; unavailable ones are ignored.
absl::StatusOr<debug::RegisterChange> DecodeRegistersWrite(std::string_view bytes,
                                                           const kvm_regs& regs,
                                                           const kvm_sregs& sregs);

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_X86_64_REGISTERS_H_
