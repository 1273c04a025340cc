"""The runner's lean step (issue 10): what a run without a live side skips, and the trace a record
keeps unmade until it is read, must change nothing a reader sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.trace import TraceFrame
from simulator.scenario.course import next_lesson
from simulator.scenario.loader import load_scenario, parse_scenario
from simulator.scenario.runner import Runner, StepRecord
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN

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
