"""Walking talkers benchmark: how often the screen ends facing someone who walks while or after speaking.

Each walk scenario (scenarios/walk_*.toml) is run whole, several times, as `swivel run` does it headless:
the world, the services and the real firmware in simavr. A run meets the scenario when its [expect] holds:
it ends facing the talker within the tolerance, in no more moves than the walk needs plus two. With
--busy K, K other processes keep the cores busy (numpy at nice 10) the way the rest of a test run does,
and the vision service's frame rate is reported against the rate it asks for.

Usage: python tools/bench/bench_walkers.py [--runs 5] [--busy 1] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from device.run.launcher import run_stack                     # noqa: E402
from device.run.report import wrap                            # noqa: E402
from device.sim.scenario import load_scenario                 # noqa: E402
from tools.bench.benchmarks_md import write_section           # noqa: E402

ACTIVE_FPS = 15.0          # what the vision service asks of the camera while someone is there


def _busy() -> None:
    """Work like a test module beside the run: matrix products, all memory and arithmetic."""
    os.nice(10)
    a = np.random.default_rng(0).random((400, 400))
    while True:
        a = np.tanh(a @ a.T / 400.0)


def one_run(name: str) -> dict:
    sc = load_scenario(name)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        run_stack(name, None, None, str(out), view=False)
        rep = json.loads(out.read_text())
    exp = sc.expect
    talker = sc.person_by_id(exp.faces_person)
    err = abs(wrap(rep["final_heading_deg"] - talker.path[-1].azimuth_deg))
    moves = rep["moves"]
    met = err <= exp.tolerance_deg and (exp.max_moves is None or moves <= exp.max_moves) and \
        (exp.min_moves is None or moves >= exp.min_moves)
    fps = rep["messages"].get("vision.people", 0) / max(rep["duration_s"], 1e-6)
    return dict(met=met, error=err, moves=moves, fps=fps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--busy", type=int, default=1, help="busy processes beside each run (0: a quiet machine)")
    ap.add_argument("--scenarios", default=",".join(sorted(p.stem for p in (ROOT / "scenarios").glob("walk_*.toml"))))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    names = [s for s in args.scenarios.split(",") if s]
    started = time.perf_counter()
    load = [os.getloadavg()[0]]
    busy = [mp.Process(target=_busy, daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    results: dict[str, list[dict]] = {n: [] for n in names}
    try:
        for k in range(args.runs):
            for n in names:
                r = one_run(n)
                results[n].append(r)
                print(f"{n} run {k + 1}: {'met' if r['met'] else 'NOT met'}, error {r['error']:.1f} deg, "
                      f"{r['moves']} moves, vision {r['fps']:.1f} fps", flush=True)
                load.append(os.getloadavg()[0])
    finally:
        for p in busy:
            p.terminate()
    elapsed = time.perf_counter() - started
    cmd = f"python tools/bench/bench_walkers.py --runs {args.runs} --busy {args.busy}"
    lines = ["## Walking talkers (issue 11.4)\n",
             f"Command: `{cmd}` ({args.runs} runs of each walk scenario, {elapsed / 60:.1f} min; {args.busy} busy "
             f"process(es) beside the runs, load average {min(load):.1f}-{max(load):.1f} on 2 cores).\n",
             "Each run is the whole stack on the simulated room (the real wake-word engine, vision on the rendered "
             "camera, the real firmware in simavr). *Met*: it ended facing the talker within the scenario's "
             "tolerance, in at least the moves the walk needs and at most two more. Vision's rate is its "
             f"published frames per second over the run, and its ratio to the {ACTIVE_FPS:g} fps it asks for.\n",
             "| scenario | what the talker does | met | final error median / max (deg) | moves median / max "
             "(allowed) | vision fps median (ratio) |", "| --- | --- | --- | --- | --- | --- |"]
    total = met = 0
    for n in names:
        rs, sc = results[n], load_scenario(n)
        errors, moves, fps = [r["error"] for r in rs], [r["moves"] for r in rs], [r["fps"] for r in rs]
        total, met = total + len(rs), met + sum(r["met"] for r in rs)
        allowed = f"{sc.expect.min_moves or 1}-{sc.expect.max_moves}" if sc.expect.max_moves else "any"
        lines.append(f"| {n} | {sc.description} | {sum(r['met'] for r in rs)} of {len(rs)} | "
                     f"{np.median(errors):.1f} / {max(errors):.1f} (within {sc.expect.tolerance_deg:g}) | "
                     f"{np.median(moves):.0f} / {max(moves)} ({allowed}) | "
                     f"{np.median(fps):.1f} ({np.median(fps) / ACTIVE_FPS:.2f}) |")
    lines.append(f"\nAll walks: {met} of {total} met ({100 * met / max(total, 1):.0f} %). Target: every one.")
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("walkers", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
