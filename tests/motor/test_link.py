"""Serial link against the real firmware in simavr: acks, retransmission, duplicates, reconnection, counters."""
import time

from device.motor.link import MotorLink
from device.motor.protocol import AckResult, Flags, Msg, encode_frame, move_payload
from device.sim.turntable import SimTurntable


def test_commands_are_acknowledged_and_telemetry_streams_at_50hz(sim, link):
    assert link.set_limits(-90, 90, 120, 240) == AckResult.OK
    assert link.move(30, 60, 120) == AckResult.OK
    n0, t0 = link.counters.rx_frames, time.monotonic()
    deadline = t0 + 1.5
    while time.monotonic() < deadline:
        link.ping(b"hi")
        time.sleep(0.05)
    assert not link.telemetry.flags & Flags.MOVING and abs(link.telemetry.position_deg - 30) < 0.05
    rate = (link.counters.rx_frames - n0) / (time.monotonic() - t0)
    assert rate >= 50, rate                                  # telemetry plus replies
    assert link.counters.timeouts == 0 and link.counters.rx_crc_errors == 0


def test_retransmitted_command_is_executed_once(sim, link):
    frame = encode_frame(Msg.SET_ZERO, 77)
    link.write_raw(frame)
    link.write_raw(frame)                                     # as if our first ACK got lost
    time.sleep(0.2)
    st = link.status()
    assert st.rx_duplicates == 1
    assert link.counters.stale_replies >= 2                   # ACKs nobody waited for are counted


def test_lost_replies_are_retransmitted(sim):
    # An ack timeout shorter than the line's round trip makes every first try look lost.
    slow = MotorLink(str(sim.pty_link), ack_timeout_s=0.001, retries=300).start()
    try:
        assert slow.wait_connected(2.0) and slow.wait_telemetry(2.0)
        assert slow.move(10, 30, 60) in (AckResult.OK, AckResult.CLAMPED)
        assert slow.counters.retransmits >= 1
        slow.ack_timeout_s = 0.2
        st = slow.status()
        assert st.rx_duplicates >= 1                          # the MCU saw the same seq again and did not re-run it
        assert slow.counters.stale_replies >= 1               # the ACKs of the extra copies are counted
    finally:
        slow.close()


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
