"""Bus benchmark: one-way latency (p50/p99) and throughput between two processes, against raw ZeroMQ."""
from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from device.bus.pubsub import Publisher, Subscriber          # noqa: E402
from device.bus.schemas import MotorState                     # noqa: E402
from tools.bench.benchmarks_md import write_section           # noqa: E402


def _receiver(runtime_dir: str, mode: str, n: int, out: mp.Queue) -> None:
    """Receive n messages; record arrival - capture time (CLOCK_MONOTONIC is shared by all processes)."""
    lat = np.empty(n, dtype=np.int64)
    if mode == "bus":
        sub = Subscriber(Path(runtime_dir)).subscribe("motor", "motor.state")
        sock = sub.sock
    else:
        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.SUBSCRIBE, b"raw")
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.connect(f"ipc://{runtime_dir}/raw.pub")
    if mode == "bus":
        sock.setsockopt(zmq.RCVHWM, 0)
    out.put("ready")
    got = 0
    first = last = 0
    while got < n:
        frames = sock.recv_multipart()
        now = time.monotonic_ns()
        if mode == "bus":
            item = sub.decode(frames)
            if item is None or item[0] != "motor.state":
                continue
            t_ns = item[1].t_ns
        else:
            t_ns = int.from_bytes(frames[1][:8], "little")
        lat[got] = now - t_ns
        if got == 0:
            first = now
        last = now
        got += 1
    out.put((lat, first, last))


def _run(mode: str, n: int, rate_hz: float) -> tuple[np.ndarray, float]:
    with tempfile.TemporaryDirectory(prefix="swvb-", dir="/tmp") as d:
        q: mp.Queue = mp.Queue()
        proc = mp.get_context("fork").Process(target=_receiver, args=(d, mode, n, q))
        if mode == "bus":
            pub = Publisher("motor", Path(d), sndhwm=0)
            send = lambda: pub.publish("motor.state", MotorState(t_ns=time.monotonic_ns(), heading_deg=1.0,
                                                                  velocity_dps=2.0, moving=True))
        else:
            sock = zmq.Context.instance().socket(zmq.PUB)
            sock.setsockopt(zmq.SNDHWM, 0)
            sock.bind(f"ipc://{d}/raw.pub")
            pad = bytes(40)                     # same size as an encoded MotorState
            send = lambda: sock.send_multipart([b"raw", time.monotonic_ns().to_bytes(8, "little") + pad])
        proc.start()
        assert q.get(timeout=10) == "ready"
        time.sleep(0.3)                         # let the subscription reach the publisher
        period = 1.0 / rate_hz if rate_hz else 0.0
        start = time.perf_counter()
        for i in range(n):
            if period:
                while time.perf_counter() < start + i * period:
                    pass
            send()
        lat, first, last = q.get(timeout=60)
        proc.join()
        return lat / 1e3, n / max((last - first) / 1e9, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer messages (smoke run)")
    args = ap.parse_args()
    n_lat = 2000 if args.quick else 20000
    n_tp = 20000 if args.quick else 200000
    rows = []
    res = {}
    for mode in ("raw", "bus"):
        lat, _ = _run(mode, n_lat, rate_hz=1000)
        _, tput = _run(mode, n_tp, rate_hz=0)
        res[mode] = (np.percentile(lat, 50), np.percentile(lat, 99), tput)
        rows.append(f"| {mode} | {res[mode][0]:.1f} | {res[mode][1]:.1f} | {res[mode][2]:,.0f} |")
        print(mode, res[mode])
    cmd = "python tools/bench/bench_bus.py" + (" --quick" if args.quick else "")
    md = f"""## Bus (ZeroMQ ipc, msgspec): one-way latency and throughput between two processes

Command: `{cmd}` ({n_lat} small `motor.state` messages at 1 kHz for latency, {n_tp} back to back for
throughput; latency is arrival minus capture time on the shared monotonic clock). Reference: raw pyzmq
PUB/SUB carrying the same number of bytes with no schema, measured in the same run.

| path | p50 latency (us) | p99 latency (us) | throughput (msg/s) |
| --- | --- | --- | --- |
{chr(10).join(rows)}

Bus / raw: p50 x{res['bus'][0] / res['raw'][0]:.2f}, p99 x{res['bus'][1] / res['raw'][1]:.2f},
throughput x{res['bus'][2] / res['raw'][2]:.2f}. Target: p99 under 1 ms for small messages:
{'met' if res['bus'][1] < 1000 else 'NOT met'}.
"""
    write_section("bus", md)


if __name__ == "__main__":
    main()
