"""The process's fd table, with gauges against RLIMIT_NOFILE and fs.file-max.

Rows are descriptor numbers from 0 to the highest open one, under a header of counters and
gauges that wraps to the width (it is never cut short). The view is line-API and, at rest,
reads the model only for the rows on screen (``Observable.file_at(fd)`` per row), so a table of
a hundred thousand descriptors repaints as fast as one of ten (see `Observable.highest_fd` for
the one lookup that is not bounded). During an animation it draws the table captured at the
micro-step instead (`Frame.fds`, a `FdRows`).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.reactive import var

from simulator.observe import TraceEvent, TraceKind
from tui.frame import Frame
from tui.render.fd_rows import QUEUED_COLUMN, FdRows, read_row, row_text
from tui.widgets.lines import LinesView, hanging_wrap
from tui.widgets.ready_list import event_fd


def gauge(used: int, limit: int, width: int = 16) -> Text:
    """``▕████░░░░▏`` filled in proportion, red when full."""
    fraction = 0.0 if limit <= 0 else min(1.0, used / limit)
    filled = round(fraction * width)
    style = "red" if used >= limit else "yellow" if fraction > 0.75 else "green"
    return Text.assemble(
        ("▕", "grey62"), ("█" * filled, style), ("░" * (width - filled), "grey35"), ("▏", "grey62")
    )


class FdTable(LinesView):
    """Gauges, a column header, then one row per descriptor number."""

    DEFAULT_CSS = """
    FdTable {
        height: 1fr;
        min-height: 4;
        padding: 0 1;
    }
    """

    frame: var[Frame | None] = var(None, always_update=True, init=False)
    """The frame on screen."""
    event: var[TraceEvent | None] = var(None, always_update=True, init=False)
    """The micro-step being animated (fd allocations and releases light their row)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows = 0
        self._header: list[Text] = []
        self._header_width = -1
        self._hidden = 0

    def watch_frame(self, frame: Frame | None) -> None:
        self._hidden = 0
        if frame is None:
            self._rows = 0
        elif frame.fds is not None:
            self._rows = len(frame.fds.rows)
            self._hidden = frame.fds.total_rows - self._rows
        else:
            self._rows = frame.kernel.highest_fd() + 1 if frame.kernel is not None else 0
        self._header = self._make_header(self._content_width())
        self.reset()

    def watch_event(self) -> None:
        self.reset()

    def line_count(self) -> int:
        return len(self._header) + self._rows + len(self._footer())

    def _lit_fd(self) -> int | None:
        event = self.event
        if event is None or event.kind not in (TraceKind.FD_ALLOC, TraceKind.FD_RELEASE):
            return None
        return event_fd(event)

    def _table(self) -> FdRows | None:
        """The counters to show: captured at the micro-step, else read from the model now."""
        frame = self.frame
        if frame is None:
            return None
        if frame.fds is not None:
            return frame.fds
        kernel = frame.kernel
        if kernel is None:
            return None
        return FdRows.counters(kernel)

    def _make_header(self, width: int) -> list[Text]:
        """The counters, gauges and column names, wrapped to `width` (read from the model
        now, so not while `frozen`)."""
        self._header_width = width
        table = self._table()
        if table is None:
            return [Text("no model", style="dim")]
        opened = Text.assemble(
            ("fd table ", "bold"), (f"{table.open:,} open / RLIMIT_NOFILE {table.nofile:,}", "")
        )
        # The capacity is the point of this line: the gauge shrinks to leave it room.
        cap = f" cap {table.capacity:,}"
        bar = max(4, min(24, width - len(cap) - 2))
        capacity = Text.assemble(gauge(table.open, table.nofile, bar), (cap, "dim"))
        limit = "∞" if table.file_max >= 2**62 else f"{table.file_max:,}"
        files = Text(f"files {table.nr_files:,} / file-max {limit}")
        if table.file_max < 2**62:
            files.append(" ")
            files.append_text(gauge(table.nr_files, table.file_max))
        # Too narrow for the whole column header, "queued" goes under it, over its column.
        columns = Text(f"{'fd':>5} {'name':<8} {'file':<8} refs queued", "dim")
        indent = max(0, min(QUEUED_COLUMN, width - len("queued")))
        return self._wrap((opened, capacity, files), width) + hanging_wrap(columns, width, indent)

    def _footer(self) -> list[Text]:
        """Under a captured table: how many rows it left out."""
        if not self._hidden:
            return []
        note = Text(f"… {self._hidden:,} more rows, shown when the step ends", style="dim")
        return self._wrap([note], self._content_width())

    def _wrap(self, lines: Iterable[Text], width: int) -> list[Text]:
        wrapped: list[Text] = []
        for line in lines:
            wrapped += line.wrap(self.app.console, width) if line.cell_len > width else [line]
        return wrapped

    def make_line(self, index: int, width: int) -> Text:
        frame = self.frame
        if frame is None or self._table() is None:
            return Text("no model" if index == 0 else "", style="dim")
        if width != self._header_width:
            # A resize, or a scrollbar that came or went: the header wraps differently.
            self._header = self._make_header(width)
            self.call_after_refresh(self.fit_canvas)
        header = len(self._header)
        if index < header:
            return self._header[index]
        fd = index - header
        if fd >= self._rows:
            return self._footer()[fd - self._rows]
        if frame.fds is not None:
            row = frame.fds.rows[fd]
        else:
            assert frame.kernel is not None
            row = read_row(frame.kernel, frame.names, fd)
        line = row_text(fd, row)
        if fd == self._lit_fd():
            line.stylize("black on yellow")
        return line
