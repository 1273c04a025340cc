"""The runner's lean step (issue 10): what a run without a live side skips, and the trace a record
keeps unmade until it is read, must change nothing a reader sees."""

from __future__ import annotations

import copy
import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.trace import TraceFrame
from simulator.scenario import calls, vocabulary
from simulator.scenario.calls import Bindings
from simulator.scenario.course import next_lesson
from simulator.scenario.loader import load_scenario, parse_scenario
from simulator.scenario.runner import Runner, StepRecord
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN, Kernel

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))


class EagerTrace(Runner):
    """The runner as it was: every step's trace made when the step runs."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._frames = False


def _seen(records: tuple[StepRecord, ...]) -> list[object]:
    return [(r.to_json(), [tuple(w) for w in r.woken]) for r in records]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_trace_made_when_read_is_the_trace_made_at_once(path: Path) -> None:
    scenario = load_scenario(path)
    with Runner(scenario) as lazy, EagerTrace(scenario) as eager:
        list(lazy)
        list(eager)
        # Read only after the whole run: each frame is made from what its step kept.
        assert _seen(lazy.records) == _seen(eager.records)
        assert [r.trace for r in lazy.records] == [r.trace for r in eager.records]
        assert all(type(r.trace) is tuple for r in eager.records)


def test_an_epoll_ctl_descent_is_kept_whole_until_read() -> None:
    kernel, twin = ModelKernel(nofile=256), ModelKernel(nofile=256)
    frames, eager = [], []
    for k in (kernel, twin):
        ep = k.epoll_create()
        for _ in range(40):
            a, _b = k.socketpair()
            k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
            if k is kernel:
                frames.append(k.trace_frame())
            else:
                eager.append(tuple(k.trace))  # read at once: unfolded now
    assert any(type(frame) is TraceFrame for frame in frames)  # a descent was kept whole
    assert frames == eager  # ... and makes the same events, numbers and times when read
    assert [len(f) for f in frames] == [len(e) for e in eager]
    assert frames[-1][1:3] == eager[-1][1:3]
    assert list(frames[-1]) == list(eager[-1])


def test_a_run_without_a_live_side_shares_one_snapshot_of_its_live_names() -> None:
    text = '[scenario]\ntitle = "t"\n' + "".join(
        f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n' for i in range(5)
    )
    with Runner(parse_scenario(text, "t.toml")) as runner:
        records = list(runner)
    assert len({id(r.live_names) for r in records}) == 1
    assert [r.note for r in records] == ["no live kernel"] * 5
    assert [r.model.result for r in records] == [[f"a{i}", f"b{i}"] for i in range(5)]
    assert runner.bindings.fds["b4"] == records[-1].model.raw[1]


def test_a_file_outside_the_course_has_no_next_lesson(tmp_path: Path) -> None:
    lesson = tmp_path / "mine.toml"
    lesson.write_text('[scenario]\ntitle = "mine"\n[[step]]\ndo = "socketpair"\n')
    assert next_lesson(lesson) is None
    first = next_lesson(SHIPPED[0])  # a shipped lesson still has one (or is the last)
    assert first is None or first.path.resolve() != SHIPPED[0].resolve()


def test_snapshots_of_names_are_the_names_when_taken() -> None:
    """`Bindings` keeps a log only once a snapshot shares it (the model's names, never
    snapshotted, keep none): every snapshot still reads as a copy made when it was taken,
    through rebinding, names given at the start, and snapshots taken before any bind."""
    rng = random.Random(10)
    names = Bindings({"start": 3}, {3: "start"})
    taken: list[tuple[Bindings, dict[str, int], dict[int, str]]] = []
    for _ in range(400):
        if rng.random() < 0.2:
            taken.append((names.snapshot(), dict(names.fds), dict(names.names)))
        else:
            names.bind(rng.choice("abcdefgh"), rng.randrange(3, 12))
    assert len(taken) > 40
    for snapshot, fds, fd_names in taken:
        assert snapshot.fds == fds and snapshot.names == fd_names
        assert copy.deepcopy(snapshot) is snapshot
        with pytest.raises(TypeError):
            snapshot.bind("x", 1)
    unshared = Bindings()
    unshared.bind("a", 4)
    unshared.bind("a", 5)
    assert unshared.fds == {"a": 5} and unshared.names == {4: "a", 5: "a"}
    assert unshared.snapshot() is unshared.snapshot()  # no bind between: one snapshot
    assert unshared.snapshot().fds == {"a": 5}


STEPS = """[scenario]
title = "shapes"
[[step]]
do = "socketpair"
as = ["a", "b"]
[[step]]
do = "epoll_create"
as = "ep"
[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }
[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }
[[step]]
do = "send"
args = { fd = "b", nbytes = 5 }
[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 4, timeout_ms = 0 }
[[step]]
do = "dup"
args = { fd = "a" }
as = "c"
[[step]]
do = "close"
args = { fd = "c" }
"""


def test_the_common_results_read_as_the_general_path_reads_them() -> None:
    """`issue`'s shortcuts (a pair, one descriptor, nothing) answer what `outcome_of` does
    with `raw_of`, which every other result goes through, step by step on twin models."""
    scenario = parse_scenario(STEPS, "shapes.toml")
    fast, slow = ModelKernel(), ModelKernel()
    fast_names, slow_names = Bindings(), Bindings()
    shapes = set()
    for step in scenario.steps:
        plan = calls.CallPlan(step)
        shapes.add(plan.shape)
        got, sent = calls.issue(fast, step, fast_names, plan)
        kwargs = plan.resolve(slow_names)
        assert sent == kwargs
        try:
            value = getattr(slow, plan.method)(**kwargs)
        except OSError as exc:
            assert got.error == vocabulary.exception_name(exc) and got.message == str(exc)
            continue
        want = calls.outcome_of(plan.spec, plan.names, calls.raw_of(plan.spec, value), slow_names)
        assert got == want, step.call.name
        assert fast_names == slow_names
    assert len(shapes) == 4  # each shortcut, and the general path (epoll_wait's events)


def test_step_zero_keeps_a_model_of_its_own() -> None:
    """The checkpoint of step 0 is the factory's first model, never run; the second runs (a
    deep copy would have made the running model slower, see `Runner.__init__`). Going back
    to step 0 starts from it, and the steps made again answer the same."""
    made: list[ModelKernel] = []

    def factory(**params: Any) -> Kernel:
        made.append(ModelKernel(**params))
        return made[-1]

    def seen(record: StepRecord) -> object:
        return record.model, record.costs, list(record.trace), record.verdict

    with Runner(parse_scenario(STEPS, "shapes.toml"), factory) as runner:
        first = [seen(r) for r in runner]
        assert len(made) == 2 and runner.model is made[1]
        unused = ModelKernel().open_fds()  # stdin, stdout and stderr
        assert made[0].open_fds() == unused and made[0].calls == 0
        assert runner.model.open_fds() != unused
        runner.seek(0)
        assert runner.model is not made[0] and runner.model.open_fds() == unused
        again = [seen(runner.advance()) for _ in range(len(first))]
    assert again == first
    assert made[0].calls == 0


def test_a_record_keeps_the_cost_of_its_call() -> None:
    """`StepRecord.costs` is a copy of the model's `Cost` when the call returned, which the
    next calls and the end of the run leave as it was; `cost` reads it as a `Cost`."""
    seen = []
    with Runner(parse_scenario(STEPS, "shapes.toml")) as runner:
        for record in runner:
            cost = runner.model.last_cost  # type: ignore[attr-defined]
            seen.append((record, dataclasses.replace(cost)))
    for record, cost in seen:
        assert record.cost == cost and record.cost is not record.cost
        assert record.to_json()["cost"] == cost.as_dict()
    assert any(cost.total for _, cost in seen)
