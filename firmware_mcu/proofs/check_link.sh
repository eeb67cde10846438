#!/usr/bin/env bash
# Model-check the serial link (proofs/link.pml) with spin: the real rules must hold, each variant must fail.
set -euo pipefail
model=$(cd "$(dirname "$0")" && pwd)/link.pml
out=${1:?usage: check_link.sh OUTDIR}
mkdir -p "$out"
run() {   # run NAME EXPECT(pass|fail) SPIN_DEFINES...
  local name=$1 expect=$2; shift 2
  local dir="$out/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  # Depth-first to cover the state space; breadth-first where a failure is expected, for the shortest trail.
  local search=-DCOLLAPSE; [ "$expect" = fail ] && search=-DBFS
  cp "$model" "$dir/link.pml"
  (cd "$dir" && spin -a "$@" link.pml >spin.log 2>&1 && cc -O2 -DSAFETY $search -o pan pan.c 2>>spin.log \
     && { ./pan -m4000000 >pan.log 2>&1 || true; })
  local errors; errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | head -1)
  if [ -z "$errors" ]; then echo "spin $name: no result (see $dir)"; return 1; fi
  if [ "$expect" = pass ] && [ "$errors" = 0 ] && grep -q "invalid end states\s*+" "$dir/pan.log"; then
    echo "spin $name: holds ($(grep -m1 'states, stored' "$dir/pan.log" | awk '{print $1}') states)"
  elif [ "$expect" = fail ] && [ "$errors" != 0 ]; then
    (cd "$dir" && spin -t "$@" link.pml 2>/dev/null | grep -E "host:|mcu:|line:" | sed 's/^ *//' >trail.txt || true)
    echo "spin $name: fails as expected: $(grep -m1 'assertion violated' "$dir/pan.log" | sed 's/ (at depth.*//')"
  else
    echo "spin $name: expected $expect, got errors=$errors (see $dir/pan.log)"; return 1
  fi
}
run link pass
run link-life2 pass -DLIFE=2
run old-rule fail -DOLD_RULE -DNO_REOPEN
run same-content fail -DSAME_CONTENT
run reorder-h2m fail -DREORDER_H2M
run resync pass -DRESYNC
run resync-no-forget fail -DRESYNC -DNO_FORGET
