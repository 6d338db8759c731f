/* IDT entry points: the 32 exception vectors and the CPL3 service gate.
 *
 * Each entry point is a global symbol whose first instruction is a plain push:
 * the debugger stops the vCPU there with a host execute breakpoint (pvm_exc_db
 * for #DB, pvm_exc_bp for #BP), finds the CPU's exception frame at RSP and may
 * unwind it before the guest has changed anything. Keep it that way.
 *
 * Every entry pushes an error code (a 0 where the CPU pushes none) and the
 * vector, so pvm_trap_common sees one frame layout (struct pvm_trap_frame).
 */
#include "runtime_internal.h"

        .text

.macro TRAP_ENTRY name, vector, cpu_pushes_error_code
        .globl \name
        .type \name, @function
        .balign 16
\name:
.if \cpu_pushes_error_code == 0
        pushq   $0
.endif
        pushq   $\vector
        jmp     pvm_trap_common
        .size \name, . - \name
.endm

        TRAP_ENTRY pvm_exc_de,   0, 0   /* divide error */
        TRAP_ENTRY pvm_exc_db,   1, 0   /* debug */
        TRAP_ENTRY pvm_exc_nmi,  2, 0
        TRAP_ENTRY pvm_exc_bp,   3, 0   /* breakpoint (INT3) */
        TRAP_ENTRY pvm_exc_of,   4, 0   /* overflow (INTO) */
        TRAP_ENTRY pvm_exc_br,   5, 0   /* BOUND range */
        TRAP_ENTRY pvm_exc_ud,   6, 0   /* invalid opcode */
        TRAP_ENTRY pvm_exc_nm,   7, 0   /* device not available */
        TRAP_ENTRY pvm_exc_df,   8, 1   /* double fault */
        TRAP_ENTRY pvm_exc_9,    9, 0   /* coprocessor segment overrun (legacy) */
        TRAP_ENTRY pvm_exc_ts,  10, 1   /* invalid TSS */
        TRAP_ENTRY pvm_exc_np,  11, 1   /* segment not present */
        TRAP_ENTRY pvm_exc_ss,  12, 1   /* stack-segment fault */
        TRAP_ENTRY pvm_exc_gp,  13, 1   /* general protection */
        TRAP_ENTRY pvm_exc_pf,  14, 1   /* page fault */
        TRAP_ENTRY pvm_exc_15,  15, 0   /* reserved */
        TRAP_ENTRY pvm_exc_mf,  16, 0   /* x87 floating point */
        TRAP_ENTRY pvm_exc_ac,  17, 1   /* alignment check */
        TRAP_ENTRY pvm_exc_mc,  18, 0   /* machine check */
        TRAP_ENTRY pvm_exc_xm,  19, 0   /* SIMD floating point */
        TRAP_ENTRY pvm_exc_ve,  20, 0   /* virtualization */
        TRAP_ENTRY pvm_exc_cp,  21, 1   /* control protection */
        TRAP_ENTRY pvm_exc_22,  22, 0   /* reserved */
        TRAP_ENTRY pvm_exc_23,  23, 0
        TRAP_ENTRY pvm_exc_24,  24, 0
        TRAP_ENTRY pvm_exc_25,  25, 0
        TRAP_ENTRY pvm_exc_26,  26, 0
        TRAP_ENTRY pvm_exc_27,  27, 0
        TRAP_ENTRY pvm_exc_hv,  28, 0   /* hypervisor injection */
        TRAP_ENTRY pvm_exc_vc,  29, 1   /* VMM communication */
        TRAP_ENTRY pvm_exc_sx,  30, 1   /* security */
        TRAP_ENTRY pvm_exc_31,  31, 0   /* reserved */

        /* int $PVM_SERVICE_VECTOR from CPL3, where the host delivers it */
        TRAP_ENTRY pvm_service_entry, PVM_SERVICE_VECTOR, 0

/* Saves the general registers as struct pvm_trap_frame, calls pvm_trap(frame)
 * and, if it returns (a service call, or a guest program's own handler), restores
 * them from the frame and returns with IRETQ.
 * The CPU aligned RSP to 16 before pushing its 5-word frame; with the 2 words of
 * the stub and 15 registers RSP is 16-aligned again at the call. */
        .type pvm_trap_common, @function
pvm_trap_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        cld
        mov     %rsp, %rdi
        call    pvm_trap
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp               /* vector and error code */
        iretq
        .size pvm_trap_common, . - pvm_trap_common

        .section .rodata
        .balign 8
        .globl pvm_exception_entries
        .type pvm_exception_entries, @object
pvm_exception_entries:
        .quad pvm_exc_de, pvm_exc_db, pvm_exc_nmi, pvm_exc_bp
        .quad pvm_exc_of, pvm_exc_br, pvm_exc_ud, pvm_exc_nm
        .quad pvm_exc_df, pvm_exc_9, pvm_exc_ts, pvm_exc_np
        .quad pvm_exc_ss, pvm_exc_gp, pvm_exc_pf, pvm_exc_15
        .quad pvm_exc_mf, pvm_exc_ac, pvm_exc_mc, pvm_exc_xm
        .quad pvm_exc_ve, pvm_exc_cp, pvm_exc_22, pvm_exc_23
        .quad pvm_exc_24, pvm_exc_25, pvm_exc_26, pvm_exc_27
        .quad pvm_exc_hv, pvm_exc_vc, pvm_exc_sx, pvm_exc_31
        .size pvm_exception_entries, . - pvm_exception_entries

        .section .note.GNU-stack, "", @progbits
