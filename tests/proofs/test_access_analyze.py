"""The access analyzer is sound and complete for the policy language: its principals, read literally, cover
exactly the requests AccessPolicy.decide allows (peer, named principal, token), on random small policies."""
from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.policy import access
from device.policy.access import OPS, AccessPolicy, Rule
from device.policy.access_analyze import INTENT, AnalysisError, analyze

UIDS = range(4)                 # the policies below name uids and gids 0..2; 3 is nobody's
GIDS = range(4)
KINDS = ("web_paired", "web_kiosk", "door_x")


@dataclass(frozen=True)
class Creds:
    uid: int
    gid: int
    pid: int
    groups: frozenset


def peers():
    yield None
    for uid in UIDS:
        for n in range(len(GIDS) + 1):
            for groups in itertools.combinations(GIDS, n):
                yield Creds(uid, 99, 1, frozenset(groups) | {99})


TOKENS = (None, "a", "b", "zz")   # the token a request presents (rules below name a and b)


def covers(p: dict, creds, named, token) -> bool:
    """What a reported principal means, read from its description alone."""
    if p.get("via") != (None if named is None else named.split(":", 1)[0]):
        return False
    kind = p["kind"]
    if kind == "token":
        return token == p["ident"]
    if kind == "unknown":
        return creds is None and token not in [i for _, i in p.get("excluding", [])]
    if creds is None:
        return False

    def matches(k, ident):
        if k == "token":
            return token == ident
        return creds.uid == ident if k == "uid" else ident in creds.groups
    if kind == "owner":
        return creds.uid == POLICY_SVC[0]
    if kind == "local":
        return not any(matches(k, i) for k, i in p["excluding"])
    return matches(kind, p["ident"])


POLICY_SVC = [0]
ops_subsets = st.frozensets(st.sampled_from(OPS))
ids = {"uid": st.integers(0, 2), "gid": st.integers(0, 2), "token": st.sampled_from(["a", "b"])}
rules = st.lists(st.sampled_from(sorted(ids)).flatmap(
    lambda kind: st.builds(lambda ident, ops: Rule(kind, ident, f"{kind} {ident}", ops), ids[kind], ops_subsets)),
    max_size=3)
principal_ops = st.dictionaries(st.sampled_from(KINDS), ops_subsets, max_size=2)


@settings(max_examples=20, deadline=None)
@given(svc=st.integers(0, 2), same=ops_subsets, others=ops_subsets, rules=rules, kinds=principal_ops)
def test_findings_match_brute_force(svc, same, others, rules, kinds):
    policy = AccessPolicy(svc, same, others, tuple(rules), "random", kinds)
    POLICY_SVC[0] = svc
    findings = {f.op: f.as_dict() for f in analyze(policy)}
    named_options = [None, "nosuch:1"] + [f"{k}:abc" for k in policy.principal_ops]
    real = access._peer_groups
    access._peer_groups = lambda creds: set(creds.groups)       # the peer's groups, as /proc would say
    try:
        for op in OPS:
            f = findings[op]
            assert f["complete"]
            every = True
            for creds in peers():
                for named in named_options:
                    for token in TOKENS:
                        allowed = policy.decide(creds, op, named, token).allowed
                        covered = any(covers(p, creds, named, token) for p in f["principals"])
                        assert allowed == covered, (op, creds, named, token, allowed, f["principals"])
                        every &= allowed
            assert f["anyone"] == every
            meant = INTENT[op][0]
            assert [p["label"] for p in f["broader_than_intent"]] == \
                [p["label"] for p in f["principals"] if p["category"] not in meant]
    finally:
        access._peer_groups = real


def test_the_owner_alone_may_set_the_range_by_default():
    findings = {f.op: f for f in analyze(AccessPolicy.default(1000))}
    assert not any(f.broader for f in findings.values())
    assert {p.kind for p in findings["set_rom"].principals} == {"owner"}
    assert findings["get_state"].principals and not findings["get_state"].anyone   # unknown kinds are denied


def test_a_grant_beyond_the_intent_is_flagged():
    policy = AccessPolicy.parse('others = ["get_state", "turn"]\n[[rule]]\nuid = 4321\nops = ["set_rom"]\n', "t.toml", 1000)
    findings = {f.op: f for f in analyze(policy)}
    assert [p.label for p in findings["set_rom"].broader] == ["uid 4321", "web_paired through uid 4321"]
    assert "any other local user (no rule names them)" in [p.label for p in findings["turn"].broader]


def test_a_door_the_analyzer_does_not_model_is_refused():
    policy = AccessPolicy.default(1000)
    policy.badge_ops = frozenset(OPS)           # a new way to grant that nobody translated
    with pytest.raises(AnalysisError, match="does not model badge_ops"):
        analyze(policy)
    policy = AccessPolicy(1000, rules=(Rule("badge", "x", "badge x", frozenset(OPS)),))
    with pytest.raises(AnalysisError, match="rule kind 'badge' is not translated"):
        analyze(policy)


def test_a_token_counts_without_credentials():
    policy = AccessPolicy(1000, rules=(Rule("token", "app1", "token app1", frozenset({"turn", "get_state"})),))
    turn = next(f for f in analyze(policy) if f.op == "turn")
    assert [p.kind for p in turn.principals if p.via is None] == ["owner", "token"]
    get_state = next(f for f in analyze(policy) if f.op == "get_state")
    unknown = next(p for p in get_state.principals if p.kind == "unknown" and p.via is None)
    assert unknown.excluding == (("token", "app1"),)          # a token-holder without credentials gets only its ops


def test_cli_one_line_error_for_a_malformed_policy(tmp_path):
    bad = tmp_path / "with space" / "access.toml"
    bad.parent.mkdir()
    bad.write_text('same_uid = ["*"]\n[[rule]]\ngroup = "nosuchgroup-swivel"\nops = ["turn"]\n')
    r = subprocess.run([sys.executable, "-m", "device", "access", "analyze", "--policy", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "line 3" in r.stderr and "no such group" in r.stderr


def test_cli_reports_in_json(tmp_path):
    import json
    f = tmp_path / "access.toml"
    f.write_text('others = ["get_state"]\n[[rule]]\ngid = 4242\nops = ["turn", "away"]\n')
    r = subprocess.run([sys.executable, "-m", "device", "access", "analyze", "--policy", str(f), "--json",
                        "--service-user", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr                                  # a finding: away for a group
    ops = {o["op"]: o for o in json.loads(r.stdout)["ops"]}
    assert [p["label"] for p in ops["away"]["broader_than_intent"]][0] == "gid 4242"
    assert {p["kind"] for p in ops["turn"]["principals"] if "via" not in p} == {"owner", "gid"}


def test_cli_reads_the_policy_named_by_the_config(tmp_path):
    d = tmp_path / "with space"
    d.mkdir()
    (d / "access.toml").write_text('others = ["get_state", "set_rom"]\n')
    (d / "swivel.toml").write_text(f'[policy]\naccess_file = "{d / "access.toml"}"\n')
    r = subprocess.run([sys.executable, "-m", "device", "access", "analyze", "--config", str(d / "swivel.toml"),
                        "--service-user", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "BROADER THAN INTENT: any other local user" in r.stdout and str(d / "access.toml") in r.stdout
