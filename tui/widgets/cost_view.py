"""The cost counters of the step's call (`Cost`): the work complexity lessons compare."""

from __future__ import annotations

from rich.console import RenderableType

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.widgets.picture import PictureView


class CostView(PictureView):
    """Eight small bars and the total."""

    DEFAULT_CSS = """
    CostView {
        height: auto;
        padding: 0 1;
    }
    """

    COMPARES_PICTURES = True  #: frozen dataclasses of plain values

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        return frame.cost
