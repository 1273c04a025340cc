"""Virtual time: the model's clock and its queue of pending events.

Nothing in the model reads the wall clock. Pending work (a segment on the wire, a softirq, a
timer) is a `Pending` entry in a `sortedcontainers.SortedKeyList` ordered by
``(time_ns, priority, seq)``: same-time events run in priority order, then first-in-first-out,
so every run repeats exactly and the TUI can show what comes next (SimPy's discipline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sortedcontainers import SortedKeyList

# Priorities for events due at the same instant: hardware before softirq before timers,
# mirroring the order in which a CPU would service them.
PRIO_IRQ = 0
PRIO_SOFTIRQ = 1
PRIO_TIMER = 2


@dataclass(slots=True)
class Pending:
    """One scheduled action: run `action` at `time_ns`."""

    time_ns: int
    priority: int
    seq: int
    label: str
    action: Callable[[], None] = field(compare=False)


class Clock:
    """Virtual clock plus pending-event queue.

    `schedule` is O(log n); `run_until`/`settle` pop in ``(time, priority, seq)`` order,
    advancing `now_ns` to each event's time before running it.
    """

    def __init__(self) -> None:
        self.now_ns = 0
        self._seq = 0
        self._queue: SortedKeyList = SortedKeyList(key=lambda p: (p.time_ns, p.priority, p.seq))

    def schedule(
        self, delay_ns: int, priority: int, label: str, action: Callable[[], None]
    ) -> Pending:
        """Queue `action` to run `delay_ns` from now."""
        self._seq += 1
        entry = Pending(self.now_ns + max(0, delay_ns), priority, self._seq, label, action)
        self._queue.add(entry)
        return entry

    def cancel(self, entry: Pending) -> None:
        """Drop a scheduled action if it has not run yet."""
        if entry in self._queue:
            self._queue.remove(entry)

    @property
    def pending(self) -> list[Pending]:
        """What is scheduled, soonest first (a copy, for views)."""
        return list(self._queue)

    def run_until(self, deadline_ns: int | None, stop: Callable[[], bool] | None = None) -> None:
        """Run pending events due at or before `deadline_ns` (None: all), in order.

        Stops early, right after an event, once `stop()` is true. If it runs out of events
        before the deadline, time advances to the deadline (a sleeper timed out).
        """
        while self._queue:
            head = self._queue[0]
            if deadline_ns is not None and head.time_ns > deadline_ns:
                break
            self._queue.pop(0)
            self.now_ns = max(self.now_ns, head.time_ns)
            head.action()
            if stop is not None and stop():
                return
        if deadline_ns is not None and deadline_ns > self.now_ns:
            self.now_ns = deadline_ns

    def settle(self) -> None:
        """Run pending work until only timers are left: the kernel is quiescent afterwards.

        Timers (``PRIO_TIMER``) stay queued for the future, except those due before some
        other pending event, which fire on the way there as time passes.
        """
        while self._queue:  # most calls leave nothing pending: return at once
            last = next((p for p in reversed(self._queue) if p.priority < PRIO_TIMER), None)
            if last is None:
                return
            self.run_until(last.time_ns)
