"""The NIC lane: packet → rx ring → IRQ → softirq → socket → callback → ready list."""

from __future__ import annotations

from rich.console import RenderableType

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.widgets.picture import PictureView


class NicLaneView(PictureView):
    """The packet path, with the current micro-step's stage lit."""

    DEFAULT_CSS = """
    NicLaneView {
        height: auto;
        padding: 0 1;
    }
    """

    COMPARES_PICTURES = True  #: frozen dataclasses of plain values

    def on_mount(self) -> None:
        self.border_title = "NIC lane"

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        return frame.nic.with_event(event) if frame.nic is not None else None
