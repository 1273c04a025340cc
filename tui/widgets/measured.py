"""`MeasuredStatic`: a `Static` that asks for a layout only when new content changes its height.

Textual's `Static.update` asks for a layout at every update, and a layout reflows the whole
screen (then reflows it again for the widgets the first pass resized): in the player, whose
steps each update some ten auto-height pictures, that was two reflows of some forty widgets
at every step, although most steps leave every picture as tall as it was. `show` repaints the
widget and measures the new content with Textual's own `get_content_height` at the widths
Textual's layouts measured the shown content at; it asks for a layout only when one of those
heights changes (or when there is no such measure yet).

Why this is exact: a layout's geometry depends on the widget's content only through the heights
`get_content_height` gives it, and Textual reuses a measure (its box-model cache) only at a
width it was made at, until the widget asks for a layout. Every measure a layout makes is
recorded (`get_content_height`), so the record holds every width whose measure Textual may
reuse; when the new content has the same height at each of them, any layout -- now or later,
whatever else asked for it -- places every widget where it is. Otherwise the layout asked for
discards Textual's measures with the record, and the next layout makes and records new ones.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.visual import VisualType
from textual.widgets import Static

#: A record of more widths than this (many resizes) is dropped at the next `show`, with a
#: layout: measuring the new content at each width must stay cheap.
MAX_WIDTHS = 4


class MeasuredStatic(Static):
    """A `Static` whose `show` lays out the screen only when the content's height changes."""

    # Textual's, less its repaint: a layout that resizes the widget sets it (and asks for
    # another layout) after repainting the widget for its new size already.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=True, repaint=False)

    def __init__(
        self,
        content: VisualType = "",
        *,
        markup: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(content, markup=markup, name=name, id=id, classes=classes)
        self._heights: dict[int, int] = {}
        """Content width -> height of the content shown, for each width a layout measured."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        height = super().get_content_height(container, viewport, width)
        self._heights[width] = height
        return height

    def show(self, content: VisualType) -> None:
        """Show `content`, and ask for a layout only when its height differs from the shown
        content's at a width a layout measured it at (see the module docstring). O(rendering
        `content` once per recorded width, usually one; the drawing that follows reuses it
        where the renderable keeps it, as `tui.render.safe.Neutralised` does)."""
        before = self._heights
        self.update(content, layout=False)
        if before and len(before) <= MAX_WIDTHS:
            app_size = self.app.size
            container = self.container_size
            measure = super().get_content_height  # measuring is not a layout: not recorded
            if all(measure(container, app_size, width) == h for width, h in before.items()):
                return
        self._heights = {}
        self.refresh(layout=True)
