// Catching the guest's own exception delivery: on a module that gives no debug exits
// for natively running code, an INT3 or a TF trap there is delivered through the
// guest's IDT, and the handler's first instruction runs at CPL0, which the module
// emulates — so a host execute breakpoint on it stops the vCPU with the CPU's frame
// {rip, cs, rflags, rsp, ss} at RSP. These helpers find the handlers and undo a
// delivery the guest must never see.
#ifndef PVMD_DAEMON_DEBUG_EXCEPTION_INTERCEPT_H_
#define PVMD_DAEMON_DEBUG_EXCEPTION_INTERCEPT_H_

#include <linux/kvm.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/vcpu_fd.h"

namespace pvm::debug {

inline constexpr int kDebugVector = 1;
inline constexpr int kBreakpointVector = 3;

// The entry point of IDT[vector] of a vCPU with these sregs. FAILED_PRECONDITION
// when the IDT cannot deliver it (IDTR too short, gate absent or not a 64-bit
// interrupt/trap gate, table unmapped): then nothing can be intercepted.
absl::StatusOr<uint64_t> IdtHandler(const vmm::GuestMemory& memory, const kvm_sregs& sregs,
                                    int vector);

// The frame the CPU pushed for an exception without error code (#DB, #BP).
struct ExceptionFrame {
  uint64_t rip = 0;
  uint64_t cs = 0;
  uint64_t rflags = 0;
  uint64_t rsp = 0;
  uint64_t ss = 0;
};

absl::StatusOr<ExceptionFrame> ReadExceptionFrame(const vmm::GuestMemory& memory, uint64_t cr3,
                                                  uint64_t rsp);

// The segment register state a load of `selector` from the vCPU's GDT gives.
absl::StatusOr<kvm_segment> SegmentFromGdt(const vmm::GuestMemory& memory, const kvm_sregs& sregs,
                                           uint16_t selector);

// Puts the vCPU back where it was before the exception whose handler entry it is
// stopped at: RIP = frame.rip - rip_back, RSP, RFLAGS (TF cleared when clear_tf),
// CS and SS as the frame names them. Returns the frame.
absl::StatusOr<ExceptionFrame> UnwindException(vmm::VcpuFd& fd, const vmm::GuestMemory& memory,
                                               uint64_t rip_back, bool clear_tf);

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_EXCEPTION_INTERCEPT_H_
