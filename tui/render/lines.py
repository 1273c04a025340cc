"""Printing renderables fast when they need no layout (what ``--headless`` prints).

Rich lays out everything it prints -- segments, measurement, wrapping, cropping -- and a step's
picture cost it about a millisecond, hundreds of times the model call the step made: a
scenario of 10,000 steps spent nearly all its time there. Most of what ``--headless`` prints
needs none of that: a `Text` narrower than the page, indented by a `Padding`, in a `Group`, a
left-aligned `Rule`, or one of our own pictures that yields those (`PICTURES`). `LineWriter`
writes these itself -- the characters rich would write, each run in the style rich would give
it (rich's own `Style.render`), control characters made visible as `Neutralised` does -- and
hands anything else (a `Table`, `Markdown`, a line that must wrap) to rich, at the same width
and indentation, so that a page reads the same either way. What a step prints at every step
is made of `Line`s, which the writer prints without even making the `Text` they stand for.
``tests/test_headless_lines.py`` compares the two, line for line, on every shipped scenario.

Cost: O(characters written) for what takes the fast path; rich's own cost for the rest.
"""

from __future__ import annotations

import re
from typing import TextIO, cast

from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console, ConsoleOptions, ConsoleRenderable, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text

from tui.render.safe import CONTROL_CODES, Neutralised, safe_text

# Spaces at the end of a line, possibly followed by colour codes: rich pads lines to the full
# width, which is noise in logs and golden files.
TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)

#: Any control character but newline and tab (what `safe_text` would replace).
_CONTROL = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in CONTROL_CODES if chr(c) not in "\n\t") + "]"
)

#: What sends a `Line` to the `Text` path: a newline, a tab or any other control character.
_LAYOUT_OR_CONTROL = re.compile("[" + "".join(re.escape(chr(c)) for c in CONTROL_CODES) + "]")


def _safe(text: str) -> str:
    """`safe_text` (multiline), after a cheaper check: our pictures' text is already safe."""
    return safe_text(text, multiline=True) if _CONTROL.search(text) else text


def _fits(plain: str, width: int) -> bool:
    """Whether `plain` takes at most `width` cells (ASCII: one a character)."""
    if plain.isascii():
        return len(plain) <= width
    # No character takes more than two cells: counting the others twice is an upper bound,
    # in C ("… 9,998 other rows", each step: cell_len walks it character by character).
    wide = len(plain) - len(plain.encode("ascii", "ignore"))
    return len(plain) + wide <= width or cell_len(plain) <= width


#: A word as rich's wrap sees it (`rich._wrap.words`): spaces, non-spaces, spaces after.
_WORD = re.compile(r"\s*\S+\s*")


def wrap_plain(text: str, width: int) -> list[str] | None:
    """The lines rich wraps `text` into in `width` cells (`rich.text.Text.wrap`, its default
    ``fold`` overflow, trailing spaces dropped as ``--headless`` drops them), for a printable
    text whose every word fits in `width`; None for any other (tabs, control characters, a
    word to fold: rich's to lay out). The same greedy rule as rich's ``divide_line``: a word
    goes on the line if it fits without its trailing spaces, else it starts the next.
    ``tests/test_headless_lines.py`` holds the two together. O(len(text))."""
    if not text.isprintable():  # (no tab, no newline: only spaces separate words)
        return None
    narrow = text.isascii()
    lines: list[str] = []
    line_start = offset = 0
    for word in _WORD.finditer(text):
        piece = word.group()
        stripped = piece.rstrip()
        length = len(stripped) if narrow else cell_len(stripped)
        if width - offset >= length:
            offset += len(piece) if narrow else cell_len(piece)
        elif length > width:
            return None  # rich folds a word longer than a line: not ours to copy
        else:  # (never the line's first word: that one always fits)
            lines.append(text[line_start : word.start()].rstrip(" "))
            line_start = word.start()
            offset = len(piece) if narrow else cell_len(piece)
    lines.append(text[line_start:].rstrip(" "))
    return lines


