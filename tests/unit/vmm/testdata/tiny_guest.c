/* A freestanding image built by the real toolchain, so the loader is tested on
 * what gcc/clang and ld actually emit, not only on hand-made headers. */
unsigned long counter_value;                   /* .bss: zero-filled by the loader */
unsigned long table[4] = {0x11, 0x22, 0x33, 0x44}; /* .data: copied from the file */

static void bump(void) { counter_value++; }

void _start(void) {
  for (;;) {
    bump();
    table[counter_value & 3]++;
    __asm__ volatile("hlt");
  }
}
