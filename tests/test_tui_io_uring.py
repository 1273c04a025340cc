"""The player shows io_uring steps with the rings (`RingsView` in the calls panel), and the
reactor-vs-proactor lesson switches between epoll's panels and the rings step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.observe import TraceKind
from simulator.scenario import load_scenario
from tests.tui_support import picture_text, screen_text, until, write
from tui.app import make_app
from tui.render.nic_lane import PROACTOR_STAGES, stage_of
from tui.screens.player import PlayerScreen
from tui.widgets.interest_tree import InterestTree

SIZE = (140, 44)
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
BASICS = SCENARIOS / "io-uring-basics.toml"
REACTOR = SCENARIOS / "reactor-vs-proactor.toml"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress goes to a temporary folder, never the user's."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def _step_of(path: Path, call: str) -> int:
    steps = load_scenario(path).steps
    return next(i for i, step in enumerate(steps, 1) if step.call.name == call)


async def test_a_parked_receive_is_drawn_in_the_rings_panel() -> None:
    app = make_app(BASICS, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of(BASICS, "io_uring_submit"))
        await pilot.pause()
        assert screen.query_one("#calls").display
        assert not screen.query_one(InterestTree).display
        text = screen_text(app)
        assert "ring:5 (io_uring)" in text
        assert "ud=1 RECV parked on conn:3's wait" in text
        # ... and its poll entry on the socket's wait queue, in the wait-queue panel
        assert "io_uring5 poll ud=1" in text


async def test_reactor_steps_show_epoll_and_proactor_steps_the_rings() -> None:
    app = make_app(REACTOR, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of(REACTOR, "epoll_wait"))
        await pilot.pause()
        assert screen.query_one(InterestTree).display
        assert not screen.query_one("#calls").display
        screen.jump_to(_step_of(REACTOR, "io_uring_wait"))
        await pilot.pause()
        assert screen.query_one("#calls").display
        assert "CQ 8 slots, head 2, tail 2" in screen_text(app)


def _running(screen: PlayerScreen) -> str:
    """The call of the step the screen shows."""
    frame = screen.frame
    return "" if frame is None or frame.record is None else frame.record.step.call.name


async def _journey_frame(screen: PlayerScreen, pilot: Any, micro: int) -> str:
    """The screen at micro-step `micro` of the step just run (held there: the next tick is an
    hour away)."""
    screen.animation.start([micro], 3600)
    await pilot.pause()
    return screen_text(screen.app)


async def test_a_send_completes_a_parked_receive_micro_step_by_micro_step() -> None:
    """The basics lesson's first send, animated: the proactor's NIC lane lights each stage of
    the parked RECV's journey, in the model's order, with the kernel's function names, while
    the wait-queue and rings panels show the model as it was at that micro-step."""
    app = make_app(BASICS, live=False, animate=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of(BASICS, "send") - 1)
        await pilot.pause()
        await pilot.press("minus", "minus", "right")  # slow, then run the send
        await until(pilot, lambda: _running(screen) == "send")
        frame = screen.frame
        assert frame is not None
        trace = frame.trace
        assert set(frame.micro) == set(range(len(trace)))  # every micro-step was captured
        lit = [stage_of(event, proactor=True) for event in trace]
        names = [PROACTOR_STAGES[i][0] for i in lit if i is not None]
        assert names == [
            "socket", "wake-up", "wake-up", "task work", "task work", "issue", "CQE",
        ]  # fmt: skip

        def at(kind: TraceKind) -> int:
            return next(i for i, event in enumerate(trace) if event.kind is kind)

        def panels(micro: int) -> tuple[str, str]:
            """The wait queues and the rings as captured at `micro`."""
            shown = frame.at(micro)
            assert shown.queues is not None and shown.calls is not None
            return picture_text(shown.queues), picture_text(shown.calls)

        # io_poll_wake runs: the internal poll entry is still on conn's wait queue
        text = await _journey_frame(screen, pilot, at(TraceKind.CALLBACK))
        assert "unix1.wq: io_uring5 poll ud=1" in text  # the lane's detail line
        queues, rings = panels(at(TraceKind.CALLBACK))
        assert "conn:3 unix1.wq ▸ io_uring5 poll ud=1" in queues
        assert "ud=1 RECV parked on conn:3's wait queue" in rings
        # the task work is queued: the entry is gone (one-shot), no CQE yet
        text = await _journey_frame(screen, pilot, at(TraceKind.TASK_WORK_ADD))
        assert "io_uring5: io_req_task_work_add: RECV ud=1 -> io_poll_task_func" in text
        queues, rings = panels(at(TraceKind.TASK_WORK_ADD))
        assert "conn:3 unix1.wq ▸ ∅" in queues
        assert "CQ 8 slots, head 0, tail 0" in rings
        assert "ud=1 RECV woken, its task work queued" in rings
        # the task work issues the RECV again (io_req_task_submit), which now finds the data
        text = await _journey_frame(screen, pilot, at(TraceKind.SQE_ISSUE))
        assert "io_uring5: io_issue_sqe: RECV ud=1 again" in text
        # the CQE is posted by the task work
        text = await _journey_frame(screen, pilot, at(TraceKind.COPY_OUT))
        assert "io_req_complete_post: CQE user_data=1 res=5" in text
        queues, rings = panels(at(TraceKind.COPY_OUT))
        assert "CQ 8 slots, head 0, tail 1" in rings
        assert "in flight: none" in rings
        await pilot.press("s")
        assert not screen.animating


async def test_the_submit_and_the_reap_light_the_ends_of_the_lane() -> None:
    """The RECV's submit: SQE, issue, parked; the wait that reaps it: reaped."""
    app = make_app(BASICS, live=False, animate=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of(BASICS, "io_uring_submit") - 1)
        await pilot.pause()
        await pilot.press("minus", "minus", "right")
        await until(pilot, lambda: _running(screen) == "io_uring_submit")
        assert screen.frame is not None
        lit = [stage_of(event, proactor=True) for event in screen.frame.trace]
        assert [PROACTOR_STAGES[i][0] for i in lit if i is not None] == ["SQE", "issue", "parked"]
        park = next(i for i, e in enumerate(screen.frame.trace) if e.kind is TraceKind.SQE_PARK)
        text = await _journey_frame(screen, pilot, park)
        assert "io_arm_poll_handler: RECV ud=1 parks on unix1.wq" in text
        await pilot.press("s")
        screen.jump_to(_step_of(BASICS, "send"))  # the wait after the send reaps the CQE
        await until(pilot, lambda: screen.session.position == _step_of(BASICS, "send"))
        await pilot.press("right")  # the lesson asks what the ring holds: answer, then watch
        await until(pilot, lambda: app.screen is not screen)
        await pilot.press("1")
        await until(pilot, lambda: _running(screen) == "io_uring_wait")
        kinds = [e.kind for e in screen.frame.trace]
        reap = kinds.index(TraceKind.CQE_REAP)
        text = await _journey_frame(screen, pilot, reap)
        assert "the program reaps CQE user_data=1 res=5: CQ head -> 1" in text


