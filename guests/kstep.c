/* kstep: every vCPU runs the stepping loop of step_loop.inc at CPL0, i.e. in
 * kvm-pvm's instruction emulator, where host breakpoints and single steps exit
 * to the VMM. Console: "kstep: vcpu I up\n" once per vCPU, then nothing (an OUT
 * in the loop would add exits between steps). */
#include "runtime/pvm_runtime.h"

_Noreturn void kstep_enter(uint64_t vcpu_id); /* kstep.S */

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_count;
  pvm_printf("kstep: vcpu %lu up\n", vcpu_id);
  kstep_enter(vcpu_id);
}
