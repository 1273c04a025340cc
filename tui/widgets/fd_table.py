"""The process's fd table, with gauges against RLIMIT_NOFILE and fs.file-max.

Rows are descriptor numbers from 0 to the highest open one; the view is line-API and reads
the model only for the rows on screen (``fdt.lookup(fd)`` per row), so a table of a hundred
thousand descriptors repaints as fast as one of ten (see `highest_fd` for the one lookup that
is not bounded).
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from simulator.kernel import ModelKernel
from simulator.kernel.trace import TraceEvent, TraceKind
from tui.frame import Frame
from tui.widgets.lines import LinesView
from tui.widgets.ready_list import event_fd

HEADER_LINES = 4
_SCAN_LIMIT = 64


def gauge(used: int, limit: int, width: int = 16) -> Text:
    """``▕████░░░░▏`` filled in proportion, red when full."""
    fraction = 0.0 if limit <= 0 else min(1.0, used / limit)
    filled = round(fraction * width)
    style = "red" if used >= limit else "yellow" if fraction > 0.75 else "green"
    return Text.assemble(
        ("▕", "grey62"), ("█" * filled, style), ("░" * (width - filled), "grey35"), ("▏", "grey62")
    )


def highest_fd(kernel: ModelKernel) -> int:
    """The highest open descriptor (-1 if none).

    The few numbers just below the table's capacity are tried first (a table grows by
    doubling, so after a burst of opens the top is often there); otherwise ``max`` runs over
    the table's keys in C, about a millisecond per hundred thousand descriptors.
    """
    fdt = kernel.fdt
    for fd in range(fdt.capacity - 1, max(-1, fdt.capacity - 1 - _SCAN_LIMIT), -1):
        if fdt.lookup(fd) is not None:
            return fd
    return max(fdt.slots, default=-1)


class FdTable(LinesView):
    """Gauges, a column header, then one row per descriptor number."""

    DEFAULT_CSS = """
    FdTable {
        height: 1fr;
        min-height: 4;
        padding: 0 1;
    }
    """

    frame: reactive[Frame | None] = reactive(None, always_update=True, init=False)
    """The frame on screen."""
    event: reactive[TraceEvent | None] = reactive(None, always_update=True, init=False)
    """The micro-step being animated (fd allocations and releases light their row)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows = 0

    def watch_frame(self, frame: Frame | None) -> None:
        self._rows = highest_fd(frame.kernel) + 1 if frame is not None and frame.kernel else 0
        self.reset()

    def watch_event(self) -> None:
        self.reset()

    def line_count(self) -> int:
        return HEADER_LINES + self._rows

    def _lit_fd(self) -> int | None:
        event = self.event
        if event is None or event.kind not in (TraceKind.FD_ALLOC, TraceKind.FD_RELEASE):
            return None
        return event_fd(event)

    def make_line(self, index: int, width: int) -> Text:
        frame = self.frame
        kernel = frame.kernel if frame is not None else None
        if kernel is None:
            return Text("no model" if index == 0 else "", style="dim")
        fdt, fs = kernel.fdt, kernel.fs
        if index == 0:
            return Text.assemble(
                ("fd table ", "bold"), (f"{len(fdt):,} open / RLIMIT_NOFILE {fdt.nofile:,}", "")
            )
        if index == 1:
            # The capacity is the point of this line: the gauge shrinks to leave it room.
            cap = f" cap {fdt.capacity:,}"
            bar = max(4, min(24, width - len(cap) - 2))
            return Text.assemble(gauge(len(fdt), fdt.nofile, bar), (cap, "dim"))
        if index == 2:
            limit = "∞" if fs.file_max >= 2**62 else f"{fs.file_max:,}"
            text = Text(f"files {fs.nr_files:,} / file-max {limit} ")
            if fs.file_max < 2**62:
                text.append_text(gauge(fs.nr_files, fs.file_max))
            return text
        if index == 3:
            return Text(f"{'fd':>6} {'name':<8} {'file':<8} refs queued", "dim")
        fd = index - HEADER_LINES
        file = fdt.lookup(fd)
        lit = fd == self._lit_fd()
        if file is None:
            return Text(f"{fd:>6} (free)", style="black on yellow" if lit else "grey42")
        name = frame.names.names.get(fd, "") if frame is not None else ""
        queued = getattr(file, "rcv_bytes", None)
        line = Text(
            f"{fd:>6} {name[:8]:<8} {file.label[:8]:<8} "
            f"{getattr(file, 'f_count', 1):>4} {'' if queued is None else f'{queued:,} B'}"
        )
        if lit:
            line.stylize("black on yellow")
        return line
