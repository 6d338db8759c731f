/* ustep: every vCPU runs the stepping loop of step_loop.inc at CPL3, where
 * kvm-pvm runs it natively (no debug exits on this host; on a PVM host with
 * guest-debug support, or VMX/SVM, the same loop gives real ones). Console:
 * "ustep: vcpu I up\n" once per vCPU, then nothing. */
#include "runtime/pvm_runtime.h"

_Noreturn void ustep_enter(uint64_t vcpu_id); /* ustep.S */

static void ustep_user(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_count;
  pvm_printf("ustep: vcpu %lu up\n", vcpu_id);
  ustep_enter(vcpu_id);
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  pvm_enter_user(ustep_user, vcpu_id, vcpu_count);
}
