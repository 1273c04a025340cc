"""Keeping CPython's cyclic garbage collector off the model while the screen repaints.

A step leaves the model's objects alive as long as its position is shown: at 100,000
descriptors that is millions of objects (files, sockets, epitems, tree nodes). The collector
walks every one of them at each full collection (generation 2), some 200 ms at that size, and
such a collection comes in the middle of a repaint every few steps. After the player draws a
position, `HeapPolicy.settle` moves every object alive into the collector's permanent
generation (`gc.freeze`, O(1)): later collections look only at what was made since. Frozen
objects are still freed by reference counting; only a *cycle* that becomes garbage while
frozen waits, until everything is handed back to the collector and collected
(`gc.unfreeze`, then `gc.collect`). That happens when the position goes back (the model is
rebuilt from a checkpoint: the abandoned one's cycles die), every `RECLAIM_EVERY` positions
drawn going forward (so what waits stays bounded), and when the player closes
(`HeapPolicy.release`, without a collection: the collector's own thresholds decide).

The collector keeps one permanent generation per process: the player that settles owns it
while it is open (the app plays one scenario at a time).

A run that only goes forward (``check``, ``play --headless``) has its own policy:
`simulator.scenario.collector.ForwardRun`.
"""

from __future__ import annotations

import gc

#: Positions drawn going forward between two full collections of what was frozen.
RECLAIM_EVERY = 100


class HeapPolicy:
    """When the player freezes the heap, and when it hands it back (see the module docstring).

    `settle` is O(1) but every `RECLAIM_EVERY` calls and after a move backwards, when it costs
    one full collection (O(objects alive))."""

    def __init__(self) -> None:
        self._position: int | None = None
        self._since_reclaim = 0

    def settle(self, position: int) -> None:
        """`position` was just drawn: freeze everything alive, after a full collection if the
        position went back or `RECLAIM_EVERY` positions were drawn since the last one."""
        back = self._position is not None and position < self._position
        self._position = position
        self._since_reclaim += 1
        if back or self._since_reclaim >= RECLAIM_EVERY:
            self.reclaim()
        gc.freeze()

    def reclaim(self) -> None:
        """Hand everything back to the collector and collect it all now."""
        gc.unfreeze()
        gc.collect()
        self._since_reclaim = 0

    def release(self) -> None:
        """Hand everything back to the collector (the player closes)."""
        gc.unfreeze()
        self._position = None
        self._since_reclaim = 0


__all__ = ["RECLAIM_EVERY", "HeapPolicy"]
