// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * PVM guest-debug core.  Built twice from this one file: into the module by
 * Kbuild, and into the daemon as the pvm_debug_core library.  It must stay
 * free of anything but types, arithmetic and snprintf().
 */
#ifdef __KERNEL__
#include <linux/kernel.h>
#else
#include <stdio.h>
typedef long long s64;
#endif

#include "pvm_debug.h"

unsigned long pvm_dr7_enable_mask(int drnum)
{
	if (drnum < 0 || drnum >= PVM_NR_DB_REGS)
		return 0;
	return (PVM_DR7_LOCAL_ENABLE | PVM_DR7_GLOBAL_ENABLE)
	       << (drnum * PVM_DR7_ENABLE_SIZE);
}

unsigned long pvm_dr7_mask(int drnum)
{
	if (drnum < 0 || drnum >= PVM_NR_DB_REGS)
		return 0;
	return (0xfUL << (PVM_DR7_CONTROL_SHIFT + drnum * PVM_DR7_CONTROL_SIZE)) |
	       pvm_dr7_enable_mask(drnum);
}

static bool in_kernel_ranges(const struct pvm_va_ranges *r, u64 va)
{
	if (!r)
		return false;
	return (r->l4_start <= va && va < r->l4_end) ||
	       (r->l5_start <= va && va < r->l5_end);
}

bool pvm_guest_allowed_va(const struct pvm_va_ranges *r, u64 va)
{
	/* > 0, not >= 0: this version keeps page 0 out as well. */
	if ((s64)va > 0)
		return true;
	return in_kernel_ranges(r, va);
}

unsigned long pvm_eff_dr7(unsigned long guest_dr7, const u64 db[4],
			  const struct pvm_va_ranges *r)
{
	unsigned long eff_dr7 = guest_dr7 & ~PVM_DR7_GD;
	int i;

	for (i = 0; i < PVM_NR_DB_REGS; i++) {
		/*
		 * A breakpoint covers up to 8 bytes from DR_i, so DR_i + 7
		 * must be the guest's too, or an 8-byte watch at the end of
		 * a range would reach into the host.  The sum wraps like
		 * the hardware's linear address does.
		 */
		if (!pvm_guest_allowed_va(r, db[i]) ||
		    !pvm_guest_allowed_va(r, db[i] + 7))
			eff_dr7 &= ~pvm_dr7_mask(i);
	}
	return eff_dr7;
}

bool pvm_va_ranges_from_msr(u64 msr, struct pvm_va_ranges *r)
{
	u64 l4s = msr & 0x1ff, l4e = (msr >> 16) & 0x1ff;
	u64 l5s = (msr >> 32) & 0x1ff, l5e = (msr >> 48) & 0x1ff;

	if ((msr & 0xff00ff00ff00ff00ULL) != 0xff00ff00ff00ff00ULL)
		return false;
	/*
	 * The high constant bits turn a PML index into a sign-extended
	 * address: (0x1fffe00 | i) << 39 is 0xffff000000000000 + (i << 39)
	 * modulo 2^64, and likewise (0xfe00 | i) << 48 for 5-level paging.
	 */
	r->l4_start = (0x1fffe00ULL | l4s) << 39;
	r->l4_end = (0x1fffe00ULL | l4e) << 39;
	r->l5_start = (0xfe00ULL | l5s) << 48;
	r->l5_end = (0xfe00ULL | l5e) << 48;
	return true;
}

bool pvm_va_allowed_by_rule(enum pvm_va_rule rule,
			    const struct pvm_va_ranges *r, u64 va)
{
	switch (rule) {
	case PVM_VA_RULE_NONE:
		return true;
	case PVM_VA_RULE_POSITIVE_OR_RANGES:
		return pvm_guest_allowed_va(r, va);
	case PVM_VA_RULE_NONNEG_OR_RANGES:
		return (s64)va >= 0 || in_kernel_ranges(r, va);
	case PVM_VA_RULE_LOWER_HALF:
		return (s64)va >= 0;
	}
	/* An unknown rule is a caller bug: refuse rather than let it pass. */
	return false;
}

