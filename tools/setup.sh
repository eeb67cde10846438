#!/usr/bin/env bash
# Idempotent set-up: Debian packages, then a virtual environment with the project installed.
# Quick when already done: each step checks a stamp before doing work.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
APT_PACKAGES="gcc-avr avr-libc simavr libsimavr-dev libelf-dev pkg-config espeak-ng sox portaudio19-dev build-essential python3-venv python3-dev systemd frama-c-base why3 z3 cvc4 spin chromium"

need_apt=()
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (${need_apt[*]}); run 'make setup' as root" >&2; exit 1
  fi
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

stamp="$VENV/.swivel-installed"
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # pip would byte-compile every file of every wheel on one core (over a minute); compileall does it on all
  # of them. The bytecode must be there: with PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing else
  # writes it, and every process would compile numpy, scipy and mediapipe again at each start.
  "$VENV/bin/pip" install -q --no-compile -r requirements.txt
  "$VENV/bin/pip" install -q --no-compile --no-deps -e .
  "$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" >/dev/null 2>&1 || true
  touch "$stamp"
fi
