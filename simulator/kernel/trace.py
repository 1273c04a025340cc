"""What the model did: typed trace events and the per-call cost counters.

Every state change in the model passes through `Tracer.emit`, the single choke point that
records a `TraceEvent` (when tracing is on) and charges the work to a `Cost` category (always:
counting is cheap and the complexity lessons need it even in bulk runs). A syscall entry point
calls `Tracer.begin_call` first, so `events` and `cost` always describe the *last* call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One micro-step: when (virtual ns), what kind, on which structure, and a short detail."""

    seq: int
    time_ns: int
    kind: TraceKind
    where: str
    detail: str = ""


@dataclass(slots=True)
class Cost:
    """Work done by one call, by category; `total` is what complexity lessons compare.

    The categories are the kernel's unit operations: copying a descriptor's worth of
    arguments in or results out, visiting one fd in a poll/select scan, one key comparison in
    the interest tree, one linked-list pointer operation, one wait-queue callback, one thread
    wake-up, one context switch.
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
        """Sum over every category."""
        return sum(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, int]:
        """Category name -> count, in the fixed category order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Tracer:
    """The choke point: records trace events (if `enabled`) and charges costs (always).

    `clock` is any object with a ``now_ns`` attribute (the model's virtual clock); without one
    events are stamped 0, which is what standalone data-structure tests want.

    `observer`, when set, is called with each recorded event right after it is recorded, while
    the model is in the state that event left it in: the TUI takes its pictures of the
    micro-steps there. It must only read the model. A copy of a tracer has no observer, so a
    model checkpoint never carries one into a later replay.
    """

    __slots__ = ("_seq", "clock", "cost", "enabled", "events", "observer")

    def __init__(self, enabled: bool = True, clock: object | None = None) -> None:
        self.enabled = enabled
        self.clock = clock
        self.events: list[TraceEvent] = []
        self.cost = Cost()
        self._seq = 0
        self.observer: Callable[[TraceEvent], None] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Tracer:
        twin = Tracer(self.enabled)
        memo[id(self)] = twin  # before the clock, which may lead back here
        twin.clock = copy.deepcopy(self.clock, memo)
        twin.events = list(self.events)  # events are frozen: sharing them is safe
        twin.cost = copy.copy(self.cost)
        twin._seq = self._seq
        return twin

    def begin_call(self, name: str) -> None:
        """Start a new syscall frame: forget the previous call's events and cost."""
        self.events = []
        self.cost = Cost()
        self.emit(TraceKind.CALL, name)

    def emit(self, kind: TraceKind, where: str, detail: str = "") -> None:
        """Record one micro-step (no-op when tracing is off)."""
        if self.enabled:
            self._seq += 1
            now = getattr(self.clock, "now_ns", 0) if self.clock is not None else 0
            event = TraceEvent(self._seq, now, kind, where, detail)
            self.events.append(event)
            if self.observer is not None:
                self.observer(event)
