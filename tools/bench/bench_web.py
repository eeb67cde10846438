"""Web benchmark: bus-to-page latency in a real browser, and the web service's CPU and memory with five pages open
against the same service idle, in one simulated run.

Usage: python tools/bench/bench_web.py [--seconds 20] [--pages 5] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from device.bus.pubsub import Subscriber                      # noqa: E402
from device.bus.rpc import RpcClient                          # noqa: E402
from device.bus.schemas import MotionRequest                  # noqa: E402
from tools.bench.benchmarks_md import write_section           # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCENE = """\
name = "web benchmark: one person in view"
duration_s = 900
seed = 5
array = "respeaker4"
[room]
size_m = [6.0, 5.0, 2.7]
rt60_s = 0.3
device_m = [3.2, 2.0, 0.9]
[[person]]
id = 1
photo = "astronaut"
path = [{ t = 0, azimuth_deg = 10, distance_m = 1.5 }]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_run(base: Path, port: int) -> subprocess.Popen:
    (base / "scene.toml").write_text(SCENE)
    (base / "swivel.toml").write_text("[web]\npair_attempts_per_min = 100\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen([sys.executable, "-m", "device", "--config", str(base / "swivel.toml"), "run",
                             "--scenario", str(base / "scene.toml"), "--headless", "--runtime-dir",
                             str(base / "bus"), "--web-port", str(port)], cwd=ROOT, env=env,
                            stdout=open(base / "run.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_web_pid(rdir: Path, proc, timeout_s: float = 180.0) -> int:
    """The web service's pid once it and the motor are running (from their heartbeats)."""
    sub = Subscriber(rdir)
    for name in ("web", "motor", "policy"):
        sub.subscribe(name)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("swivel run exited; see its log")
            list(sub.poll(200))
            if all(sub.alive(s, 3.0) for s in ("web", "motor", "policy")):
                return sub.heartbeat_pid["web"]
        raise SystemExit("the simulated run did not start in time")
    finally:
        sub.close()


class Mover:
    """Keeps the turntable turning between -90 and 90 deg through the motion API, so motor.state changes."""

    def __init__(self, rdir: Path):
        self.rpc = RpcClient(rdir)
        self.sub = Subscriber(rdir).subscribe("motor", "motor.state")
        self.next_at, self.target = 0.0, 90.0
        self.bus_lat: list[float] = []      # reference: bus-only latency of motor.state to this process
        self.since_ns = 0                   # only messages captured in the measured window count

    def drain(self) -> None:
        """Drop what queued while nobody listened (it would count as latency the bus never had)."""
        while list(self.sub.poll(0)):
            pass

    def pump(self) -> None:
        for topic, m in self.sub.poll(20):
            if topic == "motor.state" and m.t_ns >= self.since_ns:
                self.bus_lat.append((time.monotonic_ns() - m.t_ns) / 1e6)
        if time.monotonic() >= self.next_at:
            rep = self.rpc.call(MotionRequest(op="turn", angle_deg=self.target))
            if rep.ok:
                self.target = -self.target
            self.next_at = time.monotonic() + 2.5


def measure(pid: int, seconds: float, mover: Mover) -> dict:
    """CPU (percent of one core) and RSS of the web process over `seconds`, the turntable moving throughout."""
    p = psutil.Process(pid)
    t0, c0 = time.monotonic(), p.cpu_times()
    rss = []
    while time.monotonic() - t0 < seconds:
        mover.pump()
        rss.append(p.memory_info().rss)
    c1, t1 = p.cpu_times(), time.monotonic()
    cpu = (c1.user + c1.system - c0.user - c0.system) / (t1 - t0) * 100.0
    return {"cpu_pct": cpu, "rss_mib": float(np.median(rss)) / 2 ** 20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="swvbench-", dir="/tmp") as d:
        base = Path(d)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_run(base, port)
        try:
            pid = wait_web_pid(base / "bus", proc)
            mover = Mover(base / "bus")
            idle = measure(pid, args.seconds, mover)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                first = browser.new_context()
                page = first.new_page()
                page.goto(url + "/pair")
                page.fill("#code", (base / "bus" / "web-pairing-code").read_text().strip())
                page.click("button[type=submit]")
                page.wait_for_url(url + "/")
                cookies = first.cookies()
                pages = [page]
                for _ in range(args.pages - 1):          # each page in a context (window) of its own
                    ctx = browser.new_context()
                    ctx.add_cookies(cookies)
                    pg = ctx.new_page()
                    pg.goto(url + "/")
                    pages.append(pg)
                for pg in pages:
                    pg.wait_for_function("() => window.__swivel.offsetNs !== null && window.__swivel.drawn > 0",
                                         timeout=30000)
                    pg.evaluate("() => { window.__swivel.latency.length = 0; }")
                mover.drain()
                mover.bus_lat.clear()
                mover.since_ns = time.monotonic_ns()    # what queued in the kernel while we paired is older
                busy = measure(pid, args.seconds, mover)
                bus_ref = list(mover.bus_lat)           # the same window as the pages' draws
                lat = []
                for pg in pages:
                    lat += pg.evaluate("() => window.__swivel.latency")
                rtt = max(pg.evaluate("() => window.__swivel.rtt") for pg in pages)
                browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    load = os.getloadavg()[0]
    lat, bus = np.array(lat), np.array(bus_ref)
    p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
    b50, b99 = np.percentile(bus, 50), np.percentile(bus, 99)
    command = "python tools/bench/bench_web.py" + (f" --seconds {args.seconds:g}" if args.seconds != 20 else "") + \
        (f" --pages {args.pages}" if args.pages != 5 else "")
    md = "\n".join([
        "## Web app: bus to page, and the web service's cost", "",
        f"Command: `{command}`. One `swivel run` (simulated room, real firmware in simavr) with the web app; the "
        "turntable kept turning between -90 and 90 deg through the motion API. Latency is from `motor.state`'s "
        "capture time to the page drawing that heading (in Debian's chromium, headless, driven by Playwright; the "
        "page's clock is tied to the bus's monotonic clock by the fastest of 16 WebSocket round trips, "
        f"worst page's fastest round trip {rtt:.1f} ms). Reference: the same messages to a plain ZeroMQ subscriber "
        "in the benchmark process, same run and window. CPU is percent of one core, RSS the median, of the web process "
        f"alone, over {args.seconds:g} s each: idle (no page) and with {args.pages} pages open.", "",
        "| measure | value | reference | ratio |", "| --- | --- | --- | --- |",
        f"| bus to page, p50 | {p50:.1f} ms | bus only {b50:.2f} ms | x{p50 / max(b50, 1e-3):.1f} |",
        f"| bus to page, p99 | {p99:.1f} ms | bus only {b99:.2f} ms | x{p99 / max(b99, 1e-3):.1f} |",
        f"| web service CPU | {busy['cpu_pct']:.1f} % ({args.pages} pages) | {idle['cpu_pct']:.1f} % (no page) | "
        f"x{busy['cpu_pct'] / max(idle['cpu_pct'], 0.1):.1f} |",
        f"| web service RSS | {busy['rss_mib']:.1f} MiB ({args.pages} pages) | {idle['rss_mib']:.1f} MiB (no page) | "
        f"x{busy['rss_mib'] / idle['rss_mib']:.2f} |",
        "", f"{len(lat)} page draws measured across the {args.pages} pages. The machine is shared (2 cores; load "
        f"average {load:.1f} at the end of this run), so the absolute times are noisy, the bus reference too; p50 "
        "includes waiting for the browser's next animation frame (up to 16.7 ms)."])
    print(md)
    if not args.no_write:
        write_section("web", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
