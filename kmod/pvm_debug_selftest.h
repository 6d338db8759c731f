/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Self-tests of the guest-debug core.  The module runs them from its init
 * (Debian's kernel has no KUnit) and refuses to load if one fails; the
 * userspace tests run the very same code, so a check that passes in one
 * place cannot silently differ in the other.
 */
#ifndef PVM_DEBUG_SELFTEST_H
#define PVM_DEBUG_SELFTEST_H

#include "pvm_debug.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pvm_selftest {
	unsigned int checks;
	unsigned int failures;
	/* Corrupts one expectation, to prove a failure is reported. */
	bool inject_failure;
};

/* Adds to st->checks and st->failures; logs each failure. */
void pvm_debug_selftest_run(struct pvm_selftest *st);

/* Counts one check; logs and counts a failure when !ok.  Returns ok. */
bool pvm_selftest_check(struct pvm_selftest *st, bool ok, const char *what,
			unsigned long long got, unsigned long long want);

#ifdef __cplusplus
}
#endif

#endif /* PVM_DEBUG_SELFTEST_H */
