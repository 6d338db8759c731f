/* fault: vCPU 0 ends the VM in a triple fault (KVM_EXIT_SHUTDOWN); other vCPUs
 * halt. Console: "fault: about to triple fault\n".
 *
 * With an empty IDT no exception can be delivered: the first one escalates to
 * a double fault, which cannot be delivered either, which is a triple fault. */
#include "runtime/pvm_runtime.h"

__attribute__((noinline)) _Noreturn void fault_triple(void) {
  static const struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) empty_idt = {0, 0};
  __asm__ volatile("lidt %0" : : "m"(empty_idt));
  for (;;)
    __asm__ volatile("ud2");
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_count;
  if (vcpu_id == 0) {
    pvm_puts("fault: about to triple fault\n");
    fault_triple();
  }
}
