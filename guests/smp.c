/* smp: every vCPU counts in its own slot at CPL3 (native).
 * Console per vCPU I: "smp: vcpu I up\n", then "smp: vcpu I at <value>\n"
 * each time its counter reaches a multiple of 2^28. */
#include "runtime/pvm_runtime.h"

#define SMP_REPORT_EVERY (1ull << 28)
#define SMP_SLOT_STRIDE 8 /* 8 x 8 bytes: one cache line per vCPU */

/* vCPU I counts in smp_counters[I * SMP_SLOT_STRIDE]. */
volatile uint64_t smp_counters[PVM_MAX_VCPUS * SMP_SLOT_STRIDE]
    __attribute__((aligned(64)));

void smp_loop(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_count;
  volatile uint64_t *mine = &smp_counters[vcpu_id * SMP_SLOT_STRIDE];
  pvm_printf("smp: vcpu %lu up\n", vcpu_id);
  for (;;) {
    uint64_t value = ++*mine;
    if (value % SMP_REPORT_EVERY == 0)
      pvm_printf("smp: vcpu %lu at %lu\n", vcpu_id, value);
  }
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  pvm_enter_user(smp_loop, vcpu_id, vcpu_count);
}
