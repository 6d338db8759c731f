#!/usr/bin/env bash
# systemd-analyze verify on deploy/'s units, offline: each unit copied with its
# ExecStart pointing at the pvmd under test (verify checks that the binary exists).
# Usage: verify_units.sh DEPLOY_DIR PVMD
set -euo pipefail
deploy=$1
pvmd=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in "$deploy"/*.service "$deploy"/*.socket; do
  [ -e "$unit" ] || continue
  sed "s#/usr/sbin/pvmd#$pvmd#g" "$unit" >"$work/$(basename "$unit")"
done
cd "$work"
status=0
for unit in *; do
  if ! out=$(systemd-analyze verify --man=no "./$unit" 2>&1) || [ -n "$out" ]; then
    printf 'verify_units: %s:\n%s\n' "$unit" "$out" >&2
    status=1
  else
    echo "verify_units: $unit: ok"
  fi
done
exit $status
