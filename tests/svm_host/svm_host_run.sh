#!/usr/bin/env bash
# Runs one program inside a KVM host with full guest-debug support: Debian's
# own kernel (the version of the installed headers, see scripts/kmod-kernel)
# booted under QEMU/TCG with an emulated AMD SVM CPU, kvm-amd loaded from that
# kernel's modules, so /dev/kvm inside is a real SVM KVM.
#   svm_host_run.sh WORKDIR TIMEOUT_S -- PROGRAM [ARGS...]
# The initramfs holds busybox, the KVM modules, PROGRAM with every shared
# library it needs, and the files and directories named in PVM_SVM_HOST_FILES
# (space-separated absolute paths, kept at the same paths inside).  PROGRAM
# runs with CI, GTEST_* and the variables named in PVM_SVM_HOST_ENV passed
# through, cwd and HOME in /tmp, and at most TIMEOUT_S seconds.
# Cache: the kernel and modules are unpacked once from
# `apt-get download linux-image-$KVER=$PKGVER` into PVM_SVM_HOST_CACHE
# (default WORKDIR/cache).  For measurements: PVM_SVM_HOST_SMP (default 2),
# PVM_SVM_HOST_ACCEL (tcg,thread=multi), PVM_SVM_HOST_CPU (qemu64,+svm,+npt).
# Exit: PROGRAM's status; 77 when qemu/busybox/cpio/kernel headers are missing
# (a ctest skip; under CI=true a failure instead); 125 when the host itself
# failed (no /dev/kvm, no verdict).  The serial console is printed on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scripts=$here/../../scripts
usage='usage: svm_host_run.sh WORKDIR TIMEOUT_S -- PROGRAM [ARGS...]'
work=${1:?$usage}
timeout_s=${2:?$usage}
[[ ${3:-} == -- && -n ${4:-} ]] || { echo "$usage" >&2; exit 2; }
shift 3
program=$1
shift
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || { echo "svm_host: TIMEOUT_S must be a positive integer" >&2; exit 2; }

mkdir -p "$work"
work=$(cd "$work" && pwd)
console=$work/console.log

fail() {
  echo "svm_host: FAIL: $*" >&2
  if [[ -f $work/console.txt ]]; then
    echo "---- serial console ----" >&2
    cat "$work/console.txt" >&2
  fi
  exit 125
}

skip() {
  [[ ${CI:-} == true ]] && fail "$* (CI=true: the environment must have it)"
  echo "svm_host: SKIP: $* (scripts/setup installs it)"
  exit 77
}

for tool in qemu-system-x86_64 cpio apt-get dpkg-deb ldd flock python3; do
  command -v "$tool" >/dev/null || skip "no $tool"
done
# The initramfs has no libc of its own for busybox: it must be the static build.
busybox=/bin/busybox
[[ -x $busybox ]] && ! ldd "$busybox" >/dev/null 2>&1 || skip "no static busybox"
kernel=$("$scripts/kmod-kernel") || skip "no kernel headers"
eval "$kernel"
[[ -n $PKGVER ]] || skip "headers in $KDIR are not from a Debian package"
program=$(command -v "$program") || fail "no program $1"
program=$(realpath "$program")

