"""The fd table's rows as text, read from the model or from a detached capture (`FdRows`).

At rest the player's fd table reads the model lazily, one row per line on screen, so a table
of a hundred thousand descriptors costs what one of ten does. A micro-step of an animation is
over as soon as the model's call returns, so its table is captured while the call runs: the
counters and the first `CAPTURE_ROWS` rows (`FdRows.capture`), which the view draws instead.
Both paths format rows with `row_text`, so a captured row looks exactly like a live one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from simulator.observe import Observable
from simulator.scenario.calls import Bindings
from tui.render.lines import Line

#: Rows a capture keeps (a micro-step's table shows these and a count of the rest).
CAPTURE_ROWS = 128

#: Where a row's queued bytes start (after the fd, name, file and refs columns).
QUEUED_COLUMN = 30

#: (name, file label, refs, queued bytes or None) of an open descriptor; None: a free number.
Row = tuple[str, str, int, int | None] | None


def read_row(kernel: Observable, names: Bindings, fd: int) -> Row:
    """Descriptor `fd`'s row, read from the model now (its snapshot API)."""
    file = kernel.file_at(fd)
    if file is None:
        return None
    return (names.names.get(fd, ""), file.label, file.refs, file.queued)


def row_plain(fd: int, name: str, label: str, refs: int, queued: int | None) -> str:
    """``    3 a        unix1       1 5 B``: open descriptor `fd`'s row, named `name` (the one
    place a row's text is made)."""
    bytes_queued = "" if queued is None else f"{queued:,} B"
    return f"{fd:>5} {name[:8]:<8} {label[:8]:<8} {refs:>4} {bytes_queued}"


def free_plain(fd: int) -> str:
    """``    9 (free)``: a free number's row."""
    return f"{fd:>5} (free)"


def row_line(fd: int, row: Row) -> Line:
    """``    3 a        unix1       1 5 B``, or ``    9 (free)`` in grey."""
    if row is None:
        return Line(free_plain(fd), "grey42")
    return Line(row_plain(fd, *row))


def row_text(fd: int, row: Row) -> Text:
    """`row_line` as a rich `Text` (the app's fd table)."""
    return row_line(fd, row).__rich__()


#: The columns' heading, of the whole table and of a step's rows (a `Line` is never changed).
HEADING = f"{'fd':>5} {'name':<8} {'file':<8} refs queued"
STEP_HEADING = f"{HEADING}   (this step's rows)"
_HEADING = Line(HEADING, "dim")
_STEP_HEADING = Line(STEP_HEADING, "dim")


def counters_plain(open_fds: int, nofile: int) -> str:
    """The table's first line (``fd table`` is bold)."""
    return f"fd table {open_fds:,} open / RLIMIT_NOFILE {nofile:,}"


def others_plain(others: int) -> str:
    """The last line of a step's own rows (`FdRows.of`): the rows not shown. One cell a
    character (``…`` takes one)."""
    return f"… {others:,} other rows (the table is drawn after the last step)"


def more_plain(more: int) -> str:
    """The last line of a table cut after its first rows. One cell a character."""
    return f"… {more:,} more rows"


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
    #: The descriptors `rows` are, when they are chosen ones (`FdRows.of`) rather than the first.
    fds: tuple[int, ...] | None = None

    @classmethod
    def capture(cls, kernel: Observable, names: Bindings, limit: int = CAPTURE_ROWS) -> FdRows:
        """O(limit) lookups, however many descriptors are open."""
        table = kernel.fd_table()
        total = kernel.highest_fd() + 1
        rows = tuple(read_row(kernel, names, fd) for fd in range(min(total, limit)))
        return cls(
            table.open, table.nofile, table.capacity, table.nr_files, table.file_max, rows, total
        )

    @classmethod
    def of(cls, kernel: Observable, names: Bindings, fds: Iterable[int]) -> FdRows:
        """The counters and the rows of the descriptors `fds` alone (a step's own, in a table
        too long to draw at every step): O(len(fds)) lookups."""
        table = kernel.fd_table()
        chosen = tuple(sorted(set(fds)))
        rows = tuple(read_row(kernel, names, fd) for fd in chosen)
        total = kernel.highest_fd() + 1
        return cls(
            table.open, table.nofile, table.capacity, table.nr_files, table.file_max, rows, total,
            chosen,
        )  # fmt: skip

    @classmethod
    def counters(cls, kernel: Observable) -> FdRows:
        """The counters alone (O(1)): the rows are read lazily, line by line."""
        t = kernel.fd_table()
        return cls(t.open, t.nofile, t.capacity, t.nr_files, t.file_max, (), 0)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The table as ``--headless`` prints it: counters, then the captured rows."""
        yield from self.lines()

    def lines(self) -> list[Line]:
        """The table's lines (what `__rich_console__` yields). O(rows)."""
        counters = counters_plain(self.open, self.nofile)
        lines = [Line(counters, "", ((0, 9, "bold"),))]  # "fd table " in bold
        if self.fds is not None:
            lines.append(_STEP_HEADING)
            lines += [row_line(fd, row) for fd, row in zip(self.fds, self.rows, strict=True)]
            lines.append(Line(others_plain(self.total_rows - len(self.rows)), "dim"))
            return lines
        lines.append(_HEADING)
        lines += [row_line(fd, row) for fd, row in enumerate(self.rows)]
        if self.total_rows > len(self.rows):
            lines.append(Line(more_plain(self.total_rows - len(self.rows)), "dim"))
        return lines


__all__ = [
    "CAPTURE_ROWS",
    "HEADING",
    "QUEUED_COLUMN",
    "STEP_HEADING",
    "FdRows",
    "Row",
    "counters_plain",
    "free_plain",
    "more_plain",
    "others_plain",
    "read_row",
    "row_line",
    "row_plain",
    "row_text",
]
