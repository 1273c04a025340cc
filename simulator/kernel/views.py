"""The model's snapshot API (`simulator.observe.Observable`): frozen pictures of its structures.

`ModelViews` is mixed into `ModelKernel`. Its methods read the fd table, epoll instances, wait
queues, kqueues and the NIC, and copy what a viewer draws into the frozen dataclasses of
`simulator.observe`, so the TUI never reaches into ``fdt``, ``rbr``, ``clock`` or ``f_count``
(nor imports this package). Each costs what it copies: the top `depth` levels of a tree, the
first `limit` items of a list, O(log n) for a lookup path.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING, Any

from simulator.kernel.eventpoll import EpItem, EventPoll, ep_key
from simulator.kernel.io_uring import IoRing
from simulator.kernel.iocp import CompletionPort
from simulator.kernel.kqueue import Knote, KQueue
from simulator.kernel.waitqueue import WaitQueue
from simulator.observe import (
    RING_SLOTS_SHOWN,
    EpollSnapshot,
    FdRow,
    FdTableSnapshot,
    FileSnapshot,
    IocpSnapshot,
    IoUringSnapshot,
    Key,
    KnoteSnapshot,
    KqueueSnapshot,
    NicSnapshot,
    ThreadSnapshot,
    ThreadsSnapshot,
    TreeNodeSnapshot,
    WaitQueueSnapshot,
)

if TYPE_CHECKING:
    from simulator.kernel.clock import Clock
    from simulator.kernel.nic import Nic
    from simulator.kernel.sched import Scheduler, Task
    from simulator.kernel.vfs import FdTable, FileSystem

#: The highest descriptor is looked for among this many numbers below the table's high-water
#: mark first (every number at or above it is free, and numbers are handed out lowest first,
#: so the top is nearly always there).
_SCAN_LIMIT = 64


class ModelViews:
    """The read-only snapshot API of `ModelKernel` (see the module docstring)."""

    fdt: FdTable
    fs: FileSystem
    nic: Nic
    clock: Clock
    calls: int
    sched: Scheduler

    def fd_table(self) -> FdTableSnapshot:
        """The table's counters. O(1)."""
        fdt, fs = self.fdt, self.fs
        return FdTableSnapshot(len(fdt), fdt.nofile, fdt.capacity, fs.nr_files, fs.file_max)

    def highest_fd(self) -> int:
        """The highest open descriptor, -1 if none: the few numbers below the table's
        high-water mark first (O(1) unless the top was closed), else ``max`` over the table's
        keys (in C, about a millisecond per hundred thousand descriptors)."""
        fdt = self.fdt
        top = fdt._high - 1  # every number above it is free
        for fd in range(top, max(-1, top - _SCAN_LIMIT), -1):
            if fdt.lookup(fd) is not None:
                return fd
        return max(fdt.slots, default=-1)

    def file_at(self, fd: int) -> FileSnapshot | None:
        """Descriptor `fd`'s file, or None when the number is free. O(1)."""
        file = self.fdt.lookup(fd)
        if file is None:
            return None
        queued = getattr(file, "rcv_bytes", None)  # sockets only
        return FileSnapshot(fd, file.file_id, file.label, file.kind, file.f_count, queued)

    def fd_rows(self, fds: Iterable[int]) -> list[FdRow | None]:
        """The rows of descriptors `fds` (see `simulator.observe.Observable.fd_rows`): what
        `file_at` reads, as tuples, for a printer that makes no snapshot object. O(len(fds))."""
        lookup = self.fdt.lookup
        rows: list[FdRow | None] = []
        for fd in fds:
            file = lookup(fd)
            rows.append(
                None
                if file is None
                else (file.label, file.kind, file.f_count, getattr(file, "rcv_bytes", None))
            )
        return rows

    def open_fds(self) -> list[int]:
        """Every open descriptor, in order."""
        fdt = self.fdt
        return [fd for fd in sorted(fdt.slots) if fdt.lookup(fd) is not None]

    def wait_queue_of(self, fd: int) -> WaitQueueSnapshot | None:
        """The wait queue of descriptor `fd`'s file (a kqueue's: its ``kq_sel``)."""
        file = self.fdt.lookup(fd)
        if file is None:
            return None
        return _queue(file.wq)

    def _epoll(self, fd: int) -> EventPoll | None:
        file = self.fdt.lookup(fd)
        return file if isinstance(file, EventPoll) else None

    def epoll_at(self, fd: int, depth: int = 7, limit: int = 16) -> EpollSnapshot | None:
        """The epoll at `fd` (None if it is not one): its tree's top `depth` levels, the first
        `limit` items of its lists. O(2 ** depth + limit)."""
        ep = self._epoll(fd)
        if ep is None:
            return None
        rdllist = ep.rdllist
        nodes: list[TreeNodeSnapshot] = []
        complete = True
        root = ep.rbr.root
        frontier: list[tuple[Any, int]] = [(root, 1)] if root is not None else []
        while frontier:
            node, level = frontier.pop()
            more = level < depth
            left, right = node.left, node.right
            deeper = not more and (left is not None or right is not None)
            complete = complete and not deeper
            epi: EpItem = node.value
            nodes.append(
                TreeNodeSnapshot(
                    key=epi.key,  # the pair: the tree holds it packed (ep_key)
                    fd=epi.fd,
                    events=epi.events,
                    red=bool(node.red),
                    ready=epi.rdllink in rdllist,
                    left=left.value.key if left is not None and more else None,
                    right=right.value.key if right is not None and more else None,
                    deeper=deeper,
                )
            )
            if more:
                frontier += [(child, level + 1) for child in (left, right) if child is not None]
        ovf = ep.ovflist
        return EpollSnapshot(
            label=ep.label,
            file_id=ep.file_id,
            size=len(ep.rbr),
            root=root.value.key if root is not None else None,
            nodes=tuple(nodes),
            complete=complete,
            ready=tuple(item.fd for item in islice(rdllist, limit)),
            ready_total=len(rdllist),
            ovflist=None if ovf is None else tuple(item.fd for item in ovf[:limit]),
            ovf_total=0 if ovf is None else len(ovf),
            wq=_queue(ep.wq),
            poll_wait=_queue(ep.poll_wait),
        )

    def interest_list(self, epfd: int, limit: int) -> list[tuple[int, int]]:
        """The first `limit` registrations of epoll `epfd`, in tree order: (fd, events)."""
        ep = self._epoll(epfd)
        if ep is None:
            return []
        return [(node.value.fd, node.value.events) for node in islice(ep.rbr, limit)]

    def lookup_path(self, epfd: int, fd: int) -> tuple[Key, ...]:
        """The keys ``ep_find`` visits looking `fd` up in epoll `epfd`, root first (the last
        is `fd`'s own when it is registered). O(log n); no cost, no trace."""
        ep = self._epoll(epfd)
        file = self.fdt.lookup(fd)
        if ep is None or file is None:
            return ()
        return tuple(node.value.key for node in ep.rbr.lookup_path(ep_key(file.file_id, fd)))

    def kqueue_at(self, fd: int) -> KqueueSnapshot | None:
        """The kqueue at `fd` (None if it is not one). O(knotes)."""
        kq = self.fdt.lookup(fd)
        if not isinstance(kq, KQueue):
            return None
        return KqueueSnapshot(
            kq.label,
            tuple(_knote(kn) for kn in kq.knotes()),
            tuple(_knote(kn) for kn in kq.pending()),
        )

    def io_uring_at(self, fd: int) -> IoUringSnapshot | None:
        """The io_uring at `fd` (None if it is not one). O(slots shown + overflow + in flight)."""
        ring = self.fdt.lookup(fd)
        if not isinstance(ring, IoRing):
            return None
        sq, cq = ring.sq, ring.cq
        slots: list[tuple[int, int, int] | None] = []
        for index in range(min(cq.ring_entries, RING_SLOTS_SHOWN)):
            # the slot holds a CQE the program has not reaped if some position in [head, tail)
            # maps to it
            distance = (index - cq.head) & cq.ring_mask
            cqe = cq.cqes[index] if distance < cq.ready() else None
            slots.append(None if cqe is None else (cqe.user_data, cqe.res, cqe.flags))
        return IoUringSnapshot(
            ring.label,
            sq.head,
            sq.tail,
            sq.ring_entries,
            cq.head,
            cq.tail,
            cq.ring_entries,
            tuple(slots),
            tuple((c.user_data, c.res, c.flags) for c in cq.overflow),
            tuple(
                (
                    req.sqe.user_data,
                    req.sqe.op,
                    req.sqe.fd if req.entry is not None else -1,
                    "poll"
                    if req.entry is not None
                    else "timer"
                    if req.timer is not None
                    else "task work",
                )
                for req in ring.parked
            ),
            tuple(entry.label for entry in ring.cq_wait.entries),
        )

    def iocp_at(self, fd: int) -> IocpSnapshot | None:
        """The completion port at `fd` (None if it is not one; MODEL ONLY: Windows).
        O(packets + pending + descriptors)."""
        port = self.fdt.lookup(fd)
        if not isinstance(port, CompletionPort):
            return None
        fd_of = {id(file): n for n, file in sorted(self.fdt.slots.items(), reverse=True)}
        return IocpSnapshot(
            port.label,
            tuple((p.bytes_transferred, p.key, p.overlapped, p.status) for p in port.packets),
            tuple((r.tag, r.op, fd_of.get(id(r.sock), -1)) for r in port.pending),
            tuple((fd_of.get(id(sock), -1), key) for sock, key in port.keys.items()),
            tuple(waiter.label for waiter in port.waiters),
        )

    def nic_snapshot(self) -> NicSnapshot:
        """The first four segments on the wire and in the rx ring, and the counters."""
        nic = self.nic
        return NicSnapshot(
            tuple(seg.describe() for seg in islice(nic.wire, 4)),
            tuple(seg.describe() for seg in islice(nic.rx_ring, 4)),
            nic.irqs,
            nic.delivered,
        )

    def threads(self) -> ThreadsSnapshot:
        """Every thread (`simulator.observe.Threaded`): O(threads)."""
        sched = self.sched
        return ThreadsSnapshot(
            tuple(_thread(task) for task in sched.tasks), sched.ncpus, sched.context_switches
        )


def _thread(task: Task) -> ThreadSnapshot:
    state = "runnable" if task.runnable else task.state
    outcome = None
    if task.state == "finished":
        error = task.error
        outcome = repr(task.result) if error is None else f"{type(error).__name__}: {error}"
    return ThreadSnapshot(task.tid, state, task.call, task.sleeps_on, task.cpu, outcome)


def _queue(wq: WaitQueue) -> WaitQueueSnapshot:
    return WaitQueueSnapshot(wq.name, tuple((e.label, e.exclusive) for e in wq.entries))


def _knote(kn: Knote) -> KnoteSnapshot:
    return KnoteSnapshot(kn.trace_fd, kn.ident, kn.filter, kn.data, tuple(kn.status_names()))


__all__ = ["ModelViews"]
