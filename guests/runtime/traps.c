/* What the runtime does with a trap: pass a service call on, or report an
 * exception nobody expects and halt the vCPU.
 *
 * The report is one console line:
 *   "guest: exception V at RIP 0xR (vcpu I, cpl C, error 0xE)\n"
 * with V the vector in decimal, R the faulting RIP, C the privilege level the
 * exception came from and E the error code (0 where the CPU pushes none). */
#include "runtime_internal.h"

#define VECTOR_UD 6

void pvm_trap(struct pvm_trap_frame *frame) {
  if (frame->vector == PVM_SERVICE_VECTOR) {
    pvm_serve(frame);
    return;
  }
  if (frame->vector == VECTOR_UD && pvm_serve_failed_int(frame))
    return;
  pvm_printf("guest: exception %lu at RIP 0x%lx (vcpu %lu, cpl %lu, error 0x%lx)\n",
             frame->vector, frame->rip, pvm_vcpu_id(), frame->cs & 3,
             frame->error_code);
  pvm_console_abandon();
  pvm_halt_cpl0();
}
