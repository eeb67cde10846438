"""The live terminal view of `swivel run`: heading, people, sound, zone, and what the policy decided and why."""
from __future__ import annotations

import shutil
import sys
import time

from .report import wrap

WIDTH = 61                       # characters of the compass strip, -180..180 degrees


def _strip(marks: dict[float, str]) -> str:
    cells = ["-"] * WIDTH
    cells[WIDTH // 2] = "+"
    for az, ch in marks.items():
        i = int(round(((az + 180.0) % 360.0) / 360.0 * (WIDTH - 1)))
        cells[i] = ch
    return "".join(cells)


def health_line(h) -> str:
    """The turntable against its reference (issue 17): one line, loud when it needs attention."""
    if h.needs_attention:
        where = f" at {h.angle_deg:.0f} deg" if h.angle_deg is not None else ""
        todo = "acknowledged" if h.acknowledged else "moving gently until `swivel health ack`"
        return f"health NEEDS ATTENTION: probable {h.kind}{where} ({todo})"
    text = {"no_reference": "no reference (`swivel health sweep` records one)", "sweeping": "recording the reference sweep",
            "learning": "comparing the first moves with the reference", "ok": "turntable like its reference"}
    worst = f"  worst {h.worst_ratio:.2f} of a threshold" if h.ratios else ""
    return f"health {text.get(h.status, h.status)}  ({h.moves} moves){worst}{'  note: ' + h.note if h.note else ''}"


class LiveView:
    """Redraws in place on a terminal; prints one line a second otherwise (logs, CI)."""

    def __init__(self, scenario, out=None, runtime_dir=None, web=None, satellite=None):
        self.scenario = scenario
        self.runtime_dir = runtime_dir
        self.web = web                   # the web app's URL, or why it is not running
        self.satellite = satellite       # the Home Assistant satellite's host:port, or why it is not running
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self._next = 0.0
        if self.tty:
            self.out.write("\x1b[2J\x1b[?25l")

    def lines(self, rec, t: float) -> list[str]:
        world, motor = rec.last.get("sim.world"), rec.last.get("motor.state")
        doa, people, policy = rec.last.get("ssl.doa"), rec.last.get("vision.people"), rec.last.get("policy.state")
        heading = motor.heading_deg if motor else (world.heading_deg if world else 0.0)
        marks = {}
        if world:
            for p in world.people:
                marks[p.azimuth_world_deg] = "S" if p.speaking else "P"
        if doa and doa.azimuth_deg is not None:
            marks[doa.azimuth_deg + (doa.heading_deg if doa.heading_deg is not None else heading)] = "~"
        marks[heading] = "^"
        clock = f"t = {world.scenario_time_s:6.1f} s" if world else "starting"
        out = [f"Swivel  scenario: {self.scenario.name}   {clock}   (Ctrl-C stops)",
               f"bus {self.runtime_dir}: try `swivel sim event camera_unplug --runtime-dir {self.runtime_dir}`"
               if self.runtime_dir else "",
               self._web_line(),
               (f"home assistant (ESPHome)  {self.satellite}" if self.satellite else ""),
               "world  -180" + " " * (WIDTH // 2 - 9) + "0" + " " * (WIDTH // 2 - 4) + "180",
               "       " + _strip(marks) + "    ^ screen  P person  S speaking  ~ sound",
               ""]
        if motor:
            flags = [f for f in ("moving", "stalled", "manual", "at_limit", "host_timeout") if getattr(motor, f)]
            out.append(f"heading {motor.heading_deg:7.1f} deg   speed {motor.velocity_dps:6.1f} deg/s   "
                       f"{' '.join(flags) or 'still'}{'   FAULT ' + motor.fault if motor.fault else ''}")
        else:
            out.append("heading   (waiting for the motor)")
        if world:
            for p in world.people:
                out.append(f"person {p.id}: {p.azimuth_world_deg:7.1f} deg  {p.distance_m:.1f} m"
                           f"{'  speaking' if p.speaking else ''}")
        if doa:
            if doa.azimuth_deg is None:
                az = "no target (outside the range of motion, or nothing clear)"
            else:
                at = doa.heading_deg if doa.heading_deg is not None else heading
                az = f"{doa.azimuth_deg:+7.1f} deg from the screen = {wrap(doa.azimuth_deg + at):7.1f} deg world"
            out.append(f"sound  {az}  confidence {doa.confidence:.2f}  ({doa.trigger})"
                       f"{'  AMBIGUOUS' if doa.ambiguous else ''}")
        if people:
            seen = ", ".join(f"#{p.track_id} {p.bearing_deg:+.0f} deg {p.distance_m:.1f} m eng {p.engagement:.1f}"
                             for p in people.people) or "nobody"
            out.append(f"vision {'BLIND (' + people.blind_reason + ')' if people.blind else seen}  "
                       f"@ {people.fps:.0f} fps")
        if policy:
            out.append(f"policy {policy.mode}  zone {policy.zone or '-'}  decision: {policy.decision or '-'}")
            echoes_hold = any(policy.reason.startswith(h + ":") for h in policy.holds)
            if policy.reason and policy.reason != policy.decision and not echoes_hold:
                out.append(f"       why: {policy.reason}")
            if policy.holds:
                for name, why in zip(policy.holds, list(policy.hold_reasons) + [""] * len(policy.holds)):
                    out.append(f"       hold {name}{': ' + why if why else ''}")
            else:
                out.append("       holds: none")
        health = rec.last.get("health.state")
        if health:
            out.append(health_line(health))
        return out

    def _web_line(self) -> str:
        """Where the web app is, and the pairing code it shows on the device's screen (here: this terminal)."""
        if not self.web:
            return ""
        if not self.web.startswith("http"):
            return f"web    {self.web}"
        code = ""
        if self.runtime_dir is not None:
            try:
                code = (self.runtime_dir / "web-pairing-code").read_text().strip()
            except OSError:
                pass
        return f"web    {self.web}   pairing code {code or '(starting)'}"

    def draw(self, rec, t: float) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        lines = self.lines(rec, t)
        if self.tty:
            self._next = now + 0.2
            width = shutil.get_terminal_size((120, 40)).columns - 1
            # Each line cut to the terminal and cleared to its end, so a shorter line leaves nothing behind.
            self.out.write("\x1b[H" + "".join(line[:width] + "\x1b[K\n" for line in lines) + "\x1b[J")
        else:
            self._next = now + 1.0
            self.out.write(" | ".join(l.strip() for l in lines[5:] if l.strip()) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\x1b[?25h\n")
            self.out.flush()
