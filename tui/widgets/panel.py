"""`Panel`: a bordered container whose border subtitle changes often (the model panel's
``virtual time 12.5 µs · 7 calls``, new at every step and every frame of an animation).

Setting a widget's `border_subtitle` repaints the whole widget: for a container, every row of
its own background and borders, and every row of its children composed again over them -- a
third of the screen, for a dozen characters on one row. The subtitle is drawn on the bottom
border row only, so `set_subtitle` repaints that row alone; any other refresh of the panel is
Textual's own.
"""

from __future__ import annotations

from typing import Self

from textual.geometry import Region

from tui.widgets.steady import Column


class Panel(Column):
    """A `Column` whose subtitle is set with `set_subtitle` (see the module docstring)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._subtitle: str | None = None
        self._subtitle_row_only = False  # set while the subtitle changes

    def set_subtitle(self, subtitle: str) -> None:
        """Show `subtitle` (console markup, as `border_subtitle` reads a str) on the bottom
        border, repainting that row only; the same subtitle again repaints nothing."""
        if subtitle == self._subtitle:
            return
        self._subtitle = subtitle
        self._subtitle_row_only = True
        try:
            self.border_subtitle = subtitle
        finally:
            self._subtitle_row_only = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        width, height = self.outer_size
        if self._subtitle_row_only and not (regions or layout or recompose) and height:
            # The bottom row, in the coordinates `refresh` takes (from the content's origin).
            left, top = self.content_offset
            regions = (Region(-left, height - 1 - top, width, 1),)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
