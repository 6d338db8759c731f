/* kstep's loop: the shared stepping loop (step_loop.inc), run at CPL0, where
 * kvm-pvm executes it in its instruction emulator. */
#include "runtime/pvm_runtime.h"
#include "step_loop.inc"

        STEP_LOOP kstep, kwatch

        .section .note.GNU-stack, "", @progbits
