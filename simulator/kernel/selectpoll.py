"""poll(2) and select(2): the model of ``fs/select.c``, plus CPython's layer around them.

Both calls do the same O(N) dance on *every* call (KERNEL_SPEC PS-1): copy the whole request in,
visit every descriptor and call its ->poll, hooking one wait-queue entry per descriptor on the
first pass (``__pollwait``), sleep until any entry's ``pollwake`` fires or the deadline passes,
then rescan all N, and finally unhook everything (``poll_freewait``) and copy the whole answer
back out. Contrast eventpoll, where the registration persists and a wait costs O(ready).

The cost counters make that visible: `copy_in`/`copy_out` count ``struct pollfd`` entries or
fd_set words, `fd_scan` counts descriptors visited (kernel and CPython's user-space loops),
`list_op` counts wait-queue entries hooked and unhooked.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import Protocol

from simulator.conversions import INT_MAX, INT_MIN
from simulator.kernel.trace import TraceKind, Tracer
from simulator.kernel.vfs import FdTable, File, PollTable, oserror
from simulator.kernel.waitqueue import WaitEntry, WaitQueue
from simulator.uapi import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLNVAL,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    FD_SETSIZE,
)

# The prose of its trace events, rendered from their fields when read.
_FD_SETS = "3 fd_sets x {e.count} words"
_LIST2SET = "list -> fd_set (seq2set): {e.count} fds"

POLLIN_SET = EPOLLRDNORM | EPOLLRDBAND | EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLNVAL
POLLOUT_SET = EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT | EPOLLERR | EPOLLNVAL
POLLEX_SET = EPOLLPRI | EPOLLNVAL
BITS_PER_LONG = 64


class Sleeper(Protocol):
    """What poll/select need from the scheduler: sleep until `woken()` or the deadline."""

    def sleep_until(
        self, deadline_ns: int | None, woken: Callable[[], bool], label: str
    ) -> None: ...


class PollWqueues:
    """``struct poll_wqueues``: the per-call table of wait-queue entries (``poll_table_entry``)."""

    def __init__(self, tracer: Tracer, label: str) -> None:
        self.tracer = tracer
        self.label = label
        self.entries: list[WaitEntry] = []
        self.triggered = False
        self.pt = PollTable(self._pollwait, 0)

    def _pollwait(self, _file: File, whead: WaitQueue) -> None:
        """``__pollwait``: one entry on this file's wait queue, remembering the key mask."""
        wanted = self.pt.key

        def pollwake(_entry: WaitEntry, key: int) -> bool:
            return self._pollwake(key, wanted)

        entry = WaitEntry(pollwake, self, self.label)
        whead.add(entry, cost=1)
        self.entries.append(entry)

    def _pollwake(self, key: int, wanted: int) -> bool:
        """``pollwake``: ignore keys that cannot matter to this entry, else wake the task."""
        if key and not key & wanted:
            return False
        self.triggered = True
        return True

    def freewait(self) -> None:
        """``poll_freewait``: unhook every entry."""
        for entry in self.entries:
            if entry.queue is not None:
                entry.queue.remove(entry, cost=1)
        self.entries.clear()


def do_poll(
    fdt: FdTable,
    sched: Sleeper,
    fds: Sequence[tuple[int, int]],
    deadline_ns: int | None,
    nonblocking: bool,
) -> list[int]:
    """``do_sys_poll``: revents for each entry of the (already de-duplicated) array."""
    tracer = fdt.tracer
    if len(fds) > fdt.nofile:
        raise oserror(errno.EINVAL)
    tracer.charge(TraceKind.COPY_IN, "poll", len(fds), "{e.count} x struct pollfd", count=len(fds))
    table = PollWqueues(tracer, "poll")
    register = not nonblocking  # a zero timeout registers nothing
    revents = [0] * len(fds)
    try:
        while True:
            count = 0
            for i, (fd, events) in enumerate(fds):
                tracer.charge(TraceKind.FD_SCAN, "poll", 1, "fd {e.fd}", fd=fd)
                mask = _do_pollfd(fdt, fd, events, table if register else None)
                revents[i] = mask
                if mask:
                    count += 1
                    register = False  # the call will return: stop hooking entries
            register = False
            if count or nonblocking:
                break
            table.triggered = False
            sched.sleep_until(deadline_ns, lambda: table.triggered, "poll")
            if not table.triggered:  # timed out: one last pass, like the kernel's loop
                nonblocking = True
    finally:
        table.freewait()
    tracer.charge(TraceKind.COPY_OUT, "poll", len(fds), "{e.count} x revents", count=len(fds))
    return revents


