// Address ranges shared by the kmod core tests.
#ifndef PVMD_TESTS_UNIT_KMOD_TEST_RANGES_H_
#define PVMD_TESTS_UNIT_KMOD_TEST_RANGES_H_

#include <cstdint>

#include "pvm_debug.h"

namespace pvm::kmod_test {

// The guest kernel ranges of MSR_PVM_LINEAR_ADDRESS_RANGE 0xff20ff10ffd0ffb0:
// PML4 indices 0x1b0-0x1d0 and PML5 indices 0x110-0x120.
inline constexpr std::uint64_t kL4Start = 0xffffd80000000000;
inline constexpr std::uint64_t kL4End = 0xffffe80000000000;
inline constexpr std::uint64_t kL5Start = 0xff10000000000000;
inline constexpr std::uint64_t kL5End = 0xff20000000000000;
inline constexpr pvm_va_ranges kRanges = {kL4Start, kL4End, kL5Start, kL5End};

// Where a host kernel's text lives: never a guest address.
inline constexpr std::uint64_t kHostText = 0xffffffff81000000;

}  // namespace pvm::kmod_test

#endif  // PVMD_TESTS_UNIT_KMOD_TEST_RANGES_H_
