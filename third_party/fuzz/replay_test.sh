#!/usr/bin/env bash
# Replays inputs through a fuzz target built as a plain binary (standalone_fuzz_main.cc):
#   replay_test.sh FUZZER [--seeds SEED_WRITER] FILE_OR_DIR...
# SEED_WRITER DIR writes a seed corpus into DIR first (fuzz/make_elf_seeds.cc). A page
# of zeroes is always one input. Fails when the target aborts (a contract violation).
set -euo pipefail
fuzzer=$1
shift
tmp=${TEST_TMPDIR:-$(mktemp -d)}
inputs=()
if [[ ${1:-} == --seeds ]]; then
  mkdir -p "$tmp/seeds"
  "$2" "$tmp/seeds"
  inputs+=("$tmp/seeds")
  shift 2
fi
head -c 65552 /dev/zero >"$tmp/zeroes"
inputs+=("$tmp/zeroes" "$@")
exec "$fuzzer" "${inputs[@]}"
