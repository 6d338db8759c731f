// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Table-driven self-tests of the guest-debug core, shared by the module
 * init and the userspace tests.  Expected values are spelled out as
 * numbers from the SDM's DR7 layout, never recomputed with the core's own
 * helpers, so a wrong mask cannot make its own test pass.
 */
#ifdef __KERNEL__
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/kernel.h>
#include <linux/printk.h>
#define st_log(fmt, ...) pr_err(fmt, ##__VA_ARGS__)
#else
#include <stdio.h>
#define st_log(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#endif

#include "pvm_debug.h"
#include "pvm_debug_selftest.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Kernel ranges of MSR_PVM_LINEAR_ADDRESS_RANGE 0xff20ff10ffd0ffb0. */
#define ST_MSR		0xff20ff10ffd0ffb0ULL
#define ST_L4_START	0xffffd80000000000ULL
#define ST_L4_END	0xffffe80000000000ULL
#define ST_L5_START	0xff10000000000000ULL
#define ST_L5_END	0xff20000000000000ULL
#define ST_HOST_TEXT	0xffffffff81000000ULL

static const struct pvm_va_ranges st_ranges = {
	.l4_start = ST_L4_START, .l4_end = ST_L4_END,
	.l5_start = ST_L5_START, .l5_end = ST_L5_END,
};

bool pvm_selftest_check(struct pvm_selftest *st, bool ok, const char *what,
			unsigned long long got, unsigned long long want)
{
	st->checks++;
	if (!ok) {
		st->failures++;
		st_log("selftest: FAILED %s: got 0x%llx, want 0x%llx\n", what,
		       got, want);
	}
	return ok;
}

static void check_eq(struct pvm_selftest *st, const char *what,
		     unsigned long long got, unsigned long long want)
{
	pvm_selftest_check(st, got == want, what, got, want);
}

static void test_masks(struct pvm_selftest *st)
{
	static const unsigned long enable[4] = { 0x3, 0xc, 0x30, 0xc0 };
	static const unsigned long mask[4] = {
		0x000f0003, 0x00f0000c, 0x0f000030, 0xf00000c0,
	};
	int i;

	for (i = 0; i < 4; i++) {
		check_eq(st, "pvm_dr7_enable_mask", pvm_dr7_enable_mask(i),
			 enable[i]);
		check_eq(st, "pvm_dr7_mask", pvm_dr7_mask(i), mask[i]);
	}
	check_eq(st, "pvm_dr7_mask(4)", pvm_dr7_mask(4), 0);
	check_eq(st, "pvm_dr7_mask(-1)", pvm_dr7_mask(-1), 0);
}

static void test_ranges(struct pvm_selftest *st)
{
	static const struct {
		u64 va;
		bool allowed;
	} cases[] = {
		{ 0, false },			/* page 0 is not the guest's here */
		{ 1, true },
		{ 0x00007fffffffffffULL, true },
		{ 0x0000800000000000ULL, true },	/* non-canonical, sign 0 */
		{ 0x7fffffffffffffffULL, true },
		{ 0x8000000000000000ULL, false },
		{ ST_L4_START - 1, false },
		{ ST_L4_START, true },
		{ ST_L4_END - 1, true },
		{ ST_L4_END, false },
		{ ST_L5_START - 1, false },
		{ ST_L5_START, true },
		{ ST_L5_END - 1, true },
		{ ST_L5_END, false },
		{ ST_HOST_TEXT, false },
		{ 0xffffffffffffffffULL, false },
	};
	struct pvm_va_ranges r = { 0 };
	unsigned int i;

	check_eq(st, "pvm_va_ranges_from_msr", pvm_va_ranges_from_msr(ST_MSR, &r),
		 true);
	check_eq(st, "l4_start from MSR", r.l4_start, ST_L4_START);
	check_eq(st, "l4_end from MSR", r.l4_end, ST_L4_END);
	check_eq(st, "l5_start from MSR", r.l5_start, ST_L5_START);
	check_eq(st, "l5_end from MSR", r.l5_end, ST_L5_END);
	check_eq(st, "MSR without its fixed bits",
		 pvm_va_ranges_from_msr(0x0120011001d001b0ULL, &r), false);

	for (i = 0; i < ARRAY_LEN(cases); i++)
		check_eq(st, "pvm_guest_allowed_va",
			 pvm_guest_allowed_va(&st_ranges, cases[i].va),
			 cases[i].allowed);
	check_eq(st, "no ranges: kernel half refused",
		 pvm_guest_allowed_va(NULL, ST_L4_START), false);
}

