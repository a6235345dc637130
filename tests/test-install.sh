#!/bin/bash
# 'make install DESTDIR=…' with --prefix=/usr puts every file where Debian's
# dbus-daemon, systemd and udev look for it, and the systemd unit passes
# systemd-analyze (where it is installed). TAP output.
set -u
builddir="${QGA_TEST_BUILDDIR:?}"
make="${MAKE:-make}"
dest=$(mktemp -d /tmp/qga-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n $1"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

if ! "$make" -s -C "$builddir" install DESTDIR="$dest" prefix=/usr sysconfdir=/etc >"$dest.log" 2>&1; then
  echo "Bail out! make install failed: $(tail -5 "$dest.log")"
  rm -f "$dest.log"
  exit 1
fi
rm -f "$dest.log"

for f in /usr/sbin/qga-bridge /usr/bin/qga-host /usr/bin/qga-session \
         /usr/share/dbus-1/system.d/org.qemu.GuestAgent.conf \
         /usr/share/dbus-1/system-services/org.qemu.GuestAgent.service \
         /usr/share/dbus-1/services/org.qemu.GuestAgent.service \
         /usr/lib/systemd/system/qga-bridge.service \
         /usr/lib/udev/rules.d/60-qga-bridge.rules \
         /usr/share/man/man8/qga-bridge.8 /usr/share/man/man1/qga-host.1 \
         /usr/share/man/man1/qga-session.1 \
         /usr/bin/qga-clipboard-sync /usr/share/man/man1/qga-clipboard-sync.1 \
         /etc/xdg/autostart/qga-clipboard-sync.desktop; do
  check "installed $f" test -f "$dest$f"
done

activation="$dest/usr/share/dbus-1/system-services/org.qemu.GuestAgent.service"
check "activation file: Exec is the installed bridge" grep -qx 'Exec=/usr/sbin/qga-bridge' "$activation"
check "activation file: runs as root" grep -qx 'User=root' "$activation"
check "activation file: names the systemd unit" grep -qx 'SystemdService=qga-bridge.service' "$activation"

# The session agent's: started by the user's own dbus-daemon, as that user.
session_activation="$dest/usr/share/dbus-1/services/org.qemu.GuestAgent.service"
check "session activation file: our bus name" grep -qx 'Name=org.qemu.GuestAgent' "$session_activation"
check "session activation file: Exec is the installed qga-session" \
  grep -qx 'Exec=/usr/bin/qga-session' "$session_activation"
check "session activation file: no User= (a session service runs as its user)" \
  bash -c "! grep -q '^User=' '$session_activation'"

autostart="$dest/etc/xdg/autostart/qga-clipboard-sync.desktop"
check "autostart file: Exec is the installed qga-clipboard-sync" \
  grep -qx 'Exec=/usr/bin/qga-clipboard-sync' "$autostart"
if command -v desktop-file-validate >/dev/null 2>&1; then
  check "autostart file: desktop-file-validate" desktop-file-validate "$autostart"
fi

unit="$dest/usr/lib/systemd/system/qga-bridge.service"
check "unit: Type=dbus with our BusName" \
  bash -c "grep -qx 'Type=dbus' '$unit' && grep -qx 'BusName=org.qemu.GuestAgent' '$unit'"
check "unit: ExecStart is the installed bridge" grep -qx 'ExecStart=/usr/sbin/qga-bridge' "$unit"
# The rule continues over lines with '\': join them before matching.
rule_wants_unit() {
  tr -d '\\\n' <"$1" | grep -q 'ATTR{name}=="org.qemu.guest_bridge.0".*SYSTEMD_WANTS.*qga-bridge.service'
}
check "udev rule: matches our port and wants the unit" \
  rule_wants_unit "$dest/usr/lib/udev/rules.d/60-qga-bridge.rules"

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify needs ExecStart to exist: point it at the installed copy.
  sed "s|/usr/sbin/qga-bridge|$dest/usr/sbin/qga-bridge|" "$unit" >"$dest/qga-bridge.service"
  check "systemd-analyze verify" systemd-analyze verify --man=no "$dest/qga-bridge.service"
  exposure=$(systemd-analyze security --offline=yes "$dest/qga-bridge.service" 2>/dev/null \
             | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  check "systemd-analyze security: exposure $exposure is at most 2.0" \
    awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'
else
  skip "systemd-analyze verify" "systemd-analyze not installed"
  skip "systemd-analyze security" "systemd-analyze not installed"
fi

echo "1..$n"
exit $failed
