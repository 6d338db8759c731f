/*
 * Compiled as strict ISO C11: proves the shared header is valid C outside
 * the kernel, and reports the layout C sees so the C++ side can compare.
 */
#include <stddef.h>

#include "pvm_debug.h"
#include "header_c_abi.h"

size_t pvm_c_layout(int what)
{
	switch (what) {
	case PVM_C_SIZEOF_VCPU:
		return sizeof(struct pvm_debug_vcpu);
	case PVM_C_OFFSETOF_RANGES:
		return offsetof(struct pvm_debug_vcpu, ranges);
	case PVM_C_OFFSETOF_EXIT_DR6:
		return offsetof(struct pvm_debug_vcpu, exit_dr6);
	case PVM_C_SIZEOF_OPS:
		return sizeof(struct pvm_debug_hw_ops);
	case PVM_C_SIZEOF_REQUEST:
		return sizeof(struct pvm_bp_request);
	case PVM_C_SIZEOF_KIND:
		return sizeof(enum pvm_bp_kind);
	}
	return 0;
}
