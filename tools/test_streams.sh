#!/usr/bin/env bash
# `make test`: the real-time tests in front, the batch work (firmware host tests, proofs, batch modules) beside them at idle priority.
#
# The real-time tests (whole simulated rooms, the firmware in simavr, services on the bus) run in real time and
# leave about a third of the two cores unused; the batch work fills that without slowing them: SCHED_IDLE gets
# a core only when nothing else wants it. tests/conftest.py lists the batch modules. Arguments go to pytest.
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
log=$(mktemp "${TMPDIR:-/tmp}/swivel-batch-XXXXXX.log")
trap 'rm -f "$log"' EXIT
idle=(chrt --idle 0)
"${idle[@]}" true 2>/dev/null || idle=(nice -n 19)

( "${idle[@]}" make --no-print-directory -j2 -O test-firmware proofs &&
  "${idle[@]}" "$PY" -m pytest -q -ra -p no:cacheprovider -m batch "$@" ) >"$log" 2>&1 &
batch=$!
# Ctrl-C or a kill stops both streams (the whole process group, as a terminal's Ctrl-C does).
trap 'trap - INT TERM EXIT; rm -f "$log"; kill 0' INT TERM

"$PY" -m pytest -q -ra --durations=30 -m "not batch" "$@"
rt=$?
wait "$batch"
bt=$?
echo
echo "===== batch stream: firmware host tests, proofs, batch test modules (ran alongside, at idle priority) ====="
cat "$log"
# 5 = nothing collected (arguments that name only tests of the other stream)
[ "$rt" -eq 5 ] && rt=0
[ "$bt" -eq 5 ] && bt=0
if [ "$rt" -ne 0 ] || [ "$bt" -ne 0 ]; then
    echo "make test: FAILED (real-time tests: exit $rt; batch stream: exit $bt)"
    exit 1
fi
echo "make test: both streams passed"
