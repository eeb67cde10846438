#!/usr/bin/env bash
# Remove what tools/install.sh installed (what `make uninstall` runs, as root); config and state stay unless --purge.
#
# Usage: tools/uninstall.sh [--root DIR] [--purge]
#   --root DIR  act on a tree staged with `tools/install.sh --root DIR` (also DESTDIR=DIR)
#   --purge     also delete /etc/swivel (your config) and /var/lib/swivel (the stored range of motion).
# The swivel user and its groups are left in place, as Debian does for system users: files it owned
# (journal entries, a kept /var/lib/swivel) keep a meaningful owner, and a reinstall gets the same ids.
set -euo pipefail

ROOT=${DESTDIR:-}
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "uninstall: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROOT=${ROOT%/}
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || { echo "uninstall: $ROOT does not exist" >&2; exit 1; }
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" = / ] && ROOT=
fi
ONLINE=$([ -z "$ROOT" ] && echo 1 || echo 0)
if [ "$ONLINE" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "uninstall: run as root (sudo make uninstall), or pass --root DIR" >&2
  exit 1
fi
UNITDIR=$ROOT/etc/systemd/system
UNITS="swivel-kiosk.service swivel-satellite.service swivel-wake.service swivel-web.service swivel-speaker.service swivel-health.service swivel-policy.service swivel-ssl.service swivel-vision.service swivel-motor.service swivel.target"
say() { echo "uninstall: $*"; }

# 1. Stop first (policy before motor, so the motor's teardown is the last word to the MCU), then disable.
if [ "$ONLINE" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl stop swivel.target $UNITS 2>/dev/null || true
  systemctl disable swivel.target 2>/dev/null || true
  systemctl disable swivel-kiosk.service 2>/dev/null || true
elif [ -e "$UNITDIR/swivel.target" ]; then
  systemctl --root="${ROOT:-/}" disable swivel.target 2>/dev/null || true
fi

# 2. Units, sysusers/tmpfiles snippets, the venv and the runtime directory.
for u in $UNITS; do
  rm -f "$UNITDIR/$u"
  rm -rf "$UNITDIR/$u.d"
done
rm -f "$ROOT/etc/sysusers.d/swivel.conf" "$ROOT/etc/tmpfiles.d/swivel.conf"
rm -rf "$ROOT/opt/swivel" "$ROOT/run/swivel" "$ROOT/var/cache/swivel"
if [ "$ONLINE" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reset-failed $UNITS 2>/dev/null || true
fi

# 3. Config and state: kept by default.
if [ "$PURGE" = 1 ]; then
  rm -rf "$ROOT/etc/swivel" "$ROOT/var/lib/swivel"
  say "removed Swivel, its config and its state"
else
  say "removed Swivel; kept ${ROOT}/etc/swivel and ${ROOT}/var/lib/swivel (--purge deletes them)"
fi
