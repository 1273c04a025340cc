"""Who waits where: the wait queues of an epoll and of the scenario's named files.

A wait queue entry is a wake function plus an owner: a thread asleep in ``epoll_wait`` on
``ep->wq``, an ``ep_poll_callback`` hooked on a socket by ``epoll_ctl``, a ``pollwake`` hooked
by poll/select for one call. Captured rows are detached from the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text

from simulator.observe import EpollSnapshot, Observable, WaitQueueSnapshot
from simulator.scenario.calls import Bindings

FOCUS = Style(color="black", bgcolor="yellow", bold=True)


@dataclass(frozen=True)
class QueueRow:
    """One wait queue: its kernel name, what it belongs to, and its entries head first."""

    name: str
    owner: str
    entries: tuple[tuple[str, bool], ...]  #: (label, exclusive)


@dataclass(frozen=True)
class WaitQueuesPicture:
    rows: tuple[QueueRow, ...]
    hidden: int = 0  #: queues left out
    focus: str | None = None  #: the queue a micro-step is touching

    @classmethod
    def capture(
        cls,
        model: Observable,
        names: Bindings,
        ep: EpollSnapshot | None = None,
        limit: int = 8,
        first: frozenset[str] = frozenset(),
    ) -> WaitQueuesPicture:
        """The epoll's two queues, then each named file's queue (fd order, the files labelled
        in `first` -- those threads sleep on -- before the others), at most `limit`."""
        rows: list[QueueRow] = []
        if ep is not None:
            rows.append(_row(ep.wq, f"{ep.label}.wq (epoll_wait)"))
            rows.append(_row(ep.poll_wait, f"{ep.label}.poll_wait"))
        seen: set[int] = {ep.file_id} if ep is not None else set()
        candidates = 0
        fds = sorted(names.names)
        if first:
            fds.sort(key=lambda fd: _label_of(model, fd) not in first)  # stable: fd order kept
        for fd in fds:
            file = model.file_at(fd)
            if file is None or file.file_id in seen:
                continue
            seen.add(file.file_id)
            candidates += 1
            if len(rows) < limit:
                queue = model.wait_queue_of(fd)
                assert queue is not None  # the file is open
                rows.append(_row(queue, f"{fd_name(fd, names)} {file.label}.wq"))
        shown = len(rows) - (2 if ep is not None else 0)
        return cls(tuple(rows), max(0, candidates - shown))

    def with_focus(self, where: str | None) -> WaitQueuesPicture:
        return WaitQueuesPicture(self.rows, self.hidden, where)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for row in self.rows:
            line = Text(row.owner, style=FOCUS if row.name == self.focus else "bold")
            line.append(" ▸ ", style="grey62")
            if not row.entries:
                line.append("∅", style="dim")
            for i, (label, exclusive) in enumerate(row.entries):
                if i:
                    line.append(" → ", style="grey62")
                line.append(label + (" (excl)" if exclusive else ""))
            yield line
        if self.hidden:
            yield Text(f"… {self.hidden} more queues", style="dim")


def _label_of(model: Observable, fd: int) -> str | None:
    file = model.file_at(fd)
    return file.label if file is not None else None


def fd_name(fd: int, names: Bindings) -> str:
    name = names.names.get(fd)
    return f"{name}:{fd}" if name else f"fd {fd}"


def _row(queue: WaitQueueSnapshot, owner: str) -> QueueRow:
    return QueueRow(queue.name, owner, queue.entries)
