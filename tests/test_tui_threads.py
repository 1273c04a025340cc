"""The threads-and-CPUs panel (issue 11, item 4): the model's threads drawn from its snapshot
API, a wake-up lit and marked, the real threads read from /proc, and the widget in an app.

The pictures are drawn from real kernels driven through the protocol (`ModelKernel`,
`LiveKernel`), never from hand-made snapshots: what the panel says is what the model did.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType
from textual.app import App, ComposeResult

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel
from simulator.observe import TraceEvent, TraceKind
from simulator.scenario import Bindings
from tests.test_scenario_format import run_cli
from tests.tui_support import screen_text, until
from tui.app import make_app
from tui.frame import Frame, MicroRecorder, build_frame
from tui.render.threads import ProcThreadsPicture, ThreadsPicture, sleepers_files
from tui.render.wait_queues import WaitQueuesPicture
from tui.screens.player import PlayerScreen
from tui.widgets.threads_view import ThreadsView


def text_of(renderable: RenderableType, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


@pytest.fixture
def model() -> Iterator[ModelKernel]:
    kernel = ModelKernel()
    yield kernel
    kernel.close_all()


def two_readers(model: ModelKernel) -> tuple[int, int, Bindings]:
    """Threads 1 and 2 asleep in recv on one blocking socket `a` (fd 3; `b` is its peer)."""
    a, b = model.socketpair()
    model.set_blocking(a, True)
    for _ in range(2):
        assert model.start(model.spawn_thread(), "recv", a, 10) is False
    names = Bindings()
    names.bind("a", a)
    names.bind("b", b)
    return a, b, names


def picture(model: ModelKernel, names: Bindings) -> ThreadsPicture:
    snapshot = model.threads()
    return ThreadsPicture.capture(snapshot, sleepers_files(model, snapshot, names))


def test_each_thread_is_a_row_with_its_state_call_and_wait_queue(model: ModelKernel) -> None:
    _, _, names = two_readers(model)
    model.spawn_thread()  # thread 3 stays idle
    text = text_of(picture(model, names))
    lines = text.splitlines()
    assert lines[0].startswith("2 CPUs · ")
    assert lines[0].endswith(" context switches · thread 0 makes the steps on cpu0")
    # the queue is named as the wait queues panel names it, where the entry is drawn too
    assert lines[1] == "thread 1  sleeping in recv on a:3 unix1.wq"
    assert lines[2] == "thread 2  sleeping in recv on a:3 unix1.wq"
    assert lines[3] == "idle: thread 3"
    queues = text_of(WaitQueuesPicture.capture(model, names))
    assert "a:3 unix1.wq ▸ thread 2 in recv → thread 1 in recv" in queues


def test_the_context_switches_are_the_models_count(model: ModelKernel) -> None:
    _, b, names = two_readers(model)
    before = model.threads().context_switches
    model.send(b, 5)
    after = model.threads().context_switches
    assert after > before
    assert (
        text_of(picture(model, names))
        .splitlines()[0]
        .startswith(f"2 CPUs · {after} context switches · ")
    )


def test_a_herd_marks_the_woken_and_the_one_that_sleeps_again(model: ModelKernel) -> None:
    # Both readers are woken (recv's waiters are not exclusive); the first takes the bytes,
    # the second finds nothing and goes back to sleep.
    _, b, names = two_readers(model)
    model.send(b, 5)
    shown = picture(model, names).after(model.trace)
    assert shown.woken == {1, 2}
    lines = text_of(shown, width=120).splitlines()
    assert lines[1] == "thread 1  finished recv → 5  ✓ woken by this step"
    assert lines[2] == (
        "thread 2  sleeping in recv on a:3 unix1.wq  ↺ woke, found nothing, sleeps again"
    )


def test_the_thread_a_step_starts_is_not_marked_as_woken(model: ModelKernel) -> None:
    a, _ = model.socketpair()
    model.set_blocking(a, True)
    tid = model.spawn_thread()
    model.start(tid, "recv", a, 1)
    names = Bindings()
    names.bind("a", a)
    assert picture(model, names).after(model.trace, started=tid).woken == frozenset()
    assert picture(model, names).after(model.trace).woken == {tid}


def test_during_a_wake_up_the_thread_switched_to_is_lit(model: ModelKernel) -> None:
    _, b, names = two_readers(model)
    model.send(b, 5)
    switches = [e for e in model.trace if e.kind is TraceKind.THREAD_WAKE]
    assert [e.count for e in switches] == [1, 2]
    base = picture(model, names)
    assert base.during(switches[1]).lit == {2}
    assert base.during(None).lit == frozenset()


def test_a_runnable_thread_is_lit_and_says_it_was_woken() -> None:
    # A woken thread is runnable until the CPU switches to it: capture the model as the
    # first woken thread is switched to, from the model's own observer (as the animation does).
    model = ModelKernel()
    try:
        _, b, names = two_readers(model)
        seen: list[tuple[TraceEvent, ThreadsPicture]] = []

        def watch(event: TraceEvent) -> None:
            if event.kind is TraceKind.THREAD_WAKE and not seen:
                seen.append((event, picture(model, names)))

        model.observe(watch)
        model.send(b, 5)
        model.observe(None)
    finally:
        model.close_all()
    event, at_switch = seen[0]
    lit = at_switch.during(event)
    assert lit.lit == {1, 2}  # thread 1 switched to, thread 2 woken too and waiting for a CPU
    text = text_of(lit)
    assert "thread 1  running in recv on cpu1" in text
    assert "thread 2  runnable in recv (woken)" in text


def test_a_thread_that_failed_shows_its_error_and_a_hostile_name_is_safe(
    model: ModelKernel,
) -> None:
    tid = model.spawn_thread()
    model.start(tid, "recv", 99, 1)  # fd 99 is not open: the thread ends with an error
    shown = ThreadsPicture.capture(model.threads(), None, {tid: "\x1b[2Jt1"})
    text = text_of(shown)
    assert "\x1b" not in text and "^[[2Jt1 (thread 1)" in text
    assert "finished recv → OSError: [Errno 9] Bad file descriptor" in text


def test_the_real_side_reads_each_threads_state_and_the_memory_from_proc() -> None:
    with LiveKernel() as live:
        a, b = live.socketpair()
        live.set_blocking(a, True)
        before = live.proc_threads()
        assert before is not None and before.threads == ()
        tid = live.spawn_thread()
        assert live.start(tid, "recv", a, 10) is False
        proc = live.proc_threads()
        assert proc is not None
        (thread,) = proc.threads
        assert (thread.tid, thread.state, thread.syscall) == (tid, "S", "recvfrom")
        assert thread.os_tid != live.pid and thread.switches >= 1  # it went to sleep once
        # a new thread's stack is reserved in the virtual size
        assert proc.process_threads == before.process_threads + 1
        assert proc.vm_size_kib > before.vm_size_kib and proc.vm_rss_kib > 0
        text = text_of(ProcThreadsPicture(proc, {tid: "reader"}))
        assert f"reader (thread 1)  tid {thread.os_tid}  S sleeping in recvfrom" in text
        assert f"VmSize {proc.vm_size_kib:,} KiB" in text
        live.send(b, 3)
        assert live.join(tid) == 3
        after = live.proc_threads()
        assert after is not None and after.threads == ()  # the call's real thread has ended
    assert live.proc_threads() is None  # the child is gone: nothing to read


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadsView()


async def test_the_panel_shows_the_frame_and_lights_the_micro_step(model: ModelKernel) -> None:
    _, b, names = two_readers(model)
    model.send(b, 5)
    shown = picture(model, names).after(model.trace)
    frame = Frame(0, 1, "t", "epoll", None, None, names, threads=shown)
    app = _Host()
    async with app.run_test(size=(90, 10)) as pilot:
        view = app.query_one(ThreadsView)
        view.frame = frame
        await pilot.pause()
        screen = screen_text(app)
        assert "thread 1  finished recv → 5  ✓ woken by this step" in screen
        assert "↺ woke, found nothing, sleeps again" in screen
        switch = next(e for e in model.trace if e.kind is TraceKind.THREAD_WAKE)
        view.event = switch  # the animation's micro-step: the CPU switches to thread 1
        await pilot.pause()
        drawn = view.picture(frame, switch)
        assert isinstance(drawn, ThreadsPicture) and drawn.lit == {1}
        assert "woke, found nothing" not in screen_text(app)  # marks are for the rest state
        view.frame = Frame(0, 1, "t", "epoll", None, None, names)
        view.event = None
        await pilot.pause()
        assert "no threads" in screen_text(app)


def test_a_sleeper_in_epoll_wait_is_on_the_instances_queue(model: ModelKernel) -> None:
    ep = model.epoll_create()
    tid = model.spawn_thread()
    assert model.start(tid, "epoll_wait", ep, 1, -1) is False
    names = Bindings()
    names.bind("ep", ep)
    assert f"thread 1  sleeping in epoll_wait on ep:{ep} epoll{ep}.wq" in text_of(
        picture(model, names)
    )
    # and unnamed, the model's own name of the queue
    assert f"sleeping in epoll_wait on epoll{ep}\n" in text_of(picture(model, Bindings()))


# --- in the player, on the shipped lessons (issue 11, items 4 and 5) ---------------------------

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"


async def _play_to(pilot: Any, screen: PlayerScreen, position: int) -> None:
    screen.go(position)
    await until(pilot, lambda: screen.session.position == position and not screen.busy)
    await pilot.pause()


async def test_the_panel_shows_only_in_a_scenario_with_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    for name, shown in (("et-stall.toml", False), ("blocking-io.toml", True)):
        app = make_app(SHIPPED / name, live=False, animate=False)
        async with app.run_test(size=(140, 44)) as pilot:
            screen = app.screen
            assert isinstance(screen, PlayerScreen)
            await _play_to(pilot, screen, 4)
            assert screen.query_one(ThreadsView).display is shown
            assert ("Threads and CPUs" in screen_text(app)) is shown


async def test_the_herd_lights_every_woken_thread_and_exclusive_wakes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    path = SHIPPED / "thundering-herd.toml"
    app = make_app(path, live=False, animate=False)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        steps = screen.session.runner.steps
        herd = next(i for i, s in enumerate(steps) if s.names == ["c4"]) + 1
        await _play_to(pilot, screen, herd)
        text = screen_text(app)
        for name, tid in (("e1", 4), ("e2", 5), ("e3", 6)):
            assert f"{name} (thread {tid})  ✓ woke: epoll_wait → [srv IN]" in text
        exclusive = next(i for i, s in enumerate(steps) if s.names == ["c5"]) + 1
        await _play_to(pilot, screen, exclusive)
        text = screen_text(app)
        assert "e1 (thread 4)  ✓ woke: epoll_wait → [srv IN]" in text
        assert "e2 (thread 5)  sleeping in epoll_wait on x2:" in text
        assert "e3 (thread 6)  sleeping in epoll_wait on x3:" in text
        assert "e2 (thread 5)  ✓ woke" not in text
        # the sleeper's entry is on the queue the row names, drawn in the wait queues panel
        # (the queues threads sleep on come first)
        assert re.search(r"x2:(\d+) epoll\1\.wq ▸ thread 5 in", text)


async def test_the_animation_lights_the_woken_workers_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Level-triggered, one request wakes w2 and then w1: the step's captured micro-steps
    # show each of them lit as the CPU switches to it.
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "epoll-workers.toml", live=False, animate=False)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        session = screen.session
        await _play_to(pilot, screen, 5)
        recorder = MicroRecorder(session, limit=10_000)
        session.seek(6, watch=recorder)
        frame = build_frame(session, recorder=recorder)
        assert frame.micro, "the step was captured"
        lit_in_order = []
        for index in sorted(frame.micro):
            event = frame.trace[index]
            shown = frame.at(index).threads
            assert shown is not None
            if event.kind is TraceKind.THREAD_WAKE:
                lit_in_order.append(sorted(shown.during(event).lit))
        # w2 (the newest sleeper) first; w1 is woken only by w2's transfer (the LT cascade)
        assert lit_in_order == [[2], [1]]
        final = frame.threads
        assert final is not None and set(final.results) == {1, 2}


async def test_the_panel_fits_at_80x24(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "blocking-io.toml", live=False, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await _play_to(pilot, screen, 4)
        text = screen_text(app)
        assert "Threads and CPUs" in text
        assert "│ reader  sleeping in recv on a:3 " in text  # compact: shorter rows


async def test_the_real_side_shows_the_threads_proc_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "thread-per-connection.toml", live=True, animate=False)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await _play_to(pilot, screen, 13)  # w1, w2, w3 asleep in recv
        proc = screen.session.proc_threads()
        assert proc is not None and [t.tid for t in proc.threads] == [1, 2, 3]
        text = screen_text(app)
        assert "real threads (/proc/<pid>/task)" in text
        for name, thread in zip(("w1", "w2", "w3"), proc.threads, strict=True):
            assert (
                f"{name} (thread {thread.tid})  tid {thread.os_tid}  S sleeping in recvfrom" in text
            )


def test_headless_prints_every_threads_state_after_each_step() -> None:
    status, out, err = run_cli(
        "play", "--headless", "--no-live", "--width", "100", str(SHIPPED / "thundering-herd.toml")
    )
    assert status == 0, err
    steps = out.split("\nstep ")
    herd = next(s for s in steps if s.startswith("19/36"))
    for name, tid in (("e1", 4), ("e2", 5), ("e3", 6)):
        assert f"{name} (thread {tid})  ✓ woke: epoll_wait → [srv IN]" in herd
    asleep = next(s for s in steps if s.startswith("3/36"))
    assert "a1 (thread 1)  sleeping in accept on srv:3 listen1.wq" in asleep
    plain = next(s for s in steps if s.startswith("1/36"))
    assert "2 CPUs · 0 context switches" in plain  # shown from the first step of the lesson


async def test_two_readers_on_one_socket_one_served_one_asleep_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # blocking-io: r1 and r2 both wake for five bytes; whichever ran first has them, the other
    # is marked as woken for nothing, on both kernels' verdict (equal threads).
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "blocking-io.toml", live=False, animate=False)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        steps = screen.session.runner.steps
        herd = next(i for i, s in enumerate(steps) if s.thread == "r2") + 2
        await _play_to(pilot, screen, herd)
        text = screen_text(app)
        served = re.findall(r"(r[12]) \(thread \d\)  ✓ woke: recv → 5", text)
        again = re.findall(
            r"(r[12]) \(thread \d\)  sleeping in recv on a:3 unix\d+\.wq  ↺ woke", text
        )
        assert len(served) == 1 and len(again) == 1 and {*served, *again} == {"r1", "r2"}
