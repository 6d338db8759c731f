#!/usr/bin/env bash
# Boots Debian's own kernel (the version of the installed headers) under
# QEMU/TCG with a busybox initramfs that loads pvm_debug.ko, and asserts on
# the verdicts printed on the serial console (see init.sh).
#   boot_test.sh KO WORKDIR
# The kernel comes from `apt-get download linux-image-$KVER=$PKGVER`, pinned
# to the headers' exact Debian version, unpacked once into WORKDIR/cache
# (or PVM_KMOD_VMLINUZ=path to use a given image).
# Exit 0: both verdicts as expected; 77: qemu/busybox/cpio/headers missing
# (ctest reports a skip; under CI=true this is a failure instead); anything
# else: failure, with the serial console printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scripts=$here/../../scripts
ko=${1:?usage: boot_test.sh KO WORKDIR}
work=${2:?usage: boot_test.sh KO WORKDIR}

fail() {
  echo "kmod_boot: FAIL: $*" >&2
  if [[ -f $work/console.log ]]; then
    echo "---- serial console ----" >&2
    cat "$work/console.log" >&2
  fi
  exit 1
}

skip() {
  [[ ${CI:-} == true ]] && fail "$* (CI=true: the environment must have it)"
  echo "kmod_boot: SKIP: $* (scripts/setup installs it)"
  exit 77
}

for tool in qemu-system-x86_64 cpio gzip; do
  command -v "$tool" >/dev/null || skip "no $tool"
done
# The initramfs has no libc: busybox must be the static build.
busybox=/bin/busybox
[[ -x $busybox ]] && ! ldd "$busybox" >/dev/null 2>&1 || skip "no static busybox"
kernel=$("$scripts/kmod-kernel") || skip "no kernel headers"
eval "$kernel"
[[ -f $ko ]] || fail "no module at $ko (the kmod_kbuild test builds it)"
mkdir -p "$work/cache"
vmlinuz=${PVM_KMOD_VMLINUZ:-$work/cache/vmlinuz-$KVER-$PKGVER}
if [[ ! -s $vmlinuz ]]; then
  [[ -n $PKGVER ]] || fail "headers in $KDIR are not from a Debian package: set PVM_KMOD_VMLINUZ"
  dl=$(mktemp -d "$work/cache/dl.XXXXXX")
  (cd "$dl" && apt-get download -q "linux-image-$KVER=$PKGVER" >/dev/null 2>"$dl/apt.err") ||
    { cat "$dl/apt.err" >&2; rm -rf "$dl"; fail "apt-get download linux-image-$KVER=$PKGVER failed (no apt lists? run" \
      "'apt-get update'; or point PVM_KMOD_VMLINUZ at vmlinuz-$KVER)"; }
  dpkg-deb --fsys-tarfile "$dl"/linux-image-*.deb | tar -x -C "$dl" "./boot/vmlinuz-$KVER"
  mv "$dl/boot/vmlinuz-$KVER" "$vmlinuz"
  rm -rf "$dl"
fi

root=$work/initrd
rm -rf "$root" "$work/console.log"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
cp "$busybox" "$root/bin/busybox"
for app in sh insmod dmesg grep sed mount poweroff uname; do
  ln -s busybox "$root/bin/$app"
done
install -m 0755 "$here/init.sh" "$root/init"
cp "$ko" "$root/pvm_debug.ko"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.cpio.gz"

start=$EPOCHREALTIME
rc=0
timeout 120 qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -nic none \
  -kernel "$vmlinuz" -initrd "$work/initrd.cpio.gz" \
  -append 'console=ttyS0 panic=-1 quiet' </dev/null >"$work/console.log" 2>&1 || rc=$?
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
# SeaBIOS leaves terminal escapes in front of the first line of init.
sed 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[c=>]//g' "$work/console.log" >"$work/console.txt"
[[ $rc == 124 ]] && fail "QEMU did not power off within 120 s"
[[ $rc == 0 ]] || fail "QEMU exited with $rc"

lines() { grep "^pvmd-kmod: $1" "$work/console.txt" || true; }
grep -qx "pvmd-kmod: kernel $KVER" "$work/console.txt" ||
  fail "the booted kernel is not $KVER"
grep -qx 'pvmd-kmod: end' "$work/console.txt" || fail "init did not finish"

# The injected failure must be caught: load refused, FAIL verdict, and
# the broken expectation named.
[[ -n $(lines 'negative insmod rc=[1-9]') ]] || fail "inject_failure=1 still loaded"
[[ -z $(lines 'negative module present') ]] || fail "inject_failure=1 left the module loaded"
neg=$(lines 'negative dmesg: ' | grep -E 'pvm_debug: selftest: (PASS|FAIL) \(' | head -n1)
[[ $neg == *'selftest: FAIL ('* ]] || fail "inject_failure=1 verdict: '${neg:-none}'"
[[ -n $(lines 'negative dmesg: .*selftest: FAILED GD cleared') ]] ||
  fail "the injected failure is not named"

pos=$(lines 'positive dmesg: ' | grep -E 'pvm_debug: selftest: (PASS|FAIL) \(' | head -n1)
[[ $pos == *'selftest: PASS ('* ]] || fail "verdict: '${pos:-none}'"
[[ -n $(lines 'positive insmod rc=0') ]] || fail "insmod of the passing module failed"
[[ -n $(lines 'positive module present') ]] || fail "module not in /sys/module"
problems=$(grep -E '^pvmd-kmod: .* dmesg: .*(Call Trace|BUG:|WARNING:|Oops|unchecked MSR)' \
  "$work/console.txt" || true)
[[ -z $problems ]] || fail "the kernel complained: $problems"

echo "kmod_boot: kernel $KVER booted and powered off in ${elapsed} s"
echo "kmod_boot: inject_failure=1 -> ${neg#*dmesg: }"
echo "kmod_boot: ${pos#*dmesg: }"
lines 'positive dmesg: .*DEBUGCTL' | sed 's/^pvmd-kmod: positive dmesg: /kmod_boot: note: /'
echo "kmod_boot: PASS"
