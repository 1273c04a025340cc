"""The thrashing experiment (`simulator.bench.thrash`): the model's counts and the arithmetic
exactly (they are deterministic given the costs), the machine's costs for shape only (they are
measured), and ``muxlab lab thrash`` as a user runs it.

No test asserts a time: the measured costs are checked to be positive, finite and ordered.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator.bench import predict
from simulator.bench.thrash import (
    BATCH,
    INTERRUPT_NS,
    INTERRUPT_SOURCE,
    SHAPES,
    Cost,
    Counts,
    MachineCosts,
    ThrashError,
    ThrashPlan,
    ThrashPoint,
    collapse_rate,
    counts_at,
    model_counts,
    point,
    thrash,
)
from simulator.live import LiveKernel
from tests.conftest import as_in_a_terminal
from tui.cli import main
from tui.lab_figures import thrash_figure

#: Round figures standing for a machine's measured costs, so the arithmetic can be checked.
COSTS = MachineCosts(
    Cost(250.0, "measured: test"),
    Cost(2_500.0, "measured: test"),
    Cost(INTERRUPT_NS, INTERRUPT_SOURCE),
)


@pytest.mark.parametrize(
    ("shape", "batch", "expected"),
    [
        # A thread per connection: every request wakes its thread (2 switches), recv + send.
        ("threads", 1, Counts(2, 2, 2)),
        ("threads", BATCH, Counts(2, 2, 2)),
        # The pool, idle: the loop's wake (2) and the worker's (2); epoll_wait, recv, hand-off,
        # the worker's recv, the reply; the loop's own part: 2 switches and 3 calls.
        ("pool", 1, Counts(2, 4, 5, 2, 3)),
        # Busy: one epoll_wait and one trip of the loop, one recv and one trip of the worker
        # per batch of 64; the recv, hand-off and reply of each request.
        ("pool", BATCH, Counts(2, 4 / 64, 3 + 2 / 64, 2 / 64, 2 + 1 / 64)),
        ("percore", 1, Counts(2, 2, 3)),
        ("percore", BATCH, Counts(2, 2 / 64, 2 + 1 / 64)),
    ],
)
def test_the_model_counts_each_shape_exactly(shape: str, batch: int, expected: Counts) -> None:
    # 2 interrupts a request: the model's loopback raises one for the segment, one for its ACK.
    assert model_counts(shape, 2, batch) == expected


def test_the_counts_do_not_depend_on_the_cpus_a_shape_runs_on() -> None:
    for shape in SHAPES:
        assert model_counts(shape, 1, 1) == model_counts(shape, 8, 1)


def test_counts_between_the_two_runs_follow_one_wake_up_per_batch() -> None:
    idle, busy = model_counts("pool", 2, 1), model_counts("pool", 2, BATCH)
    assert counts_at(idle, busy, 1) == idle
    assert counts_at(idle, busy, BATCH) == busy
    # Each wake-up costs 4 switches whatever it finds: 4 / 8 a request at 8 per wake-up.
    assert counts_at(idle, busy, 8).switches == pytest.approx(4 / 8)


def _points(
    shape: str, rates: tuple[int, ...], cpus: int = 2, work: int = 5_000
) -> list[ThrashPoint]:
    idle, busy = model_counts(shape, cpus, 1), model_counts(shape, cpus, BATCH)
    return [point(shape, rate, cpus, work, idle, busy, COSTS) for rate in rates]


def test_an_idle_server_handles_every_request_and_the_figures_are_the_counts_times_costs() -> None:
    (p,) = _points("threads", (10_000,))
    assert not p.overloaded and p.batch == 1 and p.throughput == 10_000
    assert p.interrupt_ns == 10_000 * 2 * 1_000
    assert p.switch_ns == 10_000 * 2 * 2_500
    assert p.syscall_ns == 10_000 * 2 * 250
    assert p.work_ns == 10_000 * 5_000
    assert p.idle_ns == 2e9 - (20e6 + 50e6 + 5e6 + 50e6)


def test_past_the_knee_the_interrupts_eat_the_cpus_and_throughput_collapses() -> None:
    # threads: a request costs 2 x 2,500 + 2 x 250 + 5,000 = 10,500 ns, its interrupts 2,000.
    # The knee: 160,000 x (2,000 + 10,500) = 2e9 ns, both CPUs' second.
    low, knee, past, dead = _points("threads", (160_000, 170_000, 500_000, 1_000_000))
    assert not low.overloaded and low.throughput == 160_000 and low.idle_ns == 0
    assert knee.overloaded and knee.throughput == pytest.approx((2e9 - 170_000 * 2_000) / 10_500)
    assert past.throughput == pytest.approx((2e9 - 1e9) / 10_500)
    assert past.throughput < knee.throughput  # more offered, less handled: livelock
    assert past.work_ns < knee.work_ns
    assert collapse_rate(COSTS, 2, 2) == 1_000_000
    assert dead.throughput == 0 and dead.interrupt_ns == 2e9 and dead.work_ns == 0


def test_a_loop_batches_to_keep_up_then_overloads() -> None:
    rates = (10_000, 200_000, 400_000)
    idle, batching, overloaded = _points("percore", rates)
    assert idle.batch == 1 and idle.idle_ns > 0
    assert 1 < batching.batch < BATCH and batching.throughput == 200_000
    assert batching.idle_ns == pytest.approx(0, abs=1)  # just keeping up: no time left over
    assert overloaded.overloaded and overloaded.batch == BATCH
    assert overloaded.throughput < 400_000


def test_every_point_accounts_for_every_cpu_nanosecond_and_per_core_loops_win_under_load() -> None:
    rates = (10_000, 50_000, 100_000, 200_000, 300_000, 500_000, 700_000, 1_000_000)
    by_shape = {shape: _points(shape, rates) for shape in SHAPES}
    for points in by_shape.values():
        for p in points:
            total = p.interrupt_ns + p.switch_ns + p.syscall_ns + p.work_ns + p.idle_ns
            assert total == pytest.approx(2e9)
            assert 0 <= p.throughput <= p.rate
    for i, rate in enumerate(rates):
        threads, pool, percore = (by_shape[s][i].throughput for s in SHAPES)
        assert percore >= pool >= threads, rate
    # At 300,000/s both overload; interrupts leave 1.4e9 ns. A thread per connection still
    # pays 2 switches a request; a loop per core 2 per batch of 64.
    assert by_shape["threads"][4].throughput == pytest.approx(1.4e9 / 10_500)
    per_request = 2 / 64 * 2_500 + (2 + 1 / 64) * 250 + 5_000
    assert by_shape["percore"][4].throughput == pytest.approx(1.4e9 / per_request)


def test_the_same_costs_give_the_same_figures() -> None:
    plan = ThrashPlan(rates=(1_000, 300_000)).checked()
    first = [p.as_json() for p in thrash(plan, COSTS)]
    assert first == [p.as_json() for p in thrash(plan, COSTS)]
    assert [(p["shape"], p["rate"]) for p in first] == [(s, r) for s in SHAPES for r in plan.rates]


def test_the_figure_labels_what_is_modelled() -> None:
    figure = thrash_figure(thrash(ThrashPlan(rates=(1_000, 300_000)).checked(), COSTS))
    assert figure.notes == [
        "syscall: 250 ns, measured",
        "context switch: 2,500 ns, measured",
        "interrupt: 1,000 ns, MODELLED",
    ]
    assert [name for name, _line in figure.handled] == [*SHAPES, "offered"]
    assert [shape for shape, _labels, _layers in figure.shares] == list(SHAPES)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (ThrashPlan(rates=(0,)), "--rates must be 1 or more requests per second, got 0"),
        (ThrashPlan(rates=(1_000, -5)), "got -5"),
        (ThrashPlan(rates=()), "--rates needs at least one number"),
        (ThrashPlan(cpus=0), "--cpus must be 1 to 64, got 0"),
        (ThrashPlan(cpus=65), "--cpus must be 1 to 64, got 65"),
        (ThrashPlan(work_ns=0), "--work must be 1 ns or more, got 0"),
        (ThrashPlan(repeat=0), "--repeat must be 1 or more, got 0"),
        (ThrashPlan(shapes=("forks",)), "unknown shape 'forks'"),
    ],
)
def test_a_plan_that_cannot_run_is_refused(plan: ThrashPlan, message: str) -> None:
    with pytest.raises(ThrashError, match=message):
        plan.checked()


def test_the_machine_costs_measured_in_the_live_child_have_the_right_shape() -> None:
    with LiveKernel() as live:
        before = sorted(os.listdir(f"/proc/{live.pid}/fd"))
        measured = live.lab("costs", 3)
        # The ping-pong's pipes and the pair's are closed, its threads joined. A joined
        # Python thread has finished its Python code; its kernel task leaves /proc a moment
        # later, when the C thread returns (seen on a loaded machine: two tasks right after).
        assert sorted(os.listdir(f"/proc/{live.pid}/fd")) == before
        deadline = time.monotonic() + 5
        while len(os.listdir(f"/proc/{live.pid}/task")) > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(os.listdir(f"/proc/{live.pid}/task")) == 1
    for name in ("syscall_ns", "pipe_pair_ns", "pingpong_ns"):
        assert math.isfinite(measured[name]) and measured[name] > 0, name
    assert measured["pingpong_ns"] > measured["syscall_ns"]
    assert measured["pingpong_ns"] > measured["pipe_pair_ns"]
    assert isinstance(measured["pinned"], bool)
    costs = MachineCosts.from_bench(measured)
    assert costs.syscall.measured and costs.switch.measured and not costs.interrupt.measured
    assert costs.switch.ns >= costs.syscall.ns > 0
    assert costs.interrupt.source.startswith("modelled")


def test_muxlab_lab_thrash_writes_json_csv_and_svg(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-I", "-m", "tui", "lab", "thrash", "--rates", "1000,2000000"),
            *("--repeat", "2", "--cpus", "4", "--json", "--csv", str(tmp_path / "t.csv")),
            *("--svg", str(tmp_path)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    first, *lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert first["plot"] == "thrash-costs"
    assert first["interrupt_source"].startswith("modelled")
    assert first["syscall_source"].startswith("measured") and first["syscall_ns"] > 0
    assert [(p["shape"], p["rate"], p["cpus"]) for p in lines] == [
        (s, r, 4) for s in SHAPES for r in (1000, 2_000_000)
    ]
    for p in lines:
        assert p["throughput"] == (1000 if p["rate"] == 1000 else 0)  # 2M/s: interrupts only
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8")))
    assert [row["shape"] for row in rows] == [p["shape"] for p in lines]
    svg = ET.parse(tmp_path / "thrash.svg").getroot()
    texts = {"".join(node.itertext()) for node in svg.iter() if node.tag.endswith("text")}
    assert "interrupt: 1,000 ns, MODELLED" in texts
    assert {"Where the time goes: threads", "Where the time goes: percore"} <= texts
    assert {"interrupts", "switches", "syscalls", "work", "idle", "offered"} <= texts


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["thrash", "--rates", "0"], "--rates must be 1 or more requests per second, got 0"),
        (["thrash", "--rates=-100"], "got -100"),
        (["thrash", "--cpus", "0"], "--cpus must be 1 to 64, got 0"),
        (["thrash", "--work", "0"], "--work must be 1 ns or more"),
        (["thrash", "--cpus", "two"], "invalid int value: 'two'"),
        (["thrash", "--sizes", "10"], "--sizes is for the complexity and polling experiments"),
        (["thrash", "--mechanisms", "poll"], "--mechanisms is for the complexity and polling"),
        (["polling", "--rates", "10"], "--rates is for the thrash experiment"),
        (["--cpus", "4"], "--cpus is for the thrash experiment"),
    ],
)
def test_bad_thrash_input_is_one_message_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lab", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_help_documents_the_thrash_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("thrash", "--rates", "--cpus", "--work"):
        assert option in text


def test_the_predict_question_is_judged_by_the_thread_per_connection_curve() -> None:
    plan = ThrashPlan(rates=(10_000, 100_000)).checked()
    asked = predict.question("thrash", plan)
    assert "10,000 to 100,000 a second" in asked.prompt
    assert len(asked.choices) == 3

    def judged(rates: tuple[int, ...]) -> int | None:
        verdict = predict.answer("thrash", list(thrash(ThrashPlan(rates=rates).checked(), COSTS)))
        return None if verdict is None else verdict[0]

    assert judged((10_000,)) is None  # one point says nothing
    assert judged((10_000, 100_000)) == 1  # below the knee it still grows
    assert judged((100_000, 160_000, 161_000)) == 0  # just past the knee: about the peak
    assert judged((100_000, 160_000, 500_000)) == 2  # well past it: it falls


def test_ctrl_c_while_the_costs_are_measured_leaves_nothing_behind(tmp_path: Path) -> None:
    # 3,000 samples of each cost: seconds of measuring, so SIGINT comes while the child runs.
    run = subprocess.Popen(
        as_in_a_terminal(
            [
                *(sys.executable, "-I", "-m", "tui", "lab", "thrash", "--json", "--repeat", "3000"),
                *("--csv", str(tmp_path / "kept.csv")),
            ]
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        children: set[int] = set()
        while not children and time.monotonic() < deadline:
            children = _children_of(run.pid)
            time.sleep(0.02)
        assert children, "the live child should be measuring"
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, err
    assert "interrupted after 0 of 27 points; the live child is gone" in err
    assert "Traceback" not in err and out == ""
    for child in children:
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not os.path.exists(f"/proc/{child}")
    assert (tmp_path / "kept.csv").read_text(encoding="utf-8") == ""  # nothing was computed


def _children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = stat.read().rpartition(")")[2].split()[1]
            except OSError:
                continue
            if ppid == str(pid):
                found.add(int(entry))
    return found