class Line:
    """One line of text for a picture to yield instead of a rich `Text`: `plain`, its base
    `style` and `spans` ``(start, end, style)``, with the meaning `Text` gives them.

    Rich renders it as that `Text` (`__rich__`); `LineWriter` prints it without building one
    when it fits and holds no tab and no control character (those take the `Text` path, so the
    characters printed are the same either way). A step yields a dozen of these: a `Text` costs
    several times more to make (it copies its spans and strips control codes). O(1) to make.
    """

    __slots__ = ("plain", "spans", "style")

    def __init__(
        self, plain: str, style: str = "", spans: tuple[tuple[int, int, str], ...] = ()
    ) -> None:
        self.plain = plain
        self.style = style
        self.spans = spans

    def __rich__(self) -> Text:
        return Text(self.plain, self.style, spans=[Span(*span) for span in self.spans])

    def __repr__(self) -> str:
        return f"Line({self.plain!r}, {self.style!r}, {self.spans!r})"


#: Rich's names of its colour systems (`Console.color_system`).
_SYSTEMS = {
    "standard": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
    "windows": ColorSystem.WINDOWS,
}


def _pictures() -> tuple[type, ...]:
    """Our pictures whose `__rich_console__` only yields renderables (never segments), so
    that the writer may walk them: imported here, as they import this package."""
    from tui.render.fd_rows import FdRows
    from tui.render.model_state import KqueueView, ModelStateView
    from tui.render.ready_chain import ReadyChain
    from tui.render.step import StepView

    return (StepView, ModelStateView, FdRows, ReadyChain, KqueueView)


