"""`PictureView`: a `Static` that shows one detached rich picture of the current frame.

Subclasses turn the frame (and the micro-step being animated, if any) into a renderable in
`picture`; the base class re-renders when either changes. Pictures are detached from the
model, so repainting never reads it.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.render.safe import Neutralised


class PictureView(Static):
    """Base of the small model views."""

    DEFAULT_CSS = """
    PictureView {
        height: auto;
    }
    """

    frame: reactive[Frame | None] = reactive(None, always_update=True, init=False)
    """The frame on screen (set by the player)."""
    event: reactive[TraceEvent | None] = reactive(None, always_update=True, init=False)
    """The micro-step being animated, or None at rest."""

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        """What to show; None hides nothing but shows a dim placeholder."""
        return None

    def placeholder(self) -> str:
        return ""

    def _redraw(self) -> None:
        frame = self.frame
        shown = self.picture(frame, self.event) if frame is not None else None
        # Pictures make the file's text safe themselves; `Neutralised` is the net under them.
        self.update(
            Neutralised(shown) if shown is not None else Text(self.placeholder(), style="dim")
        )

    def watch_frame(self) -> None:
        self._redraw()

    def watch_event(self) -> None:
        self._redraw()
