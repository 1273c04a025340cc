"""Shared helpers for the TUI tests (no tests here): tiny scenarios, recordings that agree or
diverge, and a plain-text dump of the screen.

Determinism (why these helpers exist): every app is built with ``animate=False`` (Textual's
``animation_level = "none"``, no micro-step timers), with progress in a temporary
``MUXLAB_DATA_DIR``, and either without a live kernel or with a recording whose platform is
fixed, so no pid, kernel release or wall-clock time reaches the screen.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from textual.app import App
from textual.errors import NoWidget
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from simulator.scenario import Recording, Runner, load_scenario
from simulator.scenario.recording import scenario_hash

PLATFORM = {"system": "Linux", "release": "test", "machine": "x86_64", "python": "3"}

EPOLL_SCENARIO = """\
[scenario]
title = "Two sockets, one epoll"
summary = "A tiny epoll lesson for the TUI tests."
mechanism = "epoll"
tags = ["epoll"]

[[step]]
do = "socketpair"
as = ["a", "a_peer"]
say = "A connection: read on `a`, write on `a_peer`."

[[step]]
do = "socketpair"
as = ["b", "b_peer"]
say = "A second connection."

[[step]]
do = "epoll_create"
as = "ep"
say = "An epoll instance."

[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }
say = "`a` joins the interest tree."

[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "b", events = ["IN"] }
say = "`b` joins the interest tree."

[[step]]
do = "send"
args = { fd = "b_peer", nbytes = 5 }
say = "`b_peer` writes: `b` becomes ready."

[[step]]
do = "send"
args = { fd = "a_peer", nbytes = 5 }
say = "`a_peer` writes: `a` becomes ready, after `b`."

[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 8, timeout_ms = 0 }
say = "Both, in the order they became ready."
ask = "In which order are they reported?"
choices = [[["a", ["IN"]], ["b", ["IN"]]], [["b", ["IN"]], ["a", ["IN"]]]]

[[step]]
do = "recv"
args = { fd = "a", nbytes = 5 }
say = "`a` is drained."

[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 8, timeout_ms = 0 }
say = "Only `b` is left."
"""

POLL_SCENARIO = """\
[scenario]
title = "poll reports HUP"
summary = "A tiny poll lesson for the TUI tests."
mechanism = "poll"

[[step]]
do = "socketpair"
as = ["a", "b"]
say = "A connection."

[[step]]
do = "send"
args = { fd = "b", nbytes = 3 }
say = "`b` writes three bytes."

[[step]]
do = "poll"
args = { fds = [["a", ["IN"]], ["b", ["IN"]]] }
say = "`a` is readable, `b` is not."

[[step]]
do = "close"
args = { fd = "b" }
say = "`b` closes."

