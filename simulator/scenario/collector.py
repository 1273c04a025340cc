"""Keeping CPython's cyclic garbage collector off a run that only goes forward.

`Runner.__iter__` (what ``muxlab check`` and ``play --headless`` run) keeps every step's model
objects and record alive to the end. The collector walks all of them at each full collection
(generation 2): profiled at 10,000 ``socketpair`` steps, those passes were a third of the
runner's time and made a step of the last tenth twice as slow as one of the first. `ForwardRun`
freezes what is alive when the run starts (the loaded scenario) and, every `FREEZE_EVERY`
steps, what those steps made (`gc.freeze`, O(1)): the collector's passes then look at the last
few hundred steps' objects only. No collection comes before a freeze: the young collections
the collector runs by itself have already freed the cycles that died young, and one more pass
over what a forward run keeps anyway cost ~10 % of the runner (issue 10, session 5). Frozen
objects are still freed by reference counting; a *cycle* that is garbage when frozen, or dies
while frozen, waits until the run ends, when `ForwardRun` hands everything back
(`gc.unfreeze`; the collector's own thresholds decide when it runs). So what waits is bounded
by the run.

The collector keeps one permanent generation per process: the app's player, which moves back
and forth, has its own policy (`tui.heap.HeapPolicy`) and never iterates a runner.
"""

from __future__ import annotations

import gc

#: Steps between two freezes.
FREEZE_EVERY = 256


class ForwardRun:
    """The collector's policy for a forward run (see the module docstring): a context manager;
    call `step` after each step. O(1)."""

    def __init__(self) -> None:
        self._left = FREEZE_EVERY  #: steps before the next freeze

    def __enter__(self) -> ForwardRun:
        gc.freeze()  # what is alive now lives as long as the run: no collection first
        return self

    def step(self) -> None:
        """One more step ran."""
        self._left -= 1
        if not self._left:
            gc.freeze()
            self._left = FREEZE_EVERY

    def __exit__(self, *exc: object) -> None:
        gc.unfreeze()


__all__ = ["FREEZE_EVERY", "ForwardRun"]
