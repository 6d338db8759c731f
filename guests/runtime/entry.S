/* Boot entry and the privilege-level transitions of the guest runtime.
 *
 * The VMM enters _start on every vCPU at CPL0 with RDI = vCPU id, RSI = vCPU
 * count, RDX = memory size and RSP = the top of the vCPU's 64 KiB stack block
 * (pvm_boot_abi.h). Code here runs at CPL0, i.e. in kvm-pvm's instruction
 * emulator, so it is kept short and uses only plain instructions.
 */
#include "runtime_internal.h"

        .section .text.entry, "ax"
        .globl _start
        .type _start, @function
_start:
        /* Ids beyond the runtime's tables must not touch them: halt at once. */
        cmp     $PVM_MAX_VCPUS, %rdi
        jae     pvm_halt_cpl0
        /* Every vCPU stores the same value, so the order does not matter. */
        mov     %rdx, pvm_mem_size(%rip)
        xor     %ebp, %ebp              /* end of the frame-pointer chain */
        call    pvm_runtime_start       /* (vcpu_id, vcpu_count), never returns */
        jmp     pvm_halt_cpl0
        .size _start, . - _start

        .text
/* HLT at CPL0 with interrupts off: KVM_EXIT_HLT, the VMM's "vCPU done". A VMM
 * that runs the vCPU again finds it halting again. */
        .globl pvm_halt_cpl0
        .type pvm_halt_cpl0, @function
pvm_halt_cpl0:
        cli
1:      hlt
        jmp     1b
        .size pvm_halt_cpl0, . - pvm_halt_cpl0

/* void pvm_load_cpu_tables(const struct pvm_desc_ptr *gdtr (RDI),
 *                          const struct pvm_desc_ptr *idtr (RSI))
 * Switches from the VMM's boot GDT to this vCPU's own GDT, reloads every
 * segment register from it, loads the task register and the IDT. */
        .globl pvm_load_cpu_tables
        .type pvm_load_cpu_tables, @function
pvm_load_cpu_tables:
        lgdt    (%rdi)
        mov     $PVM_SEL_KERNEL_DS, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        xor     %eax, %eax
        mov     %eax, %fs
        mov     %eax, %gs
        /* CS can only be reloaded by a far transfer: return to 1f through
         * the new GDT's kernel code selector. */
        pushq   $PVM_SEL_KERNEL_CS
        lea     1f(%rip), %rax
        push    %rax
        lretq
1:      mov     $PVM_SEL_TSS, %eax
        ltr     %ax
        lidt    (%rsi)
        ret
        .size pvm_load_cpu_tables, . - pvm_load_cpu_tables

/* _Noreturn void pvm_iret_to_user(fn (RDI), vcpu_id (RSI), vcpu_count (RDX),
 *                                 user_stack_top (RCX))
 * Drops to CPL3 by IRETQ into fn(vcpu_id, vcpu_count) on the given stack, with
 * pvm_user_return as fn's return address so a returning fn halts the vCPU. */
        .globl pvm_iret_to_user
        .type pvm_iret_to_user, @function
pvm_iret_to_user:
        lea     pvm_user_return(%rip), %rax
        sub     $8, %rcx                /* ABI: RSP+8 is 16-aligned at entry */
        mov     %rax, (%rcx)
        mov     $PVM_SEL_USER_DS, %eax
        mov     %eax, %ds
        mov     %eax, %es
        pushq   $PVM_SEL_USER_DS        /* SS */
        push    %rcx                    /* RSP */
        pushq   $PVM_USER_RFLAGS        /* RFLAGS */
        pushq   $PVM_SEL_USER_CS        /* CS */
        push    %rdi                    /* RIP */
        mov     %rsi, %rdi
        mov     %rdx, %rsi
        /* Hand no kernel values to user code. */
        xor     %eax, %eax
        xor     %ebx, %ebx
        xor     %ecx, %ecx
        xor     %edx, %edx
        xor     %ebp, %ebp
        xor     %r8d, %r8d
        xor     %r9d, %r9d
        xor     %r10d, %r10d
        xor     %r11d, %r11d
        xor     %r12d, %r12d
        xor     %r13d, %r13d
        xor     %r14d, %r14d
        xor     %r15d, %r15d
        iretq
        .size pvm_iret_to_user, . - pvm_iret_to_user

/* CPL3: where a user function returns to. Asks CPL0 to halt this vCPU. */
        .globl pvm_user_return
        .type pvm_user_return, @function
pvm_user_return:
        mov     $PVM_SERVICE_HALT, %eax
        int     $PVM_SERVICE_VECTOR
        jmp     pvm_user_return
        .size pvm_user_return, . - pvm_user_return

        .section .note.GNU-stack, "", @progbits
