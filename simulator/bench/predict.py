"""The lab's predict questions, asked before an experiment runs and judged by what it measured.

Each experiment has one question (`question`) and a judge (`answer`) that reads the points the
real kernel produced and returns the choice they support, with the evidence in words -- or
None while there are too few points to say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.bench.plan import Plan
from simulator.bench.polling import PollingPoint
from simulator.bench.sweep import Point
from simulator.bench.thrash import SHAPES, ThrashPlan, ThrashPoint

#: poll's growth over the sweep below which it "stays about the same", and from which it
#: "grows with N".
_FLAT, _LINEAR = 2.0, 10.0


@dataclass(frozen=True, slots=True)
class LabQuestion:
    """A question with its choices; `answer` judges it from the measured points."""

    prompt: str
    choices: tuple[str, ...]


def question(experiment: str, plan: Plan | ThrashPlan) -> LabQuestion:
    """The question asked before `experiment` ("complexity", "polling" or "thrash") runs
    `plan` (a `ThrashPlan` for "thrash", a `Plan` for the others)."""
    if isinstance(plan, ThrashPlan):
        return LabQuestion(
            f"Requests arrive at a {SHAPES['threads']} server on {plan.cpus} CPUs, faster and "
            f"faster: {min(plan.rates):,} to {max(plan.rates):,} a second. Past the rate it "
            "can keep up with, what happens to the requests it **handles** per second as the "
            "arrival rate keeps rising?",
            (
                "They stay at the maximum: a plateau",
                "They keep growing, more slowly",
                "They fall: interrupts crowd out the work",
            ),
        )
    low, high = min(plan.sizes), max(plan.sizes)
    if experiment == "complexity":
        return LabQuestion(
            f"The sweep registers N = {low:,} to {high:,} socket pairs, "
            f"{min(plan.active)} of them with data. How will **poll**'s time per call change "
            "from the smallest N to the largest?",
            (
                "It stays about the same (less than 2x)",
                "It grows, but by less than 10x",
                "It grows with N: 10x or more",
            ),
        )
    return LabQuestion(
        f"A busy loop calls recv on each of N non-blocking sockets in turn, "
        f"{min(plan.active)} of them receiving. Of the N calls of one round, how many find "
        "nothing (EAGAIN)?",
        (
            "About K: one per receiving socket",
            "N - K: every socket that received nothing",
            "None: a recv waits until data comes",
        ),
    )


def answer(
    experiment: str, points: Sequence[Point | PollingPoint | ThrashPoint]
) -> tuple[int, str] | None:
    """The choice the real kernel's `points` support (for "thrash": the model charged at the
    machine's measured costs), and why; None if they cannot say yet."""
    if experiment == "thrash":
        return _thrash([p for p in points if isinstance(p, ThrashPoint)])
    if experiment == "complexity":
        return _complexity([p for p in points if isinstance(p, Point)])
    return _polling([p for p in points if isinstance(p, PollingPoint)])


def _complexity(points: list[Point]) -> tuple[int, str] | None:
    if not points:
        return None
    active = points[0].active
    poll = [p for p in points if p.mechanism == "poll" and p.active == active and p.real_ns]
    if len(poll) < 2:
        return None
    first, last = poll[0], poll[-1]
    growth = (last.real_ns or 0) / (first.real_ns or 1)
    choice = 0 if growth < _FLAT else 1 if growth < _LINEAR else 2
    return choice, f"poll went from {_us(first.real_ns)} at N = {first.n:,} to " + (
        f"{_us(last.real_ns)} at N = {last.n:,}: {growth:,.1f}x"
    )


def _polling(points: list[PollingPoint]) -> tuple[int, str] | None:
    if not points:
        return None
    p = points[-1]
    useless = p.model_busy_useless  # equal to the live child's count (`bench.polling._point`)
    expected = (p.active, p.n - p.active, 0)  # what each choice says
    choice = min(range(3), key=lambda i: abs(useless - expected[i]))
    return choice, f"at N = {p.n:,} with K = {p.active}, {useless:,} of {p.n:,} calls said EAGAIN"


#: Below this share of its peak, a shape's last point has "fallen" rather than plateaued.
_FALLEN = 0.9


def _thrash(points: list[ThrashPoint]) -> tuple[int, str] | None:
    mine = [p for p in points if p.shape == "threads"]
    if len(mine) < 2:
        return None
    peak = max(mine, key=lambda p: p.throughput)
    last = mine[-1]
    if last.throughput < _FALLEN * peak.throughput:
        choice = 2
    elif last is peak and last.throughput > mine[-2].throughput:
        choice = 1
    else:
        choice = 0
    return choice, (
        f"it handled at most {peak.throughput:,.0f}/s (arriving: {peak.rate:,}/s) and "
        f"{last.throughput:,.0f}/s when {last.rate:,}/s arrived"
    )


def _us(ns: float | None) -> str:
    return f"{(ns or 0) / 1000:,.1f} µs"
