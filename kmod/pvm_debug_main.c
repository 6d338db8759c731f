// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvm_debug.ko: the guest-debug core built with the kernel's own flags,
 * plus its self-tests.  Loading it runs the shared table tests and then
 * the entry/exit switching against the real debug registers and DEBUGCTL
 * of the CPU it runs on; any failure makes the load fail, so "insmod
 * succeeded" is the verdict.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <asm/debugreg.h>
#include <asm/processor.h>

#include "pvm_debug.h"
#include "pvm_debug_selftest.h"

static bool inject_failure;
module_param(inject_failure, bool, 0444);
MODULE_PARM_DESC(inject_failure,
		 "Corrupt one self-test expectation, to prove failures are reported");

/*
 * The header spells the architectural values out so that userspace needs
 * no kernel headers; here they must agree with the kernel's own.
 */
static_assert(PVM_NR_DB_REGS == KVM_NR_DB_REGS);
static_assert(PVM_DR7_GD == DR7_GD);
static_assert(PVM_DR7_BP_EN_MASK == DR7_BP_EN_MASK);
static_assert(PVM_DR7_FIXED_1 == DR7_FIXED_1);
static_assert(PVM_DR6_RESERVED == DR6_RESERVED);
static_assert(PVM_DR6_BS == DR_STEP);
static_assert(PVM_DR7_CONTROL_SHIFT == DR_CONTROL_SHIFT);
static_assert(PVM_DR7_CONTROL_SIZE == DR_CONTROL_SIZE);
static_assert(PVM_DR7_ENABLE_SIZE == DR_ENABLE_SIZE);
static_assert(PVM_DR7_LOCAL_ENABLE == DR_LOCAL_ENABLE);
static_assert(PVM_DR7_GLOBAL_ENABLE == DR_GLOBAL_ENABLE);
static_assert(PVM_BP_EXEC == DR_RW_EXECUTE);
static_assert(PVM_BP_WRITE == DR_RW_WRITE);
static_assert(PVM_BP_RW == DR_RW_READ);
static_assert(PVM_DB_VECTOR == DB_VECTOR);
static_assert(PVM_BP_VECTOR == BP_VECTOR);
static_assert(PVM_GUESTDBG_ENABLE == KVM_GUESTDBG_ENABLE);
static_assert(PVM_GUESTDBG_SINGLESTEP == KVM_GUESTDBG_SINGLESTEP);
static_assert(PVM_GUESTDBG_USE_SW_BP == KVM_GUESTDBG_USE_SW_BP);
static_assert(PVM_GUESTDBG_USE_HW_BP == KVM_GUESTDBG_USE_HW_BP);

static unsigned long hw_get_debugreg(void *ctx, int regno)
{
	unsigned long val;

	get_debugreg(val, regno);
	return val;
}

static void hw_set_debugreg(void *ctx, int regno, unsigned long val)
{
	set_debugreg(val, regno);
}

static u64 hw_get_debugctl(void *ctx)
{
	return get_debugctlmsr();
}

static void hw_set_debugctl(void *ctx, u64 val)
{
	update_debugctlmsr(val);
}

static const struct pvm_debug_hw_ops hw_ops = {
	.get_debugreg = hw_get_debugreg,
	.set_debugreg = hw_set_debugreg,
	.get_debugctl = hw_get_debugctl,
	.set_debugctl = hw_set_debugctl,
};

static void check(struct pvm_selftest *st, const char *what,
		  unsigned long long got, unsigned long long want)
{
	pvm_selftest_check(st, got == want, what, got, want);
}

/* The LEN encodings are the one part of DR7 the kernel names per value. */
static void kernel_encoding_selftest(struct pvm_selftest *st)
{
	static const struct {
		enum pvm_bp_kind kind;
		unsigned int len;
		unsigned long control;
	} cases[] = {
		{ PVM_BP_EXEC, 1, DR_RW_EXECUTE | DR_LEN_1 },
		{ PVM_BP_WRITE, 2, DR_RW_WRITE | DR_LEN_2 },
		{ PVM_BP_WRITE, 4, DR_RW_WRITE | DR_LEN_4 },
		{ PVM_BP_RW, 8, DR_RW_READ | DR_LEN_8 },
	};
	unsigned long bits;
	int i, slot;

	for (slot = 0; slot < PVM_NR_DB_REGS; slot++) {
		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			bits = 0;
			check(st, "encode status",
			      pvm_dr7_encode(slot, cases[i].kind, cases[i].len,
					     0x1000, &bits), PVM_BP_OK);
			check(st, "encode vs kernel DR_* values", bits,
			      (DR_LOCAL_ENABLE << (slot * DR_ENABLE_SIZE)) |
			      (cases[i].control << (DR_CONTROL_SHIFT +
						    slot * DR_CONTROL_SIZE)));
		}
	}
}

/* A variable of this module: a host kernel address the guest must not watch. */
static u32 host_word;

