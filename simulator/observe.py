"""The observation API: what the model tells its viewers, in words both sides share.

The model (`simulator.kernel`) records `TraceEvent`s and counts `Cost`; the TUI and the
scenario runner read them. Both speak this module, which sits at the bottom layer beside
`simulator.uapi` and imports nothing else of muxlab, so a viewer never has to import the model
to understand what it did (see docs/architecture.md).

A `TraceEvent` is structured: its typed fields say which descriptor, which tree keys, which
side, which colour, how many, and its prose (`TraceEvent.detail`) is rendered *from* those
fields by a template fixed at the place the event is recorded -- lazily, only when someone
reads it, so recording stays cheap. A viewer draws from the fields, never by parsing the prose.

The small protocols at the end (`Traced`, `HasPid`, `HasFdinfo`) say what a kernel may offer a
viewer beyond `simulator.uapi.Kernel`, in place of probing with ``getattr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from operator import attrgetter
from typing import NamedTuple, Protocol, runtime_checkable

Key = tuple[int, int]
"""An interest-tree key: ``(file id, fd)``, as ``ep_cmp_ffd`` orders them."""

FdRow = tuple[str, str, int, int | None]
"""An open descriptor's row, read without a snapshot object (`Observable.fd_rows`): its
file's label (``unix1``) and kind (``unix``, ``epoll``: `FileSnapshot.kind`), ``f_count``,
and the bytes in its receive queue (sockets) or None."""


class TraceKind(StrEnum):
    """The micro-steps the TUI animates, named after the kernel action they stand for."""

    CALL = "call"  # a syscall entered (the frame every other event belongs to)
    TREE_COMPARE = "tree.compare"
    TREE_INSERT = "tree.insert"
    TREE_ERASE = "tree.erase"
    TREE_ROTATE = "tree.rotate"
    TREE_RECOLOR = "tree.recolor"
    LIST_APPEND = "list.append"
    LIST_PREPEND = "list.prepend"
    LIST_REMOVE = "list.remove"
    LIST_SPLICE = "list.splice"
    FD_ALLOC = "fd.alloc"
    FD_RELEASE = "fd.release"
    FILE_POLL = "file.poll"  # a file's ->poll() read its readiness mask
    WAIT_ADD = "wait.add"  # an entry joined a wait queue
    WAIT_REMOVE = "wait.remove"
    WAKEUP = "wakeup"  # wake_up() walked a wait queue
    CALLBACK = "callback"  # a wait-queue entry's wake function ran (ep_poll_callback, pollwake)
    THREAD_WAKE = "thread.wake"  # a sleeping task became runnable
    THREAD_SLEEP = "thread.sleep"
    CONTEXT_SWITCH = "context.switch"
    NIC_TX = "nic.tx"  # a segment handed to the (loopback) device
    NIC_WIRE = "nic.wire"  # in flight
    NIC_RX = "nic.rx"  # landed in the rx ring
    IRQ = "irq"  # the device raised its interrupt
    SOFTIRQ = "softirq"  # NET_RX softirq delivered the segment to its socket
    SOCK_QUEUE = "sock.queue"  # bytes joined a socket's receive queue
    COPY_IN = "copy.in"  # copy_from_user of the call's arguments
    COPY_OUT = "copy.out"  # copy_to_user of the results
    FD_SCAN = "fd.scan"  # poll/select visited one descriptor
    TIMER = "timer"  # virtual time advanced to a deadline
    # An io_uring request's journey (kernel/io_uring.py), beside COPY_IN of its SQE (``list``
    # "sq") and COPY_OUT of its CQE (``list`` "cq"); none of these costs anything.
    SQE_ISSUE = "sqe.issue"  # io_issue_sqe ran the op (at submit, or again from task work)
    SQE_PARK = "sqe.park"  # the op parked: a poll entry hooked on the file's wait queue, a timer
    TASK_WORK_ADD = "task_work.add"  # io_req_task_work_add: work queued for the submitting task
    TASK_WORK_RUN = "task_work.run"  # that work ran (io_poll_task_func, ...)
    CQE_REAP = "cqe.reap"  # the program read a CQE and moved the CQ head past it


class TraceEvent(NamedTuple):
    """One micro-step: when (virtual ns), what kind, on which structure, and what it touched.

    `where` names the structure (``epoll4.rbr``, ``epoll4.rdllist``, ``fdtable``, ``nic``).
    The other fields are set when the micro-step has them:

    - `fd`: the descriptor it concerns (an epitem's, a scanned one, one allocated);
    - `key`: the interest-tree key it inserts, erases, rotates at or recolours, or looks up;
      `other`: the node a lookup compares `key` with;
    - `side`: ``"left"``/``"right"`` (where a comparison goes, which way a rotation turns;
      ``"found"`` when a comparison matches);
    - `red`: a recolour's new colour;
    - `list`: the list a list micro-step works on (``rdllist``, ``ovflist``, ``txlist``...);
    - `mask`: an event mask (a wake-up key, the revents copied out);
    - `count`: how many (bytes, items, words, expirations);
    - `subject`: the model's own label of what it touched (a file, a wait entry, a segment).

    `charged` is the units of its `CATEGORY` this micro-step cost: with tracing on, the
    events of a call add up to its `Cost`, so no cost is ever counted without its event.

    `form` is the template of the prose (`detail`), formatted with the event as ``e``.

    An event is immutable, so viewers may keep it. It is a named tuple rather than a frozen
    dataclass because the model records one per micro-step -- a traced ``EPOLL_CTL_ADD``
    among 200,000 descriptors records about sixty -- and a frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field) made recording them ten times as slow as the
    call's own work; a tuple is built in one allocation (see ``bench_epoll_scale.py``).
    Read it by field name; its tuple-ness (order, length) is not part of the API.
    """

    seq: int
    time_ns: int
    kind: TraceKind
    where: str
    charged: int = 0
    form: str = ""
    fd: int | None = None
    key: Key | None = None
    other: Key | None = None
    side: str = ""
    red: bool | None = None
    list: str = ""
    mask: int | None = None
    count: int | None = None  # type: ignore[assignment]  # shadows tuple.count, unused here
    subject: str = ""

    @property
    def colour(self) -> str:
        """``red``/``black`` for a recolour, else empty."""
        return "" if self.red is None else "red" if self.red else "black"

    @property
    def detail(self) -> str:
        """The micro-step in words, rendered from the fields (only when read)."""
        return self.form.format(e=self) if self.form else ""


@dataclass(slots=True)
class Cost:
    """Work done by one call, by category; `total` is what complexity lessons compare.

    The categories are the kernel's unit operations: copying a descriptor's worth of
    arguments in or results out, visiting one fd in a poll/select scan, one key comparison in
    the interest tree, one linked-list pointer operation, one wait-queue callback, one thread
    wake-up, one context switch. Each is charged by recording the `TraceKind` of `CATEGORY`.
    """

    copy_in: int = 0
    fd_scan: int = 0
    tree_compare: int = 0
    list_op: int = 0
    callback: int = 0
    wakeup: int = 0
    copy_out: int = 0
    context_switch: int = 0

    @property
    def total(self) -> int:
        """Sum over every category. O(categories)."""
        return sum(_COST_VALUES(self))

    def as_dict(self) -> dict[str, int]:
        """Category name -> count, in the fixed category order."""
        return dict(zip(_COST_NAMES, _COST_VALUES(self), strict=True))


# The categories, read once: `dataclasses.fields` costs more than the sum (a step prints both).
_COST_NAMES = tuple(f.name for f in fields(Cost))
_COST_VALUES = attrgetter(*_COST_NAMES)


#: The cost category each kind of micro-step is charged to (kinds absent cost nothing).
CATEGORY: dict[TraceKind, str] = {
    TraceKind.COPY_IN: "copy_in",
    TraceKind.FD_SCAN: "fd_scan",
    TraceKind.TREE_COMPARE: "tree_compare",
    TraceKind.LIST_APPEND: "list_op",
    TraceKind.LIST_PREPEND: "list_op",
    TraceKind.LIST_REMOVE: "list_op",
    TraceKind.LIST_SPLICE: "list_op",
    TraceKind.WAIT_ADD: "list_op",  # hooking an entry: charged where the lesson counts it
    TraceKind.WAIT_REMOVE: "list_op",
    TraceKind.CALLBACK: "callback",
    TraceKind.WAKEUP: "wakeup",
    TraceKind.COPY_OUT: "copy_out",
    TraceKind.CONTEXT_SWITCH: "context_switch",
    TraceKind.THREAD_SLEEP: "context_switch",
    TraceKind.THREAD_WAKE: "context_switch",
}


# --- snapshots: read-only pictures of the model's structures ------------------------------
#
# A snapshot is frozen and shares nothing with the model: a viewer may keep it while the model
# moves on. Each costs what it holds (the top levels of a tree, the head of a list), never
# O(registered descriptors).


@dataclass(frozen=True, slots=True)
class FdTableSnapshot:
    """The process's descriptor table and the system's file count (``fs/file.c``)."""

    open: int  #: descriptors in use
    nofile: int  #: RLIMIT_NOFILE (soft)
    capacity: int  #: slots of the current table (``fdt->max_fds``)
    nr_files: int  #: open file descriptions system-wide
    file_max: int  #: ``fs.file-max``


@dataclass(frozen=True, slots=True)
class FileSnapshot:
    """One open descriptor: the file it refers to and how many references that file has."""

    fd: int
    file_id: int  #: which open file description (dup'ed descriptors share it)
    label: str  #: the model's name for it (``unix1``, ``epoll4``)
    kind: str  #: ``unix``, ``tcp``, ``epoll``, ``kqueue``, ``file``...
    refs: int  #: ``f_count``
    queued: int | None  #: bytes in its receive queue (sockets), else None


@dataclass(frozen=True, slots=True)
class WaitQueueSnapshot:
    """A wait queue's entries, head first: (owner's label, exclusive)."""

    name: str
    entries: tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class TreeNodeSnapshot:
    """One epitem in the interest tree: its key, colour, children, and registration."""

    key: Key
    fd: int
    events: int
    red: bool
    ready: bool  #: on ``rdllist`` itself (not in a transfer's private batch)
    left: Key | None  #: None: no child, or one below the captured depth (`deeper`)
    right: Key | None
    deeper: bool  #: it has children that were not captured


@dataclass(frozen=True, slots=True)
class EpollSnapshot:
    """An epoll instance (``struct eventpoll``): interest tree, ready list, ovflist, queues.

    The tree holds its top `depth` levels (`complete` when that is all of it), the lists their
    head; `size`, `ready_total` and `ovf_total` count everything.
    """

    label: str
    file_id: int
    size: int
    root: Key | None
    nodes: tuple[TreeNodeSnapshot, ...]
    complete: bool
    ready: tuple[int, ...]  #: fds on ``rdllist``, head first
    ready_total: int
    ovflist: tuple[int, ...] | None  #: None: no transfer running (``EP_UNACTIVE_PTR``)
    ovf_total: int
    wq: WaitQueueSnapshot  #: threads in ``epoll_wait``
    poll_wait: WaitQueueSnapshot  #: pollers of the epoll file itself


@dataclass(frozen=True, slots=True)
class KnoteSnapshot:
    """One knote: what it watches and its state."""

    fd: int | None  #: the descriptor it watches (None: a timer)
    ident: int
    filter: int
    data: int
    status: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KqueueSnapshot:
    """A kqueue: every knote, and the pending queue head first."""

    label: str
    knotes: tuple[KnoteSnapshot, ...]
    pending: tuple[KnoteSnapshot, ...]


@dataclass(frozen=True, slots=True)
class IoUringSnapshot:
    """An io_uring: both rings (heads, tails, sizes, the first slots' contents), the CQ
    overflow list, and the requests in flight with where each is parked."""

    label: str
    sq_head: int
    sq_tail: int
    sq_entries: int
    cq_head: int
    cq_tail: int
    cq_entries: int
    #: the CQ's first slots (at most `RING_SLOTS_SHOWN`): ``(user_data, res, flags)`` of the
    #: CQE a slot holds, for slots between head and tail; None for the others
    cq_slots: tuple[tuple[int, int, int] | None, ...]
    overflow: tuple[tuple[int, int, int], ...]
    #: ``(user_data, op, fd, how)``: how = ``"poll"`` (an entry on the file's wait queue),
    #: ``"timer"``, or ``"task work"`` (its poll fired: the task work that runs it is queued);
    #: fd is -1 unless it is on a wait queue
    in_flight: tuple[tuple[int, str, int, str], ...]
    #: the entries of the ring's ``cq_wait`` queue, head first: the threads in io_uring_wait
    cq_waiters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IocpSnapshot:
    """A Windows completion port (MODEL ONLY): its queued packets, oldest first, as
    ``(bytes, key, overlapped, status)``; its pending overlapped operations as
    ``(overlapped, op, fd)``; its associations as ``(fd, key)``; the threads blocked on it,
    in the order they blocked (the last is released first: LIFO)."""

    label: str
    packets: tuple[tuple[int, int, int, int], ...]
    pending: tuple[tuple[int, str, int], ...]
    associated: tuple[tuple[int, int], ...]
    waiters: tuple[str, ...] = ()


#: How many slots of a ring a snapshot copies (a ring may have 65,536).
RING_SLOTS_SHOWN = 16


@dataclass(frozen=True, slots=True)
class NicSnapshot:
    """The loopback device: segments in flight and in the rx ring (their first few)."""

    wire: tuple[str, ...]
    rx_ring: tuple[str, ...]
    irqs: int
    delivered: int


@runtime_checkable
class Observable(Protocol):
    """A kernel whose structures can be looked at (the model): the snapshot API.

    Every method only reads; none is a syscall, none changes a trace or a cost.
    """

    @property
    def now_ns(self) -> int:
        """Virtual time."""
        ...

    @property
    def calls(self) -> int:
        """Syscalls made so far."""
        ...

    def fd_table(self) -> FdTableSnapshot: ...

    def file_at(self, fd: int) -> FileSnapshot | None: ...

    def highest_fd(self) -> int:
        """The highest open descriptor, -1 if none."""
        ...

    def open_fds(self) -> list[int]:
        """Every open descriptor, in order. O(open descriptors)."""
        ...

    def wait_queue_of(self, fd: int) -> WaitQueueSnapshot | None: ...

    def epoll_at(self, fd: int, depth: int = 7, limit: int = 16) -> EpollSnapshot | None: ...

    def interest_list(self, epfd: int, limit: int) -> list[tuple[int, int]]:
        """The first `limit` registrations of epoll `epfd` in tree order: (fd, events)."""
        ...

    def lookup_path(self, epfd: int, fd: int) -> tuple[Key, ...]:
        """The keys ``ep_find`` visits looking `fd` up in epoll `epfd`, root first."""
        ...

    def kqueue_at(self, fd: int) -> KqueueSnapshot | None: ...

    def io_uring_at(self, fd: int) -> IoUringSnapshot | None: ...

    def iocp_at(self, fd: int) -> IocpSnapshot | None: ...

    def nic_snapshot(self) -> NicSnapshot: ...

    # --- a printer's rows (issue 10: ``play --headless`` prints a step's rows in one pass) ---
    def fd_rows(self, fds: Iterable[int]) -> list[FdRow | None]:
        """The rows of descriptors `fds`, in their order, as tuples rather than snapshots:
        (file label, kind, refs, queued bytes or None), None for a free number. O(len(fds))."""
        ...


@runtime_checkable
class Traced(Protocol):
    """A kernel that traces its calls (the model): the last call's micro-steps and cost."""

    @property
    def trace(self) -> Sequence[TraceEvent]: ...

    @property
    def last_cost(self) -> Cost: ...


@runtime_checkable
class Watchable(Protocol):
    """A kernel whose micro-steps can be watched as they happen (the model)."""

    def observe(self, observer: Callable[[TraceEvent], None] | None) -> None:
        """Call `observer` with each micro-step as it is recorded (None: stop)."""
        ...


@runtime_checkable
class HasPid(Protocol):
    """A kernel that runs in a process of its own (the live engine's child)."""

    @property
    def pid(self) -> int: ...

    @property
    def alive(self) -> bool: ...


# --- threads (a panel of tasks and CPUs) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    """One thread: thread 0 is the caller of every call, the others run what `start` gave them.

    `state` is the scheduler's: "idle", "running" (thread 0, or a thread inside the call being
    made), "runnable" (woken, about to run), "sleeping" or "finished" (its result waits for
    `join`). `sleeps_on` names the wait queue it sleeps on (as `WaitQueueSnapshot.name`, where
    its entry is labelled ``thread N in CALL``); `cpu` is the simulated CPU it last ran on.
    """

    tid: int
    state: str
    call: str | None
    sleeps_on: str | None
    cpu: int | None
    outcome: str | None  #: a finished call's result or exception, as text


@dataclass(frozen=True, slots=True)
class ThreadsSnapshot:
    """Every thread of the process, thread 0 first, and the CPUs' context-switch count."""

    threads: tuple[ThreadSnapshot, ...]
    cpus: int
    context_switches: int


