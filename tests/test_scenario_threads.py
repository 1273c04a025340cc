"""Threads in scenario files (docs/scenario-format.md, "Threads"): a step's ``thread``, the
results of threads that finish later, ``equal`` threads, rewind and recordings.

Run on both kernels (the real one is the judge) through the runner, as `muxlab check` runs them.
"""

from __future__ import annotations

import functools
import threading
import time

import pytest

from simulator.live import LiveKernel
from simulator.scenario import threadsteps
from simulator.scenario.calls import Outcome
from simulator.scenario.loader import ScenarioError, parse_scenario
from simulator.scenario.recording import Recording, RecordingError
from simulator.scenario.runner import Runner, Verdict, default_model_factory
from simulator.scenario.threadsteps import ASLEEP
from simulator.threads import MAX_THREADS

LIVE = functools.partial(LiveKernel, wait_bound_s=0.1)

HERD = """
[scenario]
title = "Threads blocked in accept, and two equal readers"
[[step]]
do = "tcp_listen"
as = "l"
[[step]]
do = "set_blocking"
args = { fd = "l", blocking = true }
[[step]]
do = "accept"
thread = "t1"
args = { listen_fd = "l" }
as = "c1"
[[step]]
do = "accept"
thread = "t2"
args = { listen_fd = "l" }
as = "c2"
[[step]]
do = "tcp_connect"
args = { listen_fd = "l" }
as = "x"
[[step]]
do = "send"
args = { fd = "x", nbytes = 3 }
[[step]]
do = "recv"
args = { fd = "c1", nbytes = 10 }
expect = 3
[[step]]
do = "socketpair"
as = ["a", "b"]
[[step]]
do = "set_blocking"
args = { fd = "a", blocking = true }
[[step]]
do = "recv"
thread = "r1"
equal = true
args = { fd = "a", nbytes = 10 }
[[step]]
do = "recv"
thread = "r2"
equal = true
args = { fd = "a", nbytes = 10 }
[[step]]
do = "send"
args = { fd = "b", nbytes = 4 }
"""


def test_a_sleeping_thread_finishes_at_the_step_that_wakes_it() -> None:
    with Runner(parse_scenario(HERD), default_model_factory, LIVE) as runner:
        records = list(runner)
    assert [r.verdict for r in records] == [Verdict.AGREE] * 12
    assert [r.call for r in records[2:4]] == ["t1: accept(listen_fd=l)", "t2: accept(listen_fd=l)"]
    assert records[2].model.error == ASLEEP and records[2].live is not None
    assert records[2].live.error == ASLEEP
    woken = records[4].woken  # the connection: the oldest sleeper, t1, has it (TH-3)
    assert [(n, m.result, lv.result if lv else None) for n, m, lv in woken] == [("t1", "c1", "c1")]
    assert records[6].model.result == 3  # `c1`, bound when t1 finished, is usable afterwards
    # r1 and r2 are equal: one of them reads the 4 bytes, which one may differ per kernel.
    woken = records[11].woken
    assert {n for n, _m, _lv in woken} <= {"r1", "r2"}
    assert sorted(m.result for _n, m, _lv in woken if m.ok) == [4]
    assert sorted(lv.result for _n, _m, lv in woken if lv is not None and lv.ok) == [4]


def test_a_thread_result_that_misses_its_expectation_fails_where_it_finishes() -> None:
    text = HERD.replace('as = "c1"', 'as = "c1"\nexpect = 42')
    with Runner(parse_scenario(text), default_model_factory, LIVE) as runner:
        records = list(runner)
    assert records[2].verdict is Verdict.AGREE  # asleep: nothing to check yet
    assert records[4].verdict is Verdict.EXPECT_FAILED
    assert records[4].expect_failures[0].startswith("t1 model: expected fd42, got c1")


def test_rewinding_over_sleeping_threads_replays_the_same_run() -> None:
    scenario = parse_scenario(HERD)
    with Runner(scenario, default_model_factory, LIVE, checkpoint_every=1) as runner:
        fresh = [r.to_json() for r in runner]
        assert runner.checkpoints == (0, 1, 2)  # from step 3 on t2 sleeps: no copy
        for target in (0, 4, 11, 7, 12):
            runner.seek(target)
            assert [r.to_json() for r in runner.records[:target]] == fresh[:target]
        recording = runner.recording()
    again = Recording.from_json(recording.to_json())
    with Runner(scenario, default_model_factory, recording=again) as replay:
        assert [r.to_json() for r in replay] == fresh