class LineWriter:
    """Writes renderables to `out` as `console` would print them (its width and colours)."""

    def __init__(self, console: Console, out: TextIO) -> None:
        self.console = console
        self.out = out
        self.width = console.width
        system = console.color_system
        self._system = None if system is None or console.no_color else _SYSTEMS[system]
        #: style -> (what opens it, what closes it) in this console's colours
        self._styles: dict[str | Style, tuple[str, str]] = {}
        self._options: dict[int, ConsoleOptions] = {}
        self._pictures = _pictures()
        self._picture_types = frozenset(self._pictures)  # the exact types: one lookup
        self._ascii = console.options.ascii_only

    def write(self, renderable: RenderableType, indent: int = 0) -> None:
        """Print `renderable` indented by `indent` columns."""
        kind = type(renderable)
        if kind is Line:
            self._fast_line(cast(Line, renderable), indent)
        elif kind in self._picture_types or isinstance(renderable, self._pictures):
            picture = cast(ConsoleRenderable, renderable)
            for part in picture.__rich_console__(self.console, self._options_at(indent)):
                assert not isinstance(part, Segment), "our pictures yield renderables"
                if type(part) is Line:  # most of what a picture yields: no second dispatch
                    self._fast_line(part, indent)
                else:
                    self.write(part, indent)
        elif kind is Padding and self._plain_padding(cast(Padding, renderable)):
            self._padding(cast(Padding, renderable), indent)  # (before the `isinstance`s)
        elif isinstance(renderable, Text):
            self._text(renderable, indent)
        elif isinstance(renderable, Padding) and self._plain_padding(renderable):
            self._padding(renderable, indent)
        elif isinstance(renderable, Group):
            for child in renderable.renderables:
                if type(child) is Line:
                    self._fast_line(child, indent)
                else:
                    self.write(child, indent)
        elif isinstance(renderable, Rule) and self._rule(renderable, indent):
            pass
        elif isinstance(renderable, Neutralised):
            self.write(renderable.renderable, indent)
        else:
            self._rich(renderable, indent)

    @property
    def plain(self) -> bool:
        """Whether this writer prints without colour (a step may then print itself:
        `tui.render.step.StepView.plain`)."""
        return self._system is None

    @property
    def ascii_only(self) -> bool:
        """Whether the console draws ASCII only (its rules then are ``-``)."""
        return self._ascii

    # --- the fast path ----------------------------------------------------------------------
    def _padding(self, padding: Padding, indent: int) -> None:
        """A `_plain_padding`: blank lines, and what it holds indented."""
        if padding.top:
            self.out.write("\n" * padding.top)
        self.write(padding.renderable, indent + padding.left)
        if padding.bottom:
            self.out.write("\n" * padding.bottom)

    def _plain_padding(self, padding: Padding) -> bool:
        """Whether `padding` only indents and adds blank lines (no right margin, no style)."""
        return padding.right == 0 and (
            padding.style == "none" or not self.console.get_style(padding.style)
        )

    def _fast_line(self, line: Line, indent: int) -> None:
        """`line` as `_text` would print its `Text`, without making one when it needs no
        layout, holds nothing to neutralise and (in colour) has no spans."""
        plain = line.plain
        # Most lines are ASCII: then `isprintable` is "no control character, no tab, no
        # newline", and the length is the cells (three checks in C, no regex).
        clean = (
            plain.isascii() and plain.isprintable() and len(plain) <= self.width - indent
        ) or not (_LAYOUT_OR_CONTROL.search(plain) or not _fits(plain, self.width - indent))
        if not clean or (line.spans and self._system is not None):
            self._text(line.__rich__(), indent)
        elif self._system is None:
            self.out.write((" " * indent + plain).rstrip(" ") + "\n")
        else:  # `_line`'s path for a text without spans
            if line.style and plain:
                opens, closes = self._style(line.style)
                plain = opens + plain + closes
            self.out.write(TRAILING.sub(r"\1", " " * indent + plain) + "\n")

    def _text(self, text: Text, indent: int) -> None:
        plain = text.plain
        if "\n" in plain:
            for line in text.split("\n", allow_blank=True):
                self._text(line, indent)
            return
        if (
            "\t" in plain
            or not _fits(plain, self.width - indent)
            or text.justify not in (None, "default", "left")
            or text.end != "\n"
        ):
            self._rich(text, indent)
            return
        self._line(text, indent, plain)

    def _line(self, text: Text, indent: int, plain: str | None = None) -> None:
        head = " " * indent
        if plain is None:
            plain = text.plain
        if self._system is None:
            self.out.write((head + _safe(plain)).rstrip(" ") + "\n")
            return
        parts = [head]
        if not text.spans:  # `Text.render` leaves the base style to the caller then
            plain = _safe(plain)
            if text.style and plain:
                opens, closes = self._style(text.style)
                plain = opens + plain + closes
            self.out.write(TRAILING.sub(r"\1", head + plain) + "\n")
            return
        for segment in text.render(self.console, end=""):
            piece = _safe(segment.text)
            style = segment.style
            if style and piece:
                opens, closes = self._style(style)
                parts.append(opens + piece + closes)
            else:
                parts.append(piece)
        self.out.write(TRAILING.sub(r"\1", "".join(parts)) + "\n")

    def _style(self, style: str | Style) -> tuple[str, str]:
        known = self._styles.get(style)
        if known is None:
            assert self._system is not None
            rendered = self.console.get_style(style).render("\0", color_system=self._system)
            opens, _, closes = rendered.partition("\0")
            known = self._styles[style] = (opens, closes)
        return known

    def _rule(self, rule: Rule, indent: int) -> bool:
        """A left-aligned rule whose title fits, drawn as rich draws it; False: not one."""
        width = self.width - indent
        title = rule.title
        if rule.align != "left" or not isinstance(title, Text) or rule.end != "\n":
            return False
        plain = title.plain
        chars = rule.characters
        if self._ascii and not chars.isascii():
            chars = "-"
        if "\n" in plain or "\t" in plain or cell_len(chars) != 1:
            return False
        used = len(plain) if plain.isascii() else cell_len(plain)
        if used > width - 2:
            return False
        line = chars * (width - used - 1)
        if self._system is None:
            self.out.write((" " * indent + _safe(plain) + " " + line).rstrip(" ") + "\n")
            return True
        text = title.copy()
        text.append(" ")
        text.append(line, rule.style)
        self._line(text, indent)
        return True

    def _options_at(self, indent: int) -> ConsoleOptions:
        options = self._options.get(indent)
        if options is None:
            options = self._options[indent] = self.console.options.update_width(self.width - indent)
        return options

    # --- rich, for what needs layout ----------------------------------------------------------
    def _rich(self, renderable: RenderableType, indent: int) -> None:
        if indent:
            renderable = Padding(renderable, (0, 0, 0, indent))
        with self.console.capture() as captured:
            self.console.print(Neutralised(renderable))
        self.out.write(TRAILING.sub(r"\1", captured.get()))


__all__ = ["TRAILING", "Line", "LineWriter", "wrap_plain"]
