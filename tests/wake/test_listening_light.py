"""The light bar's listening states on gpiozero's MockFactory pins: woken (all lit), streaming (the talker's
sector while they speak), idle (dark)."""
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.ssl.lightbar import WOKEN_MAX_S, LightBar

PINS = [5, 6, 12, 13, 16, 19, 20, 26]


@pytest.fixture
def pins():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield lambda: [Device.pin_factory.pin(p).state for p in PINS]
    Device.pin_factory.reset()
    Device.pin_factory = previous


def test_woken_then_streaming_while_speaking_then_idle(pins):
    bar = LightBar(PINS, hold_s=2.0)
    assert bar.state == "idle" and pins() == [0] * 8
    bar.woken(now=10.0)
    assert bar.state == "woken" and pins() == [1] * 8
    bar.show(90.0, now=10.3)                       # the keyword's estimate: the talker's sector
    assert bar.state == "streaming" and pins() == [0, 0, 1, 0, 0, 0, 0, 0]
    for t in (11.0, 13.0, 15.0):                   # still speaking: stays lit past hold_s
        bar.tick(now=t, speaking=True)
        assert bar.state == "streaming" and pins()[2] == 1
    bar.tick(now=16.0, speaking=False)
    assert bar.state == "streaming"                # hold_s after the last speech...
    bar.tick(now=17.1, speaking=False)
    assert bar.state == "idle" and pins() == [0] * 8   # ...then dark


def test_woken_without_a_direction_goes_dark(pins):
    bar = LightBar(PINS, hold_s=2.0)
    bar.woken(now=0.0)
    bar.tick(now=WOKEN_MAX_S + 0.1)
    assert bar.state == "idle" and pins() == [0] * 8


def test_a_direction_outside_a_woken_utterance_is_not_streaming(pins):
    bar = LightBar(PINS, hold_s=2.0)
    bar.show(-90.0, now=0.0)
    assert bar.state == "direction" and pins() == [0, 0, 0, 0, 0, 0, 1, 0]
    bar.tick(now=1.0, speaking=True)               # speech alone does not keep a plain direction lit
    bar.tick(now=2.1)
    assert bar.state == "idle"
