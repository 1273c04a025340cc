"""The step's micro-steps (its trace), with the animation's cursor.

Each micro-step is one entry, wrapped to the width with its continuation lines indented (an
entry is never cut short). A trace can be long (``fill`` on TCP, an ``epoll_wait`` over a
million ready items), so the view scrolls by entry, not by line: a scroll position is the
entry at the top (the heading is entry 0), and a repaint lays out only the entries from there
to the bottom of the view. Where an entry starts on the canvas is never needed, so the cost is
that of the lines on screen wherever the view is scrolled, and the scrollbar says which entry
of how many is at the top.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import var
from textual.strip import Strip

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.widgets.lines import LinesView, hanging_wrap

#: Continuation lines of an entry start this many cells in (past its number).
INDENT = 6


class TraceList(LinesView):
    """``seq  time  kind  where  detail`` per micro-step; the current one is lit.

    A `LinesView` whose positions are entries: `line_count` is the number of scroll
    positions (one per entry, plus room for the last to reach the top).
    """

    DEFAULT_CSS = """
    TraceList {
        height: 1fr;
        min-height: 3;
        padding: 0 1;
    }
    """

    frame: var[Frame | None] = var(None, always_update=True, init=False)
    """The frame on screen."""
    micro: var[int | None] = var(None, always_update=True, init=False)
    """The micro-step being animated (None: at rest, nothing lit)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._screen: tuple[tuple[int, int, int], list[Strip]] | None = None
        """The lines on screen, for (top entry, width, height)."""

    def watch_frame(self) -> None:
        self.reset()
        self.scroll_to(y=0, animate=False)

    def watch_micro(self, micro: int | None) -> None:
        self.reset()
        if micro is None:
            return
        entry = micro + 1
        top = self.scroll_offset.y
        width, height = self._content_width(), self.scrollable_content_region.height
        rows = 0
        for shown in range(top, entry + 1):
            rows += len(self._entry_lines(shown, width))
            if rows > height:
                break
        if not top <= entry or rows > height:
            # Bring it to the middle: back from it, the entries that fill half the view.
            rows, first = len(self._entry_lines(entry, width)), entry
            while first > 0 and rows + len(self._entry_lines(first - 1, width)) <= height // 2:
                first -= 1
                rows += len(self._entry_lines(first, width))
            self.scroll_to(y=first, animate=False)

    def reset(self) -> None:
        self._screen = None
        super().reset()

    def on_resize(self) -> None:
        self._screen = None

    def line_count(self) -> int:
        entries = 1 + len(self._trace())
        return entries + max(0, self.scrollable_content_region.height - 1)

    def _trace(self) -> Sequence[TraceEvent]:
        frame = self.frame
        return frame.trace if frame is not None else ()

    def _entry_lines(self, entry: int, width: int) -> list[Text]:
        """Entry `entry` wrapped to `width`: the heading (0), else micro-step ``entry - 1``."""
        trace = self._trace()
        if entry == 0:
            text = Text(f"micro-steps of this call: {len(trace):,}", style="bold")
            if self.micro is not None:
                text.append(f"  ▶ {self.micro + 1:,}/{len(trace):,}", style="yellow")
            return hanging_wrap(text, width, indent=0)
        index = entry - 1
        event = trace[index]
        lit = self.micro == index
        earlier = trace[index - 1].time_ns if index >= 1 else 0
        when = f"@{event.time_ns / 1000:g}µs " if event.time_ns != earlier else ""
        text = Text(f"{entry:>3} ", style="black on yellow" if lit else "dim")
        if when:
            text.append(when, style="magenta")
        text.append(f"{event.kind} ", style="black on yellow" if lit else "cyan")
        text.append(event.where, style="bold" if lit else "")
        if event.detail:
            text.append(f"  {event.detail}", style="" if lit else "dim")
        return hanging_wrap(text, width, INDENT)

    def render_line(self, y: int) -> Strip:
        top = self.scroll_offset.y
        width, height = self._content_width(), self.scrollable_content_region.height
        key = (top, width, height)
        if self._screen is None or self._screen[0] != key:
            strips: list[Strip] = []
            entry, entries = top, 1 + len(self._trace())
            style = self.rich_style  # once for the screen's lines (it walks the ancestors)
            while len(strips) < height and entry < entries:
                lines = self._entry_lines(entry, width)
                strips += (self.strip_of(line, width, style) for line in lines)
                entry += 1
            self._screen = (key, strips)
        strips = self._screen[1]
        return strips[y] if y < len(strips) else Strip.blank(width, self.rich_style)
