"""Serial link against the real firmware in simavr: acks, retransmission, duplicates, reconnection, counters."""
import time

from device.motor.link import MotorLink
from device.motor.protocol import AckResult, Flags, Msg, encode_frame, move_payload
from device.sim.turntable import SimTurntable


def test_commands_are_acknowledged_and_telemetry_streams_at_50hz(sim, link):
    assert link.set_limits(-90, 90, 120, 240) == AckResult.OK
    assert link.move(30, 60, 120) == AckResult.OK
    n0, ms0 = link.counters.rx_telemetry, link.telemetry.mcu_ms
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        link.ping(b"hi")
        time.sleep(0.05)
    assert not link.telemetry.flags & Flags.MOVING and abs(link.telemetry.position_deg - 30) < 0.05
    # Rate against the MCU's own clock, so a busy machine slowing the simulation does not matter.
    rate = (link.counters.rx_telemetry - n0) / ((link.telemetry.mcu_ms - ms0) / 1000)
    assert rate >= 49, rate
    assert link.counters.timeouts == 0 and link.counters.rx_crc_errors == 0


def test_retransmitted_command_is_executed_once(sim, link):
    frame = encode_frame(Msg.SET_ZERO, 77)
    link.write_raw(frame)
    link.write_raw(frame)                                     # as if our first ACK got lost
    time.sleep(0.2)
    st = link.status()
    assert st.rx_duplicates == 1
    assert link.counters.stale_replies >= 2                   # ACKs nobody waited for are counted


def test_a_lost_command_is_retransmitted(sim, link):
    # Bytes without a delimiter in front of the frame make the MCU discard that first copy as garbage
    # (as line noise would); no ACK comes, so the link must send the frame again.
    before = link.status()
    link.write_raw(b"\x55\x13\x77")
    assert link.move(10, 30, 60) == AckResult.OK
    assert link.counters.retransmits >= 1
    after = link.status()
    assert after.rx_crc_errors + after.rx_format_errors > before.rx_crc_errors + before.rx_format_errors
    assert after.rx_duplicates == before.rx_duplicates      # the first copy was never executed


def test_link_reconnects_when_the_simulator_restarts(firmware_built, tmp_path):
    tt = SimTurntable(tmp_path, firmware_built, step_log=False).start()
    ln = MotorLink(str(tt.pty_link), reopen_interval_s=0.05).start()
    try:
        assert ln.wait_connected(2.0) and ln.ping() < 0.5
        tt.stop()
        time.sleep(0.3)
        tt = SimTurntable(tmp_path, firmware_built, step_log=False).start()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not (ln.connected and ln.counters.reconnects >= 1):
            time.sleep(0.05)
        assert ln.counters.reconnects >= 1
        assert ln.ping() < 0.5
        assert ln.move(5, 30, 60) == AckResult.OK
    finally:
        ln.close()
        tt.stop()


def test_round_trip_of_a_move_command(sim, link):
    t0 = time.perf_counter()
    assert link.command(Msg.MOVE, move_payload(0, 30, 60)) == AckResult.OK
    assert time.perf_counter() - t0 < 0.25


def test_telemetry_capture_time_is_on_the_host_clock_without_receive_jitter(sim, link):
    stamps = []
    for _ in range(30):
        t = link.wait_telemetry(1.0)
        stamps.append((t.mcu_ms, link.telemetry_t_ns, time.monotonic_ns()))
    for mcu_ms, t_ns, now in stamps:
        assert 0 <= now - t_ns < 100_000_000                  # in the past, and recent
    # Capture times step exactly as the MCU's clock does (20 ms telemetry period), whatever the arrival jitter.
    for (ms0, t0, _), (ms1, t1, _) in zip(stamps[-10:], stamps[-9:]):
        assert abs((t1 - t0) - (ms1 - ms0) * 1_000_000) < 2_000_000
