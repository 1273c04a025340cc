"""The runner records what the live kernel was sent and the names it bound (issue 9, item 4):
the TUI reads them from the step records instead of rebuilding them."""

from __future__ import annotations

import sys

import pytest

from simulator.live import LiveKernel
from simulator.scenario.loader import parse_scenario
from simulator.scenario.runner import Runner
from tui.session import PlaySession

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the live kernel is Linux")

LESSON = """
[scenario]
title = "sent"

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "epoll_create"
as = "ep"

[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN", "ET"] }

[[step]]
do = "close"
args = { fd = "a" }

[[step]]
do = "dup"
args = { fd = "b" }
as = "a"

[[step]]
do = "poll"
args = { fds = [["a", ["IN"]], ["b", 4]] }
model_only = true

[[step]]
do = "kevent"
args = { kq = 9, changes = [{ ident = "b", filter = "WRITE" }] }
"""


def live_factory(**limits: int) -> LiveKernel:
    return LiveKernel(wait_bound_s=0.1, **limits)


def test_records_hold_what_the_live_kernel_was_sent_and_bound() -> None:
    scenario = parse_scenario(LESSON, "sent.toml")
    with Runner(scenario, live_factory=live_factory) as runner:
        records = list(runner)
        recording = runner.recording()
    sent = [r.sent for r in records]
    assert sent[0] == {}
    assert sent[2] == {"epfd": 5, "op": 1, "fd": 3, "events": 0x80000001}
    assert sent[3] == {"fd": 3}
    assert sent[5] is None  # model only: the live kernel was sent nothing
    assert sent[6] == {
        "kq": 9,
        "changes": [{"ident": 4, "filter": -2, "flags": 1, "fflags": 0, "data": 0, "udata": 0}],
        "max_events": 64,
        "timeout_s": 0.0,
    }
    assert records[0].live_names.fds == {"a": 3, "b": 4}
    assert records[2].live_names.fds == {"a": 3, "b": 4, "ep": 5}
    # `a` is bound again by dup: the new number is `a`, fd 3 keeps its older name.
    assert records[4].live_names.fds == {"a": 3, "b": 4, "ep": 5}
    assert records[4].live_names.names == {3: "a", 4: "b", 5: "ep"}
    assert records[4].to_json()["live_names"] == {"a": 3, "b": 4, "ep": 5}

    # A replay of the recording records the same, without a live kernel.
    with Runner(scenario, recording=recording) as replay:
        again = list(replay)
    assert [r.sent for r in again] == sent
    assert [r.live_names.fds for r in again] == [r.live_names.fds for r in records]


def test_the_session_reads_live_names_from_the_records() -> None:
    scenario = parse_scenario(LESSON, "sent.toml")
    session = PlaySession(scenario, live_factory=live_factory)
    try:
        session.seek(3)
        assert session.live_names().fds == {"a": 3, "b": 4, "ep": 5}
        assert session.live_names(1).fds == {"a": 3, "b": 4}
        assert session.live_names(0).fds == {}
        assert session.fdinfo() is not None and set(session.fdinfo() or {}) == {"ep"}
        session.seek(1)  # going back reads the records again, no replay of the live side
        assert session.live_names().fds == {"a": 3, "b": 4}
    finally:
        session.close()
