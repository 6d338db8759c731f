#!/bin/busybox sh
# PID 1 of the SVM host (see svm_host_run.sh): loads KVM for AMD SVM, then runs
# the one command in /svm_host/cmd.sh under a time bound and reports its exit
# status.  Lines for the host side start with "svm_host:".
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs dev /dev
# The first line shares the console line with the BIOS: start a new one.
echo
echo "svm_host: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus, init at $(cut -d" " -f1 /proc/uptime) s"

verdict() {
	echo "svm_host: exit status $1"
	poweroff -f
}

. /svm_host/env.sh
for m in $(cat /svm_host/modules); do
	if ! insmod "$m"; then
		echo "svm_host: insmod $m failed"
		dmesg | tail -n 20 | sed 's/^/svm_host: dmesg: /'
		verdict 125
	fi
done
if [ ! -c /dev/kvm ]; then
	echo "svm_host: no /dev/kvm after loading the modules"
	dmesg | grep -iE 'kvm|svm' | sed 's/^/svm_host: dmesg: /'
	verdict 125
fi
echo "svm_host: /dev/kvm ready after $(cut -d' ' -f1 /proc/uptime) s"
dmesg | grep -E '(kvm|SVM):' | sed 's/^\[[ 0-9.]*\] /svm_host: dmesg: /'

echo "svm_host: program start"
cd /tmp
timeout -s KILL "$SVM_HOST_TIMEOUT" sh /svm_host/cmd.sh
rc=$?
echo "svm_host: program end after $(cut -d' ' -f1 /proc/uptime) s"
# busybox timeout has no status of its own: a KILL shows up as 137.
[ "$rc" = 137 ] && echo "svm_host: killed after ${SVM_HOST_TIMEOUT} s (or by SIGKILL)"
problems=$(dmesg | grep -E 'Call Trace|BUG:|WARNING:|Oops' | head -n 5)
[ -n "$problems" ] && echo "$problems" | sed 's/^/svm_host: kernel: /'
verdict "$rc"
