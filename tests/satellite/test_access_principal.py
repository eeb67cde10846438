"""The satellite principal in the access policy: read-only by default, widened by the access file like the others."""
from __future__ import annotations

import os
from collections import namedtuple

import pytest

from device.policy.access import AccessError, AccessPolicy
from device.policy.access_analyze import analyze

Creds = namedtuple("Creds", "uid gid pid")
ME = os.getuid()


def test_satellite_may_only_read_by_default():
    pol = AccessPolicy.default(ME)
    assert pol.decide(Creds(ME, 0, 1), "get_state", "satellite").allowed
    for op in ("follow", "turn", "set_rom", "away", "tokens"):
        d = pol.decide(Creds(ME, 0, 1), op, "satellite")
        assert not d.allowed and d.who.startswith("satellite via uid")
    assert not any(f.broader for f in analyze(pol))          # the analyzer finds nothing broader than intended


def test_the_access_file_widens_it_but_never_past_the_doors_uid():
    text = 'others = ["get_state"]\nsatellite = ["get_state", "follow", "turn", "stop", "set_rom", "away"]\n'
    pol = AccessPolicy.parse(text, "a.toml", ME)
    assert pol.decide(Creds(ME, 0, 1), "set_rom", "satellite").allowed
    assert not pol.decide(Creds(ME, 0, 1), "tokens", "satellite").allowed
    assert not pol.decide(Creds(ME + 777, 0, 1), "follow", "satellite").allowed   # another uid: only get_state
    with pytest.raises(AccessError, match=r"a.toml line 1: satellite: unknown op 'dance'"):
        AccessPolicy.parse('satellite = ["dance"]\n', "a.toml", ME)
