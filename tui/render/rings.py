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

from simulator.observe import IocpSnapshot, IoUringSnapshot
from simulator.scenario.calls import Bindings
from simulator.uapi import win32_error_name
from tui.render.ready_chain import fd_label


class RingsView:
    """One io_uring: SQ (head, tail), CQ (slots, head ``H``, tail ``T``), overflow, in flight,
    and the threads asleep on its ``cq_wait`` queue."""

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
        if ring.cq_waiters:  # the threads asleep in io_uring_wait (io_cqring_wait)
            yield Text(f"  {ring.label}.cq_wait ▸ " + " → ".join(ring.cq_waiters))

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
        if how == "task work":
            return f"ud={user_data} {op} woken, its task work queued"
        return f"ud={user_data} {op} parked on {fd_label(fd, self.names)}'s wait queue"


class PortView:
    """A Windows completion port (MODEL ONLY): its packet queue, head (dequeued next) to tail
    (queued last), its pending overlapped operations, its associations and the threads blocked
    on it (the last one is released first). Labelled "model only: Windows" on its first line,
    always."""

    def __init__(self, port: IocpSnapshot, names: Bindings | None = None, title: str = "") -> None:
        self.port = port
        self.names = names
        self.title = title or port.label

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        port = self.port
        title = Text(f"{self.title} (IOCP) ", style="bold")
        title.append("model only: Windows", style="bold magenta")
        yield title
        queue = Text(f"  completion queue, {len(port.packets)} packets: ")
        if not port.packets:
            queue.append("empty", style="dim")
        for index, packet in enumerate(port.packets[:8]):
            if index:
                queue.append(" | ", style="dim")
            if index == 0:
                queue.append("H ", style="bold yellow")
            queue.append(_packet(packet))
        if len(port.packets) > 8:
            queue.append(f" | … {len(port.packets) - 8} more", style="dim")
        yield queue
        if port.pending:
            yield Text("  pending: " + "; ".join(self._pending(p) for p in port.pending))
        else:
            yield Text("  pending: none", style="dim")
        keys = ", ".join(f"{fd_label(fd, self.names)} key {key}" for fd, key in port.associated)
        yield Text(f"  associated: {keys or 'none'}", style="" if keys else "dim")
        if port.waiters:  # GetQueuedCompletionStatus's sleepers: a stack, released from the top
            yield Text(
                "  blocked threads (LIFO, released from the right): " + " → ".join(port.waiters)
            )

    def _pending(self, pending: tuple[int, str, int]) -> str:
        tag, op, fd = pending
        call = "WSARecv" if op == "recv" else "WSASend"
        return f"{call} ov={tag} on {fd_label(fd, self.names)}'s wait queue"


def _packet(packet: tuple[int, int, int, int]) -> str:
    nbytes, key, overlapped, status = packet
    text = f"{nbytes}B key={key} ov={overlapped}"
    return text if not status else f"{text} {win32_error_name(status)}"


def _cqe(cqe: tuple[int, int, int]) -> str:
    user_data, res, flags = cqe
    return f"ud={user_data} res={res}" + (f" flags={flags}" if flags else "")


__all__ = ["PortView", "RingsView"]
