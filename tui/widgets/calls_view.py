"""What poll/select copy in and scan (pollfd array, fd_set bitmaps), a kqueue's knotes, or an
io_uring's rings."""

from __future__ import annotations

from rich.console import RenderableType

from simulator.observe import TraceEvent, TraceKind
from tui.frame import Frame
from tui.render.poll_sets import PollArray, SelectBitmaps
from tui.widgets.picture import PictureView
from tui.widgets.ready_list import event_fd


class CallsView(PictureView):
    """The last poll/select call's arrays; the fd being scanned is lit."""

    DEFAULT_CSS = """
    CallsView {
        height: auto;
        padding: 0 1;
    }
    """

    #: Poll arrays and select bitmaps are frozen dataclasses of plain values; a kqueue's knotes
    #: and an io_uring's rings compare by identity.
    COMPARES_PICTURES = True

    def placeholder(self) -> str:
        return "no poll or select call yet"

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        calls = frame.calls
        if isinstance(calls, PollArray | SelectBitmaps):
            scanning = event is not None and event.kind is TraceKind.FD_SCAN
            return calls.with_focus(event_fd(event) if scanning else None)
        return calls
