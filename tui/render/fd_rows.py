"""The fd table's rows as text, read from the model or from a detached capture (`FdRows`).

At rest the player's fd table reads the model lazily, one row per line on screen, so a table
of a hundred thousand descriptors costs what one of ten does. A micro-step of an animation is
over as soon as the model's call returns, so its table is captured while the call runs: the
counters and the first `CAPTURE_ROWS` rows (`FdRows.capture`), which the view draws instead.
Both paths format rows with `row_text`, so a captured row looks exactly like a live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from simulator.scenario.calls import Bindings

#: Rows a capture keeps (a micro-step's table shows these and a count of the rest).
CAPTURE_ROWS = 128
_SCAN_LIMIT = 64

#: Where a row's queued bytes start (after the fd, name, file and refs columns).
QUEUED_COLUMN = 30

#: (name, file label, refs, queued bytes or None) of an open descriptor; None: a free number.
Row = tuple[str, str, int, int | None] | None


def highest_fd(kernel: Any) -> int:
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


def read_row(kernel: Any, names: Bindings, fd: int) -> Row:
    """Descriptor `fd`'s row, read from the model now."""
    file = kernel.fdt.lookup(fd)
    if file is None:
        return None
    return (
        names.names.get(fd, ""),
        file.label,
        getattr(file, "f_count", 1),
        getattr(file, "rcv_bytes", None),
    )


def row_text(fd: int, row: Row) -> Text:
    """``    3 a        unix1       1 5 B``, or ``    9 (free)``."""
    if row is None:
        return Text(f"{fd:>5} (free)", style="grey42")
    name, label, refs, queued = row
    bytes_queued = "" if queued is None else f"{queued:,} B"
    return Text(f"{fd:>5} {name[:8]:<8} {label[:8]:<8} {refs:>4} {bytes_queued}")


@dataclass(frozen=True)
class FdRows:
    """A detached fd table: its counters and its first rows (see the module docstring)."""

    open: int
    nofile: int
    capacity: int
    nr_files: int
    file_max: int
    rows: tuple[Row, ...]  #: descriptors 0, 1, ... up to the highest open one, at most CAPTURE_ROWS
    total_rows: int  #: rows the whole table has (highest open descriptor + 1)

    @classmethod
    def capture(cls, kernel: Any, names: Bindings, limit: int = CAPTURE_ROWS) -> FdRows:
        """O(limit) lookups, however many descriptors are open."""
        fdt, fs = kernel.fdt, kernel.fs
        total = highest_fd(kernel) + 1
        rows = tuple(read_row(kernel, names, fd) for fd in range(min(total, limit)))
        return cls(len(fdt), fdt.nofile, fdt.capacity, fs.nr_files, fs.file_max, rows, total)


__all__ = ["CAPTURE_ROWS", "QUEUED_COLUMN", "FdRows", "Row", "highest_fd", "read_row", "row_text"]
