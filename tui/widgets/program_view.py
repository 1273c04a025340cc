"""The program beside the kernel: the user-space source a lesson's steps come from, with the
current step's line(s) marked and kept in view (`simulator.scenario.program`).

The text comes from a file, so it is neutralised (`safe_text`) before rich highlights it, and
the whole picture is drawn through `Neutralised`. Only the rows that fit are drawn: a window of
the program with the marked lines centred (or the first of them a third of the way down when
they do not fit together), so stepping and rewinding move the window with the mark -- "scrolled
into view" without a scroll bar to manage.
"""

from __future__ import annotations

from pathlib import PurePath

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.render.safe import Neutralised, safe_text

#: What marks a line the current step comes from (visible without colour, too).
MARK = "▶"
_LEXERS = {".py": "python", ".c": "c", ".h": "c"}


def program_window(count: int, marked: tuple[int, ...], height: int) -> range:
    """The 1-based line numbers to draw: `height` rows of `count` lines. When the marked lines
    fit in them they are centred together; otherwise the first marked line sits a third of the
    way down (the top without a mark). O(len(marked)).

    >>> program_window(40, (20,), 9)
    range(16, 25)
    >>> program_window(40, (27, 21), 9)
    range(20, 29)
    >>> program_window(40, (30, 2), 9)
    range(27, 36)
    >>> program_window(5, (4,), 9)
    range(1, 6)
    """
    height = max(height, 1)
    if not marked:
        first = 1
    else:
        low, high = min(marked), max(marked)
        span = high - low + 1
        first = low - (height - span) // 2 if span <= height else marked[0] - height // 3
    first = max(1, min(first, count - height + 1))
    return range(first, min(count, first + height - 1) + 1)


class ProgramView(Widget):
    """A program with the lines `marked` (1-based) highlighted and in view."""

    DEFAULT_CSS = """
    ProgramView {
        height: 9;
        padding: 0 1 0 0;
    }
    """

    marked: reactive[tuple[int, ...]] = reactive((), init=False)
    """The lines of the current step (empty: none, e.g. before the first step)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] = []
        self.name_shown = ""

    def load(self, name: str, text: str) -> None:
        """Show program `text` (from file `name`), highlighted by its extension. O(size)."""
        lexer = _LEXERS.get(PurePath(name).suffix, "text")
        clean = safe_text(text, multiline=True).expandtabs(4)
        highlighted = Syntax(clean, lexer, theme="ansi_dark").highlight(clean)
        self._lines = list(highlighted.split("\n", allow_blank=True))[: len(clean.splitlines())]
        self.name_shown = safe_text(PurePath(name).name)
        self._retitle()
        self.refresh()

    def watch_marked(self) -> None:
        self._retitle()

    def _retitle(self) -> None:
        lines = ", ".join(str(n) for n in self.marked)
        where = f" · line {lines}" if lines else ""
        # A Text, not a str: Textual reads a str title as markup, and the name is from a file.
        self.border_title = Text(f"{self.name_shown}{where}")

    def render(self) -> RenderableType:
        count = len(self._lines)
        width = len(str(count))
        rows: list[Text] = []
        for number in program_window(count, self.marked, self.content_size.height):
            here = number in self.marked
            row = Text(
                f"{MARK if here else ' '}{number:>{width}} ", style="bold" if here else "dim"
            )
            row.append_text(self._lines[number - 1])
            if here:
                row.stylize("reverse")
            row.no_wrap = True
            row.overflow = "crop"
            rows.append(row)
        return Neutralised(Group(*rows))
