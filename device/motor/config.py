"""Configuration of the motor service (the [motor] table of swivel.toml), with calm built-in defaults."""
from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# The hardware's limits (DESIGN.md; also compiled into firmware_mcu/src/config.h): nothing may ask for more.
HW_MAX_SPEED_DPS = 180.0
HW_MAX_ACCEL_DPS2 = 360.0
HW_MIN_DEG = -180.0
HW_MAX_DEG = 180.0

Positive = Annotated[float, Meta(gt=0)]
Azimuth = Annotated[float, Meta(ge=HW_MIN_DEG, le=HW_MAX_DEG)]
BcmPin = Annotated[int, Meta(ge=0, le=27)]


class MotorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
    # Serial link to the MCU: "sim" = the simulator's pty at <runtime_dir>/mcu.pty (what `swivel run`
    # forces), "serial" = the device at `port` (the Pi's UART, or the Nano's USB serial /dev/ttyUSB0).
    serial_backend: Literal["sim", "serial"] = "sim"
    port: str = "/dev/serial0"
    baud: Annotated[int, Meta(gt=0)] = 250000
    ack_timeout_s: Positive = 0.05       # wait this long for an ACK before retransmitting
    retries: Annotated[int, Meta(ge=0, le=20)] = 4
    # Motion limits the service enforces (the policy asks within them; the firmware checks again).
    max_speed_dps: Annotated[float, Meta(gt=0, le=HW_MAX_SPEED_DPS)] = 90.0
    max_accel_dps2: Annotated[float, Meta(gt=0, le=HW_MAX_ACCEL_DPS2)] = 180.0
    rom_min_deg: Azimuth = -170.0        # outer range of motion (cable wrap); the policy's ROM lies inside
    rom_max_deg: Azimuth = 170.0
    # Safety.
    deadman_timeout_s: Positive = 0.5    # no goal and no policy heartbeat for this long -> stop
    keepalive_s: Positive = 0.1          # ping the MCU this often when idle (its own timeout is 250 ms)
    telemetry_timeout_s: Positive = 1.0  # connected but silent this long -> pulse the MCU's reset line
    obstacle_memory_s: Positive = 60.0   # after a stall, the MCU refuses that direction this long
    # Reporting.
    state_rate_hz: Annotated[float, Meta(ge=20, le=100)] = 25.0
    # Ask the MCU for a HEALTH frame after each TELEMETRY (SET_REPORTS) and publish each on `motor.health`
    # (turntable health, issue 17). Off: the MCU is never asked and speaks the old protocol.
    health_reports: bool = True
    # GPIO (BCM numbers): the MCU's RESET (active low, through a transistor or open drain) and a status LED.
    reset_pin: BcmPin = 23
    status_led_pin: BcmPin = 24
    reset_pulse_s: Positive = 0.05
    gpio_backend: Literal["auto", "mock", "real"] = "auto"   # auto: follow [gpio] backend

    def __post_init__(self):
        if self.rom_max_deg <= self.rom_min_deg:
            raise ValueError("rom_max_deg must be greater than rom_min_deg")
        if self.reset_pin == self.status_led_pin:
            raise ValueError("reset_pin and status_led_pin must be different pins")