@runtime_checkable
class Threaded(Protocol):
    """A kernel that can show its threads (the model; O(threads), at most 65)."""

    def threads(self) -> ThreadsSnapshot: ...


# --- the real threads (what /proc says of the live engine's threads) ---------------------


@dataclass(frozen=True, slots=True)
class ProcThread:
    """One real thread of the live engine's child, as ``/proc/<pid>/task/<tid>/`` shows it.

    `tid` is the protocol's thread number; `os_tid` the kernel's; `state` the letter of
    ``stat`` (R running, S sleeping, D, Z...); `syscall` the name of the syscall it sleeps in
    (from ``syscall``), or None; `switches` its context switches so far (``status``:
    voluntary plus involuntary).
    """

    tid: int
    os_tid: int
    state: str
    syscall: str | None
    switches: int


@dataclass(frozen=True, slots=True)
class ProcThreads:
    """The live child's threads that `start` made, and the process as ``/proc/<pid>/status``
    shows it: every thread it has (``Threads``, the main one and its helpers too), its
    virtual size (``VmSize``: each thread's stack is reserved there) and resident size
    (``VmRSS``: only the pages touched), in KiB."""

    threads: tuple[ProcThread, ...]
    process_threads: int
    vm_size_kib: int
    vm_rss_kib: int


@runtime_checkable
class HasProcThreads(Protocol):
    """A kernel whose real threads can be read from /proc (the live engine; O(threads))."""

    def proc_threads(self) -> ProcThreads | None: ...


@runtime_checkable
class HasFdinfo(Protocol):
    """A kernel that can show an epoll's real interest list (``/proc/<pid>/fdinfo``)."""

    def fdinfo(self, epfd: int) -> list[dict[str, int]]: ...


__all__ = [
    "CATEGORY",
    "Cost",
    "EpollSnapshot",
    "FdTableSnapshot",
    "FileSnapshot",
    "HasFdinfo",
    "HasPid",
    "HasProcThreads",
    "Key",
    "KnoteSnapshot",
    "KqueueSnapshot",
    "NicSnapshot",
    "Observable",
    "ProcThread",
    "ProcThreads",
    "ThreadSnapshot",
    "Threaded",
    "ThreadsSnapshot",
    "TraceEvent",
    "TraceKind",
    "Traced",
    "TreeNodeSnapshot",
    "WaitQueueSnapshot",
    "Watchable",
]
