/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * PVM guest-debug core: the effective DR7 that the hardware may see, DR7
 * encoding and validation, #DB/#BP routing, and the switching of DR7, DR6
 * and DEBUGCTL around guest entry and exit.
 *
 * One header for three consumers: the out-of-tree module (Kbuild, kernel
 * C), the daemon (C++20) and the tests (C and C++).  Everything here is
 * plain data and functions over it; the hardware is reached only through
 * struct pvm_debug_hw_ops so that the same code runs on a CPU and against
 * recording fakes.
 */
#ifndef PVM_DEBUG_H
#define PVM_DEBUG_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stddef.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif
/*
 * The kernel's u64 is unsigned long long, and so is the UAPI __u64 in
 * struct kvm_guest_debug_arch: matching it lets userspace hand
 * debugreg[] straight to pvm_eff_dr7().
 */
#ifndef PVM_DEBUG_NO_U64_TYPEDEF
typedef unsigned long long u64;
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PVM_NR_DB_REGS		4

/* DR7 layout (SDM vol. 3, 18.2.4): the values the kernel calls DR_*. */
#define PVM_DR7_ENABLE_SIZE	2
#define PVM_DR7_LOCAL_ENABLE	0x1UL
#define PVM_DR7_GLOBAL_ENABLE	0x2UL
#define PVM_DR7_BP_EN_MASK	0xffUL
#define PVM_DR7_FIXED_1		0x400UL
#define PVM_DR7_GD		0x2000UL
#define PVM_DR7_CONTROL_SHIFT	16
#define PVM_DR7_CONTROL_SIZE	4

/* What DR6 holds when no #DB is pending; PVM keeps it there in the guest. */
#define PVM_DR6_RESERVED	0xffff0ff0UL
#define PVM_DR6_BS		0x4000UL

#define PVM_DB_VECTOR		1
#define PVM_BP_VECTOR		3

/* The KVM_GUESTDBG_* values of <linux/kvm.h> on x86 (the module checks). */
#define PVM_GUESTDBG_ENABLE	0x00000001U
#define PVM_GUESTDBG_SINGLESTEP	0x00000002U
#define PVM_GUESTDBG_USE_SW_BP	0x00010000U
#define PVM_GUESTDBG_USE_HW_BP	0x00020000U

/*
 * The guest's kernel address ranges, each [start, end).  A zeroed struct
 * means "no kernel ranges": only the lower half is the guest's.
 */
struct pvm_va_ranges {
	u64 l4_start, l4_end, l5_start, l5_end;
};

/* L_i | G_i of slot drnum (0-3); 0 for any other drnum. */
unsigned long pvm_dr7_enable_mask(int drnum);
/* pvm_dr7_enable_mask() plus the R/W_i and LEN_i bits of slot drnum. */
unsigned long pvm_dr7_mask(int drnum);

/*
 * A legitimate guest address: the lower half ((s64)va > 0, so 0 is not),
 * or inside one of the kernel ranges.  The host kernel half and the host
 * entry code are outside, and the hardware must never watch them.
 */
bool pvm_guest_allowed_va(const struct pvm_va_ranges *r, u64 va);

/*
 * The DR7 the hardware may see: guest_dr7 without GD (DR accesses always
 * trap under PVM, so GD is emulated), and without every slot i (enable and
 * control bits) whose db[i] or db[i] + 7 is not a legitimate address.
 */
unsigned long pvm_eff_dr7(unsigned long guest_dr7, const u64 db[4],
			  const struct pvm_va_ranges *r);

/*
 * The kernel ranges encoded in MSR_PVM_LINEAR_ADDRESS_RANGE: four 9-bit
 * PML indices, each in a 16-bit field whose bits 9-15 must be set.
 * Returns false (and leaves *r alone) when the fixed bits are not set.
 */
bool pvm_va_ranges_from_msr(u64 msr, struct pvm_va_ranges *r);

/* ---- Breakpoint encoding and validation (for the daemon's users) ---- */