bool pvm_va_canonical(u64 va, unsigned int va_bits)
{
	unsigned int shift;

	if (va_bits == 0 || va_bits >= 64)
		return true;
	shift = 64 - va_bits;
	return (u64)((s64)(va << shift) >> shift) == va;
}

/* LEN_i encodings; 8 bytes is 10b, not 11b (SDM vol. 3, 18.2.4). */
static int len_bits(unsigned int len)
{
	switch (len) {
	case 1:
		return 0;
	case 2:
		return 1;
	case 8:
		return 2;
	case 4:
		return 3;
	}
	return -1;
}

enum pvm_bp_status pvm_dr7_encode(int drnum, enum pvm_bp_kind kind,
				  unsigned int len, u64 addr,
				  unsigned long *dr7_bits)
{
	unsigned long control;
	int lenb;

	if (drnum < 0 || drnum >= PVM_NR_DB_REGS)
		return PVM_BP_EBADSLOT;
	if ((unsigned int)kind > PVM_BP_RW)
		return PVM_BP_EBADKIND;
	if (kind == PVM_BP_IO)
		return PVM_BP_EIO;
	lenb = len_bits(len);
	if (lenb < 0)
		return PVM_BP_EBADLEN;
	/* The hardware requires LEN=00 for instruction breakpoints. */
	if (kind == PVM_BP_EXEC && len != 1)
		return PVM_BP_EEXECLEN;
	/* The hardware ignores the low address bits covered by LEN. */
	if (addr & (len - 1))
		return PVM_BP_EALIGN;

	control = (unsigned long)kind | ((unsigned long)lenb << 2);
	*dr7_bits = (PVM_DR7_LOCAL_ENABLE << (drnum * PVM_DR7_ENABLE_SIZE)) |
		    (control << (PVM_DR7_CONTROL_SHIFT +
				 drnum * PVM_DR7_CONTROL_SIZE));
	return PVM_BP_OK;
}

bool pvm_dr7_decode(unsigned long dr7, int drnum, bool *enabled,
		    enum pvm_bp_kind *kind, unsigned int *len)
{
	static const unsigned int lens[4] = { 1, 2, 8, 4 };
	unsigned long control;

	if (drnum < 0 || drnum >= PVM_NR_DB_REGS)
		return false;
	control = (dr7 >> (PVM_DR7_CONTROL_SHIFT +
			   drnum * PVM_DR7_CONTROL_SIZE)) & 0xf;
	*enabled = (dr7 & pvm_dr7_enable_mask(drnum)) != 0;
	*kind = (enum pvm_bp_kind)(control & 3);
	*len = lens[control >> 2];
	return true;
}

enum pvm_bp_status pvm_bp_check_va(enum pvm_va_rule rule,
				   const struct pvm_va_ranges *r, u64 addr)
{
	if (!pvm_va_allowed_by_rule(rule, r, addr))
		return PVM_BP_EADDR;
	if (!pvm_va_allowed_by_rule(rule, r, addr + 7))
		return PVM_BP_EADDR_END;
	return PVM_BP_OK;
}

enum pvm_bp_status pvm_bp_validate(const struct pvm_bp_request *req,
				   enum pvm_va_rule rule,
				   const struct pvm_va_ranges *r,
				   unsigned long *dr7_bits)
{
	enum pvm_bp_status st;
	unsigned long bits;

	st = pvm_dr7_encode(req->drnum, req->kind, req->len, req->addr, &bits);
	if (st != PVM_BP_OK)
		return st;
	if (!pvm_va_canonical(req->addr, req->va_bits))
		return PVM_BP_ENONCANONICAL;
	st = pvm_bp_check_va(rule, r, req->addr);
	if (st != PVM_BP_OK)
		return st;
	if (dr7_bits)
		*dr7_bits = bits;
	return PVM_BP_OK;
}

