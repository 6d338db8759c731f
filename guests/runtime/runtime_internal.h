/* Internals shared by the runtime's C and assembly files; not for guest programs.
 *
 * Stacks: each vCPU owns the PVM_BOOT_STACK_SIZE (64 KiB) block below
 * PVM_BOOT_STACK_TOP(mem_size, id). The runtime splits it: the top
 * PVM_KERNEL_STACK_SIZE bytes are the CPL0 stack (the boot stack itself, and
 * TSS.RSP0 for every trap from CPL3), the rest below is the CPL3 stack. Nothing
 * else in guest memory is per-vCPU stack, so a stack pointer names its vCPU.
 */
#ifndef PVM_RUNTIME_INTERNAL_H
#define PVM_RUNTIME_INTERNAL_H

#include "pvm_boot_abi.h"
#include "pvm_runtime.h"

#define PVM_KERNEL_STACK_SIZE 0x4000
#define PVM_USER_STACK_SIZE (PVM_BOOT_STACK_SIZE - PVM_KERNEL_STACK_SIZE)

/* RFLAGS for CPL3: IF set as the measured working setup has it (kvm-pvm runs
 * user code with interrupts on; no interrupt source exists here), IOPL 0 so
 * port I/O is checked against the TSS I/O bitmap. Bit 1 is always 1. */
#define PVM_USER_RFLAGS 0x202

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Guest memory size in bytes as the VMM passed it in RDX; every vCPU stores the
 * same value at entry. */
extern uint64_t pvm_mem_size;

/* entry.S */
_Noreturn void pvm_halt_cpl0(void);
_Noreturn void pvm_iret_to_user(pvm_user_fn fn, uint64_t vcpu_id,
                                uint64_t vcpu_count, uint64_t user_stack_top);
struct pvm_desc_ptr {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));
void pvm_load_cpu_tables(const struct pvm_desc_ptr *gdtr,
                         const struct pvm_desc_ptr *idtr);

/* traps.S: the 32 exception entry points in vector order, and the service gate */
extern const uint64_t pvm_exception_entries[32];
void pvm_service_entry(void);

/* cpu_tables.c */
void pvm_cpu_tables_init(uint64_t vcpu_id);

/* traps.c: called by pvm_trap_common; returns for a service call and after a
 * guest program's own handler (pvm_set_trap_handler) */
void pvm_trap(struct pvm_trap_frame *frame);

/* service.c: runs the service a frame asks for (vector PVM_SERVICE_VECTOR),
 * or completes an `int $PVM_SERVICE_VECTOR` that raised #UD instead (returns
 * 0 if the #UD was something else). */
void pvm_serve(struct pvm_trap_frame *frame);
int pvm_serve_failed_int(struct pvm_trap_frame *frame);

/* console.c: before this vCPU halts for good, release the console lock if an
 * exception interrupted it while holding it. */
void pvm_console_abandon(void);

/* start.c: called by _start at CPL0 on the boot stack */
_Noreturn void pvm_runtime_start(uint64_t vcpu_id, uint64_t vcpu_count);

#endif /* !__ASSEMBLER__ */
#endif /* PVM_RUNTIME_INTERNAL_H */