def test_a_recording_whose_thread_answer_has_the_wrong_shape_is_refused() -> None:
    scenario = parse_scenario(HERD)
    with Runner(scenario, default_model_factory, LIVE) as runner:
        list(runner)
        document = runner.recording().to_json()
    document["live"][4]["woken"]["t1"] = {"raw": [1, 2]}  # accept answers one fd
    with pytest.raises(RecordingError, match=r"woken\.t1"):
        Recording.from_json(document).check(scenario)


def test_more_threads_than_the_cap_is_refused_when_the_file_is_read() -> None:
    text = '[scenario]\ntitle = "x"\n[[step]]\ndo = "socketpair"\nas = ["a", "b"]\n'
    for n in range(MAX_THREADS + 1):
        text += f'[[step]]\ndo = "recv"\nthread = "t{n}"\nargs = {{ fd = "a", nbytes = 1 }}\n'
    with pytest.raises(ScenarioError, match=f"step {MAX_THREADS + 2} .*at most {MAX_THREADS}"):
        parse_scenario(text)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('thread = "t1"\nmodel_only = true', "no model_only"),
        ("equal = true", "give `thread`"),
        ('thread = "1t"', "thread"),
        ('thread = "t1"\nask = "?"\nchoices = [1, 2]', "cannot ask"),
    ],
)
def test_thread_fields_are_checked_when_the_file_is_read(extra: str, message: str) -> None:
    text = '[scenario]\ntitle = "x"\n[[step]]\ndo = "socketpair"\nas = ["a", "b"]\n'
    text += f'[[step]]\ndo = "recv"\nargs = {{ fd = "a", nbytes = 1 }}\n{extra}\n'
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text)


def test_equal_threads_in_accept_agree_whichever_wins() -> None:
    text = """
[scenario]
title = "Equal acceptors"
[[step]]
do = "tcp_listen"
as = "l"
[[step]]
do = "set_blocking"
args = { fd = "l", blocking = true }
[[step]]
do = "accept"
thread = "t1"
equal = true
args = { listen_fd = "l" }
as = "c1"
[[step]]
do = "accept"
thread = "t2"
equal = true
args = { listen_fd = "l" }
as = "c2"
[[step]]
do = "tcp_connect"
args = { listen_fd = "l" }
"""
    with Runner(parse_scenario(text), default_model_factory, LIVE) as runner:
        records = list(runner)
    assert [r.verdict for r in records] == [Verdict.AGREE] * 5
    assert len([m for _n, m, _lv in records[4].woken if m.ok]) == 1


def test_equal_threads_are_compared_by_what_finished_not_by_which() -> None:
    text = """
[scenario]
title = "Two acceptors"
[[step]]
do = "tcp_listen"
as = "l"
[[step]]
do = "accept"
thread = "t1"
equal = true
args = { listen_fd = "l" }
as = "c1"
[[step]]
do = "accept"
thread = "t2"
equal = true
args = { listen_fd = "l" }
as = "c2"
"""
    steps = tuple(parse_scenario(text).steps)
    started = {"t1": 1, "t2": 2}
    model = {"t1": Outcome(result="c1", raw=4)}
    live = {"t2": Outcome(result="c2", raw=5)}
    assert threadsteps.same(model, live, steps, started, compare_fds=True)
    assert not threadsteps.same(model, {}, steps, started, compare_fds=True)
    unequal = tuple(s.model_copy(update={"equal": False}) for s in steps)
    assert not threadsteps.same(model, live, unequal, started, compare_fds=True)


def test_seeking_back_over_sleeping_threads_leaves_no_python_thread_behind() -> None:
    scenario = parse_scenario(HERD)
    before = threading.active_count()
    with Runner(scenario, default_model_factory) as runner:  # the model alone
        list(runner)
        for _ in range(5):
            runner.seek(1)
            runner.seek(len(scenario.steps))
        assert threading.active_count() <= before + 3  # this model's sleepers: t2, r1 or r2
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)  # the ended threads are unwinding
    assert threading.active_count() == before