/*
 * The switching sequence on this CPU.  DR0 gets a lower-half address that
 * nothing executes and DR1 a host address; the window between enter and
 * exit stands for the guest run.  Interrupts stay off so that nothing of
 * the host runs while DR7 holds guest breakpoints.
 */
static void cpu_selftest(struct pvm_selftest *st)
{
	const u64 guest_code = 0x10000;
	const unsigned long guest_dr7 = 0x00d00405;	/* exec on 0, write/4 on 1 */
	unsigned long saved_dr0, saved_dr1, saved_dr6, saved_dr7;
	unsigned long dr7_in_guest, dr7_after, dr6_after;
	u64 saved_ctl, probe_ctl, ctl_in_guest, ctl_after;
	struct pvm_va_ranges ranges = { 0 };
	struct pvm_debug_vcpu v;
	bool ctl_writable;
	unsigned long flags;

	pvm_debug_vcpu_init(&v, &ranges);
	pvm_debug_set_db(&v, 0, guest_code);
	pvm_debug_set_db(&v, 1, (unsigned long)&host_word);
	pvm_debug_set_dr7(&v, guest_dr7);

	local_irq_save(flags);
	get_debugreg(saved_dr0, 0);
	get_debugreg(saved_dr1, 1);
	get_debugreg(saved_dr6, 6);
	get_debugreg(saved_dr7, 7);
	saved_ctl = get_debugctlmsr();

	/*
	 * BTF only matters while TF is set, so it is a safe host value to
	 * prove zero-and-restore.  Some CPUs (QEMU's TCG) drop the write;
	 * then only the "host had 0" path can be checked.
	 */
	update_debugctlmsr(saved_ctl | DEBUGCTLMSR_BTF);
	probe_ctl = get_debugctlmsr();
	ctl_writable = probe_ctl & DEBUGCTLMSR_BTF;

	set_debugreg(0UL, 7);
	set_debugreg(guest_code, 0);
	set_debugreg((unsigned long)&host_word, 1);
	set_debugreg(DR6_RESERVED, 6);

	pvm_debug_vcpu_load(&v, &hw_ops, NULL);
	pvm_debug_enter(&v, &hw_ops, NULL);
	get_debugreg(dr7_in_guest, 7);
	ctl_in_guest = get_debugctlmsr();
	/* What the hardware reports for a hit on DR0. */
	set_debugreg(DR6_RESERVED | DR_TRAP0, 6);
	pvm_debug_exit(&v, &hw_ops, NULL, PVM_DB_VECTOR);
	get_debugreg(dr7_after, 7);
	get_debugreg(dr6_after, 6);
	ctl_after = get_debugctlmsr();

	set_debugreg(saved_dr0, 0);
	set_debugreg(saved_dr1, 1);
	set_debugreg(saved_dr6, 6);
	update_debugctlmsr(saved_ctl);
	set_debugreg(saved_dr7, 7);
	local_irq_restore(flags);

	/* Slot 1 (host address) dropped, slot 0 kept, nothing else added. */
	check(st, "cpu: DR7 in the guest", dr7_in_guest & ~DR7_FIXED_1,
	      0x00000001);
	check(st, "cpu: DEBUGCTL in the guest", ctl_in_guest, 0);
	check(st, "cpu: DR7 after exit", dr7_after & ~DR7_FIXED_1, 0);
	check(st, "cpu: DR6 captured", v.exit_dr6 & (DR_TRAP_BITS | DR_STEP),
	      DR_TRAP0);
	check(st, "cpu: DR6 after exit", dr6_after, DR6_RESERVED);
	if (ctl_writable) {
		check(st, "cpu: host DEBUGCTL seen at load",
		      v.host_debugctl & DEBUGCTLMSR_BTF, DEBUGCTLMSR_BTF);
		check(st, "cpu: DEBUGCTL restored", ctl_after, probe_ctl);
	} else {
		pr_info("selftest: DEBUGCTL.BTF does not stick on this CPU; checked the host-DEBUGCTL-0 path only\n");
		check(st, "cpu: DEBUGCTL untouched", ctl_after, probe_ctl);
	}
}

static int __init pvm_debug_init(void)
{
	struct pvm_selftest st = { .inject_failure = inject_failure };
	unsigned int table_checks;

	pvm_debug_selftest_run(&st);
	kernel_encoding_selftest(&st);
	table_checks = st.checks;
	cpu_selftest(&st);

	if (st.failures) {
		pr_err("selftest: FAIL (%u of %u checks failed)\n", st.failures,
		       st.checks);
		return -EINVAL;
	}
	pr_info("selftest: PASS (%u checks, %u of them on the CPU)\n",
		st.checks, st.checks - table_checks);
	return 0;
}

static void __exit pvm_debug_exit_module(void)
{
}

module_init(pvm_debug_init);
module_exit(pvm_debug_exit_module);

MODULE_DESCRIPTION("PVM guest-debug core (effective DR7, DR7/DR6/DEBUGCTL switching) and its self-tests");
MODULE_LICENSE("Dual MIT/GPL");
