/* selfdebug's instruction sites: the places its own debug features must hit, as
 * global STT_FUNC symbols sized to one instruction, so selfdebug.c (and a
 * debugger) can name exact addresses. */
#include "runtime/pvm_runtime.h"

/* One labelled instruction: a global STT_FUNC symbol of the instruction's size. */
.macro SITE name:req, insn:vararg
        .globl \name
        .type \name, @function
\name:
        \insn
        .size \name, . - \name
.endm

        .text

/* CPL0: the instruction selfdebug's own DR0 points at. It counts its own
 * executions, so a breakpoint that skipped it (or ran it twice) shows. */
        .globl selfdebug_dr0_run
        .type selfdebug_dr0_run, @function
selfdebug_dr0_run:
        SITE selfdebug_dr0_target, incq selfdebug_dr0_executed(%rip)
        ret
        .size selfdebug_dr0_run, . - selfdebug_dr0_run

/* CPL3: three INT3s. #BP is a trap, so the guest's handler sees RIP one byte
 * past each site and returns there. */
        .globl selfdebug_int3_run
        .type selfdebug_int3_run, @function
selfdebug_int3_run:
        SITE selfdebug_int3_0, int3
        inc     %rax
        SITE selfdebug_int3_1, int3
        inc     %rax
        SITE selfdebug_int3_2, int3
        ret
        .size selfdebug_int3_run, . - selfdebug_int3_run

/* CPL3: sets RFLAGS.TF with POPF. POPF itself does not trap (TF was clear when
 * it began); each of the five instructions selfdebug_tf_0..4 then traps once,
 * with RIP at the next one: selfdebug_tf_1 .. selfdebug_tf_4, selfdebug_tf_end.
 * The guest's #DB handler clears TF in the frame at selfdebug_tf_end. Only
 * caller-saved registers change. */
        .globl selfdebug_tf_run
        .type selfdebug_tf_run, @function
selfdebug_tf_run:
        pushfq
        orq     $0x100, (%rsp)
        popfq
        SITE selfdebug_tf_0, inc %rax
        SITE selfdebug_tf_1, mov %rax, %rcx
        SITE selfdebug_tf_2, lea 8(%rcx), %rdx
        SITE selfdebug_tf_3, xor %esi, %esi
        SITE selfdebug_tf_4, add $0x1234, %rdx
        SITE selfdebug_tf_end, ret
        .size selfdebug_tf_run, . - selfdebug_tf_run

        .bss
        .balign 8
        .globl selfdebug_dr0_executed
        .type selfdebug_dr0_executed, @object
selfdebug_dr0_executed:
        .skip   8
        .size selfdebug_dr0_executed, 8

        .section .note.GNU-stack, "", @progbits
