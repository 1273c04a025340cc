"""Text from a file, made safe to show on a terminal.

Scenario files and lesson Markdown are untrusted: a ``title`` or a ``say`` may hold an escape
sequence that sets the window title (OSC 0), writes the clipboard (OSC 52), plants a hyperlink
(OSC 8), clears the screen (CSI) -- or the single-byte C1 introducers (U+009B is CSI) that some
terminals honour. Rich removes only a few control characters (BEL, BS, VT, FF, CR), so every
piece of text that comes from a file goes through `safe_text` before it becomes a renderable,
in ``--headless``, the app and ``serve`` alike: every C0 and C1 control character and DEL is
replaced by a visible form, ``cat -v`` style (ESC is ``^[``, DEL ``^?``, U+009B ``M-^[``), so
the reader sees that something was there and the terminal never acts on it. Multi-line fields
keep their line breaks and tabs (whitespace rich lays out itself); CRLF becomes LF.

`safe_markdown` does the same for Markdown, and shows links as text followed by their address
instead of turning them into terminal hyperlinks, whose target the reader cannot see.
`Neutralised` is the last net under a whole picture: it replaces any control character left in
what a renderable draws (``--headless`` prints everything through it).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from rich.markdown import Markdown


def _caret(code: int) -> str:
    if code == 0x7F:
        return "^?"
    if code >= 0x80:
        return "M-^" + chr(0x40 + code - 0x80)
    return "^" + chr(0x40 + code)


CONTROL_CODES = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
"""Every C0 control, DEL and every C1 control."""

_ONE_LINE = {code: _caret(code) for code in CONTROL_CODES}
_MULTI_LINE = {code: text for code, text in _ONE_LINE.items() if chr(code) not in "\n\t"}


def safe_text(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character replaced by its visible ``cat -v`` form.

    With `multiline`, newlines (CRLF too) and tabs are kept. The result contains no control
    character other than those, so calling it twice changes nothing more.

    >>> safe_text("\\x1b]0;owned\\x07 title")
    '^[]0;owned^G title'
    >>> safe_text("line one\\r\\nline\\ttwo\\x9b", multiline=True)
    'line one\\nline\\ttwoM-^['
    """
    if multiline:
        return text.replace("\r\n", "\n").translate(_MULTI_LINE)
    return text.translate(_ONE_LINE)


def safe_markdown(text: str) -> Markdown:
    """Markdown from a file: control characters made visible, links shown with their address.

    The same `Markdown` as ``Markdown(safe_text(text, multiline=True), hyperlinks=False)``, but
    with one parser for every call (`_markdown_parts`): rich builds a new markdown-it parser
    in each `Markdown`, some 0.45 ms of the 0.7 ms a short narration costs, and a headless
    run makes one per step. Parsing is O(len(text))."""
    template, parser = _markdown_parts()
    markup = safe_text(text, multiline=True)
    markdown = copy.copy(template)  # every option rich's __init__ sets, as it sets them
    markdown.markup = markup
    markdown.parsed = parser.parse(markup)
    return markdown


@functools.cache
def _markdown_parts() -> tuple[Markdown, MarkdownIt]:
    """An empty `Markdown` with our options, and the parser rich's `Markdown` builds.

    Built on the first call: rich's Markdown, with markdown-it, linkify and pygments, is some
    40 ms of imports that the lesson menu's first frame does without. The parser keeps no
    state between `parse` calls (each makes its own), so one serves every call; the parser's
    rules must stay those of rich's ``Markdown.__init__``, which
    tests/test_tui_safe_text.py checks against rich's own on every shipped text."""
    from markdown_it import MarkdownIt
    from rich.markdown import Markdown

    parser = MarkdownIt().enable("strikethrough").enable("table")
    return Markdown("", hyperlinks=False), parser


def safe_segments(segments: Iterable[Segment]) -> Iterable[Segment]:
    """Segments with control characters in their text made visible (line breaks kept).

    Segments rich marks as control (cursor moves it makes itself) never come from a file's
    text; they are dropped, as nothing a picture draws needs them."""
    for text, style, control in segments:
        if control:
            continue
        yield Segment(safe_text(text, multiline=True), style)


class Neutralised:
    """A renderable drawn with `safe_segments`: the net under every picture.

    A picture is detached from what it shows, so it draws the same segments whenever it is
    drawn with the same options. Textual draws an auto-height picture at least twice per
    layout, first at its natural height (to measure it), then at that height (to show it),
    and the player lays out the screen after every step: a drawing at the natural height is
    kept (for up to `KEPT` sets of options) and given again for a request of the same options
    at no height or at exactly that many lines (drawn at its own height, a picture draws what
    it draws at none). Any other height is drawn afresh."""

    KEPT = 4

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self._drawn: dict[tuple[object, ...], tuple[list[Segment], int]] = {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shape = (
            id(console),
            options.size,
            options.min_width,
            options.max_width,
            options.is_terminal,
            options.encoding,
            options.legacy_windows,
            options.justify,
            options.overflow,
            options.no_wrap,
            options.highlight,
            options.markup,
        )
        kept = self._drawn.get(shape)
        if kept is not None and options.height in (None, kept[1]):
            yield from kept[0]
            return
        segments = list(safe_segments(console.render(self.renderable, options)))
        if options.height is None and len(self._drawn) < self.KEPT:
            self._drawn[shape] = (segments, sum(text.count("\n") for text, _, _ in segments))
        yield from segments

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)


__all__ = ["CONTROL_CODES", "Neutralised", "safe_markdown", "safe_segments", "safe_text"]
