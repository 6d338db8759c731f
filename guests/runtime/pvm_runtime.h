/* The guest runtime's interface for the built-in guest programs.
 *
 * A guest program defines pvm_main(); the runtime's entry (entry.S) sets up this
 * vCPU's GDT, TSS and the IDT, then calls pvm_main() at CPL0. When pvm_main()
 * returns, the vCPU halts. Code that should run natively on kvm-pvm (anything
 * hot) must run at CPL3: pvm_enter_user() drops there.
 */
#ifndef PVM_RUNTIME_H
#define PVM_RUNTIME_H

/* vCPUs with an id at or above this halt at once without touching any table. */
#define PVM_MAX_VCPUS 64

/* Services of the CPL0 runtime for CPL3 code: `int $PVM_SERVICE_VECTOR` with
 * the service number in RAX; RAX holds the result, other registers are kept.
 * An unknown service returns (uint64_t)-1. See service.c for how the call
 * reaches CPL0 on this host's kvm-pvm. */
#define PVM_SERVICE_VECTOR 0x80
#define PVM_SERVICE_HALT 0 /* halt this vCPU; does not return */

/* Puts a variable on the image's watch page: a 4 KiB page (guest.ld) that holds
 * nothing but such variables, so a debugger that watches one of them by
 * write-protecting or unmapping the page traps no other data, stack or table. */
#define PVM_WATCH_PAGE __attribute__((section(".watch_page"), aligned(8)))

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Defined by each guest program. Runs at CPL0 (emulated on kvm-pvm). */
void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count);

typedef void (*pvm_user_fn)(uint64_t vcpu_id, uint64_t vcpu_count);

/* Drops this vCPU to CPL3 and calls fn(vcpu_id, vcpu_count) on its own user
 * stack. If fn returns, the vCPU halts. CPL0 only. */
_Noreturn void pvm_enter_user(pvm_user_fn fn, uint64_t vcpu_id, uint64_t vcpu_count);

/* Ends this vCPU (HLT at CPL0, i.e. KVM_EXIT_HLT). Works at CPL0 and CPL3: at
 * CPL3 it asks the CPL0 runtime with PVM_SERVICE_HALT. */
_Noreturn void pvm_halt(void);

/* The current privilege level, read from CS. */
unsigned pvm_cpl(void);

/* This vCPU's id, derived from the stack pointer: every stack this runtime
 * uses lies in the vCPU's own boot stack block (see pvm_boot_abi.h). */
uint64_t pvm_vcpu_id(void);

/* The register state at an exception, as the runtime's trap entry saved it,
 * lowest address first: the general registers, the vector and error code (0
 * where the CPU pushes none), then the CPU's own frame. */
struct pvm_trap_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;
};

/* A guest program's own exception handler. It runs at CPL0 with interrupts off
 * on the CPL0 stack; when it returns, the runtime restores the (possibly
 * changed) frame and returns to frame->rip with IRETQ. */
typedef void (*pvm_trap_handler)(struct pvm_trap_frame *frame);

/* Installs fn for exception `vector` (0..31) on every vCPU; NULL restores the
 * default (report the exception and halt the vCPU). The CPL3 service call keeps
 * precedence over a #UD handler. CPL0 only; install before the vector can
 * occur. */
void pvm_set_trap_handler(unsigned vector, pvm_trap_handler fn);

/* Console on PVM_CONSOLE_PORT, usable at CPL0 and CPL3. Each call holds the
 * console lock for its whole output, so lines from several vCPUs never
 * interleave as long as each line is printed by one call.
 * Formats: %s %c %u %x %lu %lx %% (hex without a 0x prefix, lowercase). */
void pvm_puts(const char *s);
void pvm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* !__ASSEMBLER__ */
#endif /* PVM_RUNTIME_H */
