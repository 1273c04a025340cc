"""The epoll ready list (``rdllist``) and ``ovflist``, as linked nodes."""

from __future__ import annotations

import re

from rich.console import RenderableType

from simulator.kernel.trace import TraceEvent
from tui.frame import Frame
from tui.widgets.picture import PictureView

_EPITEM_FD = re.compile(r"fd[= ](\d+)")


def event_fd(event: TraceEvent | None) -> int | None:
    """The descriptor a micro-step's detail names (``<epitem fd=3 ...>``, ``fd 3``)."""
    if event is None:
        return None
    match = _EPITEM_FD.search(event.detail)
    return int(match.group(1)) if match else None


class ReadyList(PictureView):
    """The ready list, head first; the node a micro-step touches is lit."""

    DEFAULT_CSS = """
    ReadyList {
        height: auto;
        padding: 0 1;
    }
    """

    def placeholder(self) -> str:
        return "no epoll instance yet"

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        if frame.chain is None:
            return None
        return frame.chain.with_focus(event_fd(event))
