"""The model's side of tracing: `Tracer`, the one place micro-steps are recorded and charged.

The vocabulary (`TraceEvent`, `TraceKind`, `Cost`) is `simulator.observe`, which viewers import
without importing the model; it is re-exported here for the model's modules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from itertools import count
from typing import Any, cast, overload

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
    form, which records the same events as one `charge` per comparison, and a micro-step
    that costs nothing by `record_free`, its form without a count. A syscall entry point
    calls `begin_call` first, so `events` and `cost` always describe the *last* call.

    `clock` is any object with a ``now_ns`` attribute (the model's virtual clock); without one
    events are stamped 0, which is what standalone data-structure tests want.

    `observer`, when set, is called with each recorded event right after it is recorded, while
    the model is in the state that event left it in: the TUI takes its pictures of the
    micro-steps there. It must only read the model. A copy of a tracer has no observer, so a
    model checkpoint never carries one into a later replay.

    Without an observer nobody can look at a descent's comparisons before the call returns, so
    `charge_compares` keeps the descent as one record (its key, the keys compared, the sides)
    and `events` makes their events when it is first read: the same events, numbered and
    stamped as if made at once, but none made for a call whose trace nobody reads.
    """

    __slots__ = ("_events", "_folded", "_seq", "clock", "cost", "enabled", "observer")

    def __init__(self, enabled: bool = True, clock: object | None = None) -> None:
        self.enabled = enabled
        self.clock = clock
        self._events: list[TraceEvent | _Descent] = []
        self._folded = False  # does `_events` hold a `_Descent` to unfold?
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

    @property
    def events(self) -> list[TraceEvent]:
        """The last call's events in order (descents unfolded into their comparisons)."""
        if self._folded:
            self._unfold()
        return cast("list[TraceEvent]", self._events)

    @events.setter
    def events(self, events: list[TraceEvent]) -> None:
        self._events = cast("list[TraceEvent | _Descent]", events)
        self._folded = False

    def _unfold(self) -> None:
        """Replace each kept descent by its comparison events, in place. O(events)."""
        unfolded: list[TraceEvent | _Descent] = []
        for item in self._events:
            if type(item) is _Descent:
                unfolded += item.unfold()
            else:
                unfolded.append(item)
        self._events[:] = unfolded  # the same list: a reader holding it sees them too
        self._folded = False

    def frame(self) -> Sequence[TraceEvent]:
        """The last call's events, to keep: a tuple, or (while a descent is still kept whole)
        a `TraceFrame` that makes them when first read -- a run that keeps every step's trace
        and reads few of them (``muxlab check``, ``play --headless``) makes none. O(records)."""
        if self._folded:
            return TraceFrame(tuple(self._events))
        return tuple(cast("list[TraceEvent]", self._events))

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
            self._events.append(event)
            if self.observer is not None:
                self.observer(event)

    def record_free(
        self,
        kind: TraceKind,
        where: str,
        form: str,
        key: Key | None,
        side: str = "",
        red: bool | None = None,
    ) -> None:
        """Record a micro-step of a `kind` that costs nothing (no `CATEGORY`: a tree's insert,
        erase, rotation or recolour) on a tree `key`: `charge` with nothing to count, its
        arguments positional. An insert's rebalancing records several. No-op when off."""
        if not self.enabled:
            return
        self._seq += 1
        clock = self.clock
        event = _new_event(
            TraceEvent,
            (
                self._seq, 0 if clock is None else getattr(clock, "now_ns", 0), kind, where, 0,
                form, None, key, None, side, red, "", None, None, "",
            ),
        )  # fmt: skip
        self._events.append(event)
        if self.observer is not None:
            self.observer(event)

    def charge_compares(
        self,
        where: str,
        key: object,
        others: Sequence[object],
        sides: Sequence[str],
        shown: Callable[[Any], Key] | None = None,
    ) -> None:
        """Charge a tree descent: one ``tree_compare`` per visited node and, when `enabled`,
        one TREE_COMPARE event each, exactly as calling `charge` once per node would.

        `key` was compared with each of `others` (root first) and went to the matching one of
        `sides`; the tracer keeps both lists (the caller gives them up). A traced
        ``EPOLL_CTL_ADD`` records some fifty comparisons (``ep_find``, then the insert's own
        descent): with an observer their events are made here, one by one; without one the
        descent is kept as one record, unfolded when `events` is read. `shown`, if given,
        turns a key into what the events carry (`RBTree.shown`).
        """
        cost = self.cost
        if not self.enabled:
            cost.tree_compare += len(others)
            return
        clock = self.clock
        now = 0 if clock is None else getattr(clock, "now_ns", 0)
        seq = self._seq
        observer = self.observer
        if observer is None:
            cost.tree_compare += len(others)
            self._events.append(_Descent(seq + 1, now, where, key, others, sides, shown))
            self._folded = True
            self._seq = seq + len(others)
            return
        compare = TraceKind.TREE_COMPARE
        if shown is not None:
            key, others = shown(key), [shown(other) for other in others]
        for other, side in zip(others, sides, strict=True):
            seq += 1
            self._seq = seq
            cost.tree_compare += 1  # the observer sees the cost as `charge` would leave it
            event = _new_event(TraceEvent, (
                seq, now, compare, where, 1, _COMPARE,
                None, key, other, side, None, "", None, None, "",
            ))  # fmt: skip
            self._events.append(event)
            observer(event)


