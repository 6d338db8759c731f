/* Layout of the shared header's types as a C compiler lays them out. */
#ifndef PVMD_TESTS_UNIT_KMOD_HEADER_C_ABI_H_
#define PVMD_TESTS_UNIT_KMOD_HEADER_C_ABI_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	PVM_C_SIZEOF_VCPU,
	PVM_C_OFFSETOF_RANGES,
	PVM_C_OFFSETOF_EXIT_DR6,
	PVM_C_SIZEOF_OPS,
	PVM_C_SIZEOF_REQUEST,
	PVM_C_SIZEOF_KIND,
};

size_t pvm_c_layout(int what);

#ifdef __cplusplus
}
#endif

#endif /* PVMD_TESTS_UNIT_KMOD_HEADER_C_ABI_H_ */
