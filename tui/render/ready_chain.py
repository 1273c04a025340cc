"""The ready list (``ep->rdllist``) as a chain of linked nodes, and the ovflist beside it.

`ReadyChain.capture` copies at most `limit` nodes from the head (the list can hold a million
epitems; only its head is drawn, with a count of the rest), so it costs O(limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text

from simulator.observe import EpollSnapshot
from simulator.scenario.calls import Bindings

NODE = Style(color="bright_white", bgcolor="dark_green", bold=True)
OVF = Style(color="bright_white", bgcolor="dark_orange3", bold=True)
FOCUS = Style(color="black", bgcolor="yellow", bold=True)

#: The ovflist's line when no transfer runs.
_INACTIVE = "ovflist  inactive (no transfer running)"


def fd_label(fd: int, names: Bindings | None) -> str:
    """``a:3`` for a named descriptor, ``3`` otherwise."""
    name = names.names.get(fd) if names is not None else None
    return f"{name}:{fd}" if name else str(fd)


@dataclass(frozen=True)
class ReadyChain:
    """Detached picture of an epoll's ready list and overflow list."""

    nodes: tuple[tuple[int, str], ...]  #: (fd, label), head first
    total: int
    ovflist: tuple[tuple[int, str], ...] | None  #: None: no transfer running
    ovf_total: int = 0
    focus: int | None = None  #: fd of the node a micro-step is touching

    @classmethod
    def capture(cls, ep: EpollSnapshot, names: Bindings | None = None) -> ReadyChain:
        """From the epoll's snapshot (which holds the head of each list)."""
        nodes = tuple((fd, fd_label(fd, names)) for fd in ep.ready)
        ovflist = None
        if ep.ovflist is not None:
            ovflist = tuple((fd, fd_label(fd, names)) for fd in ep.ovflist)
        return cls(nodes, ep.ready_total, ovflist, ep.ovf_total)

    def with_focus(self, fd: int | None) -> ReadyChain:
        return ReadyChain(self.nodes, self.total, self.ovflist, self.ovf_total, fd)

    def _chain(
        self, title: str, nodes: tuple[tuple[int, str], ...], total: int, style: Style
    ) -> Text:
        text = Text(title, style="bold")
        for piece, piece_style in self._pieces(nodes, total, style):
            text.append(piece, style=piece_style)
        return text

    def _pieces(
        self, nodes: tuple[tuple[int, str], ...], total: int, style: Style
    ) -> list[tuple[str, Style | str]]:
        """A chain after its title: each piece of text and its style ("": none)."""
        if not nodes:
            return [("head ⇄ (empty)", "dim")]
        pieces: list[tuple[str, Style | str]] = [("head", "")]
        for fd, label in nodes:
            pieces.append((" ⇄ ", "grey62"))
            pieces.append((f" {label} ", FOCUS if fd == self.focus else style))
        if total > len(nodes):
            pieces.append((f" ⇄ … {total - len(nodes):,} more", "dim"))
        pieces.append((" ⇄ head", "grey62"))
        return pieces

    def plain_lines(self) -> list[str]:
        """The characters of the lines `__rich_console__` yields, without their styles (what
        ``--headless`` prints without colour). O(nodes)."""
        pieces = self._pieces(self.nodes, self.total, NODE)
        lines = ["rdllist  " + "".join(piece for piece, _ in pieces)]
        if self.ovflist is None:
            lines.append(_INACTIVE)
        else:
            pieces = self._pieces(self.ovflist, self.ovf_total, OVF)
            lines.append("ovflist  " + "".join(piece for piece, _ in pieces))
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._chain("rdllist  ", self.nodes, self.total, NODE)
        if self.ovflist is None:
            yield Text(_INACTIVE, style="dim")
        else:
            yield self._chain("ovflist  ", self.ovflist, self.ovf_total, OVF)