class _Descent:
    """A tree descent kept by `Tracer.charge_compares` until its events are read."""

    __slots__ = ("key", "now", "others", "seq", "shown", "sides", "where")

    def __init__(
        self,
        seq: int,
        now: int,
        where: str,
        key: object,
        others: Sequence[object],
        sides: Sequence[str],
        shown: Callable[[Any], Key] | None,
    ) -> None:
        self.seq = seq
        self.now = now
        self.where = where
        self.key = key
        self.others = others
        self.sides = sides
        self.shown = shown

    def unfold(self) -> list[TraceEvent]:
        """One TREE_COMPARE event per comparison, numbered from `seq`."""
        now, where, key, compare = self.now, self.where, self.key, TraceKind.TREE_COMPARE
        others = self.others
        if self.shown is not None:
            key, others = self.shown(key), [self.shown(other) for other in others]
        return [
            _new_event(TraceEvent, (
                number, now, compare, where, 1, _COMPARE,
                None, key, other, side, None, "", None, None, "",
            ))
            for number, other, side in zip(count(self.seq), others, self.sides)
        ]  # fmt: skip


class TraceFrame(Sequence[TraceEvent]):
    """One call's events, kept with its descents whole (`Tracer.frame`): the events are made
    when first read, the same as `Tracer.events` would have made them then (a descent holds
    its keys, and showing a key reads nothing else). Compares equal to the tuple of them."""

    __slots__ = ("_events", "_items")

    def __init__(self, items: tuple[TraceEvent | _Descent, ...]) -> None:
        self._items = items
        self._events: tuple[TraceEvent, ...] | None = None

    def events(self) -> tuple[TraceEvent, ...]:
        """The events, made on the first call. O(events)."""
        if self._events is None:
            unfolded: list[TraceEvent] = []
            for item in self._items:
                if type(item) is _Descent:
                    unfolded += item.unfold()
                else:
                    unfolded.append(cast(TraceEvent, item))
            self._events = tuple(unfolded)
        return self._events

    def __len__(self) -> int:
        return len(self.events())

    @overload
    def __getitem__(self, index: int) -> TraceEvent: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[TraceEvent, ...]: ...
    def __getitem__(self, index: int | slice) -> TraceEvent | tuple[TraceEvent, ...]:
        return self.events()[index]

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TraceFrame):
            return self.events() == other.events()
        if isinstance(other, tuple):
            return self.events() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TraceFrame({self.events()!r})"


__all__ = ["Cost", "TraceEvent", "TraceFrame", "TraceKind", "Tracer"]