const char *pvm_bp_strerror(enum pvm_bp_status status)
{
	switch (status) {
	case PVM_BP_OK:
		return "ok";
	case PVM_BP_EBADSLOT:
		return "debug register slot must be 0-3";
	case PVM_BP_EBADKIND:
		return "kind must be exec, write or read/write";
	case PVM_BP_EIO:
		return "I/O breakpoints are not supported";
	case PVM_BP_EBADLEN:
		return "length must be 1, 2, 4 or 8";
	case PVM_BP_EEXECLEN:
		return "execute breakpoints must have length 1";
	case PVM_BP_EALIGN:
		return "address must be aligned to the length";
	case PVM_BP_ENONCANONICAL:
		return "address is not canonical";
	case PVM_BP_EADDR:
		return "address is outside the guest's address ranges";
	case PVM_BP_EADDR_END:
		return "address + 7 is outside the guest's address ranges";
	}
	return "unknown breakpoint status";
}

int pvm_bp_describe(char *buf, size_t size, enum pvm_bp_status status,
		    const struct pvm_bp_request *req)
{
	if (!req || status == PVM_BP_OK)
		return snprintf(buf, size, "%s", pvm_bp_strerror(status));

	switch (status) {
	case PVM_BP_EBADSLOT:
		return snprintf(buf, size,
				"debug register slot %d does not exist: use 0-3",
				req->drnum);
	case PVM_BP_EBADKIND:
		return snprintf(buf, size,
				"breakpoint kind %d is not exec, write or read/write",
				(int)req->kind);
	case PVM_BP_EIO:
		return snprintf(buf, size,
				"I/O breakpoints are not supported: use exec, write or read/write");
	case PVM_BP_EBADLEN:
		return snprintf(buf, size,
				"length %u is not supported: use 1, 2, 4 or 8",
				req->len);
	case PVM_BP_EEXECLEN:
		return snprintf(buf, size,
				"an execute breakpoint has length 1, not %u",
				req->len);
	case PVM_BP_EALIGN:
		return snprintf(buf, size,
				"address 0x%llx is not aligned to the length %u",
				(unsigned long long)req->addr, req->len);
	case PVM_BP_ENONCANONICAL:
		return snprintf(buf, size,
				"address 0x%llx is not canonical for %u-bit virtual addresses: it can never match",
				(unsigned long long)req->addr, req->va_bits);
	case PVM_BP_EADDR:
		return snprintf(buf, size,
				"address 0x%llx is outside the guest's address ranges: the module would drop it",
				(unsigned long long)req->addr);
	case PVM_BP_EADDR_END:
		return snprintf(buf, size,
				"address 0x%llx + 7 is outside the guest's address ranges: the module would drop it",
				(unsigned long long)req->addr);
	default:
		break;
	}
	return snprintf(buf, size, "unknown breakpoint status %d", (int)status);
}

enum pvm_exc_route pvm_route_exception(unsigned int guest_debug,
				       unsigned int vector, bool int3)
{
	/* KVM clears every other flag when ENABLE is off; be as strict. */
	if (!(guest_debug & PVM_GUESTDBG_ENABLE))
		return PVM_EXC_REINJECT;

	switch (vector) {
	case PVM_DB_VECTOR:
		/*
		 * With USE_HW_BP the VMM owns DR0-DR3 and DR7, so any #DB is
		 * its own; with SINGLESTEP it set TF.  Otherwise the guest
		 * raised it (its own TF or ICEBP) and gets it back.
		 */
		if (guest_debug &
		    (PVM_GUESTDBG_SINGLESTEP | PVM_GUESTDBG_USE_HW_BP))
			return PVM_EXC_EXIT_DEBUG;
		return PVM_EXC_REINJECT;
	case PVM_BP_VECTOR:
		if ((guest_debug & PVM_GUESTDBG_USE_SW_BP) && int3)
			return PVM_EXC_EXIT_DEBUG;
		return PVM_EXC_REINJECT;
	}
	return PVM_EXC_REINJECT;
}

