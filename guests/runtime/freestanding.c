/* The two library functions GCC may emit calls to even in freestanding code
 * (block copies and zeroing of structures). Kept byte-simple on purpose: the
 * runtime never moves much, and at CPL0 every instruction is emulated anyway. */
#include <stddef.h>

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  while (n--)
    *d++ = (unsigned char)c;
  return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--)
    *d++ = *s++;
  return dst;
}
