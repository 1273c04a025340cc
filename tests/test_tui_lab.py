"""The Lab screen (`tui.screens.lab`), driven with the pilot on the real kernel: opened from
the menu, a sweep plots the real kernel's times beside the model's work, a progress bar
follows it, and Escape stops it keeping what was measured, ending its live child.

Small plans (a few points); no test asserts a time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from textual.widgets import ProgressBar

from simulator.bench.plan import Plan
from simulator.bench.thrash import ThrashPlan
from tests.test_tui_tmux import Tmux
from tests.tui_support import screen_text, until
from tui.app import make_app
from tui.screens.lab import LabScreen
from tui.screens.menu import LessonMenuScreen
from tui.screens.predict import PredictScreen

SIZE = (80, 24)  # the lab must be readable on the smallest terminal it is meant for


def _live_children() -> set[int]:
    """This process's live children (`simulator.live._child`)."""
    found = set()
    for child in _children_of(os.getpid()):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"simulator.live._child" in cmdline.read():
                    found.add(child)
        except OSError:
            continue
    return found


async def test_the_menu_opens_the_lab_and_a_sweep_plots_the_real_and_the_model(
    tmp_path: Path,
) -> None:
    app = make_app(animate=False, data_dir=tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        screen.plan = Plan(sizes=(10, 40), active=(2,), repeat=2).checked()
        await pilot.press("c")
        assert isinstance(app.screen, PredictScreen)  # predict first: nothing runs yet
        assert "How will **poll**'s time per call change" in app.screen.question.prompt
        await pilot.press("3")
        await until(pilot, lambda: not screen.running and len(screen.points) == 10)
        assert screen.verdict is not None
        assert screen.verdict.startswith("You predicted: It grows with N: 10x or more. ")
        assert "The real kernel: poll went from" in screen.verdict
        await until(pilot, lambda: "Your prediction" in screen_text(app))  # the toast
        app.clear_notifications()
        await until(pilot, lambda: "Your prediction" not in screen_text(app))
        text = screen_text(app)
        assert "Real kernel: time per call" in text
        assert "Model: poll's work per call" in text
        assert "done, 10/10 points" in text
        for legend in ("select", "poll", "epoll", "io_uring", "copy_in", "fd_scan", "copy_out"):
            assert legend in text
        assert screen.query_one(ProgressBar).progress == 10
        await pilot.press("m")  # the model plot stacks another mechanism's work
        assert "Model: epoll's work per call" in screen_text(app)
        assert "list_op" in screen_text(app)
        await pilot.press("p", "2")
        await until(pilot, lambda: not screen.running and len(screen.points) == 2)
        assert screen.verdict is not None
        assert screen.verdict.endswith("38 of 40 calls said EAGAIN -- right.")
        app.clear_notifications()  # the verdict's toast covers the plot's legend
        shown = (
            "Real kernel: calls per second",
            "Model: calls per round",
            "busy useless",
            "epoll calls",
        )
        await until(pilot, lambda: all(part in screen_text(app) for part in shown))
        await pilot.press("escape")  # nothing runs: back to the menu
        assert isinstance(app.screen, LessonMenuScreen)


async def test_escape_stops_a_sweep_keeping_its_points_and_ending_its_child(
    tmp_path: Path,
) -> None:
    app = make_app(animate=False, data_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        # Long enough to be stopped: 4,000 pairs, 2,000 samples of poll at each size.
        screen.plan = Plan(
            mechanisms=("poll", "epoll"), sizes=(10, 2000, 4000), active=(1,), repeat=2000
        ).checked()
        before = _live_children()
        await pilot.press("c", "escape")  # skip the question
        await until(pilot, lambda: len(screen.points) >= 1)
        children = _live_children() - before
        assert len(children) == 1
        await pilot.press("escape")
        await until(pilot, lambda: not screen.running, timeout=30)
        kept = len(screen.points)
        assert 1 <= kept < 6
        assert f"stopped; kept {kept}/6 points" in screen_text(app)
        assert isinstance(app.screen, LabScreen)  # the first Escape only stops
        for child in children:
            await until(pilot, lambda child=child: not os.path.exists(f"/proc/{child}"))


async def test_thrashing_plots_each_shape_and_where_its_time_goes(tmp_path: Path) -> None:
    app = make_app(animate=False, data_dir=tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        screen.thrash_plan = ThrashPlan(rates=(10_000, 300_000, 1_000_000), repeat=3).checked()
        await pilot.press("t")
        assert isinstance(app.screen, PredictScreen)
        assert "what happens to the requests it **handles**" in app.screen.question.prompt
        await pilot.press("3")
        await until(pilot, lambda: not screen.running and len(screen.points) == 9)
        assert screen.verdict is not None
        # At 1,000,000/s on 2 CPUs the modelled interrupts fill both: nothing is handled.
        assert screen.verdict.startswith("You predicted: They fall: interrupts crowd out")
        assert screen.verdict.endswith("and 0/s when 1,000,000/s arrived -- right.")
        await until(pilot, lambda: "Your prediction" in screen_text(app))  # the toast
        app.clear_notifications()  # it covers the right plot's legend
        await until(pilot, lambda: "Your prediction" not in screen_text(app))
        shown = (
            "Handled/s · irq 1µs MODELLED",
            "Where the time goes: threads",
            "thrash: done, 9/9 · measured: syscall ",  # and the switch, cut at 80 columns
            *("percore", "offered", "interrupts", "switches", "work", "idle"),
        )
        await until(pilot, lambda: all(part in screen_text(app) for part in shown))
        assert screen.query_one(ProgressBar).progress == 9
        await pilot.press("m")
        assert "Where the time goes: pool" in screen_text(app)


async def test_escape_while_the_costs_are_measured_stops_thrashing_and_ends_its_child(
    tmp_path: Path,
) -> None:
    app = make_app(animate=False, data_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        screen.thrash_plan = ThrashPlan(repeat=400).checked()  # seconds of measuring
        before = _live_children()
        await pilot.press("t", "escape")  # skip the question
        await until(pilot, lambda: bool(_live_children() - before))
        children = _live_children() - before
        await pilot.press("escape")
        await until(pilot, lambda: not screen.running, timeout=60)
        assert len(screen.points) < screen.thrash_plan.points
        assert "thrash stopped; kept" in screen_text(app)
        for child in children:
            await until(pilot, lambda child=child: not os.path.exists(f"/proc/{child}"))


@pytest.mark.usefixtures("tmux_installed")
def test_the_lab_under_tmux_at_80x24_runs_stops_and_quits_leaving_no_child(
    tmp_path: Path,
) -> None:
    tmux = Tmux(f"muxlab-lab-{os.getpid()}")
    pid_file = tmp_path / "pid"
    # COLUMNS and LINES (set by some shells and CI runners) would override tmux's size; the
    # shell writes its pid and becomes the app (exec), so the file names the app's process.
    command = (
        f"cd {tmp_path} && echo $$ > {pid_file} && exec env -u COLUMNS -u LINES "
        f"MUXLAB_DATA_DIR={tmp_path / 'data'} {sys.executable} -I -m tui"
    )
    try:
        tmux.start(f"sh -c '{command}'; echo MUXLAB-EXITED-$?; sleep 30", size=SIZE)
        tmux.wait_for(lambda text: "Lab" in text)  # the menu's footer offers it
        app = int(pid_file.read_text())
        tmux.keys("l")
        tmux.wait_for(lambda text: "Real kernel: time per call" in text and "Complexity" in text)
        tmux.keys("c")
        tmux.wait_for(lambda text: "Predict, then measure" in text)
        tmux.keys("3")
        text = tmux.wait_for(lambda text: "complexity: " in text and " points" in text)
        children = _children_of(app)
        assert children, "the sweep's live child should be running"
        tmux.keys("Escape")
        text = tmux.wait_for(lambda text: "stopped; kept" in text or "done," in text, timeout=60)
        assert "Traceback" not in text
        tmux.keys("q")
        tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)
        for child in children:
            assert not os.path.exists(f"/proc/{child}")
    finally:
        tmux.kill()


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
