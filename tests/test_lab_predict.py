"""The lab's predict questions (`simulator.bench.predict`): each is judged by the points the
real kernel produced -- here from real small runs -- and cannot be judged from too few."""

from __future__ import annotations

from dataclasses import replace

from simulator.bench import predict
from simulator.bench.plan import Plan
from simulator.bench.polling import polling
from simulator.bench.sweep import sweep


def test_the_questions_name_the_plan_and_offer_three_choices() -> None:
    plan = Plan(sizes=(10, 5000), active=(10,)).checked(limit=9998)
    asked = predict.question("complexity", plan)
    assert "N = 10 to 5,000" in asked.prompt and "10 of them with data" in asked.prompt
    assert len(asked.choices) == 3
    assert len(predict.question("polling", plan).choices) == 3


def test_poll_growth_is_judged_from_the_first_and_last_poll_point() -> None:
    plan = Plan(mechanisms=("poll", "epoll"), sizes=(10, 20), active=(1,), repeat=3).checked()
    points = list(sweep(plan))
    assert predict.answer("complexity", points[:2]) is None  # one size: nothing to compare
    choice, evidence = predict.answer("complexity", points) or (None, "")
    first, last = points[0], points[2]
    assert first.real_ns is not None and last.real_ns is not None
    growth = last.real_ns / first.real_ns
    assert choice == (0 if growth < 2 else 1 if growth < 10 else 2)
    assert evidence.endswith(f"{growth:,.1f}x")
    # The same judge on a growth it must call linear: the last point 50 times the first.
    steep = [*points[:2], replace(last, real_ns=first.real_ns * 50), points[3]]
    judged = predict.answer("complexity", steep)
    assert judged is not None and judged[0] == 2 and judged[1].endswith("50.0x")


def test_the_busy_loops_eagain_count_picks_n_minus_k() -> None:
    points = list(polling(Plan(sizes=(12,), active=(3,), repeat=2).checked()))
    assert predict.answer("polling", []) is None
    assert predict.answer("polling", points) == (
        1,
        "at N = 12 with K = 3, 9 of 12 calls said EAGAIN",
    )
