"""`PictureView`: a `Static` that shows one detached rich picture of the current frame.

Subclasses turn the frame (and the micro-step being animated, if any) into a renderable in
`picture`; the base class re-renders when either changes. Pictures are detached from the
model, so repainting never reads it.

A picture equal to the one on screen is not shown again: most of a step's pictures (the NIC
lane, the wait queues, the threads, and at most micro-steps of an animation all but one or
two) are the same data as before the step, and showing one costs a rendering and a repaint.
A view says whether its pictures compare so (`COMPARES_PICTURES`): only where equality means
"draws the same" -- frozen dataclasses of plain values (strings, numbers, tuples, mappings of
them), compared by their fields, or objects without an equality of their own, by identity. A
picture holding a rich `Text` does not qualify: `Text` compares its characters and spans, not
its style. `frame` and `event` are plain `var`s (no repaint of their own): the view repaints
when it shows a new picture, and only then (`MeasuredStatic.show`, which also lays out the
screen only when the picture's height changes).
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.reactive import var

from simulator.observe import TraceEvent
from tui.frame import Frame
from tui.render.safe import Neutralised
from tui.widgets.measured import MeasuredStatic

_UNSET = object()


class PictureView(MeasuredStatic):
    """Base of the small model views."""

    DEFAULT_CSS = """
    PictureView {
        height: auto;
    }
    """

    #: Whether `picture` gives values whose `==` means "draws the same" (see the module
    #: docstring), so that an equal picture is not shown again.
    COMPARES_PICTURES: ClassVar[bool] = False

    frame: var[Frame | None] = var(None, always_update=True, init=False)
    """The frame on screen (set by the player)."""
    event: var[TraceEvent | None] = var(None, always_update=True, init=False)
    """The micro-step being animated, or None at rest."""

    def picture(self, frame: Frame, event: TraceEvent | None) -> RenderableType | None:
        """What to show; None hides nothing but shows a dim placeholder."""
        return None

    def placeholder(self) -> str:
        return ""

    _shown: object = _UNSET  # the picture on screen (None: the placeholder)

    def _redraw(self) -> None:
        frame = self.frame
        shown = self.picture(frame, self.event) if frame is not None else None
        if self.COMPARES_PICTURES and shown == self._shown:
            return
        self._shown = shown
        # Pictures make the file's text safe themselves; `Neutralised` is the net under them.
        self.show(
            Neutralised(shown) if shown is not None else Text(self.placeholder(), style="dim")
        )

    def watch_frame(self) -> None:
        self._redraw()

    def watch_event(self) -> None:
        self._redraw()
