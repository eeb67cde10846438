"""The units under a real systemd: install.sh on an overlay of /, systemd as PID 1 of private namespaces, the services
started by swivel.target with every hardening setting in force; watchdog, restarts, exit status 2 and stop order.

systemd is not PID 1 on this machine, so `systemctl` cannot run the units here. nested_boot.sh makes a throw-away
root (an overlay of / whose writes land in a tmpfs), runs tools/install.sh in it as on a device, and execs
/lib/systemd/systemd as PID 1 of new pid, mount, net, uts, ipc and cgroup namespaces. The venv gets the package
only (--no-deps); a .pth lends it this test environment's site-packages for the dependencies, and the config
selects the simulated backends (no microphone, camera or MCU here). Everything else is what a Pi runs.
Slow (about a minute): marked `slow`; skipped where namespaces or overlayfs cannot be had (not root).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploykit import SERVICES, copy_checkout  # noqa: E402

pytestmark = pytest.mark.slow
NESTED_SRC = "/srv/swivel-src"          # where nested_boot.sh shows the checkout inside the nested root
SIM_CONFIG = """# Simulated backends: the services start without a microphone, a camera or an MCU.
[gpio]
backend = "mock"
[ssl]
backend = "sim"
[vision]
camera_backend = "sim"
[motor]
serial_backend = "sim"
"""
PRESENT = list(SERVICES)


class Nested:
    def __init__(self, pid: int, log: Path):
        self.pid = pid
        self.log = log

    def sh(self, *argv: str, timeout: float = 30, check: bool = True) -> str:
        res = subprocess.run(["nsenter", "-t", str(self.pid), "-a", *argv], capture_output=True, text=True,
                             timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"{argv} failed ({res.returncode}): {res.stdout}{res.stderr}")
        return res.stdout

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.sh("systemctl", "show", unit, "-p", ",".join(props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait(self, unit: str, pred, timeout: float = 60, what: str = "") -> dict[str, str]:
        props = ("ActiveState", "SubState", "Result", "MainPID", "NRestarts", "ExecMainStatus")
        end = time.monotonic() + timeout
        state = {}
        while time.monotonic() < end:
            state = self.show(unit, *props)
            if pred(state):
                return state
            time.sleep(0.5)
        raise AssertionError(f"{unit}: {what} not reached in {timeout} s; last {state}\n{self.journal(unit)}")

    def journal(self, unit: str | None = None, lines: int = 40) -> str:
        args = ["journalctl", "--no-pager", "-o", "short-monotonic", "-n", str(lines)]
        return self.sh(*(args + (["-u", unit] if unit else [])), check=False)


def _host_pid_of_init(unshare_pid: int, timeout: float) -> int | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            kids = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
            if kids and Path(f"/proc/{kids[0]}/comm").read_text().strip() == "systemd":
                return int(kids[0])
        except OSError:
            return None
        time.sleep(0.2)
    return None


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter") \
            or not Path("/lib/systemd/systemd").exists() or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root, util-linux unshare/nsenter, systemd and /usr/bin/python3")
    if subprocess.run(["/usr/bin/python3", "-c", "import ensurepip, venv"], capture_output=True).returncode:
        pytest.skip("the system Python cannot make a venv: Debian package python3-venv")
    t = tmp_path_factory.mktemp("nested")
    (t / "mnt").mkdir()
    cfg = t / "swivel.toml"
    cfg.write_text(SIM_CONFIG)
    log = t / "boot.log"
    # Boot from a copy under /tmp with spaces in its path, and lend the dependencies through such a path too:
    # a fresh clone anywhere must pass (under /tmp the nested root has its own tmpfs, so nothing is seen there
    # unless nested_boot.sh brings it in).
    src = copy_checkout(t / "a clone with spaces" / "swivel src")
    deps = t / "test deps with spaces"
    deps.symlink_to(sysconfig.get_paths()["purelib"], target_is_directory=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount", "bash",
                                 str(src / "tests" / "deploy" / "nested_boot.sh"), "stage1",
                                 str(t / "mnt"), str(src), str(cfg), str(deps)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    pid = None
    try:
        end = time.monotonic() + 240
        while time.monotonic() < end and proc.poll() is None and "BOOT: exec systemd" not in log.read_text():
            time.sleep(0.3)
        text = log.read_text()
        if "BOOT-ENV" in text or (proc.poll() is not None and "BOOT: installed" not in text
                                  and "INSTALL FAILED" not in text):
            pytest.skip(f"cannot make the namespaces/overlay here:\n{text[-2000:]}")
        assert "INSTALL FAILED" not in text, text[-4000:]
        pid = _host_pid_of_init(proc.pid, 30)
        assert pid, f"systemd did not come up:\n{log.read_text()[-3000:]}"
        n = Nested(pid, log)
        # Wait for the manager's bus, then for the boot transaction to finish (services started or failed).
        end = time.monotonic() + 180
        while time.monotonic() < end:
            state = n.sh("systemctl", "is-system-running", "--wait", timeout=180, check=False).strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        yield n
    finally:
        if pid:
            os.kill(pid, 9)              # PID 1 of the namespace: everything in it goes with it
        elif proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if pid:
            end = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < end:
                time.sleep(0.1)
            assert not Path(f"/proc/{pid}").exists(), f"nested systemd {pid} outlived its namespace"


def test_install_then_boot_starts_every_written_service(nested):
    assert "install: enabled swivel.target" in nested.log.read_text()
    assert nested.show("swivel.target", "ActiveState")["ActiveState"] == "active"
    for s in PRESENT:
        st = nested.wait(f"swivel-{s}.service", lambda p: p["SubState"] == "running", 90, "running")
        assert st["NRestarts"] == "0", (s, st, nested.journal(f"swivel-{s}.service"))
        assert '"msg": "ready"' in nested.journal(f"swivel-{s}.service", 200)


def _status(nested: Nested, pid: str) -> dict[str, str]:
    out = nested.sh("cat", f"/proc/{pid}/status")
    return {k.strip(): v.strip() for k, _, v in (l.partition(":") for l in out.splitlines())}


NETWORK_DOORS = ("web", "satellite")      # the only units that listen beyond the device
STATE_KEEPERS = ("policy", "health")      # StateDirectory=swivel: the range of motion, tokens; the health reference


def test_hardening_in_force(nested):
    uid = nested.sh("id", "-u", "swivel").strip()
    init_net = nested.sh("readlink", "/proc/1/ns/net").strip()
    for s in PRESENT:
        pid = nested.show(f"swivel-{s}.service", "MainPID")["MainPID"]
        st = _status(nested, pid)
        assert st["Uid"].split()[0] == uid != "0", (s, st["Uid"])
        assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", s
        assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, s
        if s in NETWORK_DOORS:
            # The LAN doors need the host's network; the unit allows only local and private addresses.
            ip = nested.show(f"swivel-{s}.service", "IPAddressDeny", "IPAddressAllow")
            assert ip["IPAddressDeny"] and ip["IPAddressAllow"], (s, ip)
            assert "8.8.8.8" not in ip["IPAddressAllow"], (s, ip)
        else:
            assert nested.sh("readlink", f"/proc/{pid}/ns/net").strip() != init_net, f"{s}: not in a private netns"
        mounts = nested.sh("cat", f"/proc/{pid}/mountinfo").splitlines()
        by_point = {m.split()[4]: m.split()[5].split(",") for m in mounts}
        assert "ro" in by_point["/"], f"{s}: / is writable"
        assert "rw" in by_point.get("/run/swivel", []), f"{s}: /run/swivel not writable"
        assert "rw" not in by_point.get("/home", ["ro"]) and "rw" not in by_point.get("/root", ["ro"]), s
        assert ("rw" in by_point.get("/var/lib/swivel", [])) == (s in STATE_KEEPERS), s


def test_runtime_dir_is_closed_to_others(nested):
    listing = nested.sh("stat", "-c", "%a %U %G %n", "/run/swivel", *[f"/run/swivel/{s}.pub" for s in PRESENT])
    lines = listing.splitlines()
    assert lines[0] == "750 swivel swivel /run/swivel"
    for line in lines[1:]:
        assert line.startswith("700 swivel swivel "), line


def test_watchdog_pings_arrive(nested):
    unit = f"swivel-{PRESENT[0]}.service"
    first = int(nested.show(unit, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"])
    time.sleep(3.5)                      # WatchdogSec=5: pings every 2.5 s
    later = nested.show(unit, "WatchdogTimestampMonotonic", "WatchdogUSec", "NRestarts")
    assert int(later["WatchdogTimestampMonotonic"]) > first, later
    assert later["WatchdogUSec"] == "5s" and later["NRestarts"] == "0"


def test_sigkill_is_restarted(nested):
    unit = "swivel-policy.service" if "policy" in PRESENT else f"swivel-{PRESENT[0]}.service"
    before = nested.show(unit, "MainPID", "NRestarts")
    nested.sh("kill", "-9", before["MainPID"])
    st = nested.wait(unit, lambda p: p["MainPID"] not in ("0", before["MainPID"]) and p["SubState"] == "running",
                     60, "running again with a new pid")
    assert int(st["NRestarts"]) == int(before["NRestarts"]) + 1


def test_wedged_loop_is_killed_by_the_watchdog(nested):
    """SIGSTOP freezes the loop like a deadlock would: no pings, systemd aborts it and starts it again."""
    unit = "swivel-policy.service" if "policy" in PRESENT else f"swivel-{PRESENT[0]}.service"
    before = nested.show(unit, "MainPID", "NRestarts")
    nested.sh("kill", "-STOP", before["MainPID"])
    st = nested.wait(unit, lambda p: p["MainPID"] not in ("0", before["MainPID"]) and p["SubState"] == "running",
                     60, "restarted after the watchdog")
    assert int(st["NRestarts"]) == int(before["NRestarts"]) + 1
    assert "Watchdog timeout" in nested.journal(unit, 200)


def test_user_error_is_not_restarted(nested):
    """An unusable runtime directory: one line in the journal, exit status 2, and no restart loop."""
    unit = "swivel-policy.service" if "policy" in PRESENT else f"swivel-{PRESENT[0]}.service"
    dropin = f"/run/systemd/system/{unit}.d"
    nested.sh("mkdir", "-p", dropin)
    nested.sh("sh", "-c", f"printf '[Service]\\nEnvironment=SWIVEL_RUNTIME_DIR=/dev/null/swivel\\n' > {dropin}/zz-test.conf")
    nested.sh("systemctl", "daemon-reload")
    nested.sh("systemctl", "restart", "--no-block", unit)     # a manual restart zeroes NRestarts
    try:
        st = nested.wait(unit, lambda p: p["ActiveState"] == "failed", 60, "failed")
        assert st["ExecMainStatus"] == "2" and st["Result"] == "exit-code", st
        time.sleep(3)                                 # RestartSec=1: a loop would have shown by now
        st = nested.show(unit, "ActiveState", "NRestarts")
        assert st["ActiveState"] == "failed" and st["NRestarts"] == "0", st
        assert "swivel: runtime directory /dev/null/swivel is not usable: Not a directory" in nested.journal(unit)
    finally:
        nested.sh("rm", "-rf", dropin)
        nested.sh("systemctl", "daemon-reload")
        nested.sh("systemctl", "reset-failed", unit, check=False)
        nested.sh("systemctl", "start", unit)


def test_stop_order_motor_last(nested):
    # The target stops first (it is ordered After= its services) and PartOf= queues their stop jobs:
    # wait for those, then read the order systemd stopped them in.
    nested.sh("systemctl", "stop", "swivel.target", timeout=90)
    for s in PRESENT:
        nested.wait(f"swivel-{s}.service", lambda p: p["ActiveState"] == "inactive", 60, "stopped")
    out = nested.sh("journalctl", "--no-pager", "-o", "short-monotonic", "-u", "swivel-*", "--grep", "^Stopped ")
    order = [s for line in out.splitlines() for s in PRESENT if f"Stopped swivel-{s}.service" in line]
    assert order, out
    if "motor" in PRESENT:
        assert order[-1] == "motor", (order, out)
    if "policy" in PRESENT:
        assert order[0] == "policy", order
    for s in PRESENT:
        st = nested.show(f"swivel-{s}.service", "ActiveState", "Result")
        assert st == {"ActiveState": "inactive", "Result": "success"}, (s, st)


def test_uninstall_under_systemd(nested):
    """`make uninstall` on the running system: services stopped, units and venv gone, config and state kept."""
    nested.sh("systemctl", "start", "swivel.target")
    for s in PRESENT:
        nested.wait(f"swivel-{s}.service", lambda p: p["SubState"] == "running", 90, "running again")
    out = nested.sh("bash", f"{NESTED_SRC}/tools/uninstall.sh", timeout=120)
    assert "kept /etc/swivel" in out
    assert nested.sh("systemctl", "list-unit-files", "--no-legend", "swivel*", check=False).strip() == ""
    assert nested.sh("pgrep", "-u", "swivel", check=False).strip() == ""
    assert nested.sh("sh", "-c", "test ! -e /opt/swivel && test ! -e /etc/systemd/system/swivel.target "
                                 "&& test -f /etc/swivel/swivel.toml && test -d /var/lib/swivel && echo ok").strip() == "ok"