def _do_pollfd(fdt: FdTable, fd: int, events: int, table: PollWqueues | None) -> int:
    """``do_pollfd``: NVAL for a closed fd, else ->poll masked by events|ERR|HUP."""
    if fd < 0:
        return 0
    file = fdt.lookup(fd)
    if file is None:
        return EPOLLNVAL
    wanted = events | EPOLLERR | EPOLLHUP
    if table is not None:
        table.pt.key = wanted
    return file.poll(table.pt if table is not None else None) & wanted


def do_select(
    fdt: FdTable,
    sched: Sleeper,
    nfds: int,
    sets: tuple[set[int], set[int], set[int]],
    deadline_ns: int | None,
    nonblocking: bool,
) -> tuple[set[int], set[int], set[int]]:
    """``core_sys_select`` + ``do_select``: returns the three result sets.

    `nfds` is clipped to the fd table's capacity; bits above it are never examined and never
    copied back -- the caller keeps them set (KERNEL_SPEC PS-4). Within range, a bit for a
    closed descriptor is EBADF (``max_select_fd``).
    """
    tracer = fdt.tracer
    if nfds < 0:
        raise oserror(errno.EINVAL)
    n = min(nfds, fdt.capacity)
    words = (n + BITS_PER_LONG - 1) // BITS_PER_LONG
    tracer.charge(TraceKind.COPY_IN, "select", 3 * words, _FD_SETS, count=words)
    inp, outp, exp = ({fd for fd in s if fd < n} for s in sets)
    wanted = sorted(inp | outp | exp)
    for fd in wanted:  # max_select_fd
        if fdt.lookup(fd) is None:
            raise oserror(errno.EBADF)
    table = PollWqueues(tracer, "select")
    register = not nonblocking
    res: tuple[set[int], set[int], set[int]] = (set(), set(), set())
    try:
        while True:
            count = 0
            for fd in wanted:
                tracer.charge(TraceKind.FD_SCAN, "select", 1, "fd {e.fd}", fd=fd)
                key = POLLEX_SET
                if fd in inp:
                    key |= POLLIN_SET
                if fd in outp:
                    key |= POLLOUT_SET
                file = fdt.lookup(fd)
                if file is None:
                    mask = EPOLLNVAL
                else:
                    table.pt.key = key
                    mask = file.poll(table.pt if register else None)
                for bits, requested, result in (
                    (POLLIN_SET, inp, res[0]),
                    (POLLOUT_SET, outp, res[1]),
                    (POLLEX_SET, exp, res[2]),
                ):
                    if mask & bits and fd in requested:
                        result.add(fd)
                        count += 1
                        register = False
            register = False
            if count or nonblocking:
                break
            table.triggered = False
            sched.sleep_until(deadline_ns, lambda: table.triggered, "select")
            if not table.triggered:
                nonblocking = True
    finally:
        table.freewait()
    tracer.charge(TraceKind.COPY_OUT, "select", 3 * words, _FD_SETS, count=words)
    return res


def select_fd_list(tracer: Tracer, seq: Sequence[int]) -> set[int]:
    """CPython's ``seq2set``: the argument checks, in CPython's order, building an fd_set.

    A refusal happens in user space, before ``select(2)`` is called: the trace says so, since
    no bitmap is copied in and the kernel scans nothing."""
    out: set[int] = set()
    for index, fd in enumerate(seq):
        error: Exception | None = None
        if not INT_MIN <= fd <= INT_MAX:  # PyObject_AsFileDescriptor: a C int first
            error = OverflowError("Python int too large to convert to C int")
        elif fd < 0:
            error = ValueError(f"file descriptor cannot be a negative integer ({fd})")
        elif fd >= FD_SETSIZE:
            error = ValueError("filedescriptor out of range in select()")
        elif index >= FD_SETSIZE:
            error = ValueError("too many file descriptors in select()")
        if error is not None:
            tracer.charge(  # charged with the fds converted before it
                TraceKind.FD_SCAN,
                "CPython",
                index,
                "fd {e.fd}: {e.subject}, no syscall made (FD_SETSIZE {e.count})",
                fd=fd,
                subject=type(error).__name__,
                count=FD_SETSIZE,
            )
            raise error
        out.add(fd)
    tracer.charge(TraceKind.FD_SCAN, "CPython", len(seq), _LIST2SET, count=len(seq))
    return out
