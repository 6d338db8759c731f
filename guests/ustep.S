/* ustep's loop: the shared stepping loop (step_loop.inc), run at CPL3, where
 * kvm-pvm executes it natively. */
#include "runtime/pvm_runtime.h"
#include "step_loop.inc"

        STEP_LOOP ustep, uwatch

        .section .note.GNU-stack, "", @progbits
