"""The lessons of chapters 1-6 of the course (issue 15): each one is a complete lesson, and the
new ones show what their narration says they show.

A complete lesson has narration on every step, at least three predict questions, a recap of
three lines and links to a man page and to the kernel's source; the chapter's lessons are
numbered 1, 2, ... without gaps; the first lesson of the course is short. That the questions'
right answers are the real kernel's is `muxlab check`'s job (tests/test_cli.py runs it on every
shipped scenario).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.observe import TraceKind
from simulator.scenario import load_scenario
from simulator.scenario.library import shipped_dir
from simulator.scenario.runner import Runner, StepRecord

_shipped = shipped_dir()
assert _shipped is not None
SHIPPED: Path = _shipped
EARLY = {
    path.stem: scenario
    for path in sorted(SHIPPED.glob("*.toml"))
    if (scenario := load_scenario(path)).scenario.chapter in range(1, 7)
}
MAN_PAGES = "https://man7.org/linux/man-pages/"
KERNEL_SOURCE = (
    "https://github.com/torvalds/linux/blob/master/",
    "https://elixir.bootlin.com/linux/",
)


def test_every_chapter_from_1_to_6_has_lessons_numbered_from_1() -> None:
    orders: dict[int, list[int]] = {}
    for scenario in EARLY.values():
        meta = scenario.scenario
        assert meta.chapter is not None and meta.order is not None
        orders.setdefault(meta.chapter, []).append(meta.order)
    assert sorted(orders) == [1, 2, 3, 4, 5, 6]
    for chapter, numbers in orders.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), (chapter, numbers)


@pytest.mark.parametrize("name", sorted(EARLY))
def test_each_lesson_narrates_asks_recaps_and_links(name: str) -> None:
    scenario = EARLY[name]
    meta = scenario.scenario
    assert all(step.say for step in scenario.steps)
    asks = [step for step in scenario.steps if step.ask is not None]
    assert len(asks) >= 3, f"{name}: {len(asks)} questions"
    assert all(step.choices is not None and len(step.choices) >= 2 for step in asks)
    assert len(meta.recap) == 3
    urls = [link.url for link in meta.see]
    assert any(url.startswith(MAN_PAGES) for url in urls), urls
    assert any(url.startswith(KERNEL_SOURCE) for url in urls), urls


def test_the_first_lesson_is_short_and_makes_its_point_with_questions() -> None:
    first = next(
        (name, s) for name, s in EARLY.items() if (s.scenario.chapter, s.scenario.order) == (1, 1)
    )
    name, scenario = first
    assert name == "sleep-or-eagain"
    assert len(scenario.steps) < 12
    calls = [step.call.name for step in scenario.steps]
    assert "set_blocking" in calls and "recv" in calls
    sleeper = [step for step in scenario.steps if step.thread is not None]
    assert [step.call.name for step in sleeper] == ["recv"]  # the read that sleeps


def _model_records(name: str) -> list[StepRecord]:
    with Runner(load_scenario(SHIPPED / f"{name}.toml")) as runner:
        return list(runner)


def _kinds(record: StepRecord) -> list[TraceKind]:
    return [event.kind for event in record.trace]


def test_epoll_architecture_shows_a_rotation_then_a_recolouring() -> None:
    records = _model_records("epoll-architecture")
    adds = [
        r
        for r in records
        if r.step.call.name == "epoll_ctl" and r.model.error is None and "op=ADD" in r.call
    ]
    assert [TraceKind.TREE_ROTATE in _kinds(r) for r in adds] == [False, False, True, False]
    assert TraceKind.TREE_RECOLOR in _kinds(adds[3])


def test_epoll_architecture_follows_a_packet_from_the_nic_to_the_ready_list() -> None:
    records = _model_records("epoll-architecture")
    send = next(r for r in records if r.step.call.name == "send")
    kinds = _kinds(send)
    path = [
        TraceKind.NIC_TX,
        TraceKind.NIC_RX,
        TraceKind.IRQ,
        TraceKind.SOFTIRQ,
        TraceKind.SOCK_QUEUE,
        TraceKind.CALLBACK,
        TraceKind.LIST_APPEND,
    ]
    positions = [kinds.index(kind) for kind in path]
    assert positions == sorted(positions), kinds


def test_epoll_wait_costs_the_ready_items_not_the_watched_ones() -> None:
    # Four sockets watched, two ready: the wait copies out two events, and no descriptor is
    # scanned (poll and select would visit all of them).
    records = _model_records("epoll-architecture")
    wait = next(r for r in records if r.step.call.name == "epoll_wait")
    kinds = _kinds(wait)
    assert kinds.count(TraceKind.COPY_OUT) == 2
    assert TraceKind.FD_SCAN not in kinds and TraceKind.TREE_COMPARE not in kinds
