/* Services of the CPL0 runtime for CPL3 code: `int $PVM_SERVICE_VECTOR` with
 * the service number in RAX.
 *
 * Two ways in, one dispatcher:
 *  - Where the host delivers software interrupts to the guest (VMX/SVM, a PVM
 *    host with full support), the DPL 3 IDT gate takes the call.
 *  - This host's kvm-pvm does not: `int n` at CPL3 raises #UD in the guest with
 *    RIP at the instruction. (SYSCALL is no way out either: it jumps to
 *    IA32_LSTAR but stays at CPL3.) Exceptions do reach the CPL0 handlers, so
 *    the #UD handler recognises the `int $PVM_SERVICE_VECTOR` bytes and
 *    completes the call as the gate would have: RIP past the instruction, then
 *    the same dispatcher, then IRETQ back to CPL3. */
#include "runtime_internal.h"

#define INT_IMM8_OPCODE 0xcd

void pvm_serve(struct pvm_trap_frame *frame) {
  switch (frame->rax) {
  case PVM_SERVICE_HALT:
    pvm_halt_cpl0();
  default:
    frame->rax = (uint64_t)-1;
    return;
  }
}

int pvm_serve_failed_int(struct pvm_trap_frame *frame) {
  if ((frame->cs & 3) != 3 || frame->rip > pvm_mem_size - 2)
    return 0;
  const volatile uint8_t *insn = (const volatile uint8_t *)frame->rip;
  if (insn[0] != INT_IMM8_OPCODE || insn[1] != PVM_SERVICE_VECTOR)
    return 0;
  frame->rip += 2;
  pvm_serve(frame);
  return 1;
}
