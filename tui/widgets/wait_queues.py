"""Who sleeps where: the epoll's wait queues and those of the scenario's files."""

from __future__ import annotations

from rich.console import RenderableType

from simulator.observe import TraceEvent, TraceKind
from tui.frame import Frame
from tui.widgets.picture import PictureView

_QUEUE_EVENTS = frozenset(
    {TraceKind.WAIT_ADD, TraceKind.WAIT_REMOVE, TraceKind.WAKEUP, TraceKind.CALLBACK}
)


class WaitQueues(PictureView):
    """One row per wait queue: its entries head first; the one being woken is lit."""

    DEFAULT_CSS = """
    WaitQueues {
        height: auto;
        padding: 0 1;
    }
    """

    COMPARES_PICTURES = True  #: frozen dataclasses of plain values

    def placeholder(self) -> str:
        return "no wait queues"

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        if frame.queues is None:
            return None
        where = event.where if event is not None and event.kind in _QUEUE_EVENTS else None
        return frame.queues.with_focus(where)
