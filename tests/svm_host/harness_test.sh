#!/usr/bin/env bash
# The SVM host harness itself: a program inside sees a working /dev/kvm from
# kvm-amd, its arguments exactly as given, CI and the listed files, and its
# exit status (here 3, on purpose) becomes the harness's.  A harness that
# reported success for a failing program would make every svm_host test
# meaningless.
#   harness_test.sh WORKDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:?usage: harness_test.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)

fail() {
  echo "svm_host_harness: FAIL: $*" >&2
  echo "---- harness output ----" >&2
  cat "$work/out.txt" >&2
  exit 1
}

payload=$work/payload
mkdir -p "$payload"
echo "payload-$$" >"$payload/marker"
# Runs inside, under busybox sh (the program is /bin/sh of the host: dash).
probe='
echo "probe: argc $# [$1] [$2]"
echo "probe: CI=[${CI-unset}]"
[ -c /dev/kvm ] && echo "probe: /dev/kvm is a char device"
grep -q "^kvm_amd " /proc/modules && echo "probe: kvm_amd loaded"
grep -qw svm /proc/cpuinfo && echo "probe: cpu has svm"
echo "probe: marker $(cat "$MARKER")"
exit 3'

# CI passes through (and keeps its meaning for the skip rule): give it a value to see.
export CI=${CI:-false}
rc=0
PVM_SVM_HOST_FILES="$payload" PVM_SVM_HOST_ENV=MARKER MARKER=$payload/marker \
  "$here/svm_host_run.sh" "$work/host" 60 -- /bin/sh -c "$probe" probe "it's * a:b" '$HOME' \
  >"$work/out.txt" 2>&1 || rc=$?
[[ $rc == 77 ]] && { cat "$work/out.txt"; exit 77; }
[[ $rc == 3 ]] || fail "harness exit status $rc, the program's was 3"

expect() { grep -qxF "$1" "$work/out.txt" || fail "missing line: $1"; }
expect "probe: argc 2 [it's * a:b] [\$HOME]"
expect "probe: CI=[$CI]"
expect "probe: /dev/kvm is a char device"
expect "probe: kvm_amd loaded"
expect "probe: cpu has svm"
expect "probe: marker payload-$$"
expect "svm_host: exit status 3"
grep '^svm_host: QEMU boot' "$work/out.txt"

# A failed gtest case runs once more alone (the emulated host's rare stalls); a case
# that fails again fails the test, one that passes on the second run says so.
# The fake "gtest" fails unless given exactly the filter of its one failed case,
# or fails always.
flaky='
echo "[  FAILED  ] Fake/Suite.Case/0, where GetParam() = 1 (5 ms)"
[ "$2" = "--gtest_filter=Fake/Suite.Case/0" ] && [ "$1" = flaky ] && exit 0
exit 1'
for mode in flaky broken; do
  rc=0
  "$here/svm_host_run.sh" "$work/$mode" 60 -- /bin/sh -c "$flaky" probe "$mode" \
    >"$work/out.txt" 2>&1 || rc=$?
  grep -qF "failed [Fake/Suite.Case/0] (exit 1;" "$work/out.txt" ||
    fail "$mode: no retry of the failed case"
  if [[ $mode == flaky ]]; then
    [[ $rc == 0 ]] || fail "flaky: exit $rc although the retry passed"
    grep -qF "passed on the second run" "$work/out.txt" || fail "flaky: the retry's pass is not said"
  else
    [[ $rc == 1 ]] || fail "broken: exit $rc although the case failed twice"
    ! grep -qF "passed on the second run" "$work/out.txt" || fail "broken: claims a pass"
  fi
done
echo "svm_host_harness: PASS"
