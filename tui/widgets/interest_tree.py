"""The epoll interest list drawn as the red-black tree it is (``ep->rbr``).

During a step's animation the tree is the one captured at the current micro-step (so an insert
appears, recolours and rotates in turn, as the model did it); at rest it is a fresh capture of
the model. The node a micro-step touches is lit; an ``epoll_ctl``'s lookup path is underlined
and spelled out. Text lines (the heading, summaries, the legend) wrap to the width, never cut.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import var

from simulator.observe import TraceEvent, TraceKind
from tui.frame import Frame
from tui.render.rbtree_art import LEGEND, Key, TreeShape, draw_tree
from tui.widgets.lines import LinesView
from tui.widgets.ready_list import event_fd

TREE_EVENTS = frozenset(
    {TraceKind.TREE_INSERT, TraceKind.TREE_ERASE, TraceKind.TREE_RECOLOR, TraceKind.TREE_ROTATE}
)


class InterestTree(LinesView):
    """Line-API view of the tree (bounded: the top levels that fit, then a summary line)."""

    DEFAULT_CSS = """
    InterestTree {
        height: auto;
        max-height: 20;
        padding: 0 1;
    }
    """

    frame: var[Frame | None] = var(None, always_update=True, init=False)
    """The frame on screen."""
    micro: var[int | None] = var(None, always_update=True, init=False)
    """Index of the micro-step being animated in the frame's trace, or None at rest."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[Text] = []
        self._width = -1

    def watch_frame(self) -> None:
        self._rebuild()

    def watch_micro(self) -> None:
        self._rebuild()

    def on_resize(self) -> None:
        self._rebuild()

    def line_count(self) -> int:
        return len(self._lines)

    def make_line(self, index: int, width: int) -> Text:
        if width != self._width:
            # A scrollbar came or went: the text lines wrap differently.
            self._lines, self._width = self._make_lines(width), width
            self.call_after_refresh(self.fit_canvas)
        return self._lines[index] if index < len(self._lines) else Text()

    def current_shape(self) -> TreeShape | None:
        """The shape drawn now: the micro-step's during an animation, else the final one."""
        return self.frame.shape if self.frame is not None else None

    def _rebuild(self) -> None:
        self._width = self._content_width()
        self._lines = self._make_lines(self._width)
        self.reset()

    def _make_lines(self, width: int) -> list[Text]:
        frame = self.frame
        if frame is None or frame.shape is None:
            return [Text("no epoll instance yet", style="dim")]
        shape = frame.shape
        event = None
        if self.micro is not None and self.micro < len(frame.trace):
            event = frame.trace[self.micro]
        focus = _focus(event, shape, frame.ep_label)
        size = shape.size
        head = Text.assemble(
            (f"interest tree of {frame.ep_title}", "bold"),
            (f"  {size:,} item{'s' if size != 1 else ''}", "dim"),
        )
        if size and not shape.complete:
            head.append(f" · top {shape.height()} levels shown", style="dim")
        lines = self._wrap(head, width)
        # The tree's own lines fit the width; its summary ("… 37 more nodes below") and the
        # legend may not, and are wrapped rather than cut.
        for line in draw_tree(shape, width, focus=focus, path=frame.path):
            lines += self._wrap(line, width) if line.cell_len > width else [line]
        if shape.size:
            lines += self._wrap(Text(LEGEND, style="dim"), width)
        if frame.path_text:
            lines += self._wrap(Text(frame.path_text, style="italic"), width)
        tree_event = event is not None and (
            event.kind in TREE_EVENTS or event.kind is TraceKind.TREE_COMPARE
        )
        if event is not None and tree_event:
            lines += self._wrap(Text(f"{event.kind}: {event.detail}", style="yellow"), width)
        return lines

    def _wrap(self, text: Text, width: int) -> list[Text]:
        return list(text.wrap(self.app.console, width))


def _focus(event: TraceEvent | None, shape: TreeShape, ep_label: str) -> list[Key]:
    """The nodes a micro-step touches."""
    if event is None:
        return []
    if event.where == f"{ep_label}.rbr":
        if event.kind is TraceKind.TREE_COMPARE:  # the node the looked-up key is compared with
            return [event.other] if event.other is not None else []
        return [event.key] if event.key is not None else []
    fd = event_fd(event)
    if fd is None or not event.where.startswith(ep_label):
        return []
    return [key for key in shape.nodes if key[1] == fd]
