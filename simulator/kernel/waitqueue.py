"""Wait queues (``include/linux/wait.h``, ``kernel/sched/wait.c``).

A wait queue is how a file tells interested parties that its state changed. Each entry carries
a wake function. `WaitQueue.wake_up` walks the entries from head to tail, calling each
function with the wake-up *key* (the event bits that changed, or 0 for "unknown"). Exclusive
entries usually sit at the tail (``ep_poll`` puts its task at the head); the walk stops
once `nr_exclusive` of them report that they woke somebody -- the mechanism behind both the
thundering-herd fix of EPOLLEXCLUSIVE (KERNEL_SPEC
EP-16) and epoll_wait's one-waiter-per-event rule (EP-11).
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.kernel.trace import TraceKind, Tracer

# The prose of its trace events, rendered from their fields when read.
_WAKE_KEY = "key={e.mask:#x}"
_ANY_KEY = "key=0 (any)"


def _label(tracer: Tracer, entry: WaitEntry) -> str:
    """An entry's label for its trace event: made only when the event is recorded."""
    return entry.label if tracer.enabled else ""


#: A wake function: ``func(entry, key) -> woke``; `woke` matters only for exclusive entries.
WakeFunc = Callable[["WaitEntry", int], bool]


class WaitEntry:
    """One ``wait_queue_entry``: a wake function plus whom it belongs to (for the views)."""

    __slots__ = ("_label", "exclusive", "func", "owner", "queue")

    def __init__(self, func: WakeFunc, owner: object, label: str, exclusive: bool = False) -> None:
        self.func = func
        self.owner = owner
        self._label = label
        self.exclusive = exclusive
        self.queue: WaitQueue | None = None

    @property
    def label(self) -> str:
        """Whose entry it is, for the views and the trace."""
        return self._label


class WaitQueue:
    """``wait_queue_head``: entries in wake-up order (head first).

    `add` is O(n) at the head (queues are short: one entry per watcher of one file),
    `add_exclusive` O(1) at the tail, `remove` O(n), `wake_up` O(n).
    """

    __slots__ = ("_name", "_suffix", "entries", "tracer")

    def __init__(self, tracer: Tracer, name: str, suffix: str = "") -> None:
        self.tracer = tracer
        # The name is `name` + `suffix` (``unix7`` + ``.wq``), joined when first read: a
        # million sockets' queues need not each keep a string that nobody may read.
        self._name = name
        self._suffix = suffix
        self.entries: list[WaitEntry] = []

    @property
    def name(self) -> str:
        """Whose queue it is (``unix7.wq``), for the views and the trace."""
        if self._suffix:
            self._name += self._suffix
            self._suffix = ""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = name
        self._suffix = ""

    def __bool__(self) -> bool:
        """``waitqueue_active``: is anybody waiting?"""
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: WaitEntry, *, cost: int = 0) -> None:
        """``add_wait_queue``: a non-exclusive entry goes to the head.

        `cost` is the list operations to charge for it: 1 where the caller's lesson counts
        hooking an entry (poll tables, epitems, knotes), 0 for a task sleeping in a call.
        """
        entry.exclusive = False
        entry.queue = self
        # A new list of exactly the entries, where insert() would leave room for three more:
        # most queues hold one entry (a socket watched by one epoll), a million of them.
        self.entries = [entry, *self.entries]
        tracer = self.tracer
        if tracer.enabled:
            tracer.charge(TraceKind.WAIT_ADD, self.name, cost, "{e.subject}", subject=entry.label)
        else:  # no event to record: the count goes straight to WAIT_ADD's category
            tracer.cost.list_op += cost

    def add_exclusive(self, entry: WaitEntry, *, cost: int = 0) -> None:
        """``add_wait_queue_exclusive``: an exclusive entry goes to the tail (`cost`: see
        `add`)."""
        entry.exclusive = True
        entry.queue = self
        self.entries.append(entry)
        self.tracer.charge(
            TraceKind.WAIT_ADD,
            self.name,
            cost,
            "{e.subject} (exclusive)",
            subject=_label(self.tracer, entry),
        )

    def add_exclusive_head(self, entry: WaitEntry) -> None:
        """``__add_wait_queue_exclusive``: an exclusive entry at the *head*, as ``ep_poll``
        queues its task on ``ep->wq`` -- so of several threads in ``epoll_wait`` on one
        instance the newest is woken first (KERNEL_SPEC EP-10, measured). O(n)."""
        entry.exclusive = True
        entry.queue = self
        self.entries.insert(0, entry)
        self.tracer.charge(
            TraceKind.WAIT_ADD,
            self.name,
            0,
            "{e.subject} (exclusive, at the head)",
            subject=_label(self.tracer, entry),
        )

    def remove(self, entry: WaitEntry, *, cost: int = 0) -> None:
        """``remove_wait_queue``; removing an entry that is not queued is a no-op (`cost`:
        see `add`)."""
        if entry.queue is self:
            self.entries.remove(entry)
            entry.queue = None
            self.tracer.charge(
                TraceKind.WAIT_REMOVE,
                self.name,
                cost,
                "{e.subject}",
                subject=_label(self.tracer, entry),
            )

    def wake_up(self, key: int, nr_exclusive: int = 1) -> None:
        """``__wake_up_common``: call each entry's function, head to tail.

        Stops after `nr_exclusive` exclusive entries returned True (0 = wake all). Entries may
        remove themselves while being woken, so the walk runs over a snapshot.
        """
        if not self.entries:
            return
        tracer = self.tracer
        tracer.charge(TraceKind.WAKEUP, self.name, 1, _WAKE_KEY if key else _ANY_KEY, mask=key)
        for entry in list(self.entries):
            if entry.queue is not self:  # removed by an earlier callback of this walk
                continue
            tracer.charge(
                TraceKind.CALLBACK, self.name, 1, "{e.subject}", subject=_label(tracer, entry)
            )
            if entry.func(entry, key) and entry.exclusive:
                nr_exclusive -= 1
                if nr_exclusive == 0:
                    break
