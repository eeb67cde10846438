#!/usr/bin/env bash
# Install Swivel on a Pi (what `make install` runs, as root): venv in /opt/swivel, config, units, user, runtime dir.
#
# Usage: tools/install.sh [--root DIR] [--no-apt] [--no-deps] [--start]
#   --root DIR  install under DIR instead of / (also DESTDIR=DIR); nothing of the running system is touched:
#               users and dirs are made with systemd-sysusers/-tmpfiles --root, the target is enabled with
#               `systemctl --root`, no daemon-reload. The venv in DIR/opt/swivel runs from there (a venv is
#               not relocatable: a staged tree is for inspection and tests, not for copying onto a device).
#   --no-apt    do not install the Debian packages the build needs (default: installed when root on /)
#   --no-deps   install only the swivel package into the venv, not its dependencies (offline tests)
#   --start     (re)start swivel.target at the end; by default a running target is restarted and a stopped
#               one is left stopped, so a first install never turns the motor before the wiring is checked
# Environment: PYTHON (default python3) builds the venv; PIP_ARGS are passed to every pip install.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${DESTDIR:-}
APT=auto
DEPS=1
START=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --no-apt) APT=0; shift ;;
    --no-deps) DEPS=0; shift ;;
    --start) START=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROOT=${ROOT%/}
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" = / ] && ROOT=
fi
ONLINE=$([ -z "$ROOT" ] && echo 1 || echo 0)     # installing onto the running system?
PYTHON=${PYTHON:-python3}
read -r -a PIP_EXTRA <<< "${PIP_ARGS:-}"

VENV=$ROOT/opt/swivel
ETC=$ROOT/etc/swivel
UNITDIR=$ROOT/etc/systemd/system
say() { echo "install: $*"; }

if [ "$ONLINE" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "install: run as root (sudo make install), or pass --root DIR to stage into a directory" >&2
  exit 1
fi

# 1. Debian packages the venv needs to build (pyaudio against PortAudio; lgpio where there is no wheel).
if [ "$APT" = auto ]; then APT=$ONLINE; fi
if [ "$APT" = 1 ] && command -v apt-get >/dev/null; then
  need=()
  for p in python3-venv python3-dev portaudio19-dev build-essential; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    say "Debian packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
  # Only on Raspberry Pi OS; pip finds an lgpio wheel on most Pis without them.
  for p in swig liblgpio-dev; do
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p" >/dev/null 2>&1 || true
  done
fi

# 2. The virtual environment with the package (not editable: /opt/swivel must not depend on this checkout).
# Built from a clean copy of the sources: no build/ left in the checkout, no stale modules from an old one.
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -r "$SRC/pyproject.toml" "$SRC/device" "$STAGE/"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
if [ ! -x "$VENV/bin/python" ]; then
  say "venv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$DEPS" = 1 ]; then
  "$VENV/bin/pip" install -q --upgrade pip "${PIP_EXTRA[@]}"
  # requirements.txt pins what the environment demands; as constraints it installs nothing test-only.
  "$VENV/bin/pip" install -q -c "$SRC/requirements.txt" "${PIP_EXTRA[@]}" "$STAGE[audio]"
  case "$(uname -m)" in
    aarch64|armv7l|armv6l) "$VENV/bin/pip" install -q "${PIP_EXTRA[@]}" lgpio ;;   # gpiozero's pin factory
  esac
else
  "$VENV/bin/pip" install -q --no-deps "${PIP_EXTRA[@]}" "$STAGE"
fi
say "package installed: $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("swivel"))')"
install -d -m 0755 "$VENV/share/doc/swivel" "$VENV/share/swivel"
install -m 0644 "$SRC/systemd/INSTALL.md" "$VENV/share/doc/swivel/INSTALL.md"
install -m 0644 "$SRC/systemd/swivel.toml.example" "$VENV/share/swivel/swivel.toml.example"
if [ -f "$SRC/firmware_mcu/build/swivel.hex" ]; then
  install -d -m 0755 "$VENV/share/swivel/firmware"
  install -m 0644 "$SRC/firmware_mcu/build/swivel.hex" "$VENV/share/swivel/firmware/swivel.hex"
fi

