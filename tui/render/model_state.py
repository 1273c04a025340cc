"""Pictures of the model's structures: the fd table, each epoll's interest tree and ready list.

They read only the model's views (`ModelKernel.fds`, `EventPoll.rbr` / `ready_items`) and never
call into the kernel, so drawing a picture cannot change a trace or a cost. Descriptors are
shown by their scenario names (``a (fd 3)``) when a `Bindings` is given.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from simulator.kernel import ModelKernel
from simulator.kernel.eventpoll import EpItem, EventPoll
from simulator.kernel.rbtree import RBNode
from simulator.scenario import vocabulary
from simulator.scenario.calls import Bindings
from simulator.uapi import event_names

#: Beyond this many nodes a tree is summarised instead of drawn.
MAX_TREE_NODES = 32


def _fd_label(fd: int, names: Bindings | None) -> str:
    name = names.names.get(fd) if names is not None else None
    return f"{name} (fd {fd})" if name else f"fd {fd}"


def _mask(mask: int) -> str:
    return "|".join(event_names(mask)) or "0"


class FdTableView:
    """The process's descriptor table: number, name, open file, kind, references."""

    def __init__(self, model: ModelKernel, names: Bindings | None = None) -> None:
        self.model = model
        self.names = names

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(title="fd table", title_justify="left", box=None, pad_edge=False)
        for column in ("fd", "name", "file", "kind", "refs", "queued"):
            table.add_column(column, justify="right" if column in ("fd", "refs") else "left")
        for fd, file in self.model.fds().items():
            if fd <= 2:
                continue  # stdin/stdout/stderr: always there, never interesting here
            name = self.names.names.get(fd, "") if self.names else ""
            queued = getattr(file, "rcv_bytes", None)
            table.add_row(
                str(fd),
                name,
                file.label,
                file.kind,
                str(file.f_count),
                "" if queued is None else f"{queued} B",
            )
        if table.row_count == 0:
            yield Text("fd table: only 0, 1, 2 open")
        else:
            yield table


class InterestTreeView:
    """An epoll's interest list as the red-black tree it is (``ep->rbr``), keyed (file, fd)."""

    def __init__(self, ep: EventPoll, names: Bindings | None = None, title: str = "") -> None:
        self.ep = ep
        self.names = names
        self.title = title or f"{ep.label} interest tree"

    def _node_label(self, node: RBNode[tuple[int, int], EpItem]) -> Text:
        item = node.value
        colour = "R" if node.red else "B"
        text = Text(f"[{colour}] ", style="red" if node.red else "bold")
        text.append(f"{_fd_label(item.fd, self.names)} {item.file.label} {_mask(item.events)}")
        if item.ready:
            text.append(" *ready*", style="green")
        return text

    def _add(self, tree: Tree, node: RBNode[tuple[int, int], EpItem] | None, side: str) -> None:
        if node is None:
            return
        branch = tree.add(Text(f"{side} ").append_text(self._node_label(node)))
        if node.left is not None or node.right is not None:
            self._add(branch, node.left, "L")
            self._add(branch, node.right, "R")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        size = len(self.ep.rbr)
        root = self.ep.rbr.root
        if root is None:
            yield Text(f"{self.title}: empty")
            return
        if size > MAX_TREE_NODES:
            yield Text(f"{self.title}: {size} items, height {self.ep.rbr.height()}")
            return
        tree = Tree(Text(f"{self.title} ({size})"), guide_style="dim")
        branch = tree.add(self._node_label(root))
        self._add(branch, root.left, "L")
        self._add(branch, root.right, "R")
        yield tree


class ReadyListView:
    """An epoll's ready list (``ep->rdllist``), head first."""

    def __init__(self, ep: EventPoll, names: Bindings | None = None) -> None:
        self.ep = ep
        self.names = names

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        items = self.ep.ready_items()
        text = Text(f"{self.ep.label} ready list: ")
        if not items:
            text.append("empty")
        else:
            text.append("head -> ")
            text.append(" -> ".join(_fd_label(item.fd, self.names) for item in items))
        yield text


class KqueueView:
    """A kqueue's knotes (one per (ident, filter)) and its pending queue, head first.

    Reads the kqueue through ``knotes()`` and ``pending()`` and each knote's ``ident``,
    ``filter``, ``data`` and ``status_names()``; `Any` because the view only needs that shape.
    """

    def __init__(self, kq: Any, names: Bindings | None = None, title: str = "") -> None:
        self.kq = kq
        self.names = names
        self.title = title or f"{kq.label} knotes"

    def _knote(self, kn: Any) -> str:
        filt = vocabulary.filter_name(kn.filter)
        if filt in ("READ", "WRITE"):
            return f"{_fd_label(kn.ident, self.names)} {filt}"
        return f"{filt} {kn.ident}"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        knotes = self.kq.knotes()
        if not knotes:
            yield Text(f"{self.title}: none")
        else:
            yield Text(f"{self.title} ({len(knotes)})")
            for kn in knotes:
                status = "|".join(kn.status_names()) or "-"
                yield Text(f"  {self._knote(kn)} data={kn.data} [{status}]")
        pending = self.kq.pending()
        text = Text(f"{self.kq.label} pending: ")
        text.append(" -> ".join(self._knote(kn) for kn in pending) if pending else "empty")
        yield text


class ModelStateView:
    """The compact picture after a step: fd table, then each epoll's tree and ready list."""

    def __init__(self, model: ModelKernel, names: Bindings | None = None) -> None:
        self.model = model
        self.names = names

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts: list[RenderableType] = [FdTableView(self.model, self.names)]
        seen: set[int] = set()
        for fd, file in self.model.fds().items():
            if isinstance(file, EventPoll) and file.file_id not in seen:
                seen.add(file.file_id)
                title = f"{_fd_label(fd, self.names)} interest tree"
                parts.append(InterestTreeView(file, self.names, title))
                parts.append(ReadyListView(file, self.names))
            elif file.kind == "kqueue" and hasattr(file, "knotes") and file.file_id not in seen:
                seen.add(file.file_id)
                title = f"{_fd_label(fd, self.names)} knotes"
                parts.append(KqueueView(file, self.names, title))
        yield Group(*parts)
