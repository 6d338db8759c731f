/* What the runtime does with a trap: pass a service call on, hand an exception
 * to the guest program's own handler if it installed one, or report an
 * exception nobody expects and halt the vCPU.
 *
 * The report is one console line:
 *   "guest: exception V at RIP 0xR (vcpu I, cpl C, error 0xE)\n"
 * with V the vector in decimal, R the faulting RIP, C the privilege level the
 * exception came from and E the error code (0 where the CPU pushes none). */
#include "runtime_internal.h"

#define VECTOR_UD 6
#define EXCEPTION_VECTORS 32

/* Shared by every vCPU; written at CPL0 before the vector can occur, read with
 * acquire so a handler installed on one vCPU is seen whole on another. */
static pvm_trap_handler handlers[EXCEPTION_VECTORS];

void pvm_set_trap_handler(unsigned vector, pvm_trap_handler fn) {
  if (vector < EXCEPTION_VECTORS)
    __atomic_store_n(&handlers[vector], fn, __ATOMIC_RELEASE);
}

void pvm_trap(struct pvm_trap_frame *frame) {
  if (frame->vector == PVM_SERVICE_VECTOR) {
    pvm_serve(frame);
    return;
  }
  if (frame->vector == VECTOR_UD && pvm_serve_failed_int(frame))
    return;
  if (frame->vector < EXCEPTION_VECTORS) {
    pvm_trap_handler fn =
        __atomic_load_n(&handlers[frame->vector], __ATOMIC_ACQUIRE);
    if (fn) {
      fn(frame);
      return;
    }
  }
  pvm_printf("guest: exception %lu at RIP 0x%lx (vcpu %lu, cpl %lu, error 0x%lx)\n",
             frame->vector, frame->rip, pvm_vcpu_id(), frame->cs & 3,
             frame->error_code);
  pvm_console_abandon();
  pvm_halt_cpl0();
}
