"""The player's cheaper redraw (issue 10) shows what a full redraw shows: a picture of the same
height is shown without a layout and one of another height with one (`MeasuredStatic`), a
line view repaints only the lines that changed (`LinesView.reset`), and a panel's new subtitle
reaches its bottom border (`Panel.set_subtitle`). Each screen is compared with the screen of an
app that draws the same content from scratch."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from tests.tui_support import screen_text
from tui.widgets.lines import LinesView
from tui.widgets.measured import MeasuredStatic
from tui.widgets.panel import Panel

SIZE = (40, 12)


class Rows(LinesView):
    """A line view of `rows`."""

    DEFAULT_CSS = "Rows { height: 1fr; }"

    def __init__(self, rows: list[str]) -> None:
        super().__init__()
        self.rows = rows

    def line_count(self) -> int:
        return len(self.rows)

    def make_line(self, index: int, width: int) -> Text:
        return Text(self.rows[index], style="bold" if index % 2 else "")


class Shown(App[None]):
    """A panel with a subtitle, a picture and a line view under it."""

    def __init__(self, picture: str, subtitle: str, rows: list[str]) -> None:
        super().__init__()
        self.first = (picture, subtitle, rows)

    def compose(self) -> ComposeResult:
        picture, _subtitle, rows = self.first
        with Panel(id="panel"):
            yield MeasuredStatic(picture, markup=False)
            yield Rows(rows)
        yield Static("under", markup=False)

    def on_mount(self) -> None:
        self.query_one(Panel).styles.border = ("round", "white")
        self.query_one(Panel).set_subtitle(self.first[1])


async def fresh(picture: str, subtitle: str, rows: list[str]) -> str:
    app = Shown(picture, subtitle, rows)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return screen_text(app)


async def test_redraws_show_what_a_fresh_screen_shows() -> None:
    rows = [f"row {n}" for n in range(6)]  # they fit: no scrollbar comes
    app = Shown("one\ntwo", "0 calls", rows)
    layouts: list[Any] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()  # the border set on mount is laid out
        app.screen.screen_layout_refresh_signal.subscribe(app.screen, layouts.append)
        picture, view, panel = (
            app.query_one(MeasuredStatic),
            app.query_one(Rows),
            app.query_one(Panel),
        )
        steps = [
            ("uno\ndos", "1 calls", {3: "row three"}, False),  # same heights: no layout
            ("a\nb\nc", "2 calls", {}, True),  # a taller picture: one
            ("a\nb\nc", "2 calls", {0: "first", 4: "fifth"}, False),
            ("x", "3 calls", {}, True),
        ]
        for text, subtitle, changed, laid_out in steps:
            layouts.clear()
            picture.show(text)
            panel.set_subtitle(subtitle)
            for index, row in changed.items():
                rows[index] = row
            view.rows = list(rows)
            view.reset()
            await pilot.pause()
            assert bool(layouts) == laid_out, (text, layouts)
            assert screen_text(app) == await fresh(text, subtitle, list(rows)), text
