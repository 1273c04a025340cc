"""`tests.tui_support.screen_text`, which most TUI tests read the screen through, says what
Textual's public screenshot (`App.export_screenshot`) shows, character for character.

`screen_text` draws the compositor's update itself (a quarter of the screenshot's time); this
holds it to the public route, so a Textual that renames what it reaches for, or draws the
screenshot differently, fails here rather than in a test that reads the screen for something
else."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.app import App

from tests.tui_support import EPOLL_SCENARIO, screen_text, write
from tui.app import make_app
from tui.screens.player import PlayerScreen

#: One run of text in the SVG that rich's ``Console.export_svg`` draws: its x (in pixels), its
#: row (the clip path of line N) and its text, HTML-escaped with spaces as ``&#160;``.
_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>'
)
#: The width of a cell in that SVG: rich's character height (20) times its font aspect (0.61).
_CELL_WIDTH = 20 * 0.61


def screenshot_text(app: App[Any]) -> str:
    """The text of the public SVG screenshot, one line a row without trailing blanks (blank
    runs are not drawn in it: they are filled in from the runs' positions)."""
    found = [
        (int(row), round(float(x) / _CELL_WIDTH), html.unescape(text).replace("\xa0", " "))
        for x, row, text in _SVG_TEXT.findall(app.export_screenshot())
    ]
    runs: list[list[tuple[int, str]]] = [[] for _ in range(app.size[1])]
    for row, column, text in found:
        runs[row].append((column, text))
    lines = []
    for row_runs in runs:
        line, at = "", 0
        for column, text in sorted(row_runs):
            line += " " * (column - at) + text
            at = column + cell_len(text)
        lines.append(line.rstrip(" "))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("size", [(140, 44), (80, 24)])
async def test_screen_text_is_the_public_screenshot_text(
    size: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lesson menu (box drawing, the "▶" marker) and the player at its first steps (the
    fd table, the tree, a "…" that counts what is not drawn): the same text both ways."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))
    menu = make_app(None, live=False, animate=False)
    async with menu.run_test(size=size) as pilot:
        await pilot.pause()
        shown = screen_text(menu)
        assert "epoll" in shown  # a menu with its lessons, not a blank screen
        assert shown == screenshot_text(menu)
    app = make_app(write(tmp_path, "s.toml", EPOLL_SCENARIO), live=False, animate=False)
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        for position in range(min(4, screen.session.total) + 1):
            screen.go(position)
            await pilot.pause()
            assert screen_text(app) == screenshot_text(app), f"at step {position}"
