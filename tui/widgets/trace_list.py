"""The step's micro-steps (its trace), one per line, with the animation's cursor.

A trace can be long (``fill`` on TCP, an ``epoll_wait`` over a million ready items), so this
is a line-API view: only the lines on screen are formatted.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from tui.frame import Frame
from tui.widgets.lines import LinesView


class TraceList(LinesView):
    """``seq  time  kind  where  detail`` per micro-step; the current one is lit."""

    DEFAULT_CSS = """
    TraceList {
        height: 1fr;
        min-height: 3;
        padding: 0 1;
    }
    """

    frame: reactive[Frame | None] = reactive(None, always_update=True, init=False)
    """The frame on screen."""
    micro: reactive[int | None] = reactive(None, always_update=True, init=False)
    """The micro-step being animated (None: at rest, nothing lit)."""

    def watch_frame(self) -> None:
        self.reset()
        self.scroll_to(y=0, animate=False)

    def watch_micro(self, micro: int | None) -> None:
        self.reset()
        if micro is not None:
            top = self.scroll_offset.y
            height = self.scrollable_content_region.height
            line = micro + 1
            if not top <= line < top + height:
                self.scroll_to(y=max(0, line - height // 2), animate=False)

    def line_count(self) -> int:
        frame = self.frame
        return 1 + (len(frame.trace) if frame is not None else 0)

    def make_line(self, index: int, width: int) -> Text:
        frame = self.frame
        trace = frame.trace if frame is not None else ()
        if index == 0:
            text = Text(f"micro-steps of this call: {len(trace):,}", style="bold")
            if self.micro is not None:
                text.append(f"  ▶ {self.micro + 1}/{len(trace)}", style="yellow")
            return text
        event = trace[index - 1]
        lit = self.micro == index - 1
        earlier = trace[index - 2].time_ns if index >= 2 else 0
        when = f"@{event.time_ns / 1000:g}µs " if event.time_ns != earlier else ""
        text = Text(f"{index:>3} ", style="black on yellow" if lit else "dim")
        if when:
            text.append(when, style="magenta")
        text.append(f"{event.kind} ", style="black on yellow" if lit else "cyan")
        text.append(event.where, style="bold" if lit else "")
        if event.detail:
            text.append(f"  {event.detail}", style="" if lit else "dim")
        return text
