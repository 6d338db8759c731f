/* Console: bytes written with `outb` to PVM_CONSOLE_PORT, from CPL0 or CPL3
 * (the TSS I/O bitmap allows the port at CPL3). One byte per `outb`, as the
 * boot ABI defines the console; no string I/O.
 *
 * A spinlock (LOCK CMPXCHG) held for a whole pvm_puts/pvm_printf call keeps
 * lines from several vCPUs apart. The lock records its owner (vCPU id + 1) and
 * lets the owner in again: an exception raised while this vCPU holds it (say in
 * the middle of a line) must still be able to report itself instead of
 * spinning forever on its own lock. The nested output starts on a new line,
 * and the fatal path then gives the lock up for good (pvm_console_abandon), as
 * the interrupted output never resumes. */
#include <stdarg.h>

#include "runtime_internal.h"

static uint32_t console_owner; /* 0: free; else owner's vCPU id + 1 */
/* Only the owner touches these: */
static uint32_t console_depth;
static char console_last_byte = '\n';

static void put_byte(char c) {
  __asm__ volatile("outb %0, %1" : : "a"(c), "Nd"((uint16_t)PVM_CONSOLE_PORT));
  console_last_byte = c;
}

static void console_lock(void) {
  uint32_t me = (uint32_t)pvm_vcpu_id() + 1;
  if (__atomic_load_n(&console_owner, __ATOMIC_RELAXED) == me) {
    console_depth++;
    if (console_last_byte != '\n')
      put_byte('\n');
    return;
  }
  for (;;) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&console_owner, &expected, me, 0,
                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      break;
    while (__atomic_load_n(&console_owner, __ATOMIC_RELAXED) != 0)
      __builtin_ia32_pause();
  }
  console_depth = 1;
}

static void console_unlock(void) {
  if (--console_depth == 0)
    __atomic_store_n(&console_owner, 0, __ATOMIC_RELEASE);
}

void pvm_console_abandon(void) {
  uint32_t me = (uint32_t)pvm_vcpu_id() + 1;
  if (__atomic_load_n(&console_owner, __ATOMIC_RELAXED) != me)
    return;
  console_depth = 0;
  __atomic_store_n(&console_owner, 0, __ATOMIC_RELEASE);
}

static void put_string(const char *s) {
  while (*s)
    put_byte(*s++);
}

static void put_unsigned(uint64_t value, unsigned base) {
  char digits[20]; /* 2^64 - 1 has 20 decimal digits */
  unsigned n = 0;
  do {
    unsigned d = (unsigned)(value % base);
    digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    value /= base;
  } while (value != 0);
  while (n > 0)
    put_byte(digits[--n]);
}

void pvm_puts(const char *s) {
  console_lock();
  put_string(s);
  console_unlock();
}

void pvm_printf(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  console_lock();
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      put_byte(*p);
      continue;
    }
    int is_long = 0;
    if (p[1] == 'l') {
      is_long = 1;
      p++;
    }
    switch (*++p) {
    case 's':
      put_string(va_arg(args, const char *));
      break;
    case 'c':
      put_byte((char)va_arg(args, int));
      break;
    case 'u':
      put_unsigned(is_long ? va_arg(args, unsigned long)
                           : va_arg(args, unsigned),
                   10);
      break;
    case 'x':
      put_unsigned(is_long ? va_arg(args, unsigned long)
                           : va_arg(args, unsigned),
                   16);
      break;
    case '%':
      put_byte('%');
      break;
    case '\0': /* a lone '%' at the end */
      p--;
      break;
    default: /* unsupported: show it rather than guess at its argument */
      put_byte('%');
      put_byte(*p);
      break;
    }
  }
  console_unlock();
  va_end(args);
}
