"""The animation of one step: a cursor through its captured micro-steps, moved by a timer.

Textual-free: the timer comes from a `set_interval` the owner passes in (a Textual screen's, in
the app), and every move is reported to `show` -- the micro-step's index, or None for the final
state, on which an animation always ends, skipped or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol


class Repeating(Protocol):
    """A running interval timer (Textual's `Timer`)."""

    def stop(self) -> None: ...


SetInterval = Callable[[float, Callable[[], None]], Repeating]


class Animation:
    """Shows the micro-steps `start` is given, in order, one per tick, then the final state.

    `show(micro)` draws micro-step `micro` (None: the final state); `done()` is called when the
    animation ends by itself or is `finish`-ed (not when it is `stop`-ped)."""

    def __init__(
        self,
        set_interval: SetInterval,
        show: Callable[[int | None], None],
        done: Callable[[], None],
    ) -> None:
        self._set_interval = set_interval
        self._show = show
        self._done = done
        self._timer: Repeating | None = None
        self._ticks: list[int] = []
        self._at = 0
        self.micro: int | None = None
        """The micro-step shown (None: the final state)."""

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self, micro_steps: Iterable[int], seconds: float) -> None:
        """Show the first of `micro_steps` now, the next every `seconds`."""
        self.stop()
        self._ticks = sorted(micro_steps)
        if not self._ticks:
            return
        self._at = 0
        self._move(self._ticks[0])
        self._timer = self._set_interval(seconds, self.tick)

    def tick(self) -> None:
        """One move: the next micro-step, or the end after the last one."""
        if not self.running:
            return
        if self._at + 1 >= len(self._ticks):
            self.finish()
        else:
            self._at += 1
            self._move(self._ticks[self._at])

    def retime(self, seconds: float) -> None:
        """Go on at a new pace."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = self._set_interval(seconds, self.tick)

    def stop(self) -> None:
        """End now, on the exact final state."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
            self._move(None)

    def finish(self) -> None:
        """End now, on the final state, as if the last tick had come."""
        if self.running:
            self.stop()
            self._done()

    def _move(self, micro: int | None) -> None:
        self.micro = micro
        self._show(micro)


__all__ = ["Animation", "Repeating", "SetInterval"]
