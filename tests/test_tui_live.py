"""The player with the real kernel: live steps run in a worker, the real interest list is
shown, a dead child is reported while the model goes on, and quitting ends the child."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from simulator.scenario import Recording, Verdict
from tests.tui_support import EPOLL_SCENARIO, picture_text, until, write
from tui.app import make_app
from tui.screens.player import PlayerScreen

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fdinfo and epoll are Linux's")

SIZE = (140, 44)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_live_steps_show_the_real_interest_list(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    app = make_app(path, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await pilot.press(*["right"] * 5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.session.position == 5
        assert not screen.busy
        record = screen.session.record()
        assert record is not None and record.verdict is Verdict.AGREE
        assert screen.frame is not None
        panel = picture_text(screen.frame.live)
        assert f"child pid {screen.session.status().pid}" in panel
        assert "fdinfo of ep" in panel
        assert "a:3" in panel and "b:5" in panel and "= model" in panel
        assert "≠ model" not in panel
        # The real tree is keyed by the struct file's address: its order is explained.
        assert "keyed by the struct file's address" in " ".join(panel.split())
        pid = screen.session.status().pid
        assert pid is not None and alive(pid)
        await pilot.press("q")
    assert not alive(pid)


async def test_a_dead_child_is_reported_and_the_model_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    app = make_app(path, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await pilot.press("right", "right")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pid = screen.session.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # The player looks at the child once a second.
        await until(pilot, lambda: "is GONE" in picture_text(screen.frame.live))  # type: ignore[union-attr]
        assert screen.frame is not None
        assert f"child pid {pid} is GONE" in picture_text(screen.frame.live)
        await pilot.press("right", "right", "right")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.session.position == 5
        panel = picture_text(screen.frame.live)
        assert "live kernel LOST" in panel
        assert "The model goes on alone from step 3." in panel
        verdicts = [record.verdict for record in screen.session.records]
        assert verdicts[:2] == [Verdict.AGREE, Verdict.AGREE]
        assert verdicts[2:] == [Verdict.MODEL_ONLY] * 3
        await pilot.press("left", "left", "left", "left")  # rewind still works
        assert screen.session.position == 1


async def test_record_saves_the_live_answers_on_quit(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    saved = tmp_path / "run.json"
    app = make_app(path, animate=False, record=saved)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("q")
    recording = Recording.load(saved)
    assert len(recording.live) == 3
    replay = make_app(path, replay=saved, animate=False)
    async with replay.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right")
        screen = replay.screen
        assert isinstance(screen, PlayerScreen)
        assert [r.verdict for r in screen.session.records] == [Verdict.AGREE] * 3


async def test_the_live_child_starts_while_the_player_opens(tmp_path: Path) -> None:
    """Issue 10: the player starts the live kernel as it opens, not at the first step, so the
    real kernel's panel shows its child running before any step; that child then runs the
    first step, and quitting before any step still ends it."""
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    app = make_app(path, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await until(pilot, lambda: screen.session.status().alive)
        pid = screen.session.status().pid
        assert pid is not None and alive(pid)
        assert screen.session.position == 0
        await until(
            pilot,
            lambda: (
                screen.frame is not None and f"child pid {pid}" in picture_text(screen.frame.live)
            ),
        )
        await pilot.press("right")
        await app.workers.wait_for_complete()
        await pilot.pause()
        record = screen.session.record()
        assert record is not None and record.verdict is Verdict.AGREE
        assert screen.session.status().pid == pid
    assert not alive(pid)


async def test_quitting_before_the_first_step_ends_the_live_child(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    app = make_app(path, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await until(pilot, lambda: screen.session.status().alive)
        pid = screen.session.status().pid
        assert pid is not None
        await pilot.press("q")
    assert not alive(pid)
