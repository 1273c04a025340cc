"""Wait queues (``include/linux/wait.h``, ``kernel/sched/wait.c``).

A wait queue is how a file tells interested parties that its state changed. Each entry carries
a wake function. `WaitQueue.wake_up` walks the entries from head to tail, calling each
function with the wake-up *key* (the event bits that changed, or 0 for "unknown"). Exclusive
entries sit at the tail; the walk stops once `nr_exclusive` of them report that they woke
somebody -- the mechanism behind both the thundering-herd fix of EPOLLEXCLUSIVE (KERNEL_SPEC
EP-16) and epoll_wait's one-waiter-per-event rule (EP-11).
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.kernel.trace import TraceKind, Tracer

#: A wake function: ``func(entry, key) -> woke``; `woke` matters only for exclusive entries.
WakeFunc = Callable[["WaitEntry", int], bool]


class WaitEntry:
    """One ``wait_queue_entry``: a wake function plus whom it belongs to (for the views)."""

    __slots__ = ("exclusive", "func", "label", "owner", "queue")

    def __init__(self, func: WakeFunc, owner: object, label: str, exclusive: bool = False) -> None:
        self.func = func
        self.owner = owner
        self.label = label
        self.exclusive = exclusive
        self.queue: WaitQueue | None = None


class WaitQueue:
    """``wait_queue_head``: entries in wake-up order (head first).

    `add` is O(n) at the head (queues are short: one entry per watcher of one file),
    `add_exclusive` O(1) at the tail, `remove` O(n), `wake_up` O(n).
    """

    __slots__ = ("entries", "name", "tracer")

    def __init__(self, tracer: Tracer, name: str) -> None:
        self.tracer = tracer
        self.name = name
        self.entries: list[WaitEntry] = []

    def __bool__(self) -> bool:
        """``waitqueue_active``: is anybody waiting?"""
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: WaitEntry) -> None:
        """``add_wait_queue``: a non-exclusive entry goes to the head."""
        entry.exclusive = False
        entry.queue = self
        self.entries.insert(0, entry)
        self.tracer.emit(TraceKind.WAIT_ADD, self.name, entry.label)

    def add_exclusive(self, entry: WaitEntry) -> None:
        """``add_wait_queue_exclusive``: an exclusive entry goes to the tail."""
        entry.exclusive = True
        entry.queue = self
        self.entries.append(entry)
        self.tracer.emit(TraceKind.WAIT_ADD, self.name, entry.label + " (exclusive)")

    def remove(self, entry: WaitEntry) -> None:
        """``remove_wait_queue``; removing an entry that is not queued is a no-op."""
        if entry.queue is self:
            self.entries.remove(entry)
            entry.queue = None
            self.tracer.emit(TraceKind.WAIT_REMOVE, self.name, entry.label)

    def wake_up(self, key: int, nr_exclusive: int = 1) -> None:
        """``__wake_up_common``: call each entry's function, head to tail.

        Stops after `nr_exclusive` exclusive entries returned True (0 = wake all). Entries may
        remove themselves while being woken, so the walk runs over a snapshot.
        """
        if not self.entries:
            return
        tracer = self.tracer
        tracer.cost.wakeup += 1
        tracer.emit(TraceKind.WAKEUP, self.name, f"key={key:#x}" if key else "key=0 (any)")
        for entry in list(self.entries):
            if entry.queue is not self:  # removed by an earlier callback of this walk
                continue
            tracer.cost.callback += 1
            tracer.emit(TraceKind.CALLBACK, self.name, entry.label)
            if entry.func(entry, key) and entry.exclusive:
                nr_exclusive -= 1
                if nr_exclusive == 0:
                    break
