/* counter: vCPU 0 counts at CPL3, where kvm-pvm runs it natively; the other
 * vCPUs halt. Console: "counter: start\n", then "counter: <value>\n" each time
 * counter_value reaches a multiple of 2^28 (about every second natively). */
#include "runtime/pvm_runtime.h"

#define COUNTER_REPORT_EVERY (1ull << 28)

/* In memory (volatile) so the debugger and tests can read and watch it; alone on
 * the watch page with counter_neighbour, which the guest never touches: a watch on
 * the neighbour sees every increment exit and must never fire. */
PVM_WATCH_PAGE volatile uint64_t counter_value;
PVM_WATCH_PAGE volatile uint64_t counter_neighbour;

void counter_loop(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_id;
  (void)vcpu_count;
  pvm_puts("counter: start\n");
  for (;;) {
    uint64_t value = ++counter_value;
    if (value % COUNTER_REPORT_EVERY == 0)
      pvm_printf("counter: %lu\n", value);
  }
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  if (vcpu_id == 0)
    pvm_enter_user(counter_loop, vcpu_id, vcpu_count);
}
