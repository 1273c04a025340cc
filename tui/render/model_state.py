"""The model's state after a step, as ``--headless`` prints it, made of the app's own pictures.

One family of pictures serves the app and ``--headless``: the fd table (`FdRows`), each
epoll's interest tree (`TreeShape` drawn by `draw_tree`) and ready list (`ReadyChain`), each
kqueue's knotes (`KqueueView`) and each io_uring's rings (`RingsView`). All are built from the
model's snapshot API (`simulator.observe.Observable`) and never call into the kernel, so
drawing a picture cannot change a trace or a cost. Descriptors are shown by their scenario
names when a `Bindings` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.text import Text

from simulator.observe import EpollSnapshot, KnoteSnapshot, KqueueSnapshot, Observable
from simulator.scenario import vocabulary
from simulator.scenario.calls import Bindings
from simulator.uapi import event_names
from tui.render.fd_rows import (
    HEADING,
    STEP_HEADING,
    FdRows,
    counters_plain,
    free_plain,
    more_plain,
    others_plain,
    row_plain,
)
from tui.render.lines import Line
from tui.render.rbtree_art import CAPTURE_DEPTH, LEGEND, TreeShape, draw_tree
from tui.render.ready_chain import ReadyChain, fd_label
from tui.render.rings import RingsView


def shown_epoll_of(
    kernel: Observable, names: Bindings, wanted: list[str]
) -> tuple[str, int, EpollSnapshot] | None:
    """The first of the `wanted` names that is an open epoll: (``name:fd``, fd, snapshot)."""
    for name in wanted:
        fd = names.fds.get(name)
        if fd is None:
            continue
        ep = kernel.epoll_at(fd, CAPTURE_DEPTH)
        if ep is not None:
            return f"{name}:{fd}", fd, ep
    return None


#: Registrations spelled out under a tree (in words: what each item waits for).
_LISTED = 16
#: Rows of the fd table drawn after each step, then "… N more rows" (the shipped lessons
#: show at most 56): a step's picture costs the same at 10 and at 100,000 descriptors.
SHOWN_ROWS = 64
#: The kinds of file that have a picture of their own under the fd table.
_INSTANCE_KINDS = frozenset({"epoll", "kqueue", "io_uring"})


def is_instance(model: Observable, fd: int) -> bool:
    """Whether descriptor `fd` is an epoll, a kqueue or an io_uring (drawn under the fd
    table). O(1)."""
    file = model.file_at(fd)
    return file is not None and file.kind in _INSTANCE_KINDS


def _registrations(items: list[tuple[int, int]], size: int, names: Bindings) -> Text:
    """``registered: a:3 IN|ET, b:4 OUT`` (the events each item waits for), tree order."""
    text = Text("registered: ", style="dim")
    text.append(", ".join(f"{fd_label(fd, names)} {_mask(events)}" for fd, events in items))
    if size > len(items):
        text.append(f", … {size - len(items):,} more", style="dim")
    return text


def _mask(mask: int) -> str:
    return "|".join(event_names(mask)) or "0"


def _bold_then_dim(bold: str, dim: str) -> Line:
    """``Text.assemble((bold, "bold"), (dim, "dim"))`` as a `Line` (a step's summary)."""
    return Line(bold + dim, "", ((0, len(bold), "bold"), (len(bold), len(bold) + len(dim), "dim")))


def _named(fd: int, names: Bindings | None) -> str:
    name = names.names.get(fd) if names is not None else None
    return f"{name}:{fd}" if name else f"fd {fd}"


class KqueueView:
    """A kqueue's knotes (one per (ident, filter)) and its pending queue, head first."""

    def __init__(self, kq: KqueueSnapshot, names: Bindings | None = None, title: str = "") -> None:
        self.kq = kq
        self.names = names
        self.title = title or f"{kq.label} knotes"

    def _knote(self, kn: KnoteSnapshot) -> str:
        filt = vocabulary.filter_name(kn.filter)
        if kn.fd is not None and filt in ("READ", "WRITE"):
            return f"{fd_label(kn.fd, self.names)} {filt}"
        return f"{filt} {kn.ident}"

    def plain_lines(self) -> list[str]:
        """Its lines, none styled (what `__rich_console__` yields). O(knotes)."""
        knotes = self.kq.knotes
        if not knotes:
            lines = [f"{self.title}: none"]
        else:
            lines = [f"{self.title} ({len(knotes)})"]
            for kn in knotes:
                status = "|".join(kn.status) or "-"
                lines.append(f"  {self._knote(kn)} data={kn.data} [{status}]")
        pending = self.kq.pending
        queue = " -> ".join(self._knote(kn) for kn in pending) if pending else "empty"
        lines.append(f"{self.kq.label} pending: {queue}")
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.plain_lines():
            yield Text(line)


class ModelStateView:
    """The picture after a step: fd table, then each epoll's tree and ready list, each
    kqueue's knotes, each io_uring's rings -- the app's panels, one under the other.

    `instances`, when given, are the descriptors that may be epolls or kqueues (a superset:
    others are skipped), so that drawing costs what is shown; without it every open
    descriptor is looked at, O(open descriptors).

    `focus`, when given, are the descriptors of the step just run (what it named and what it
    returned). A table of more than `SHOWN_ROWS` rows is then summarised (`summarised`): its
    counters and those rows only, and of the epolls and kqueues among them one line each and
    the ready list -- what a reader of thousands of steps follows, at a cost that does not grow
    with the table (``--headless`` draws the whole picture once more after the last step).
    """

    def __init__(
        self,
        model: Observable,
        names: Bindings | None = None,
        instances: Iterable[int] | None = None,
        focus: Iterable[int] | None = None,
    ) -> None:
        self.model = model
        self.names = names or Bindings()
        self.instances = instances
        self.focus = None if focus is None else tuple(focus)
        # Read once, when made (``--headless`` asks, then draws): O(1).
        self._summarised = self.focus is not None and model.highest_fd() + 1 > SHOWN_ROWS

    @property
    def summarised(self) -> bool:
        """Whether this picture is the summary of a step (see the class docstring), as the
        model was when the picture was made. O(1)."""
        return self._summarised

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        model, names = self.model, self.names
        if self.focus is not None and self._summarised:
            focus = self.focus
            yield FdRows.of(model, names, (fd for fd in focus if fd >= 0))
            yield from self._summary(sorted(set(focus)))
            return
        yield FdRows.capture(model, names, SHOWN_ROWS)
        yield from self._instances(options.max_width)

    def _instances(self, width: int) -> Iterator[RenderableType]:
        """Under the whole table: each epoll's tree and ready list, each kqueue's knotes, each
        io_uring's rings, drawn in `width` columns."""
        model, names = self.model, self.names
        seen: set[int] = set()
        candidates = model.open_fds() if self.instances is None else sorted(self.instances)
        for fd in candidates:
            file = model.file_at(fd)
            if file is None or file.file_id in seen:
                continue
            if file.kind == "epoll":
                ep = model.epoll_at(fd, CAPTURE_DEPTH)
                assert ep is not None
                seen.add(file.file_id)
                shape = TreeShape.capture(ep, lambda n: fd_label(n, names))
                plural = "s" if ep.size != 1 else ""
                yield Text.assemble(
                    (f"interest tree of {_named(fd, names)}", "bold"),
                    (f"  {ep.size:,} item{plural}", "dim"),
                )
                yield from draw_tree(shape, width)
                if ep.size:
                    yield Text(LEGEND, style="dim")
                    yield _registrations(model.interest_list(fd, _LISTED), ep.size, names)
                yield ReadyChain.capture(ep, names)
            elif file.kind == "kqueue":
                kq = model.kqueue_at(fd)
                assert kq is not None
                seen.add(file.file_id)
                yield KqueueView(kq, names, f"{_named(fd, names)} knotes")
            elif file.kind == "io_uring":
                ring = model.io_uring_at(fd)
                assert ring is not None
                seen.add(file.file_id)
                yield RingsView(ring, names, _named(fd, names))

    def _summary(self, candidates: Iterable[int]) -> Iterator[Line | ReadyChain]:
        """Under a step's own rows: of the epolls, kqueues and io_urings among `candidates`
        (the step's descriptors, in order; others are skipped), a line each, and an epoll's
        ready list."""
        model, names = self.model, self.names
        seen: set[int] = set()
        for fd in candidates:
            file = model.file_at(fd) if fd >= 0 else None
            if file is None or file.file_id in seen or file.kind not in _INSTANCE_KINDS:
                continue
            seen.add(file.file_id)
            if file.kind == "epoll":
                ep = model.epoll_at(fd, 1)
                assert ep is not None
                plural = "s" if ep.size != 1 else ""
                yield _bold_then_dim(
                    f"interest tree of {_named(fd, names)}",
                    f"  {ep.size:,} item{plural}, drawn after the last step",
                )
                yield ReadyChain.capture(ep, names)
            elif file.kind == "kqueue":
                kq = model.kqueue_at(fd)
                assert kq is not None
                yield _bold_then_dim(
                    f"{_named(fd, names)} knotes",
                    f"  {len(kq.knotes):,}, drawn after the last step",
                )
            else:
                ring = model.io_uring_at(fd)
                assert ring is not None
                yield _bold_then_dim(
                    f"{_named(fd, names)} (io_uring)",
                    f"  SQ {ring.sq_tail - ring.sq_head} queued, "
                    f"CQ {ring.cq_tail - ring.cq_head} to reap, "
                    f"{len(ring.in_flight)} in flight, drawn after the last step",
                )

    def plain_lines(self, width: int) -> list[str] | None:
        """The characters of the lines this picture draws in `width` columns, without their
        styles, for ``--headless`` without colour (`tui.render.step.StepView.plain`, which
        checks that each prints as it is); None when it holds what only rich lays out (an
        io_uring's rings). The rows are read straight from the model's table
        (`Observable.fd_rows`: no snapshot object, no `Line`). A summary costs O(the step's
        descriptors); a whole picture O(`SHOWN_ROWS` + what its instances draw)."""
        model, name = self.model, self.names.names.get
        table = model.fd_table()
        lines = [counters_plain(table.open, table.nofile)]
        if self.focus is not None and self._summarised:
            fds = sorted({fd for fd in self.focus if fd >= 0})
            rows = model.fd_rows(fds)
            lines.append(STEP_HEADING)
            instances = []
            for fd, row in zip(fds, rows, strict=True):
                if row is None:
                    lines.append(free_plain(fd))
                else:
                    label, kind, refs, queued = row
                    lines.append(row_plain(fd, name(fd, ""), label, refs, queued))
                    if kind in _INSTANCE_KINDS:
                        instances.append(fd)
            lines.append(others_plain(model.highest_fd() + 1 - len(fds)))
            parts: Iterable[RenderableType] = self._summary(instances) if instances else ()
        else:
            total = model.highest_fd() + 1
            shown = min(total, SHOWN_ROWS)
            lines.append(HEADING)
            for fd, row in enumerate(model.fd_rows(range(shown))):
                if row is None:
                    lines.append(free_plain(fd))
                else:
                    label, _, refs, queued = row
                    lines.append(row_plain(fd, name(fd, ""), label, refs, queued))
            if total > shown:
                lines.append(more_plain(total - shown))
            parts = self._instances(width)
        for part in parts:
            made = type(part)
            if made is Line or made is Text:
                lines.append(cast("Line | Text", part).plain)
            elif made is ReadyChain or made is KqueueView:
                lines += cast("ReadyChain | KqueueView", part).plain_lines()
            else:
                return None  # (an io_uring's rings: a picture of rich's)
        return lines


__all__ = ["SHOWN_ROWS", "KqueueView", "ModelStateView", "is_instance", "shown_epoll_of"]