WAITER = """
[scenario]
title = "A thread waits for a completion"
mechanism = "io_uring"

[[step]]
do = "socketpair"
as = ["conn", "client"]

[[step]]
do = "io_uring_setup"
args = { entries = 4 }
as = "ring"

[[step]]
do = "io_uring_submit"
args = { ring = "ring", sqes = [{ op = "RECV", fd = "conn", nbytes = 100, user_data = 1 }] }

[[step]]
do = "io_uring_wait"
thread = "w"
args = { ring = "ring", min_complete = 1, timeout_ms = -1 }

[[step]]
do = "send"
args = { fd = "client", nbytes = 5 }
"""


async def test_a_thread_asleep_in_io_uring_wait_is_drawn_like_other_sleepers(
    tmp_path: Path,
) -> None:
    """IU-17: the threads panel says where the waiter sleeps (the ring's cq_wait queue, named
    as the scenario names the ring), the rings panel shows its entry on that queue; the send
    wakes it and the panel shows what it reaped."""
    app = make_app(write(tmp_path, "waiter.toml", WAITER), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(4)
        await until(pilot, lambda: screen.session.position == 4)
        await pilot.pause()
        text = screen_text(app)
        assert "sleeping in io_uring_wait on ring:5 io_uring5.cq_wait" in text
        assert "io_uring5.cq_wait ▸ thread 1 in io_uring_wait" in text
        screen.jump_to(5)
        await until(pilot, lambda: screen.session.position == 5)
        await pilot.pause()
        text = screen_text(app)
        assert "w (thread 1)  ✓ woke: io_uring_wait → [{user_data=1, res=5" in text
        assert "cq_wait ▸" not in text
