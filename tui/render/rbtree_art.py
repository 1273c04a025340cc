"""The interest tree drawn top-down, as a red-black tree looks in a textbook.

`TreeShape` is a detached copy of the top of an epoll's ``rbr`` (keys, colours, links, labels):
once captured it no longer reads the model, so the app can draw it at any time. Capture costs
O(nodes captured), at most ``2 ** depth - 1`` however large the tree is.

The app animates a step with shapes captured from the model itself at its micro-steps
(`tui.frame.MicroRecorder`), never by replaying trace events on a copy: an insert, its
recolours and rotations appear as the model did them.

`draw_tree` lays a shape out in a given width: each node is centred in its share of the line,
children under it with ``┌─┴─┐`` connectors, red nodes ``(in parentheses)`` on red, black
nodes ``[in brackets]`` on black (`LEGEND`). Levels that
no longer fit are summarised in one line, so the picture has a bounded height.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text

from simulator.observe import EpollSnapshot, Key

#: Nodes deeper than this are not captured (127 nodes at most).
CAPTURE_DEPTH = 7
#: Narrowest share of a line a node can be drawn in.
MIN_CELL = 3

RED = Style(color="bright_white", bgcolor="red3", bold=True)
BLACK = Style(color="bright_white", bgcolor="grey19", bold=True)
FOCUS = Style(color="black", bgcolor="yellow", bold=True)
ON_PATH = Style(underline=True)
LINK = Style(color="grey62")

#: What the tree's marks mean, shown under a non-empty tree.
LEGEND = "(red) [black] • on the ready list"


@dataclass(frozen=True, slots=True)
class ShapeNode:
    """One node of a captured tree: its key, colour, children, and how to label it."""

    key: Key
    label: str
    red: bool
    left: Key | None = None
    right: Key | None = None
    ready: bool = False
    deeper: bool = False  #: it has children that were not captured


@dataclass
class TreeShape:
    """A detached picture of the top of a red-black tree.

    `size` is the whole tree's node count; `complete` says every node was captured.
    """

    root: Key | None = None
    nodes: dict[Key, ShapeNode] = field(default_factory=dict)
    size: int = 0
    complete: bool = True

    @classmethod
    def capture(cls, ep: EpollSnapshot, label: Callable[[int], str] | None = None) -> TreeShape:
        """The tree of an epoll's snapshot (which holds its top levels, see
        `simulator.observe.Observable.epoll_at`); `label(fd) -> str` names a node (default:
        its fd). The ready dot marks the items on ``rdllist`` itself."""
        nodes = {
            n.key: ShapeNode(
                key=n.key,
                label=label(n.fd) if label is not None else _key_label(n.key),
                red=n.red,
                left=n.left,
                right=n.right,
                ready=n.ready,
                deeper=n.deeper,
            )
            for n in ep.nodes
        }
        return cls(ep.root, nodes, ep.size, ep.complete)

    def height(self) -> int:
        """Levels in the captured part."""
        best = 0
        stack: list[tuple[Key | None, int]] = [(self.root, 1)] if self.root is not None else []
        while stack:
            key, level = stack.pop()
            if key is None:
                continue
            best = max(best, level)
            node = self.nodes[key]
            stack.append((node.left, level + 1))
            stack.append((node.right, level + 1))
        return best


def _key_label(key: Key) -> str:
    return str(key[1])


class _Canvas:
    """One line of fixed width: characters placed at columns, with styles."""

    def __init__(self, width: int) -> None:
        self.chars = [" "] * width
        self.spans: list[tuple[int, int, Style]] = []

    def put(self, x: int, text: str, style: Style | None = None) -> None:
        if x < 0 or not text:
            return
        text = text[: max(0, len(self.chars) - x)]
        self.chars[x : x + len(text)] = list(text)
        if style is not None and text:
            self.spans.append((x, x + len(text), style))

    def text(self) -> Text:
        line = Text("".join(self.chars).rstrip())
        for start, end, style in self.spans:
            line.stylize(style, start, end)
        return line


def _fit(node: ShapeNode, cell: int) -> str:
    """The node's label in a share of `cell` columns: its name, else its fd, else a mark (a
    number is never cut short, which would show a different fd). The brackets tell the colour
    without colour (for colour-blind learners and monochrome terminals): ``(a:3)`` is red,
    ``[b:5]`` black; so do the marks, ``●`` red and ``■`` black.

    A ready node's label leaves one column of the share for its ready dot, so the dot is
    never cut off at the line's end nor drawn over a neighbour."""
    open_, close = ("(", ")") if node.red else ("[", "]")
    cell -= 1 if node.ready else 0
    for text in (node.label, str(node.key[1])):
        if len(text) + 2 <= cell:
            return f"{open_}{text}{close}"
    fd = str(node.key[1])
    if len(fd) + 1 < cell:
        return fd
    return "●" if node.red else "■"


def draw_tree(
    shape: TreeShape,
    width: int,
    *,
    focus: Iterable[Key] = (),
    path: Iterable[Key] = (),
) -> list[Text]:
    """Lay `shape` out in `width` columns; `focus` nodes are lit, `path` nodes underlined.

    Returns at most two lines per drawn level plus one summary line.
    """
    width = max(width, MIN_CELL)
    if shape.root is None:
        return [Text("(empty: nothing registered)", style="dim")]
    lit = set(focus)
    on_path = set(path)
    lines: list[Text] = []
    level: list[tuple[Key, int, int]] = [(shape.root, 0, width)]
    drawn = 0
    while level:
        if min(hi - lo for _, lo, hi in level) < MIN_CELL:
            hidden = shape.size - drawn
            lines.append(Text(f"… {hidden:,} more nodes below (too deep to draw here)", "dim"))
            break
        nodes_line = _Canvas(width)
        links_line = _Canvas(width)
        below: list[tuple[Key, int, int]] = []
        any_link = False
        for key, lo, hi in level:
            node = shape.nodes[key]
            drawn += 1
            mid = (lo + hi) // 2
            label, dot = _fit(node, hi - lo), 1 if node.ready else 0
            style = FOCUS if key in lit else RED if node.red else BLACK
            if key in on_path:
                style = style + ON_PATH
            # Centred under its link, but kept inside its share with its dot: a label pushed
            # past `hi` would be cut at the line's end or overwritten by its right neighbour.
            start = max(lo, min(mid - len(label) // 2, hi - len(label) - dot))
            nodes_line.put(start, label, style)
            if node.ready:
                nodes_line.put(start + len(label), "•", Style(color="green"))
            left_mid, right_mid = (lo + mid) // 2, (mid + hi) // 2
            has_left = node.left is not None or node.deeper
            has_right = node.right is not None or node.deeper
            if has_left:
                links_line.put(left_mid, "┌" + "─" * max(0, mid - left_mid - 1), LINK)
            if has_right:
                links_line.put(mid + 1, "─" * max(0, right_mid - mid - 1) + "┐", LINK)
            if has_left or has_right:
                any_link = True
                joint = "┴" if has_left and has_right else "┘" if has_left else "└"
                links_line.put(mid, joint, LINK)
            if node.left is not None:
                below.append((node.left, lo, mid))
            if node.right is not None:
                below.append((node.right, mid, hi))
        lines.append(nodes_line.text())
        if any_link:
            lines.append(links_line.text())
        if not below and drawn < shape.size:
            lines.append(Text(f"▽ {shape.size - drawn:,} more nodes in deeper levels", "dim"))
        level = below
    return lines


__all__ = ["LEGEND", "Key", "ShapeNode", "TreeShape", "draw_tree"]
