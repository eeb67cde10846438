"""Benchmark of the voice satellite: wake word's end to the first audio frame Home Assistant receives, TTS
received to its first sample played, and the satellite's CPU share while streaming.

The satellite runs as its own process on a private bus; this script plays ssl (the beam, in real time) and
the wake engine (a wake event at the keyword's end), and Home Assistant (aioesphomeapi's APIClient). The
reference measured in the same run: the API's own request round trip (device info) on the same connection (the floor of any
answer), and for CPU the process that publishes the same beam.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from aioesphomeapi import APIClient, VoiceAssistantEventType as Ev   # noqa: E402

from device.bus.schemas import AudioBeam, DoaEstimate, WakeEvent     # noqa: E402
from tests.satellite.test_protocol import Satellite                   # noqa: E402
from tools.bench.benchmarks_md import write_section                   # noqa: E402

RATE = 16000
BLOCK = 1024


async def run(sat: Satellite, pipelines: int, stream_s: float) -> dict:
    c = APIClient("127.0.0.1", sat.port, None, client_info="bench")
    await c.connect(login=True)
    first: list[float] = []
    got = asyncio.Event()

    async def start(*a):
        return 0

    async def stop(abort):
        pass

    async def audio(data):
        if not got.is_set():
            first.append(time.monotonic_ns())
            got.set()
    c.subscribe_voice_assistant(handle_start=start, handle_stop=stop, handle_audio=audio)
    rng = np.random.default_rng(0)
    me = psutil.Process()
    sp = psutil.Process(sat.proc.pid)
    wake_lat, ping_rtt, cpu_sat, cpu_pub, walls = [], [], [], [], []
    for _ in range(pipelines):
        for _ in range(3):                                   # the reference: device-info round trips, same connection
            t = time.monotonic_ns()
            await c.device_info()
            ping_rtt.append((time.monotonic_ns() - t) / 1e6)
        got.clear()
        t0 = time.monotonic_ns()
        n_blocks = int(stream_s * RATE / BLOCK) + 12
        s0, m0, w0 = sp.cpu_times(), me.cpu_times(), time.monotonic()
        woke_at = None
        for i in range(n_blocks):
            due = t0 + int((i + 1) * BLOCK * 1e9 / RATE)     # a block goes out once its last sample "happened"
            await asyncio.sleep(max(0.0, (due - time.monotonic_ns()) / 1e9))
            x = (rng.standard_normal(BLOCK) * 2000).astype("<i2")
            sat.ssl.publish("ssl.beam", AudioBeam(t_ns=t0 + int(i * BLOCK * 1e9 / RATE), rate=RATE, samples=x.tobytes()))
            if i == 10:                                      # the engine decides at the keyword's end
                kw_end = t0 + int((i + 1) * BLOCK * 1e9 / RATE)
                woke_at = time.monotonic_ns()
                sat.wake.publish("wake.event", WakeEvent(t_ns=woke_at, start_ns=t0, end_ns=kw_end, keyword="alexa",
                                                         kw_start_ns=t0, kw_end_ns=kw_end, engine="bench"))
        s1, m1, w1 = sp.cpu_times(), me.cpu_times(), time.monotonic()
        end = t0 + int(n_blocks * BLOCK * 1e9 / RATE)
        sat.ssl.publish("ssl.doa", DoaEstimate(t_ns=end, start_ns=t0, end_ns=end, azimuth_deg=0.0, confidence=1.0,
                                               ambiguous=False, phase="final", utterance_id=1))
        await asyncio.wait_for(got.wait(), 5)
        wake_lat.append((first[-1] - woke_at) / 1e6)
        cpu_sat.append((s1.user + s1.system - s0.user - s0.system) / (w1 - w0))
        cpu_pub.append((m1.user + m1.system - m0.user - m0.system) / (w1 - w0))
        walls.append(w1 - w0)
        await asyncio.sleep(0.5)
    # TTS: one answer of 2 s in 1024-byte messages, as Home Assistant streams it, several times.
    tone = (np.sin(2 * np.pi * 330 * np.arange(2 * RATE) / RATE) * 6000).astype("<i2").tobytes()
    for _ in range(pipelines):
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_TTS_STREAM_START, {})
        for i in range(0, len(tone), 1024):
            c.send_voice_assistant_audio(tone[i:i + 1024])
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_TTS_STREAM_END, {})
        await asyncio.sleep(2.6)
    await c.disconnect()
    return {"wake_ms": wake_lat, "ping_ms": ping_rtt, "cpu_sat": cpu_sat, "cpu_pub": cpu_pub}


def tts_latencies(log: str) -> list[float]:
    for line in reversed(log.splitlines()):
        if '"satellite stats"' in line:
            bench = json.loads(line)["bench"]
            return [(b["due_ns"] - b["received_ns"]) / 1e6 for b in bench if b["what"] == "first_sample"]
    return []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipelines", type=int, default=8)
    ap.add_argument("--stream-s", type=float, default=4.0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load = psutil.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="swvbsat-", dir="/tmp") as d:
        sat = Satellite(Path(d))
        try:
            r = asyncio.run(run(sat, args.pipelines, args.stream_s))
        finally:
            sat.stop()
        tts = tts_latencies(sat.log_path.read_text(errors="replace"))
    med = statistics.median
    wake, ping = med(r["wake_ms"]), med(r["ping_ms"])
    cpu_s, cpu_p = med(r["cpu_sat"]), med(r["cpu_pub"])
    tts_med = med(tts) if tts else float("nan")
    md = f"""## Voice satellite

`nice .venv/bin/python tools/bench/bench_satellite.py --pipelines {args.pipelines} --stream-s {args.stream_s}`
(load average {load:.1f} on 2 cores when it started: absolute times are noisy, the ratios less so).
The satellite process on a private bus, fed a real-time beam and wake events by the script, with
aioesphomeapi's APIClient as Home Assistant over loopback TCP.

| measure | median | reference (same run) | ratio |
| --- | --- | --- | --- |
| wake word's end (the engine's event) to the first audio message received, n = {len(r['wake_ms'])} | {wake:.1f} ms | one beam block, {1000 * BLOCK / RATE:.0f} ms (API request round trip {ping:.1f} ms) | {wake / (1000 * BLOCK / RATE):.2f} x ({wake / ping:.0f} x) |
| TTS message received to its first sample due out of the speaker, n = {len(tts)} | {tts_med:.1f} ms | one message of audio, 32 ms | {tts_med / 32:.2f} x |
| satellite CPU while streaming, {args.stream_s:.0f} s streams | {100 * cpu_s:.1f} % of a core | the beam's publisher {100 * cpu_p:.1f} % | {cpu_s / max(cpu_p, 1e-6):.1f} x |

The first audio after the keyword exists only once ssl has captured and sent the next beam block, so one
block is the floor; on top of it come Home Assistant's acceptance (one request and its answer on the
connection) and the bus hop. TTS audio is queued on the speaker as it arrives; on the simulated speaker a
sample is due when queued (what is already queued plays first), so that row is the satellite's own handling.
"""
    print(md)
    if not args.no_write:
        write_section("satellite", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
