"""The light bar on gpiozero's MockFactory pins: the sector of the direction lights, then goes dark."""
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.ssl.lightbar import LightBar

PINS = [5, 6, 12, 13, 16, 19, 20, 26]


@pytest.fixture
def mock_pins():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def levels(factory):
    return [factory.pin(p).state for p in PINS]


def test_the_sector_of_the_direction_lights_alone(mock_pins):
    bar = LightBar(PINS, hold_s=2.0)
    bar.show(90.0, now=100.0)                      # left of the screen: LED 2 of 8
    assert levels(mock_pins) == [0, 0, 1, 0, 0, 0, 0, 0]
    bar.show(-170.0, now=100.5)                    # behind: LED 4
    assert levels(mock_pins) == [0, 0, 0, 0, 1, 0, 0, 0]
    bar.tick(now=101.0)
    assert levels(mock_pins)[4] == 1
    bar.tick(now=102.6)
    assert levels(mock_pins) == [0] * 8
    bar.show(None, now=103.0)                      # no target: stays dark
    assert levels(mock_pins) == [0] * 8
    bar.close()
