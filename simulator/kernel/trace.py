"""The model's side of tracing: `Tracer`, the one place micro-steps are recorded and charged.

The vocabulary (`TraceEvent`, `TraceKind`, `Cost`) is `simulator.observe`, which viewers import
without importing the model; it is re-exported here for the model's modules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from itertools import count
from typing import Any

from simulator.observe import CATEGORY, Cost, Key, TraceEvent, TraceKind

#: Makes an event from its fields in order, without the keyword handling of
#: ``TraceEvent(...)``: the model records one per micro-step.
_new_event = tuple.__new__

#: The prose of a tree comparison (`Tracer.charge_compares`), rendered when read.
_COMPARE = "{e.key!r} vs {e.other!r}: {e.side}"


class Tracer:
    """The choke point: `charge` records a trace event (if `enabled`) and charges its cost
    (always: counting is cheap and the complexity lessons need it even in bulk runs).

    Every cost is charged by a `charge` call, which also records the event that explains it,
    so with tracing on no cost is ever counted without its event: the ``n`` of the events of
    one kind add up to the cost of that kind's category (`simulator.observe.CATEGORY`). With
    tracing off there are no events, and a hot path may charge a batch in one step (a tree
    descent of ``depth`` comparisons, added to `cost` directly: bulk registration pays for no
    call); with tracing on, a traced descent is charged by `charge_compares`, its batch
    form, which records the same events as one `charge` per comparison. A syscall entry point
    calls `begin_call` first, so `events` and `cost` always describe the *last* call.

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
        self.cost = Cost()
        if self.enabled:
            self.events = []
            self.charge(TraceKind.CALL, name)  # costs nothing: with tracing off, a no-op
        elif self.events:  # tracing was switched off after a traced call
            self.events = []

    def charge(
        self,
        kind: TraceKind,
        where: str,
        n: int = 1,
        form: str = "",
        *,
        fd: int | None = None,
        key: Key | None = None,
        other: Key | None = None,
        side: str = "",
        red: bool | None = None,
        list: str = "",
        mask: int | None = None,
        count: int | None = None,
        subject: str = "",
    ) -> None:
        """Record one micro-step of `kind` on `where` and charge `n` units of its category.

        `form` is the template of its prose and the keywords are its fields (see
        `simulator.observe.TraceEvent`); the prose is only rendered when read.
        """
        category = CATEGORY.get(kind) if n else None  # nothing to count: skip the lookup
        if category is not None:
            cost = self.cost
            setattr(cost, category, getattr(cost, category) + n)
        if self.enabled:
            self._seq += 1
            clock = self.clock
            event = _new_event(
                TraceEvent,
                (
                    self._seq, 0 if clock is None else getattr(clock, "now_ns", 0), kind,
                    where, 0 if category is None else n, form,
                    fd, key, other, side, red, list, mask, count, subject,
                ),
            )  # fmt: skip
            self.events.append(event)
            if self.observer is not None:
                self.observer(event)

    def charge_compares(
        self, where: str, key: object, others: Sequence[object], sides: Sequence[str]
    ) -> None:
        """Charge a tree descent: one ``tree_compare`` per visited node and, when `enabled`,
        one TREE_COMPARE event each, exactly as calling `charge` once per node would.

        `key` was compared with each of `others` (root first) and went to the matching one of
        `sides`. A traced ``EPOLL_CTL_ADD`` records some fifty comparisons (``ep_find``, then
        the insert's own descent); making their events in one loop here keeps the work per
        comparison to building its event.
        """
        cost = self.cost
        observer = self.observer
        if not self.enabled or observer is None:
            cost.tree_compare += len(others)
            if not self.enabled:
                return
        clock = self.clock
        now = 0 if clock is None else getattr(clock, "now_ns", 0)
        seq = self._seq
        compare = TraceKind.TREE_COMPARE
        if observer is None:
            self.events += [
                _new_event(TraceEvent, (
                    number, now, compare, where, 1, _COMPARE,
                    None, key, other, side, None, "", None, None, "",
                ))
                for number, other, side in zip(count(seq + 1), others, sides)
            ]  # fmt: skip
            self._seq = seq + len(others)
            return
        for other, side in zip(others, sides, strict=True):
            seq += 1
            self._seq = seq
            cost.tree_compare += 1  # the observer sees the cost as `charge` would leave it
            event = _new_event(TraceEvent, (
                seq, now, compare, where, 1, _COMPARE,
                None, key, other, side, None, "", None, None, "",
            ))  # fmt: skip
            self.events.append(event)
            observer(event)


__all__ = ["Cost", "TraceEvent", "TraceKind", "Tracer"]
