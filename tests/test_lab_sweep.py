"""The lab's complexity sweep (`simulator.bench`): real timings measured in the live child,
and the model's counters for the same worlds, with the cost shapes of test_cost_shapes.py.

Small sizes only: the full sweep is a benchmark (tests/benchmarks/bench_lab.py). No test
asserts a time: only that each live point was measured, and what the model counted.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from contextlib import closing

import pytest

from simulator.bench.plan import MECHANISMS, Plan, PlanError, largest_size
from simulator.bench.sweep import SELECT_WALL, URING_REFUSED, WALL_NOTE, Point, sweep
from simulator.live import LiveKernel
from tests.test_io_uring_refused import _FILTER, ROOT


def _by(points: list[Point]) -> dict[tuple[str, int, int], Point]:
    return {(p.mechanism, p.n, p.active): p for p in points}


def test_a_small_sweep_measures_every_live_point_and_counts_the_models_work() -> None:
    plan = Plan(sizes=(10, 100, 200), active=(1, 5), repeat=3).checked()
    points = _by(list(sweep(plan)))
    assert len(points) == plan.points == 5 * 3 * 2
    for (mechanism, _n, _k), point in points.items():
        if MECHANISMS[mechanism].where == "live":
            assert point.real_ns is not None and point.real_ns > 0
            assert point.real_q1_ns is not None and point.real_q3_ns is not None
            assert point.real_q1_ns <= point.real_ns <= point.real_q3_ns
            assert point.batch >= 1
        else:
            assert point.real_ns is None and point.note == MECHANISMS[mechanism].why
    # The model's shapes, exactly as tests/test_cost_shapes.py asserts them: epoll_wait (and
    # kevent, and io_uring's re-arming of the K ready) cost the same at every N; poll's cost
    # grows by the same amount per descriptor.
    for mechanism in ("epoll", "kqueue", "io_uring"):
        for k in (1, 5):
            costs = {points[mechanism, n, k].model_cost for n in (10, 100, 200)}
            assert len(costs) == 1
    poll = {n: points["poll", n, 5] for n in (10, 100, 200)}
    per_fd = (poll[100].model_cost or 0) - (poll[10].model_cost or 0)
    assert per_fd > 0
    assert (poll[200].model_cost or 0) - (poll[100].model_cost or 0) == per_fd * 100 / 90
    assert poll[200].model is not None and poll[200].model["copy_in"] == 200
    assert points["epoll", 200, 5].model == points["epoll", 10, 5].model
    assert points["epoll", 200, 5].model is not None
    assert points["epoll", 200, 5].model["copy_out"] == 5


def test_select_stops_at_the_fd_setsize_wall() -> None:
    # The lab's epoll is fd 3 and pair i is (4 + 2i, 5 + 2i): 510 readers end at fd 1022, the
    # 511th is fd 1024, which no fd_set can hold.
    plan = Plan(mechanisms=("select",), sizes=(510, 511), active=(1,), repeat=1).checked()
    assert SELECT_WALL == 511
    below, beyond = sweep(plan)
    assert below.real_ns is not None and below.model_cost is not None
    assert beyond.real_ns is None and beyond.model_cost is None and beyond.note == WALL_NOTE
    assert beyond.as_json()["real_ns"] is None


def test_the_live_child_refuses_select_past_fd_setsize_too() -> None:
    # The wall is the kernel's (and CPython's) answer, not the lab's invention.
    with LiveKernel(nofile=2048) as kernel:
        readers = kernel.lab("grow", 511)
        assert max(readers) == 1024
        with pytest.raises(ValueError, match="filedescriptor out of range"):
            kernel.lab("measure", "select", 1)


def _children() -> set[int]:
    mine = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            if fields[1] == mine:
                found.add(int(entry))
    return found


def test_stopping_a_sweep_early_ends_its_child_and_its_descriptors() -> None:
    before = _children()
    plan = Plan(sizes=(10, 20), active=(1,), repeat=1).checked()
    with closing(sweep(plan)) as points:
        next(points)
        started = _children() - before
        assert len(started) == 1
        (child,) = started
        assert len(os.listdir(f"/proc/{child}/fd")) == 3 + 1 + 2 * 10
    assert not os.path.exists(f"/proc/{child}")


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (Plan(sizes=(0,)), "--sizes must be 1 or more, got 0"),
        (Plan(active=(-3,)), "--active must be 1 or more, got -3"),
        (Plan(repeat=0), "--repeat must be 1 or more, got 0"),
        (Plan(sizes=(5, 50), active=(10,)), "--active 10 is more than the smallest size, 5"),
        (Plan(mechanisms=("iocp",)), "unknown mechanism 'iocp': choose from select, poll"),
        (Plan(sizes=(1000,)), "the largest possible size is 500"),
    ],
)
def test_a_plan_that_cannot_run_says_what_to_change(plan: Plan, message: str) -> None:
    with pytest.raises(PlanError, match=message.replace("(", r"\(")):
        plan.checked(limit=500)


def test_the_largest_size_leaves_room_for_the_childs_own_descriptors() -> None:
    assert largest_size(1024) == 509  # 0, 1, 2, the epoll and io_uring's ring: 5 + 2 x 509
    assert Plan.default(limit=509).sizes == (10, 30, 100, 300, 509)
    assert max(Plan.default(limit=20_000).sizes) == 10_000


def test_io_uring_is_measured_live_and_counted_by_the_model_as_k_polls() -> None:
    plan = Plan(mechanisms=("io_uring",), sizes=(10, 300), active=(1, 4), repeat=2).checked()
    points = _by(list(sweep(plan)))
    for (_mechanism, _n, k), point in points.items():
        assert point.real_ns is not None and point.real_ns > 0 and point.note == ""
        # Each call: K POLL_ADDs copied in (re-arming the ready readers), K CQEs copied out;
        # the N - K idle readers' polls stay parked and cost nothing per call.
        assert point.model == {**dict.fromkeys(point.model or {}, 0), "copy_in": k, "copy_out": k}


def test_io_uring_s_ring_lives_for_one_measurement_only() -> None:
    # The ring takes the lowest free number and is closed after the measurement, so the pairs
    # opened later keep the numbers the model gives them.
    with LiveKernel() as kernel:
        kernel.lab("grow", 3)
        kernel.lab("set_active", 2)
        before = sorted(os.listdir(f"/proc/{kernel.pid}/fd"))
        assert kernel.lab("measure", "io_uring", 2)["ready"] == 2
        assert sorted(os.listdir(f"/proc/{kernel.pid}/fd")) == before
        assert kernel.lab("grow", 4) == [4, 6, 8, 10]


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EPERM])
def test_where_the_kernel_refuses_io_uring_its_points_are_the_models_only(code: int) -> None:
    # Refused for real: a seccomp filter makes io_uring_setup(2) fail in the process that runs
    # `muxlab lab` and in its live child (tests/test_io_uring_refused.py).
    script = (
        "from tui.cli import main\n"
        "sys.exit(main(['lab', '--mechanisms', 'epoll,io_uring', '--sizes', '10,20',"
        " '--active', '2', '--repeat', '2', '--json']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", _FILTER + script, str(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(p["mechanism"], p["n"]) for p in lines] == [
        (m, n) for n in (10, 20) for m in ("epoll", "io_uring")
    ]
    for point in lines:
        if point["mechanism"] == "io_uring":
            assert point["real_ns"] is None and point["note"] == URING_REFUSED
            assert point["model"]["copy_in"] == 2 and point["model_cost"] == 4
        else:
            assert point["real_ns"] > 0
    assert done.stderr.count("io_uring: model only -- this kernel refuses io_uring") == 1
    assert "Traceback" not in done.stderr