# The kernel and the four modules, unpacked once from the image package.  A lock,
# because several ctest tests may share one cache and start at once.
cache=${PVM_SVM_HOST_CACHE:-$work/cache}
mkdir -p "$cache"
kdir=$cache/linux-image-$KVER-$PKGVER
mods="virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd"
(
  flock 9
  # complete.2: the layout with vmlinux; an older cache is rebuilt.
  [[ -f $kdir/complete.2 ]] && exit 0
  rm -rf "$kdir"
  dl=$(mktemp -d "$cache/dl.XXXXXX")
  trap 'rm -rf "$dl"' EXIT
  (cd "$dl" && apt-get download -q "linux-image-$KVER=$PKGVER" >/dev/null 2>"$dl/apt.err") || {
    cat "$dl/apt.err" >&2
    echo "svm_host: apt-get download linux-image-$KVER=$PKGVER failed (no apt lists? run" \
      "'apt-get update')" >&2
    exit 1
  }
  deb=("$dl"/linux-image-*.deb)
  dpkg-deb --fsys-tarfile "${deb[0]}" >"$dl/image.tar"
  members=("./boot/vmlinuz-$KVER")
  for m in $mods; do
    # Debian 12 ships plain .ko; later releases compress them.
    member=$(tar -tf "$dl/image.tar" | grep -E "^\./lib/modules/$KVER/kernel/$m\.ko(\.xz|\.zst)?$") ||
      { echo "svm_host: $m.ko is not in linux-image-$KVER" >&2; exit 1; }
    members+=("$member")
  done
  tar -xf "$dl/image.tar" -C "$dl" "${members[@]}"
  mkdir -p "$dl/out/modules"
  mv "$dl/boot/vmlinuz-$KVER" "$dl/out/vmlinuz"
  for member in "${members[@]:1}"; do
    name=$(basename "$member")
    case $name in
      *.ko.xz) xz -dc "$dl/$member" >"$dl/out/modules/${name%.xz}" ;;
      *.ko.zst) zstd -qdc "$dl/$member" >"$dl/out/modules/${name%.zst}" ;;
      *) mv "$dl/$member" "$dl/out/modules/$name" ;;
    esac
  done
  # The bzImage spends ~6 s decompressing itself under TCG.  QEMU boots the
  # uncompressed ELF directly through its PVH entry (CONFIG_PVH in Debian's kernel).
  python3 - "$dl/out/vmlinuz" "$dl/out/vmlinux" <<'PY' || rm -f "$dl/out/vmlinux"
import lzma, struct, sys
def pvh_entry(elf):  # is there a XEN_ELFNOTE_PHYS32_ENTRY (18) note?
    if not elf.startswith(b"\x7fELF\x02"):
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _, off, _, _, size = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        pos = off
        while ptype == 4 and pos + 12 <= off + size:  # PT_NOTE
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz]
            if name == b"Xen\x00" and ntype == 18:
                return True
            pos += 12 + (namesz + 3 & ~3) + (descsz + 3 & ~3)
    return False
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:]) if start >= 0 else b""
if not pvh_entry(elf):
    sys.exit("svm_host: no PVH-bootable vmlinux in the bzImage; booting the bzImage")
open(sys.argv[2], "wb").write(elf)
PY
  touch "$dl/out/complete.2"
  mv "$dl/out" "$kdir"
) 9>"$cache/.lock" || fail "could not get linux-image-$KVER=$PKGVER"

# The initramfs.  Programs keep their absolute paths: tests find guest images
# by the build paths compiled into them.
root=$work/initrd
rm -rf "$root" "$console" "$work/console.txt"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,svm_host,lib/modules}
cp "$busybox" "$root/bin/busybox"
for app in sh insmod dmesg grep sed cut tail cat mount poweroff uname timeout; do
  ln -s busybox "$root/bin/$app"
done
install -m 0755 "$here/init.sh" "$root/init"
: >"$root/svm_host/modules"
for m in $mods; do
  cp "$kdir/modules/$(basename "$m").ko" "$root/lib/modules/"
  echo "/lib/modules/$(basename "$m").ko" >>"$root/svm_host/modules"
done

# Debug info is of no use inside and only costs unpacking time under emulation.
copy_elf() {
  mkdir -p "$root$(dirname "$2")"
  if ! objcopy --strip-debug "$1" "$root$2" 2>/dev/null; then
    cp -L "$1" "$root$2"
  fi
  chmod --reference="$1" "$root$2"
}
copy_elf "$program" "$program"
# Every "=> /path" and every absolute first word (the dynamic loader) of ldd.
while read -r lib; do
  [[ -e $root$lib ]] || copy_elf "$lib" "$lib"
