"""The epoll ready list (``rdllist``) and ``ovflist``, as linked nodes."""

from __future__ import annotations

from rich.console import RenderableType

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.widgets.picture import PictureView


def event_fd(event: TraceEvent | None) -> int | None:
    """The descriptor a micro-step concerns (its `TraceEvent.fd`), if any."""
    return event.fd if event is not None else None


class ReadyList(PictureView):
    """The ready list, head first; the node a micro-step touches is lit."""

    DEFAULT_CSS = """
    ReadyList {
        height: auto;
        padding: 0 1;
    }
    """

    COMPARES_PICTURES = True  #: frozen dataclasses of plain values

    def placeholder(self) -> str:
        return "no epoll instance yet"

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        if frame.chain is None:
            return None
        return frame.chain.with_focus(event_fd(event))
