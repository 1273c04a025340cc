"""`tests.tui_support.screen_text`, which most TUI tests read the screen through, says what
Textual's public screenshot (`App.export_screenshot`, read by `screenshot_text`) shows,
character for character.

`screen_text` draws the screen from its widgets' own lines (a quarter of the screenshot's
time); these hold it to the screenshot on frames of several kinds -- the lesson menu, the player
at its full size and at one that needs scrollbars, shipped lessons, the "terminal too small"
message, a frame read right after a resize, a modal -- so that a Textual that places or paints
widgets otherwise fails here rather than in a test that reads the screen for something else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario.library import shipped_dir
from tests.tui_support import EPOLL_SCENARIO, screen_text, screenshot_text, write
from tui.app import make_app
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.player import PlayerScreen


async def test_the_menu_reads_as_the_screenshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lesson menu at 80x24: box drawing, the "▶" marker, a list that scrolls."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    menu = make_app(None, live=False, animate=False)
    async with menu.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = screen_text(menu)
        assert "epoll" in shown  # a menu with its lessons, not a blank screen
        assert shown == screenshot_text(menu)
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert screen_text(menu) == screenshot_text(menu)


@pytest.mark.parametrize("size", [(140, 44), (80, 24)])
async def test_the_player_reads_as_the_screenshot(
    size: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The player at its first steps, at its full size and at one where its views scroll:
    the fd table, the tree, a "…" that counts what is not drawn, scrollbars."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))
    app = make_app(write(tmp_path, "s.toml", EPOLL_SCENARIO), live=False, animate=False)
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        for position in range(min(5, screen.session.total) + 1):
            screen.go(position)
            await pilot.pause()
            assert screen_text(app) == screenshot_text(app), f"at step {position}"


@pytest.mark.parametrize("lesson", ["thundering-herd", "select-fd-setsize"])
async def test_shipped_lessons_read_as_the_screenshot(
    lesson: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two shipped lessons' first, middle and last steps at 140x44 (the layout test's frames:
    pictures, the ready list, the wait queues, a long fd table), the last through `end`."""
    shipped = shipped_dir()
    assert shipped is not None
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(shipped / f"{lesson}.toml", live=False, animate=False)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await pilot.pause()
        assert screen_text(app) == screenshot_text(app), "at step 0"
        for position in (1, screen.session.total // 2):
            screen.go(position)
            await pilot.pause()
            assert screen_text(app) == screenshot_text(app), f"at step {position}"
        await pilot.press("end")
        await pilot.pause()
        assert screen_text(app) == screenshot_text(app), "at the end"


async def test_too_small_resized_and_modal_frames_read_as_the_screenshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "terminal too small" message, the frame read right after a resize (the app's new
    size, the last frame's old one), and a modal over the player (the lesson text, the player
    dimmed behind it)."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))
    write(tmp_path, "tiny.md", "# The tiny lesson\n\nEvery fd is a file.\n")
    text = EPOLL_SCENARIO.replace('mechanism = "epoll"', 'mechanism = "epoll"\nlesson = "tiny.md"')
    app = make_app(write(tmp_path, "lesson.toml", text), live=False, animate=False)
    async with app.run_test(size=(50, 15)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        assert "enlarge it to" in shown
        assert shown == screenshot_text(app)
        await pilot.resize_terminal(140, 44)
        assert screen_text(app) == screenshot_text(app), "just after growing"
        await pilot.pause()
        assert "enlarge it to" not in screen_text(app)
        assert screen_text(app) == screenshot_text(app), "grown"
        await pilot.resize_terminal(100, 30)
        assert screen_text(app) == screenshot_text(app), "just after shrinking"
        await pilot.pause()
        assert screen_text(app) == screenshot_text(app), "shrunk"
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, LessonTextScreen)
        shown = screen_text(app)
        assert "Every fd is a file." in shown
        assert shown == screenshot_text(app)
