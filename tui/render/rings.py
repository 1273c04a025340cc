"""An io_uring's two rings with their heads and tails, its CQ overflow list, and its requests
in flight: the proactor's picture, made from `simulator.observe.IoUringSnapshot`.

The SQ is drawn by its head and tail only (the kernel consumes every SQE the moment the program
enters, so between two calls it is empty); the CQ slot by slot, with the head (where the
program reaps next) and the tail (where the kernel posts next) marked. A ring of 65,536 slots
costs what its first `simulator.observe.RING_SLOTS_SHOWN` slots cost.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from simulator.observe import IoUringSnapshot
from simulator.scenario.calls import Bindings
from tui.render.ready_chain import fd_label


class RingsView:
    """One io_uring: SQ (head, tail), CQ (slots, head ``H``, tail ``T``), overflow, in flight."""

    def __init__(
        self, ring: IoUringSnapshot, names: Bindings | None = None, title: str = ""
    ) -> None:
        self.ring = ring
        self.names = names
        self.title = title or ring.label

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        ring = self.ring
        yield Text(f"{self.title} (io_uring)", style="bold")
        queued = ring.sq_tail - ring.sq_head
        yield Text(
            f"  SQ {ring.sq_entries} slots, head {ring.sq_head}, tail {ring.sq_tail}: "
            + (f"{queued} queued" if queued else "empty (the kernel consumed every SQE)")
        )
        yield self._cq()
        if ring.overflow:
            shown = ", ".join(_cqe(c) for c in ring.overflow[:8])
            more = f", … {len(ring.overflow) - 8} more" if len(ring.overflow) > 8 else ""
            yield Text(f"  CQ overflow ({len(ring.overflow)}): {shown}{more}")
        if ring.in_flight:
            yield Text("  in flight: " + "; ".join(self._parked(p) for p in ring.in_flight))
        else:
            yield Text("  in flight: none", style="dim")

    def _cq(self) -> Text:
        ring = self.ring
        mask = ring.cq_entries - 1
        head, tail = ring.cq_head & mask, ring.cq_tail & mask
        text = Text(
            f"  CQ {ring.cq_entries} slots, head {ring.cq_head}, tail {ring.cq_tail}: ",
        )
        for index, slot in enumerate(ring.cq_slots):
            if index:
                text.append(" | ", style="dim")
            marks = ("H" if index == head else "") + ("T" if index == tail else "")
            if marks:
                text.append(marks + " ", style="bold yellow")
            text.append("·" if slot is None else _cqe(slot), style="dim" if slot is None else "")
        if ring.cq_entries > len(ring.cq_slots):
            text.append(f" | … {ring.cq_entries - len(ring.cq_slots)} more slots", style="dim")
        return text

    def _parked(self, parked: tuple[int, str, int, str]) -> str:
        user_data, op, fd, how = parked
        if how == "timer":
            return f"ud={user_data} {op} on a timer"
        return f"ud={user_data} {op} parked on {fd_label(fd, self.names)}'s wait queue"


def _cqe(cqe: tuple[int, int, int]) -> str:
    user_data, res, flags = cqe
    return f"ud={user_data} res={res}" + (f" flags={flags}" if flags else "")


__all__ = ["RingsView"]