# 3. System user and groups, then the units and the runtime/state dirs that need them.
install -d -m 0755 "$ROOT/etc/sysusers.d" "$ROOT/etc/tmpfiles.d" "$UNITDIR"
install -m 0644 "$SRC/systemd/swivel.sysusers.conf" "$ROOT/etc/sysusers.d/swivel.conf"
install -m 0644 "$SRC/systemd/swivel.tmpfiles.conf" "$ROOT/etc/tmpfiles.d/swivel.conf"
ROOTARG=(); [ -n "$ROOT" ] && ROOTARG=(--root="$ROOT")
systemd-sysusers "${ROOTARG[@]}" "$ROOT/etc/sysusers.d/swivel.conf"
systemd-tmpfiles "${ROOTARG[@]}" --create "$ROOT/etc/tmpfiles.d/swivel.conf"
for u in swivel-motor.service swivel-ssl.service swivel-vision.service swivel-policy.service swivel-health.service \
         swivel-speaker.service swivel-web.service swivel-wake.service swivel-satellite.service swivel.target; do
  install -m 0644 "$SRC/systemd/$u" "$UNITDIR/$u"
done

# The kiosk (Chromium full screen on the device's display) runs as the desktop user: $KIOSK_USER, else the
# first login user (uid 1000, as Raspberry Pi OS makes it); with neither there is no kiosk unit.
KUSER=${KIOSK_USER:-$(awk -F: '$3 == 1000 {print $1}' "$ROOT/etc/passwd" 2>/dev/null)}
KUID=$([ -n "$KUSER" ] && awk -F: -v u="$KUSER" '$1 == u {print $3}' "$ROOT/etc/passwd" 2>/dev/null || true)
KIOSK=0
if [ -n "$KUID" ]; then
  sed -e "s|@KIOSK_USER@|$KUSER|g" -e "s|@KIOSK_UID@|$KUID|g" -e "s|@KIOSK_URL@|${KIOSK_URL:-http://127.0.0.1:8080/kiosk}|g" \
    "$SRC/systemd/kiosk/swivel-kiosk.service" > "$UNITDIR/swivel-kiosk.service"
  chmod 0644 "$UNITDIR/swivel-kiosk.service"
  KIOSK=1
  say "kiosk unit for desktop user $KUSER (uid $KUID)"
else
  say "no desktop user (uid 1000, or KIOSK_USER=name): no kiosk unit"
fi

# 4. The config: never overwrite the user's; the current example always sits next to it.
install -d -m 0755 "$ETC"
install -m 0644 "$SRC/systemd/swivel.toml.example" "$ETC/swivel.toml.example"
if [ -e "$ETC/swivel.toml" ]; then
  say "kept $ETC/swivel.toml (compare with swivel.toml.example after an upgrade)"
else
  install -m 0644 "$SRC/systemd/swivel.toml.example" "$ETC/swivel.toml"
  say "config $ETC/swivel.toml"
fi
# The installed package must accept the installed config (a typo here would stop every service).
"$VENV/bin/python" - "$ETC/swivel.toml" <<'PY' || { echo "install: $ETC/swivel.toml does not load (see above)" >&2; exit 1; }
import sys
try:
    from device.config import load_config
except ImportError as exc:      # --no-deps: the package is there but not msgspec & co.
    print(f"install: config not checked ({exc})")
    sys.exit(0)
from device.errors import UserError
try:
    load_config(sys.argv[1])
except UserError as exc:
    print(f"install: {exc}", file=sys.stderr)
    sys.exit(1)
PY

# 5. Enable (and on an upgrade restart) the target.
if [ "$ONLINE" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable swivel.target
  if [ "$START" = 1 ]; then
    systemctl restart swivel.target
  else
    systemctl try-restart swivel-motor.service swivel-ssl.service swivel-vision.service swivel-policy.service \
      swivel-health.service swivel-speaker.service swivel-web.service swivel-wake.service swivel-satellite.service
  fi
  say "enabled swivel.target; start it with: systemctl start swivel.target; logs: journalctl -u 'swivel-*' -f"
else
  systemctl "${ROOTARG[@]}" enable swivel.target
  say "enabled swivel.target in ${ROOT:-/} (systemd not running there: nothing started)"
fi

# 6. The kiosk, for the graphical boot (it waits for the desktop's compositor itself).
if [ "$KIOSK" = 1 ]; then
  systemctl "${ROOTARG[@]}" enable swivel-kiosk.service
fi