/*
 * Every slot enabled (L and G), LE, GE and the fixed bit, with distinct
 * control nibbles 0x1, 0x5, 0x9 and 0xd in slots 0-3.
 */
#define ST_ALL 0xd95107ffUL

static void test_eff_dr7(struct pvm_selftest *st)
{
	static const u64 legal[4] = {
		0x1000, 0x7ffffffffffffff8ULL, ST_L4_START, ST_L5_END - 8,
	};
	static const struct {
		const char *what;
		unsigned long dr7;
		int slot;	/* slot whose address is replaced, or -1 */
		u64 addr;
		unsigned long want;
	} cases[] = {
		{ "all legal", ST_ALL, -1, 0, ST_ALL },
		{ "GD cleared", ST_ALL | 0x2000, -1, 0, ST_ALL },
		{ "GD alone", 0x2400, -1, 0, 0x400 },
		{ "slot 0 on host text", ST_ALL, 0, ST_HOST_TEXT, 0xd95007fc },
		{ "slot 1 on host text", ST_ALL, 1, ST_HOST_TEXT, 0xd90107f3 },
		{ "slot 2 on host text", ST_ALL, 2, ST_HOST_TEXT, 0xd05107cf },
		{ "slot 3 on host text", ST_ALL, 3, ST_HOST_TEXT, 0x0951073f },
		{ "address 0", 0x000d0401, 0, 0, 0x400 },
		{ "lower half, +7 crosses", 0x000d0401, 0,
		  0x7ffffffffffffff9ULL, 0x400 },
		{ "lower half, +7 at the end", 0x000d0401, 0,
		  0x7ffffffffffffff8ULL, 0x000d0401 },
		{ "l4 end, +7 crosses", 0x000d0401, 0, ST_L4_END - 7, 0x400 },
		{ "l4 end, +7 inside", 0x000d0401, 0, ST_L4_END - 8, 0x000d0401 },
		{ "l4 start - 1", 0x000d0401, 0, ST_L4_START - 1, 0x400 },
		{ "l4 start", 0x000d0401, 0, ST_L4_START, 0x000d0401 },
		{ "l5 end, +7 crosses", 0x000d0401, 0, ST_L5_END - 4, 0x400 },
		{ "l5 end, +7 inside", 0x000d0401, 0, ST_L5_END - 8, 0x000d0401 },
		{ "l5 start - 4", 0x000d0401, 0, ST_L5_START - 4, 0x400 },
		{ "l5 start", 0x000d0401, 0, ST_L5_START, 0x000d0401 },
		{ "non-canonical, sign bit clear", 0x401, 0,
		  0x0000800000000000ULL, 0x401 },
		{ "non-canonical, sign bit set", 0x401, 0,
		  0x8000000000000000ULL, 0x400 },
		{ "+7 wraps to 0", 0x401, 0, 0xfffffffffffffff9ULL, 0x400 },
		{ "disabled slot on host text", 0x401, 1, ST_HOST_TEXT, 0x401 },
		{ "disabled slot loses stale control bits", 0x00d00401, 1,
		  ST_HOST_TEXT, 0x401 },
	};
	unsigned int i;
	u64 db[4];

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		unsigned long want = cases[i].want;
		unsigned long got;

		db[0] = legal[0];
		db[1] = legal[1];
		db[2] = legal[2];
		db[3] = legal[3];
		if (cases[i].slot >= 0)
			db[cases[i].slot] = cases[i].addr;
		if (st->inject_failure && i == 1)
			want |= PVM_DR7_GD;
		got = pvm_eff_dr7(cases[i].dr7, db, &st_ranges);
		check_eq(st, cases[i].what, got, want);
		check_eq(st, "no bit the guest lacked", got & ~cases[i].dr7, 0);
	}
}