/* The values are the hardware's R/W_i encodings. */
enum pvm_bp_kind {
	PVM_BP_EXEC = 0,
	PVM_BP_WRITE = 1,
	PVM_BP_IO = 2,		/* needs CR4.DE; never offered */
	PVM_BP_RW = 3,
};

enum pvm_bp_status {
	PVM_BP_OK = 0,
	PVM_BP_EBADSLOT,	/* drnum not 0-3 */
	PVM_BP_EBADKIND,	/* not one of enum pvm_bp_kind */
	PVM_BP_EIO,		/* the I/O kind */
	PVM_BP_EBADLEN,		/* length not 1, 2, 4 or 8 */
	PVM_BP_EEXECLEN,	/* execute breakpoint with length != 1 */
	PVM_BP_EALIGN,		/* address not aligned to the length */
	PVM_BP_ENONCANONICAL,	/* address can never be a linear address */
	PVM_BP_EADDR,		/* address is not a legitimate guest address */
	PVM_BP_EADDR_END,	/* address + 7 is not */
};

/*
 * The legitimate-address rule a module applies to DR0-DR3.  This core
 * implements PVM_VA_RULE_POSITIVE_OR_RANGES; the others are the rules of
 * other PVM versions, so the daemon can check against whichever rule the
 * running module was found to apply.
 */
enum pvm_va_rule {
	PVM_VA_RULE_NONE = 0,		/* drops nothing (VMX/SVM, kvm-pvm here) */
	PVM_VA_RULE_POSITIVE_OR_RANGES,	/* (s64)va > 0, or in a kernel range */
	PVM_VA_RULE_NONNEG_OR_RANGES,	/* (s64)va >= 0, or in a kernel range */
	PVM_VA_RULE_LOWER_HALF,		/* (s64)va >= 0, no kernel ranges */
};

bool pvm_va_allowed_by_rule(enum pvm_va_rule rule,
			    const struct pvm_va_ranges *r, u64 va);

/* True if va is sign-extended from bit va_bits - 1 (va_bits 48 or 57). */
bool pvm_va_canonical(u64 va, unsigned int va_bits);

/*
 * DR7 bits for one breakpoint in slot drnum: L_i plus R/W_i and LEN_i.
 * Checks slot, kind, length and alignment only; *dr7_bits is written only
 * on PVM_BP_OK.
 */
enum pvm_bp_status pvm_dr7_encode(int drnum, enum pvm_bp_kind kind,
				  unsigned int len, u64 addr,
				  unsigned long *dr7_bits);

/*
 * Reads slot drnum of a DR7 back.  Returns false if drnum is not 0-3;
 * *len is 1, 2, 4 or 8.
 */
bool pvm_dr7_decode(unsigned long dr7, int drnum, bool *enabled,
		    enum pvm_bp_kind *kind, unsigned int *len);

/* PVM_BP_OK, PVM_BP_EADDR or PVM_BP_EADDR_END under the given rule. */
enum pvm_bp_status pvm_bp_check_va(enum pvm_va_rule rule,
				   const struct pvm_va_ranges *r, u64 addr);

struct pvm_bp_request {
	int drnum;
	enum pvm_bp_kind kind;
	unsigned int len;
	u64 addr;
	unsigned int va_bits;	/* 48 or 57; 0 skips the canonical check */
};

/*
 * Everything a breakpoint must pass before it is handed to the module:
 * pvm_dr7_encode(), the canonical check, then pvm_bp_check_va().  The
 * first failure is returned; *dr7_bits (may be NULL) is set on success.
 */
enum pvm_bp_status pvm_bp_validate(const struct pvm_bp_request *req,
				   enum pvm_va_rule rule,
				   const struct pvm_va_ranges *r,
				   unsigned long *dr7_bits);

/* A short fixed reason, e.g. "length must be 1, 2, 4 or 8". */
const char *pvm_bp_strerror(enum pvm_bp_status status);

