"""Containers repainted once when a layout resizes them: `Row`, `Column`, `ScrollColumn`.

When a layout resizes a widget, Textual repaints it for its new size, then sets its
`virtual_size`, a reactive that asks for another layout and repaints the widget again. In the
player every panel under a narration that grew by a line is resized, and each was drawn twice
per step. A container draws only its background and borders, which its virtual size does not
change (a scrolling container's scrollbars are widgets of their own, updated by the layout);
these classes declare `virtual_size` as Textual does, less the repaint. The second layout is
kept: what it places is Textual's business. Everything else is Textual's `Horizontal`,
`Vertical` and `VerticalScroll`, whose CSS type names still match.
`tui.widgets.measured.MeasuredStatic` does the same for the pictures.
"""

from __future__ import annotations

from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.reactive import Reactive


class Row(Horizontal):
    """A `Horizontal` repainted once per new size."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=True, repaint=False)


class Column(Vertical):
    """A `Vertical` repainted once per new size."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=True, repaint=False)


class ScrollColumn(VerticalScroll):
    """A `VerticalScroll` repainted once per new size."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=True, repaint=False)
