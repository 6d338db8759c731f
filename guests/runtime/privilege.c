/* Privilege-level helpers: which level and vCPU we are on, dropping to CPL3,
 * and halting from either level. */
#include "runtime_internal.h"

unsigned pvm_cpl(void) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  return cs & 3;
}

uint64_t pvm_vcpu_id(void) {
  uint64_t rsp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
  return (pvm_mem_size - 1 - rsp) / PVM_BOOT_STACK_SIZE;
}

_Noreturn void pvm_enter_user(pvm_user_fn fn, uint64_t vcpu_id,
                              uint64_t vcpu_count) {
  uint64_t user_stack_top =
      PVM_BOOT_STACK_TOP(pvm_mem_size, vcpu_id) - PVM_KERNEL_STACK_SIZE;
  pvm_iret_to_user(fn, vcpu_id, vcpu_count, user_stack_top);
}

_Noreturn void pvm_halt(void) {
  if (pvm_cpl() == 0)
    pvm_halt_cpl0();
  for (;;) {
    uint64_t service = PVM_SERVICE_HALT;
    __asm__ volatile("int %[vector]"
                     : "+a"(service)
                     : [vector] "i"(PVM_SERVICE_VECTOR)
                     : "memory");
  }
}
