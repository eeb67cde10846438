"""Runs the host-compiled unit tests of the firmware (decoder, CRC, planner, limits, supervisor)."""
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_host_unit_tests_pass():
    r = subprocess.run(["make", "-s", "-C", str(REPO / "firmware_mcu"), "host-test"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("crc16", "protocol", "planner", "limits", "motion"):
        assert f"{name}: " in r.stdout and "checks passed" in r.stdout, r.stdout


def test_firmware_fits_the_atmega328p(firmware_built):
    r = subprocess.run(["avr-size", "-C", "--mcu=atmega328p", str(firmware_built)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    fields = {line.split(":")[0].strip(): int(line.split(":")[1].split()[0])
              for line in r.stdout.splitlines() if line.startswith(("Program", "Data"))}
    assert fields["Program"] <= 30 * 1024          # leaves room for a 2 KiB bootloader
    assert fields["Data"] <= 1024                  # half the RAM: the rest is stack headroom