void pvm_debug_vcpu_init(struct pvm_debug_vcpu *v,
			 const struct pvm_va_ranges *r)
{
	*v = (struct pvm_debug_vcpu){ 0 };
	if (r)
		v->ranges = *r;
	v->eff_dr7_stale = true;
}

void pvm_debug_set_dr7(struct pvm_debug_vcpu *v, unsigned long dr7)
{
	if (v->guest_dr7 != dr7) {
		v->guest_dr7 = dr7;
		v->eff_dr7_stale = true;
	}
}

void pvm_debug_set_db(struct pvm_debug_vcpu *v, int drnum, u64 addr)
{
	if (drnum < 0 || drnum >= PVM_NR_DB_REGS)
		return;
	if (v->db[drnum] != addr) {
		v->db[drnum] = addr;
		v->eff_dr7_stale = true;
	}
}

void pvm_debug_set_ranges(struct pvm_debug_vcpu *v,
			  const struct pvm_va_ranges *r)
{
	struct pvm_va_ranges none = { 0 };

	if (!r)
		r = &none;
	if (v->ranges.l4_start != r->l4_start || v->ranges.l4_end != r->l4_end ||
	    v->ranges.l5_start != r->l5_start || v->ranges.l5_end != r->l5_end) {
		v->ranges = *r;
		v->eff_dr7_stale = true;
	}
}

unsigned long pvm_debug_eff_dr7(struct pvm_debug_vcpu *v)
{
	if (v->eff_dr7_stale) {
		v->eff_dr7 = pvm_eff_dr7(v->guest_dr7, v->db, &v->ranges);
		v->eff_dr7_stale = false;
		v->eff_dr7_computed++;
	}
	return v->eff_dr7;
}

void pvm_debug_vcpu_load(struct pvm_debug_vcpu *v,
			 const struct pvm_debug_hw_ops *ops, void *ctx)
{
	v->host_debugctl = ops->get_debugctl(ctx);
}

void pvm_debug_enter(struct pvm_debug_vcpu *v,
		     const struct pvm_debug_hw_ops *ops, void *ctx)
{
	/*
	 * Host LBR/BTF must not record or alter guest execution, and the
	 * guest cannot see or set the real MSR: it runs with 0.  Writing
	 * the MSR costs, so skip it when the host left it at 0.
	 */
	v->debugctl_zeroed = v->host_debugctl != 0;
	if (v->debugctl_zeroed)
		ops->set_debugctl(ctx, 0);

	/*
	 * The host enters with DR7 == 0 (KVM clears it when host
	 * breakpoints are active), so DR7 is only written when a guest
	 * breakpoint needs it; the common case never touches it.
	 */
	v->dr7_loaded = (v->guest_dr7 & PVM_DR7_BP_EN_MASK) != 0;
	if (v->dr7_loaded)
		ops->set_debugreg(ctx, 7, pvm_debug_eff_dr7(v));
}

void pvm_debug_exit(struct pvm_debug_vcpu *v,
		    const struct pvm_debug_hw_ops *ops, void *ctx,
		    unsigned int exit_vector)
{
	/* Guest breakpoints must not fire while the host runs. */
	if (v->dr7_loaded) {
		ops->set_debugreg(ctx, 7, 0);
		v->dr7_loaded = false;
	}

	/*
	 * The hardware sets DR6 bits but never clears them; reset it so
	 * the next #DB, the guest's or the host's, starts clean.
	 */
	if (exit_vector == PVM_DB_VECTOR) {
		v->exit_dr6 = ops->get_debugreg(ctx, 6);
		ops->set_debugreg(ctx, 6, PVM_DR6_RESERVED);
	}

	if (v->debugctl_zeroed) {
		ops->set_debugctl(ctx, v->host_debugctl);
		v->debugctl_zeroed = false;
	}
}
