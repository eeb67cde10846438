"""Deploy tests: the `slow` marker (real systemd boots and fault runs; deselect with -m 'not slow')."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: boots a real systemd or runs the motor against the firmware (tens of s)")
