/* kcounter: the counter loop kept at CPL0, so kvm-pvm runs it in its
 * instruction emulator (the debugger's emulated path). vCPU 0 only.
 * Console: "kcounter: start\n", then "kcounter: <value>\n" each time
 * counter_value reaches a multiple of 2^14 (a few times a second emulated). */
#include "runtime/pvm_runtime.h"

#define KCOUNTER_REPORT_EVERY (1ull << 14)

/* In memory (volatile) so the debugger and tests can read and watch it; alone on
 * the watch page with counter_neighbour, which the guest never touches: a watch on
 * the neighbour sees every increment exit and must never fire. */
PVM_WATCH_PAGE volatile uint64_t counter_value;
PVM_WATCH_PAGE volatile uint64_t counter_neighbour;

__attribute__((noinline)) void kcounter_loop(void) {
  pvm_puts("kcounter: start\n");
  for (;;) {
    uint64_t value = ++counter_value;
    if (value % KCOUNTER_REPORT_EVERY == 0)
      pvm_printf("kcounter: %lu\n", value);
  }
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_count;
  if (vcpu_id == 0)
    kcounter_loop();
}
