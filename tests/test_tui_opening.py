"""``muxlab play FILE`` opens its player in two moves (issue 10): the player's frame first,
drawn without loading the scenario or importing what plays it, then the scenario loaded and
checked, the session made and the panels drawn. Keys pressed meanwhile are held, and a
scenario that cannot be played still ends in the loader's report over the lesson menu."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from tests.tui_support import EPOLL_SCENARIO, screen_text, until, write
from tui.app import make_app
from tui.lessons import glance_title
from tui.screens.load_error import LoadErrorScreen
from tui.screens.menu import LessonMenuScreen
from tui.screens.player import Opener, PlayerScreen
from tui.session import PlaySession

SIZE = (140, 44)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def test_the_first_frame_imports_neither_the_format_nor_the_runner() -> None:
    """What the app and the player's first frame import leaves out pydantic, the scenario
    format, its loader and the runner (a fresh interpreter, isolated from the user's folder)."""
    code = (
        "import sys, tui.cli, tui.launch, tui.app, tui.screens.player\n"
        "heavy = [m for m in ('pydantic', 'simulator.scenario.format', "
        "'simulator.scenario.loader', 'simulator.scenario.runner', 'tui.frame') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def opener_of(path: Path, calls: list[Path]) -> Opener:
    """What `muxlab play` gives its player: loads `path` and makes its session (model only),
    noting each call in `calls`."""

    def open_session() -> PlaySession:
        calls.append(path)
        return PlaySession(load_scenario(path), path, live=False)

    return open_session


async def test_the_player_opens_after_its_first_frame_with_the_keys_held(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    calls: list[Path] = []
    app = make_app(animate=False, lessons_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = PlayerScreen(opener_of(path, calls), title="Glanced", animate=False)
        await app.push_screen(screen)
        assert not screen.opened and screen.loaded_session is None
        screen.action_step_forward()  # a key pressed while the player opens...
        screen.action_step_forward()
        await pilot.pause()
        assert screen.loaded_session is None and calls == []  # ...is held, loads nothing
        screen.open_after_frame()
        await until(pilot, lambda: screen.opened)
        await pilot.pause()
        assert calls == [path]
        assert screen.session.position == 2  # ...and runs once the player is open
        assert screen.title == "Two sockets, one epoll"  # the scenario's, once loaded
        assert str(screen.sub_title).startswith("epoll · model vs ")
        text = screen_text(app)
        assert "Kernel model" in text and "Real kernel" in text
        assert "Loading the lesson" not in text


async def test_reading_the_session_before_the_player_opens_loads_it(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    calls: list[Path] = []
    app = make_app(animate=False, lessons_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = PlayerScreen(opener_of(path, calls), animate=False)
        await app.push_screen(screen)
        assert screen.session.total == 10 and calls == [path]
        screen.open_after_frame()
        await until(pilot, lambda: screen.opened)
        assert screen.session.total == 10 and screen.frame is not None
        assert calls == [path]  # loaded once


async def test_a_broken_scenario_at_start_ends_in_its_report_over_the_menu(
    tmp_path: Path,
) -> None:
    bad = write(tmp_path, "bad.toml", EPOLL_SCENARIO.replace('do = "recv"', 'do = "recieve"'))
    app = make_app(bad, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "cannot be played" in screen_text(app))
        assert isinstance(app.screen, LoadErrorScreen)
        assert "bad.toml cannot be played" in screen_text(app)
        assert "recieve" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, LessonMenuScreen)
        assert not any(isinstance(screen, PlayerScreen) for screen in app.screen_stack)
        await pilot.press("q")
    assert app.return_code == 0


def test_glance_title(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    assert glance_title(path) == "Two sockets, one epoll"
    assert glance_title(write(tmp_path, "not.toml", "[scenario\n")) is None
    assert glance_title(tmp_path / "missing.toml") is None
