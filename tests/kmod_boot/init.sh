#!/bin/busybox sh
# PID 1 of the booted-kernel test.  Loads pvm_debug.ko twice: first told to
# corrupt one self-test expectation (it must refuse to load and say FAIL),
# then for real (it must load and say PASS).  Every line for the host to
# check starts with "pvmd-kmod:"; the kernel's own lines are repeated from
# dmesg because "quiet" keeps pr_info off the console.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys

report() {
	dmesg | grep -E 'pvm_debug|Call Trace|BUG:|WARNING:|Oops|unchecked MSR' |
		sed "s/^/pvmd-kmod: $1 dmesg: /"
	dmesg -c >/dev/null
}

# The first line shares the console line with the BIOS: start a new one.
echo
echo "pvmd-kmod: kernel $(uname -r)"
dmesg -c >/dev/null

insmod /pvm_debug.ko inject_failure=1
echo "pvmd-kmod: negative insmod rc=$?"
[ -d /sys/module/pvm_debug ] && echo "pvmd-kmod: negative module present"
report negative

insmod /pvm_debug.ko
echo "pvmd-kmod: positive insmod rc=$?"
[ -d /sys/module/pvm_debug ] && echo "pvmd-kmod: positive module present"
report positive

echo "pvmd-kmod: end"
poweroff -f