done < <(ldd "$program" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p')
for f in ${PVM_SVM_HOST_FILES:-}; do
  [[ $f == /* ]] || fail "PVM_SVM_HOST_FILES entries must be absolute paths: $f"
  [[ -e $f ]] || fail "PVM_SVM_HOST_FILES names a missing path: $f"
  mkdir -p "$root$(dirname "$f")"
  cp -a "$f" "$root$(dirname "$f")/"
done

# POSIX single quotes: safe for any argument (e.g. gtest filters with * and :).
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
write_cmd() {
  {
    printf 'exec'
    for a in "$program" "$@"; do printf ' %s' "$(quote "$a")"; done
    printf '\n'
  } >"$root/svm_host/cmd.sh"
}
write_cmd "$@"
{
  echo "export PATH=/bin HOME=/tmp TMPDIR=/tmp SVM_HOST_TIMEOUT=$timeout_s"
  for v in CI ${PVM_SVM_HOST_ENV:-} $(compgen -e | grep '^GTEST_' || true); do
    [[ -v $v ]] && echo "export $v=$(quote "${!v}")"
  done
} >"$root/svm_host/env.sh"
# Uncompressed: unpacking a gzip inside would run under emulation.
pack_initrd() { (cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"; }
pack_initrd

# Boot.  The host bound covers boot and module load on top of the program's own.
smp=${PVM_SVM_HOST_SMP:-2}
accel=${PVM_SVM_HOST_ACCEL:-tcg,thread=multi}
cpu=${PVM_SVM_HOST_CPU:-qemu64,+svm,+npt}
host_timeout=$((timeout_s + 90))
boot_image=$kdir/vmlinuz
[[ -s $kdir/vmlinux ]] && boot_image=$kdir/vmlinux
boot() {
  start=$EPOCHREALTIME
  rc=0
  timeout "$host_timeout" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$smp" -m 2048 -nographic -no-reboot -nic none \
    -kernel "$boot_image" -initrd "$work/initrd.cpio" \
    -append 'console=ttyS0 panic=-1 quiet' </dev/null >"$console" 2>&1 || rc=$?
  elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  # SeaBIOS leaves terminal escapes in front of the first line of init.
  sed 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[c=>]//g' "$console" >"$work/console.txt"
}
boot_to_verdict() {
  boot
  # No power-off means the emulated kernel itself hung: the program runs under its own
  # timeout inside, which powers off when it fires. Seen rarely under TCG with nested
  # SVM (soft lockups, RCU stalls), never for a program's own hang; one more boot,
  # said out loud, with the first console kept.
  if [[ $rc == 124 ]]; then
    cp "$work/console.txt" "$work/console-hung.txt"
    echo "svm_host: the SVM host hung (no power-off within $host_timeout s; console in" \
      "$work/console-hung.txt, last line: $(tail -n1 "$work/console-hung.txt")); booting once more" >&2
    boot
  fi
  [[ $rc == 124 ]] && fail "QEMU did not power off within $host_timeout s, twice"
  [[ $rc == 0 ]] || fail "QEMU exited with $rc"
  verdict=$(sed -n 's/^svm_host: exit status \([0-9]*\)$/\1/p' "$work/console.txt" | head -n1)
  [[ -n $verdict ]] || fail "no verdict from the SVM host"
}
boot_to_verdict
# PROGRAM's own lines of a console.
program_output() { sed -n '/^svm_host: program start$/,/^svm_host: exit status /p' "$1"; }

# A gtest case that failed is run once more, alone, in a fresh host: under TCG a
# nested L2 vCPU has been seen to stop making progress for a minute (once in many
# runs: a kcounter bystander printed nothing for 60 s, the rest of the host went on).
# A real bug fails twice; the first failure stays in console-first-failure.txt and
# the retry is said out loud in the log.
failed_cases=$(sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_/.]*\)\(, where .*\)\? (.*$/\1/p' "$work/console.txt" |
  sort -u | paste -sd: -)
if [[ $verdict != 0 && -n $failed_cases && ${PVM_SVM_HOST_RETRY:-1} == 1 ]]; then
  cp "$work/console.txt" "$work/console-first-failure.txt"
  echo "svm_host: RETRY: $(basename "$program") failed [$failed_cases] (exit $verdict; output in" \
    "$work/console-first-failure.txt, printed below); running only those once more" >&2
  program_output "$work/console-first-failure.txt" >&2
  write_cmd "$@" "--gtest_filter=$failed_cases"
  pack_initrd
  boot_to_verdict
  if [[ $verdict == 0 ]]; then
    echo "svm_host: RETRY: [$failed_cases] passed on the second run (a flake of the emulated" \
      "host, not hidden: see above)" >&2
  fi
fi
# PROGRAM's own output, for the ctest log.
program_output "$work/console.txt"
if [[ $verdict != 0 ]]; then
  echo "svm_host: $(basename "$program") exited with $verdict; whole console in $work/console.txt" >&2
  echo "---- serial console ----" >&2
  cat "$work/console.txt" >&2
fi
echo "svm_host: QEMU boot to power-off ${elapsed} s (-accel $accel -cpu $cpu -smp $smp)"
exit "$verdict"
