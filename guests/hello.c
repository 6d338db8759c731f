/* hello: vCPU 0 prints one line from CPL3 and halts; other vCPUs halt silently.
 *   "hello from pvm guest: vcpu 0 of N, cpl 3\n"   (N = vCPU count) */
#include "runtime/pvm_runtime.h"

void hello_user(uint64_t vcpu_id, uint64_t vcpu_count) {
  /* The CPL comes from CS right here, so the line proves where it ran. */
  pvm_printf("hello from pvm guest: vcpu %lu of %lu, cpl %u\n", vcpu_id,
             vcpu_count, pvm_cpl());
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  if (vcpu_id == 0)
    pvm_enter_user(hello_user, vcpu_id, vcpu_count);
}
