#!/usr/bin/env bash
# cmake --install of the build into a scratch DESTDIR with prefix /usr; checks that
# everything a host needs lands where a distribution puts it.
# Usage: install_layout.sh BUILD_DIR
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR=$dest cmake --install "$build" --prefix /usr >/dev/null
status=0
for path in usr/sbin/pvmd usr/bin/pvmctl usr/lib/systemd/system/pvmd.service \
            usr/lib/systemd/system/pvmd.socket usr/lib/sysusers.d/pvmd.conf \
            usr/lib/tmpfiles.d/pvmd.conf \
            usr/libexec/pvmd/guests/hello.elf usr/share/doc/pvmd/README.md; do
  if [ -e "$dest/$path" ]; then
    echo "install_layout: /$path"
  else
    echo "install_layout: missing /$path" >&2
    status=1
  fi
done
# The default config file lands in the configured SYSCONFDIR (/etc for a build
# configured with the /usr prefix, PREFIX/etc otherwise).
conf=$(find "$dest" -path '*/etc/pvmd/pvmd.conf' | head -n 1)
if [ -n "$conf" ]; then
  echo "install_layout: ${conf#"$dest"}"
else
  echo "install_layout: missing etc/pvmd/pvmd.conf" >&2
  status=1
fi
# The unit starts the installed binary.
grep -q '^ExecStart=/usr/sbin/pvmd ' "$dest/usr/lib/systemd/system/pvmd.service" || {
  echo "install_layout: pvmd.service does not start /usr/sbin/pvmd" >&2
  status=1
}
exit $status