static void test_encode(struct pvm_selftest *st)
{
	static const struct {
		int slot;
		int kind;
		unsigned int len;
		u64 addr;
		enum pvm_bp_status status;
		unsigned long bits;
	} cases[] = {
		{ 0, PVM_BP_EXEC, 1, 0x1001, PVM_BP_OK, 0x00000001 },
		{ 1, PVM_BP_WRITE, 4, 0x1004, PVM_BP_OK, 0x00d00004 },
		{ 2, PVM_BP_RW, 8, 0x1008, PVM_BP_OK, 0x0b000010 },
		{ 3, PVM_BP_WRITE, 2, 0x1002, PVM_BP_OK, 0x50000040 },
		{ 3, PVM_BP_RW, 1, 0x1003, PVM_BP_OK, 0x30000040 },
		{ 0, PVM_BP_IO, 1, 0x1000, PVM_BP_EIO, 0 },
		{ 0, PVM_BP_EXEC, 2, 0x1000, PVM_BP_EEXECLEN, 0 },
		{ 0, PVM_BP_EXEC, 8, 0x1000, PVM_BP_EEXECLEN, 0 },
		{ 0, PVM_BP_WRITE, 3, 0x1000, PVM_BP_EBADLEN, 0 },
		{ 0, PVM_BP_WRITE, 0, 0x1000, PVM_BP_EBADLEN, 0 },
		{ 0, PVM_BP_WRITE, 16, 0x1000, PVM_BP_EBADLEN, 0 },
		{ 0, PVM_BP_WRITE, 2, 0x1001, PVM_BP_EALIGN, 0 },
		{ 0, PVM_BP_WRITE, 4, 0x1002, PVM_BP_EALIGN, 0 },
		{ 0, PVM_BP_RW, 8, 0x1004, PVM_BP_EALIGN, 0 },
		{ 4, PVM_BP_EXEC, 1, 0x1000, PVM_BP_EBADSLOT, 0 },
		{ -1, PVM_BP_EXEC, 1, 0x1000, PVM_BP_EBADSLOT, 0 },
		{ 0, 7, 1, 0x1000, PVM_BP_EBADKIND, 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		unsigned long bits = 0;
		enum pvm_bp_status s;

		s = pvm_dr7_encode(cases[i].slot, (enum pvm_bp_kind)cases[i].kind,
				   cases[i].len, cases[i].addr, &bits);
		check_eq(st, "pvm_dr7_encode status", s, cases[i].status);
		check_eq(st, "pvm_dr7_encode bits", bits, cases[i].bits);
	}
}

static void test_route(struct pvm_selftest *st)
{
	static const struct {
		unsigned int gd;
		unsigned int vector;
		bool int3;
		enum pvm_exc_route want;
	} cases[] = {
		{ 0, 1, false, PVM_EXC_REINJECT },
		{ 0, 3, true, PVM_EXC_REINJECT },
		{ PVM_GUESTDBG_USE_HW_BP, 1, false, PVM_EXC_REINJECT },
		{ 1 | PVM_GUESTDBG_USE_HW_BP, 1, false, PVM_EXC_EXIT_DEBUG },
		{ 1 | PVM_GUESTDBG_SINGLESTEP, 1, false, PVM_EXC_EXIT_DEBUG },
		{ 1 | PVM_GUESTDBG_USE_SW_BP, 1, false, PVM_EXC_REINJECT },
		{ 1 | PVM_GUESTDBG_USE_SW_BP, 3, true, PVM_EXC_EXIT_DEBUG },
		{ 1 | PVM_GUESTDBG_USE_SW_BP, 3, false, PVM_EXC_REINJECT },
		{ 1 | PVM_GUESTDBG_USE_HW_BP, 3, true, PVM_EXC_REINJECT },
		{ 1 | PVM_GUESTDBG_USE_HW_BP | PVM_GUESTDBG_USE_SW_BP |
		  PVM_GUESTDBG_SINGLESTEP, 14, false, PVM_EXC_REINJECT },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(cases); i++)
		check_eq(st, "pvm_route_exception",
			 pvm_route_exception(cases[i].gd, cases[i].vector,
					     cases[i].int3),
			 cases[i].want);
}

/* A fake CPU that records every access, in order. */
enum st_op { ST_GET_DR, ST_SET_DR, ST_GET_CTL, ST_SET_CTL };

struct st_event {
	enum st_op op;
	int reg;
	unsigned long long val;
};

struct st_cpu {
	unsigned long dr[8];
	u64 debugctl;
	struct st_event ev[12];
	unsigned int n;
};

static void st_record(struct st_cpu *c, enum st_op op, int reg,
		      unsigned long long val)
{
	if (c->n < ARRAY_LEN(c->ev)) {
		c->ev[c->n].op = op;
		c->ev[c->n].reg = reg;
		c->ev[c->n].val = val;
	}
	c->n++;
}

static unsigned long st_get_dr(void *ctx, int regno)
{
	struct st_cpu *c = ctx;

	st_record(c, ST_GET_DR, regno, c->dr[regno & 7]);
	return c->dr[regno & 7];
}

static void st_set_dr(void *ctx, int regno, unsigned long val)
{
	struct st_cpu *c = ctx;

	st_record(c, ST_SET_DR, regno, val);
	c->dr[regno & 7] = val;
}

static u64 st_get_ctl(void *ctx)
{
	struct st_cpu *c = ctx;

	st_record(c, ST_GET_CTL, 0, c->debugctl);
	return c->debugctl;
}

static void st_set_ctl(void *ctx, u64 val)
{
	struct st_cpu *c = ctx;

	st_record(c, ST_SET_CTL, 0, val);
	c->debugctl = val;
}

static const struct pvm_debug_hw_ops st_ops = {
	.get_debugreg = st_get_dr,
	.set_debugreg = st_set_dr,
	.get_debugctl = st_get_ctl,
	.set_debugctl = st_set_ctl,
};

static void check_events(struct pvm_selftest *st, const char *what,
			 struct st_cpu *c, const struct st_event *want,
			 unsigned int n)
{
	unsigned int i;

	check_eq(st, what, c->n, n);
	for (i = 0; i < n && i < c->n && i < ARRAY_LEN(c->ev); i++) {
		check_eq(st, what, c->ev[i].op, want[i].op);
		check_eq(st, what, c->ev[i].reg, want[i].reg);
		check_eq(st, what, c->ev[i].val, want[i].val);
	}
	c->n = 0;
}

static void test_switch(struct pvm_selftest *st)
{
	static const struct st_event quiet_load[] = { { ST_GET_CTL, 0, 0 } };
	static const struct st_event busy_load[] = { { ST_GET_CTL, 0, 0x3 } };
	static const struct st_event busy_enter[] = {
		{ ST_SET_CTL, 0, 0 }, { ST_SET_DR, 7, 0x000d0401 },
	};
	static const struct st_event busy_db_exit[] = {
		{ ST_SET_DR, 7, 0 },
		{ ST_GET_DR, 6, 0xffff0ff1 },
		{ ST_SET_DR, 6, 0xffff0ff0 },
		{ ST_SET_CTL, 0, 0x3 },
	};
	static const struct st_event step_db_exit[] = {
		{ ST_GET_DR, 6, 0xffff4ff0 },
		{ ST_SET_DR, 6, 0xffff0ff0 },
	};
	static const struct st_event dropped_enter[] = {
		{ ST_SET_DR, 7, 0x400 },
	};
	static const struct st_event dropped_exit[] = { { ST_SET_DR, 7, 0 } };
	struct pvm_debug_vcpu v;
	struct st_cpu cpu = { .dr = { 0 } };

	/* Nothing to do: only the load-time read of DEBUGCTL. */
	pvm_debug_vcpu_init(&v, &st_ranges);
	pvm_debug_vcpu_load(&v, &st_ops, &cpu);
	check_events(st, "quiet load", &cpu, quiet_load, 1);
	pvm_debug_enter(&v, &st_ops, &cpu);
	pvm_debug_exit(&v, &st_ops, &cpu, 14);
	check_events(st, "quiet run", &cpu, NULL, 0);

	/* Host LBR on, a guest breakpoint, a #DB exit. */
	cpu.debugctl = 0x3;
	pvm_debug_vcpu_load(&v, &st_ops, &cpu);
	check_events(st, "busy load", &cpu, busy_load, 1);
	pvm_debug_set_db(&v, 0, 0x1000);
	pvm_debug_set_dr7(&v, 0x000d2401);
	pvm_debug_enter(&v, &st_ops, &cpu);
	check_events(st, "busy enter", &cpu, busy_enter, 2);
	cpu.dr[6] = 0xffff0ff1;
	pvm_debug_exit(&v, &st_ops, &cpu, PVM_DB_VECTOR);
	check_events(st, "busy #DB exit", &cpu, busy_db_exit, 4);
	check_eq(st, "exit_dr6", v.exit_dr6, 0xffff0ff1);
	check_eq(st, "host DEBUGCTL restored", cpu.debugctl, 0x3);

	/* Single-step: no breakpoint enabled, but DR6 still needs a reset. */
	cpu.debugctl = 0;
	pvm_debug_vcpu_load(&v, &st_ops, &cpu);
	cpu.n = 0;
	pvm_debug_set_dr7(&v, 0x400);
	pvm_debug_enter(&v, &st_ops, &cpu);
	cpu.dr[6] = 0xffff4ff0;
	pvm_debug_exit(&v, &st_ops, &cpu, PVM_DB_VECTOR);
	check_events(st, "single-step #DB exit", &cpu, step_db_exit, 2);

	/* An enabled slot on a host address: DR7 loaded without it. */
	pvm_debug_set_db(&v, 0, ST_HOST_TEXT);
	pvm_debug_set_dr7(&v, 0x401);
	pvm_debug_enter(&v, &st_ops, &cpu);
	check_events(st, "dropped enter", &cpu, dropped_enter, 1);
	pvm_debug_exit(&v, &st_ops, &cpu, 14);
	check_events(st, "dropped exit", &cpu, dropped_exit, 1);
}

static void test_cache(struct pvm_selftest *st)
{
	struct pvm_debug_vcpu v;
	unsigned long n;

	pvm_debug_vcpu_init(&v, &st_ranges);
	pvm_debug_set_db(&v, 0, 0x1000);
	pvm_debug_set_dr7(&v, 0x401);
	check_eq(st, "cached eff_dr7", pvm_debug_eff_dr7(&v), 0x401);
	n = v.eff_dr7_computed;
	pvm_debug_set_dr7(&v, 0x401);
	pvm_debug_set_db(&v, 0, 0x1000);
	pvm_debug_set_ranges(&v, &st_ranges);
	check_eq(st, "unchanged inputs", pvm_debug_eff_dr7(&v), 0x401);
	check_eq(st, "no recompute", v.eff_dr7_computed, n);
	pvm_debug_set_db(&v, 0, ST_HOST_TEXT);
	check_eq(st, "new address", pvm_debug_eff_dr7(&v), 0x400);
	check_eq(st, "one recompute", v.eff_dr7_computed, n + 1);
	pvm_debug_set_ranges(&v, NULL);
	pvm_debug_set_db(&v, 0, ST_L4_START);
	check_eq(st, "no ranges", pvm_debug_eff_dr7(&v), 0x400);
}

void pvm_debug_selftest_run(struct pvm_selftest *st)
{
	test_masks(st);
	test_ranges(st);
	test_eff_dr7(st);
	test_encode(st);
	test_route(st);
	test_switch(st);
	test_cache(st);
}
