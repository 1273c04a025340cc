"""The course's chapters 7 to 12 (issue 15): every lesson asks at least three questions, ends
with three things to remember and links to the man page and the source, and a step that only
the model runs says so to the learner.

Whether each lesson agrees with the real kernel is `test_cli.py`'s
`test_every_shipped_scenario_checks_clean`; this file checks what a lesson promises a learner.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulator.scenario import Scenario, load_scenario
from simulator.scenario.library import shipped_dir
from simulator.scenario.runner import Runner, default_model_factory

_shipped = shipped_dir()
assert _shipped is not None
SHIPPED: Path = _shipped
LATE = range(7, 13)


def _late_lessons() -> list[tuple[Path, Scenario]]:
    found = []
    for path in sorted(SHIPPED.glob("*.toml")):
        scenario = load_scenario(path)
        if scenario.scenario.chapter in LATE:
            found.append((path, scenario))
    return found


LESSONS = _late_lessons()
IDS = [path.stem for path, _ in LESSONS]
#: Where a man page lives: Linux's, FreeBSD's (kqueue), Microsoft's (IOCP).
MANUALS = (
    "https://man7.org/linux/man-pages/",
    "https://man.freebsd.org/",
    "https://learn.microsoft.com/",
)
SOURCES = (
    "https://github.com/torvalds/linux/",
    "https://github.com/freebsd/freebsd-src/",
)


def test_every_chapter_from_7_to_12_has_lessons_each_in_its_own_place() -> None:
    places: dict[int, list[int]] = {chapter: [] for chapter in LATE}
    for _, scenario in LESSONS:
        assert scenario.scenario.chapter is not None and scenario.scenario.order is not None
        places[scenario.scenario.chapter].append(scenario.scenario.order)
    for chapter, orders in places.items():
        assert orders, f"chapter {chapter} has no lesson"
        assert len(orders) == len(set(orders)), (chapter, sorted(orders))


@pytest.mark.parametrize(("path", "scenario"), LESSONS, ids=IDS)
def test_a_lesson_asks_three_questions_recaps_three_things_and_links_its_sources(
    path: Path, scenario: Scenario
) -> None:
    asks = [step for step in scenario.steps if step.ask]
    assert len(asks) >= 3, path.name
    assert all(step.choices and len(step.choices) >= 2 for step in asks), path.name
    assert len(scenario.scenario.recap) == 3, path.name
    urls = [link.url for link in scenario.scenario.see]
    assert any(url.startswith(MANUALS) for url in urls), (path.name, urls)
    if path.stem != "iocp":  # Windows' kernel has no public source: Microsoft's docs only
        assert any(url.startswith(SOURCES) for url in urls), (path.name, urls)


@pytest.mark.parametrize(("path", "scenario"), LESSONS, ids=IDS)
def test_a_step_the_real_kernel_does_not_run_says_so(path: Path, scenario: Scenario) -> None:
    for number, step in enumerate(scenario.steps, 1):
        if step.model_only:
            assert "model only" in (step.say or "").lower(), (path.name, number)


def test_enfile_keeps_to_the_model_only_the_steps_that_reach_file_max() -> None:
    """The real check exempts root and file-max is machine-wide, so exactly the steps that
    expect ENFILE are model only; every other step is compared with Linux."""
    scenario = load_scenario(SHIPPED / "enfile.toml")
    assert scenario.model.file_max is not None
    refused = [n for n, s in enumerate(scenario.steps, 1) if s.expect == {"error": "ENFILE"}]
    model_only = [n for n, s in enumerate(scenario.steps, 1) if s.model_only]
    assert refused == model_only
    assert len(refused) >= 2
    assert len(scenario.steps) - len(model_only) >= 10


# --- chapter 12, "Why servers reach a million connections" ------------------------------------
MILLION = SHIPPED / "million.toml"


def test_million_keeps_to_the_model_only_the_step_that_meets_the_watch_quota() -> None:
    """max_user_watches is machine-wide, so only the ADD that expects ENOSPC is model only; the
    descriptor limits are per process and play on both kernels (EMFILE, ValueError)."""
    scenario = load_scenario(MILLION)
    assert scenario.model.max_user_watches == 16 and scenario.model.nofile == 16
    refused = [n for n, s in enumerate(scenario.steps, 1) if s.expect == {"error": "ENOSPC"}]
    model_only = [n for n, s in enumerate(scenario.steps, 1) if s.model_only]
    assert refused == model_only and len(refused) == 1
    errors = [s.expect for s in scenario.steps if isinstance(s.expect, dict)]
    assert {"error": "EMFILE"} in errors and {"error": "ValueError"} in errors


def _million_costs(n: int) -> tuple[int, list[int]]:
    """The last ADD's tree comparisons, and every epoll_wait's total cost, on the model at N=n."""
    scenario = load_scenario(MILLION, {"N": str(n)})
    adds: list[int] = []
    waits: list[int] = []
    with Runner(scenario, default_model_factory, None) as runner:
        for record in runner:
            assert record.cost is not None
            costs = record.cost.as_dict()
            if record.model.error is None and record.call.startswith("epoll_ctl(epfd=ep, op=ADD"):
                adds.append(costs.get("tree_compare", 0))
            if record.step.call.name == "epoll_wait":
                waits.append(sum(costs.values()))
    return adds[-1], waits


def test_million_an_add_grows_like_log_n_and_epoll_wait_not_at_all() -> None:
    small_add, small_waits = _million_costs(16)
    large_add, large_waits = _million_costs(512)  # 32 times the watches
    assert small_waits == large_waits and len(small_waits) == 1
    assert small_add == 12  # the figure the lesson quotes for N = 16
    # Two descents (ep_find, then the insertion) of a red-black tree of height <= 2 log2(N + 1).
    assert small_add < large_add <= 4 * math.log2(512 + 1)


def test_million_the_setrlimit_refusal_is_shown_as_the_kernels_not_cpythons() -> None:
    """setrlimit past the hard limit reaches the kernel (prlimit64 fails with EINVAL) and
    CPython reports it as ValueError: no "before any syscall" note on it, unlike select's
    FD_SETSIZE ValueError, which CPython raises itself."""
    from tui.render.step import cpython_refused

    with Runner(load_scenario(MILLION), default_model_factory, None) as runner:
        refusals = [r.model for r in runner if r.step.expect == {"error": "ValueError"}]
    assert [outcome.message for outcome in refusals] == ["current limit exceeds maximum limit"]
    assert not cpython_refused(refusals[0])
    scenario = load_scenario(SHIPPED / "select-poll-epoll-costs.toml", {"N": "1022"})
    with Runner(scenario, default_model_factory, None) as runner:
        fd_setsize = [r.model for r in runner if r.step.call.name == "select"]
    assert fd_setsize[0].error == "ValueError" and cpython_refused(fd_setsize[0])
