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
from textual.app import App

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


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, one line a row without trailing blanks, read from the app's own
    screenshot (`App.export_screenshot`, public API) rather than from Textual's compositor.

    The screenshot is taken simplified (neighbouring segments of one style joined): the same
    text in fewer runs, a fifth less time, which the layout test pays at each of ~600 frames.
    A joined run may carry a row's trailing blanks, so those are dropped from every row.
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
