/* The C half of boot: per-vCPU tables, then the guest program. */
#include "runtime_internal.h"

uint64_t pvm_mem_size;

_Noreturn void pvm_runtime_start(uint64_t vcpu_id, uint64_t vcpu_count) {
  pvm_cpu_tables_init(vcpu_id);
  pvm_main(vcpu_id, vcpu_count);
  pvm_halt();
}
