"""The threads and CPUs: each thread's state, where it sleeps, and the context switches."""

from __future__ import annotations

from dataclasses import replace

from rich.console import RenderableType
from textual.reactive import reactive

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.widgets.picture import PictureView


class ThreadsView(PictureView):
    """One row per thread (`tui.render.threads.ThreadsPicture`); during a step's animation the
    thread being switched to and every woken one are lit, at rest the woken are marked."""

    DEFAULT_CSS = """
    ThreadsView {
        height: auto;
        padding: 0 1;
    }
    """

    COMPARES_PICTURES = True  #: frozen dataclasses of plain values

    compact: reactive[bool] = reactive(False, init=False)
    """Shorter rows (the player's compact layout)."""

    def watch_compact(self) -> None:
        self._redraw()

    def placeholder(self) -> str:
        return "no threads"

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        threads = frame.threads
        if threads is None:
            return None
        if self.compact:
            threads = replace(threads, compact=True)
        return threads.during(event) if event is not None else threads
