"""Keeping CPython's cyclic garbage collector off the model while the screen repaints.

A step leaves the model's objects alive as long as its position is shown: at 100,000
descriptors that is millions of objects (files, sockets, epitems, tree nodes). The collector
walks every one of them at each full collection (generation 2), some 200 ms at that size, and
such a collection comes in the middle of a repaint every few steps. After the player draws a
position, `HeapPolicy.settle` moves every object alive into the collector's permanent
generation (`gc.freeze`, O(1)): later collections look only at what was made since. Frozen
objects are still freed by reference counting; only a *cycle* that becomes garbage while
frozen waits, until everything is handed back to the collector and collected
(`gc.unfreeze`, then `gc.collect`). That happens every `RECLAIM_EVERY` positions drawn (so
what waits stays bounded), when the position goes back after the frozen heap grew by more than
`BACK_GROWTH` of what the last collection left (the model is rebuilt from a checkpoint, and an
abandoned big model -- millions of objects -- is freed at once, while a small lesson's rewind,
whose garbage is a few hundred objects, does not pay a full collection of the whole process,
~0.1-0.25 s beside Textual, on every key press), and when the player closes
(`HeapPolicy.release`, without a collection: the collector's own thresholds decide).

The collector keeps one permanent generation per process: the player that settles owns it
while it is open (the app plays one scenario at a time).

A run that only goes forward (``check``, ``play --headless``) has its own policy:
`simulator.scenario.collector.ForwardRun`.
"""

from __future__ import annotations

import gc

#: Positions drawn between two full collections of what was frozen.
RECLAIM_EVERY = 100

#: A move back collects when the frozen heap has grown by more than this fraction of what the
#: last collection left: at most about one abandoned model waits for the collector.
BACK_GROWTH = 0.25


class HeapPolicy:
    """When the player freezes the heap, and when it hands it back (see the module docstring).

    `settle` is O(1) but every `RECLAIM_EVERY` calls and after a move backwards over a grown
    heap, when it costs one full collection (O(objects alive))."""

    def __init__(self) -> None:
        self._position: int | None = None
        self._since_reclaim = 0
        self._frozen_base: int | None = None

    def settle(self, position: int) -> None:
        """`position` was just drawn: freeze everything alive, after a full collection if
        `RECLAIM_EVERY` positions were drawn since the last one, or if the position went back
        and the frozen heap grew by more than `BACK_GROWTH` since then."""
        back = self._position is not None and position < self._position
        self._position = position
        self._since_reclaim += 1
        if self._since_reclaim >= RECLAIM_EVERY or (back and self._grown()):
            self.reclaim()
        gc.freeze()
        if self._frozen_base is None:
            self._frozen_base = gc.get_freeze_count()

    def _grown(self) -> bool:
        base = self._frozen_base or 0
        return gc.get_freeze_count() - base > BACK_GROWTH * base

    def reclaim(self) -> None:
        """Hand everything back to the collector and collect it all now."""
        gc.unfreeze()
        gc.collect()
        self._since_reclaim = 0
        self._frozen_base = None  # the next freeze measures what the collection left

    def release(self) -> None:
        """Hand everything back to the collector (the player closes)."""
        gc.unfreeze()
        self._position = None
        self._since_reclaim = 0
        self._frozen_base = None


__all__ = ["BACK_GROWTH", "RECLAIM_EVERY", "HeapPolicy"]
