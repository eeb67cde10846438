"""Goal filter: clamping to the service's limits, send-on-change, and the dead man's switch."""
import time

from device.bus.schemas import MotorGoal
from device.motor.config import MotorConfig
from device.motor.goals import Command, GoalFilter


def goal(seq=1, **kw):
    return MotorGoal(t_ns=time.monotonic_ns(), seq=seq, **kw)


def test_goals_are_clamped_to_rom_speed_and_accel():
    f = GoalFilter(MotorConfig(max_speed_dps=90, max_accel_dps2=180, rom_min_deg=-170, rom_max_deg=170))
    assert f.on_goal(goal(target_deg=150, max_speed_dps=180, max_accel_dps2=360, rom_min_deg=-100, rom_max_deg=100), 0.0)
    cmds = f.due(0.0, policy_alive=True)
    assert cmds == [Command("limits", (-100, 100, 90, 180)), Command("move", (100, 90, 180))]
    assert f.clamped


def test_republished_goal_is_not_resent_but_a_change_is():
    f = GoalFilter(MotorConfig())
    f.on_goal(goal(target_deg=30), 0.0)
    assert len(f.due(0.0, True)) == 2
    f.on_goal(goal(target_deg=30), 0.1)
    assert f.due(0.1, True) == []
    f.on_goal(goal(seq=2, target_deg=40), 0.2)
    assert [c.kind for c in f.due(0.2, True)] == ["move"]
    f.resync()                                            # e.g. the MCU restarted
    assert [c.kind for c in f.due(0.3, True)] == ["limits", "move"]


def test_dead_mans_switch_stops_once_and_waits_for_a_fresh_goal():
    f = GoalFilter(MotorConfig(deadman_timeout_s=0.5))
    f.on_goal(goal(target_deg=90), 0.0)
    f.due(0.0, True)
    assert f.due(0.4, policy_alive=False) == []           # still fresh
    assert f.due(0.6, policy_alive=True) == []            # stale goal but the policy's heartbeat is alive
    assert f.due(0.7, policy_alive=False) == [Command("stop")]
    assert f.deadman and f.deadman_trips == 1
    assert f.due(0.8, policy_alive=False) == []           # stops once
    assert f.due(0.9, policy_alive=True) == []            # a heartbeat alone does not restart motion
    f.on_goal(goal(target_deg=90), 1.0)
    assert f.due(1.0, True) == [Command("move", (90, 90.0, 180.0))]


def test_unusable_goals_are_counted_and_ignored():
    f = GoalFilter(MotorConfig(rom_min_deg=-90, rom_max_deg=90))
    assert not f.on_goal(goal(target_deg=float("nan")), 0.0)
    assert not f.on_goal(goal(max_speed_dps=0.0), 0.0)
    assert not f.on_goal(goal(rom_min_deg=120, rom_max_deg=170), 0.0)
    assert f.bad_goals == 3 and f.due(0.0, True) == []


def test_a_crawl_never_goes_out_as_zero_which_the_mcu_reads_as_full_speed():
    f = GoalFilter(MotorConfig())
    assert f.on_goal(goal(target_deg=10, max_speed_dps=0.001, max_accel_dps2=0.004), 0.0)
    assert f.wanted_action == Command("move", (10, 0.01, 0.01))


def test_a_target_at_the_range_end_stays_inside_after_rounding():
    f = GoalFilter(MotorConfig(rom_min_deg=-170, rom_max_deg=170))
    # The policy's range ends at 100.006; to the nearest 0.01 that end and a target on it would both be
    # 100.01, 0.004 past it. The limits go out rounded inward and the target is clamped into them.
    for target in (100.006, 100.006 + 0.004, 100.005):
        assert f.on_goal(goal(target_deg=target, rom_min_deg=-100.006, rom_max_deg=100.006), 0.0)
        assert f.wanted_limits.args[:2] == (-100.0, 100.0)
        assert f.wanted_action.args[0] == 100.0
    assert f.on_goal(goal(target_deg=-100.01, rom_min_deg=-100.006, rom_max_deg=100.006), 0.0)
    assert f.wanted_action.args[0] == -100.0


def test_a_range_with_no_wire_step_inside_is_unusable():
    f = GoalFilter(MotorConfig())
    assert not f.on_goal(goal(target_deg=30.003, rom_min_deg=30.002, rom_max_deg=30.008), 0.0)
    assert f.bad_goals == 1 and f.due(0.0, True) == []
