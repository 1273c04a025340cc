"""The right panel: the real kernel's side of the step (`tui.render.live_side.LiveSide`)."""

from __future__ import annotations

from rich.console import RenderableType

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.widgets.picture import PictureView


class LivePanel(PictureView):
    """The call as issued, the real answer, the verdict with its diff, the real interest list."""

    DEFAULT_CSS = """
    LivePanel {
        height: auto;
        padding: 0 1;
    }
    """

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        return frame.live