[[step]]
do = "poll"
args = { fds = [["a", ["IN"]]] }
say = "Readable, and hung up."
"""


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def model_recording(path: Path, *, alter: dict[int, dict[str, Any]] | None = None) -> Recording:
    """A recording of the model's own answers (so a replay agrees), with `alter` replacing
    the answers of some steps (by index) to make them diverge."""
    scenario = load_scenario(path)
    with Runner(scenario) as runner:
        live = [record.model.to_recording() for record in runner]
    for index, answer in (alter or {}).items():
        live[index] = answer
    return Recording(scenario_hash(scenario), scenario.scenario.title, tuple(live), dict(PLATFORM))


#: One run of text in the screenshot rich's ``Console.export_svg`` draws: its x (in pixels),
#: its row (the clip path of line N) and its text, HTML-escaped with spaces as ``&#160;``.
_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>'
)
#: The width of a cell in that screenshot: rich's character height (20) times its default font
#: aspect ratio (0.61).
_CELL_WIDTH = 20 * 0.61


def screenshot_text(app: App[Any]) -> str:
    """The text of the app's own screenshot (`App.export_screenshot`, public API), one line a
    row without trailing blanks: what `screen_text` must equal, and what it reads when a
    screen below shows through the one on top (a modal).

    The screenshot is taken simplified (neighbouring segments of one style joined): the same
    text in fewer runs. A joined run may carry a row's trailing blanks, so those are dropped
    from every row.
    """
    # The screenshot's own rows decide the height: right after a resize, `app.size` may
    # already be the new size while the last frame still has the old one.
    found = [
        (int(row), round(float(x) / _CELL_WIDTH), html.unescape(text).replace("\xa0", " "))
        for x, row, text in _SVG_TEXT.findall(app.export_screenshot(simplify=True))
    ]
    height = max([app.size[1], *(row + 1 for row, _column, _text in found)])
    runs: list[list[tuple[int, str]]] = [[] for _ in range(height)]
    for row, column, text in found:
        runs[row].append((column, text))
    lines = []
    for row_runs in runs:
        line, at = "", 0
        for column, text in sorted(row_runs):
            line += " " * (column - at) + text  # blank runs are not drawn: fill them in
            at = column + cell_len(text)
        lines.append(line.rstrip(" "))
    return "\n".join(lines) + "\n"


def _drawn(screen: Screen[Any]) -> list[tuple[Widget, Region, Region, bool]]:
    """The widgets the screen draws, the one in front first: each with its region, the part of
    it shown (cut by its container and by the screen), and whether it is a scrollbar.

    The widgets are those of the DOM that `Screen.find_widget` places and their scrollbars (a
    scrollbar is not in the DOM: it is placed with its widget, at its widget's paint order, and
    drawn over it). The order is `MapGeometry.order`, the paint order Textual draws by; of two
    widgets of one order (overlays: a toast, a tooltip) the later in the DOM is in front, as
    Textual places siblings last to first.
    """
    screen_region = screen.find_widget(screen).region
    drawn: list[tuple[tuple[tuple[int, int, int], ...], bool, int, Widget, Region, Region]] = []

    def place(widget: Widget, scrollbar: bool) -> None:
        try:
            geometry = screen.find_widget(widget)
        except NoWidget:
            return  # not laid out: hidden, or scrolled out of its container's view
        shown = geometry.region.intersection(geometry.clip).intersection(screen_region)
        if shown.area:
            at = len(drawn)
            drawn.append((geometry.order, scrollbar, at, widget, geometry.region, shown))

    for widget in screen.walk_children(Widget, with_self=True):
        place(widget, False)
        if not widget.is_scrollable or widget.styles.scrollbar_visibility != "visible":
            continue
        vertical = widget.show_vertical_scrollbar and widget.scrollbar_size_vertical > 0
        horizontal = widget.show_horizontal_scrollbar and widget.scrollbar_size_horizontal > 0
        if vertical:
            place(widget.vertical_scrollbar, True)
        if horizontal:
            place(widget.horizontal_scrollbar, True)
        if vertical and horizontal:
            place(widget.scrollbar_corner, True)
    drawn.sort(key=lambda item: item[:3], reverse=True)
    return [(widget, region, shown, bar) for _, bar, _, widget, region, shown in drawn]


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, one line a row without trailing blanks: `screenshot_text`,
    drawn the way Textual's compositor draws a frame, through public API only.

    Every widget on screen draws the part of it that is shown (`Widget.render_lines`, the lines
    the compositor puts on screen, from the same cache), and the one in front wins each cell
    (see `_drawn`). The screenshot does the same, then writes an SVG (hashing the repr of every
    segment) which has to be read back: ~4x the time, which the layout test paid at each of
    ~600 frames. When a screen below shows through the one on top (a modal's translucent
    background), it is drawn by the top screen's own render, which reads the stack of screens
    from Textual's private context: those frames are read from the screenshot, as is a screen
    not laid out yet.
    `tests/test_tui_screen_text.py` holds this to `screenshot_text`.
    """
    screen = app.screen
    if screen.styles.background.a < 1 and len(app.screen_stack) > 1:
        return screenshot_text(app)
    try:
        screen_height = screen.find_widget(screen).region.height
    except NoWidget:  # a screen pushed but not laid out yet
        return screenshot_text(app)
    width, app_height = app.size
    # Per row, the spans (start, end) already drawn by a widget in front, and what was drawn.
    covered: list[list[tuple[int, int]]] = [[] for _ in range(screen_height)]
    pieces: list[list[tuple[int, str]]] = [[] for _ in range(screen_height)]
    for widget, region, shown, _bar in _drawn(screen):
        crop = Region(shown.x - region.x, shown.y - region.y, shown.width, shown.height)
        for y, strip in zip(shown.line_range, widget.render_lines(crop), strict=False):
            for start, end in _uncovered(covered[y], shown.x, shown.right):
                pieces[y].append((start, strip.crop(start - shown.x, end - shown.x).text))
                covered[y].append((start, end))
    lines = []
    for row in pieces:
        line = "".join(text for _start, text in sorted(row))
        lines.append(Strip([Segment(line)]).crop(0, width).text.rstrip(" "))
    lines += [""] * (app_height - screen_height)
    return "\n".join(lines) + "\n"


def _uncovered(covered: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) no span of `covered` overlaps."""
    parts = []
    for span_start, span_end in sorted(covered):
        if span_end <= start or span_start >= end:
            continue
        if span_start > start:
            parts.append((start, span_start))
        start = max(start, span_end)
    if start < end:
        parts.append((start, end))
    return parts


async def until(pilot: Any, condition: Any, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (playback and workers take their time)."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not reached within {timeout} s: {condition}")


def picture_text(renderable: Any, width: int = 200) -> str:
    """A rich picture as plain text, wide enough not to wrap."""
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()
