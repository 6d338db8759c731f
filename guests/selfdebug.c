/* selfdebug: a guest that uses x86 debug features for itself, with its own #BP
 * and #DB handlers, and reports what it saw. With host guest debugging off a VM
 * must behave as if no debugger existed, so the line below is exact: a debugger
 * that swallowed a guest event lowers a count, one that duplicated or invented
 * an event raises it or adds a line.
 *
 * vCPU 0 only (others halt silently):
 *   (b) CPL0 (emulated): its own DR0 on selfdebug_dr0_target, DR7 L0 exec,
 *       executes that instruction twice; #DB with DR6.B0 each time;
 *   (a) CPL3 (native): INT3 at selfdebug_int3_0..2; #BP each time;
 *   (c) CPL3 (native): RFLAGS.TF over selfdebug_tf_0..4; #DB with DR6.BS after
 *       each of the five.
 * Console, when every event arrived once, in order, where expected:
 *   "selfdebug: int3 3/3, dr0 2/2, tf 5/5\nselfdebug: done\n"
 * Anything else adds a line "selfdebug: unexpected ..." before the summary. */
#include "runtime/pvm_runtime.h"

#define VECTOR_DB 1
#define VECTOR_BP 3

#define DR6_B0 (1ull << 0)
#define DR6_BS (1ull << 14)
#define DR6_RESET 0xffff0ff0ull /* what DR6 reads with no condition recorded   \
                                 */
#define DR7_RESET 0x400ull      /* bit 10 reads as 1; nothing enabled */
#define DR7_L0 (1ull << 0)      /* R/W0 = 00 (execute), LEN0 = 00 */
#define RFLAGS_TF (1ull << 8)

#define INT3_EXPECTED 3
#define DR0_EXPECTED 2
#define TF_EXPECTED 5

/* selfdebug.S */
void selfdebug_dr0_run(void);
void selfdebug_int3_run(void);
void selfdebug_tf_run(void);
extern const char selfdebug_dr0_target[];
extern const char selfdebug_int3_0[], selfdebug_int3_1[], selfdebug_int3_2[];
extern const char selfdebug_tf_1[], selfdebug_tf_2[], selfdebug_tf_3[],
    selfdebug_tf_4[], selfdebug_tf_end[];
extern volatile uint64_t selfdebug_dr0_executed;

/* Written by the handlers at CPL0, read by the program: volatile, so every
 * read after a trap sees the handler's store. */
static volatile uint64_t int3_hits, dr0_hits, tf_hits;

static uint64_t read_dr6(void) {
  uint64_t value;
  __asm__ volatile("mov %%dr6, %0" : "=r"(value));
  return value;
}

static void write_dr6(uint64_t value) {
  __asm__ volatile("mov %0, %%dr6" : : "r"(value));
}

static void write_dr7(uint64_t value) {
  __asm__ volatile("mov %0, %%dr7" : : "r"(value) : "memory");
}

static void write_dr0(uint64_t value) {
  __asm__ volatile("mov %0, %%dr0" : : "r"(value));
}

static void unexpected(const char *what, const struct pvm_trap_frame *frame,
                       uint64_t dr6) {
  pvm_printf("selfdebug: unexpected %s at RIP 0x%lx (cpl %lu, dr6 0x%lx)\n",
             what, frame->rip, frame->cs & 3, dr6);
}

/* #BP is a trap: RIP is one past the INT3. Every #BP counts; one that is not
 * the next expected site also says so. */
static void on_breakpoint(struct pvm_trap_frame *frame) {
  static const char *const sites[INT3_EXPECTED] = {
      selfdebug_int3_0, selfdebug_int3_1, selfdebug_int3_2};
  uint64_t n = int3_hits++;
  if (n >= INT3_EXPECTED || frame->rip != (uint64_t)sites[n] + 1 ||
      (frame->cs & 3) != 3)
    unexpected("#BP", frame, 0);
}

/* An execute breakpoint is a fault: RIP is the instruction itself, and
 * returning with the breakpoint armed would fault again (and this host ignores
 * RFLAGS.RF). So disarm DR7 before returning; pvm_main re-arms it. */
static void on_dr0(struct pvm_trap_frame *frame, uint64_t dr6) {
  write_dr7(DR7_RESET);
  dr0_hits++;
  if (frame->rip != (uint64_t)selfdebug_dr0_target || (frame->cs & 3) != 0)
    unexpected("#DB (DR0)", frame, dr6);
}

/* A single-step trap: RIP is the next instruction. Clear TF at the end of the
 * run, or at any step outside it, so the program goes on either way. */
static void on_single_step(struct pvm_trap_frame *frame, uint64_t dr6) {
  static const char *const next[TF_EXPECTED] = {selfdebug_tf_1, selfdebug_tf_2,
                                                selfdebug_tf_3, selfdebug_tf_4,
                                                selfdebug_tf_end};
  uint64_t n = tf_hits++;
  if (n >= TF_EXPECTED || frame->rip != (uint64_t)next[n] ||
      (frame->cs & 3) != 3) {
    unexpected("#DB (single step)", frame, dr6);
    frame->rflags &= ~RFLAGS_TF;
  }
  if (frame->rip == (uint64_t)selfdebug_tf_end)
    frame->rflags &= ~RFLAGS_TF;
}

static void on_debug(struct pvm_trap_frame *frame) {
  uint64_t dr6 = read_dr6();
  /* DR6 conditions are sticky: clear them, as a kernel's #DB entry does, so
   * the next #DB reports only its own cause. */
  write_dr6(DR6_RESET);
  if (dr6 & DR6_B0) {
    on_dr0(frame, dr6);
  } else if (dr6 & DR6_BS) {
    on_single_step(frame, dr6);
  } else {
    unexpected("#DB", frame, dr6);
    frame->rflags &= ~RFLAGS_TF;
  }
}

static void selfdebug_user(uint64_t vcpu_id, uint64_t vcpu_count) {
  (void)vcpu_id;
  (void)vcpu_count;
  selfdebug_int3_run();
  selfdebug_tf_run();
  pvm_printf("selfdebug: int3 %lu/%u, dr0 %lu/%u, tf %lu/%u\n", int3_hits,
             INT3_EXPECTED, dr0_hits, DR0_EXPECTED, tf_hits, TF_EXPECTED);
  pvm_puts("selfdebug: done\n");
}

void pvm_main(uint64_t vcpu_id, uint64_t vcpu_count) {
  if (vcpu_id != 0)
    return;
  pvm_set_trap_handler(VECTOR_DB, on_debug);
  pvm_set_trap_handler(VECTOR_BP, on_breakpoint);

  write_dr0((uint64_t)selfdebug_dr0_target);
  for (int i = 0; i < DR0_EXPECTED; i++) {
    write_dr7(DR7_RESET | DR7_L0);
    selfdebug_dr0_run();
  }
  write_dr7(DR7_RESET);
  if (selfdebug_dr0_executed != DR0_EXPECTED)
    pvm_printf("selfdebug: unexpected: the DR0 target ran %lu times\n",
               selfdebug_dr0_executed);

  pvm_enter_user(selfdebug_user, vcpu_id, vcpu_count);
}