/*
 * A sentence a person can act on, with the request's values filled in,
 * e.g. "address 0xffff888000000000 + 7 is outside the guest's address
 * ranges: the module would drop it".  snprintf() semantics.
 */
int pvm_bp_describe(char *buf, size_t size, enum pvm_bp_status status,
		    const struct pvm_bp_request *req);

/* ---- Exception routing ---- */

enum pvm_exc_route {
	PVM_EXC_REINJECT = 0,	/* deliver to the guest's own handler */
	PVM_EXC_EXIT_DEBUG,	/* KVM_EXIT_DEBUG to the VMM */
};

/*
 * Where a #DB or #BP raised by the guest goes, given vcpu->guest_debug.
 * int3 says whether a #BP came from the one-byte INT3 (0xcc): "int $3"
 * (0xcd 0x03) is the guest's own and is always reinjected.  Vectors other
 * than 1 and 3 are not debug events and are always reinjected.
 */
enum pvm_exc_route pvm_route_exception(unsigned int guest_debug,
				       unsigned int vector, bool int3);

/* ---- Entry/exit switching ---- */

/*
 * The hardware, as the core needs it.  The kernel passes the real
 * accessors; tests pass recording fakes.  ctx is handed back untouched.
 */
struct pvm_debug_hw_ops {
	unsigned long (*get_debugreg)(void *ctx, int regno);
	void (*set_debugreg)(void *ctx, int regno, unsigned long val);
	u64 (*get_debugctl)(void *ctx);
	void (*set_debugctl)(void *ctx, u64 val);
};

/*
 * Per-vCPU debug state.  Write guest_dr7/db/ranges only through the
 * pvm_debug_set_*() helpers: they invalidate the cached effective DR7.
 */
struct pvm_debug_vcpu {
	unsigned long guest_dr7;
	u64 db[PVM_NR_DB_REGS];
	struct pvm_va_ranges ranges;

	unsigned long eff_dr7;		/* valid when !eff_dr7_stale */
	bool eff_dr7_stale;
	unsigned long eff_dr7_computed;	/* how often it was recomputed */

	u64 host_debugctl;		/* read at vcpu load */
	bool debugctl_zeroed;		/* by the last entry */
	bool dr7_loaded;		/* by the last entry */
	unsigned long exit_dr6;		/* DR6 captured at the last #DB exit */
};

void pvm_debug_vcpu_init(struct pvm_debug_vcpu *v,
			 const struct pvm_va_ranges *r);
void pvm_debug_set_dr7(struct pvm_debug_vcpu *v, unsigned long dr7);
void pvm_debug_set_db(struct pvm_debug_vcpu *v, int drnum, u64 addr);
void pvm_debug_set_ranges(struct pvm_debug_vcpu *v,
			  const struct pvm_va_ranges *r);
/* The cached effective DR7, recomputed only if an input changed. */
unsigned long pvm_debug_eff_dr7(struct pvm_debug_vcpu *v);

/* On vcpu load: remember the host DEBUGCTL of this CPU. */
void pvm_debug_vcpu_load(struct pvm_debug_vcpu *v,
			 const struct pvm_debug_hw_ops *ops, void *ctx);
/*
 * Right before entering the guest: zero DEBUGCTL if the host had it set,
 * then load the effective DR7 if the guest DR7 enables any breakpoint.
 */
void pvm_debug_enter(struct pvm_debug_vcpu *v,
		     const struct pvm_debug_hw_ops *ops, void *ctx);
/*
 * Right after the exit, before the host runs anything else: zero DR7 if
 * entry loaded it, capture DR6 into exit_dr6 and reset it on a #DB exit,
 * then restore DEBUGCTL if entry zeroed it.
 */
void pvm_debug_exit(struct pvm_debug_vcpu *v,
		    const struct pvm_debug_hw_ops *ops, void *ctx,
		    unsigned int exit_vector);

#ifdef __cplusplus
}
#endif

#endif /* PVM_DEBUG_H */
