"""The path of one packet: tx → wire → rx ring → IRQ → softirq → socket → wake-up → ready list.

Drawn as a lane of stages; during a step's animation the stage of the current micro-step is
lit, with that micro-step's detail underneath. Between calls the model is quiescent (wire and
ring empty), so at rest the lane shows the NIC's counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text

from simulator.observe import Observable, TraceEvent, TraceKind

LIT = Style(color="black", bgcolor="yellow", bold=True)
STAGE = Style(color="bright_white", bgcolor="grey23")

#: (stage name, trace kinds that happen there), in the order a segment travels.
STAGES: tuple[tuple[str, frozenset[TraceKind]], ...] = (
    ("tx", frozenset({TraceKind.NIC_TX})),
    ("wire", frozenset({TraceKind.NIC_WIRE})),
    ("rx ring", frozenset({TraceKind.NIC_RX})),
    ("IRQ", frozenset({TraceKind.IRQ})),
    ("softirq", frozenset({TraceKind.SOFTIRQ})),
    ("socket", frozenset({TraceKind.SOCK_QUEUE})),
    ("wake-up", frozenset({TraceKind.WAKEUP, TraceKind.CALLBACK, TraceKind.THREAD_WAKE})),
    ("rdllist", frozenset({TraceKind.LIST_APPEND})),
)


def stage_of(event: TraceEvent | None) -> int | None:
    """Which stage of the lane a micro-step belongs to (None: not on the packet path)."""
    if event is None:
        return None
    for i, (_, kinds) in enumerate(STAGES):
        if event.kind in kinds:
            if event.kind is TraceKind.LIST_APPEND and event.list != "rdllist":
                return None
            return i
    return None


@dataclass(frozen=True)
class NicLane:
    """Detached picture of the loopback NIC and where the current micro-step is."""

    wire: tuple[str, ...] = ()
    rx_ring: tuple[str, ...] = ()
    irqs: int = 0
    delivered: int = 0
    event: TraceEvent | None = None

    @classmethod
    def capture(cls, model: Observable) -> NicLane:
        nic = model.nic_snapshot()
        return cls(nic.wire, nic.rx_ring, nic.irqs, nic.delivered)

    def with_event(self, event: TraceEvent | None) -> NicLane:
        return NicLane(self.wire, self.rx_ring, self.irqs, self.delivered, event)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lit = stage_of(self.event)
        lane = Text()
        for i, (name, _) in enumerate(STAGES):
            if i:
                lane.append("→", style="grey62")
            lane.append(f" {name} ", style=LIT if i == lit else STAGE)
        yield lane
        if self.event is not None and lit is not None:
            yield Text(f"{self.event.where}: {self.event.detail}", style="yellow")
        else:
            status = Text(f"irqs {self.irqs} · delivered {self.delivered}", style="dim")
            if self.wire:
                status.append(" · on the wire: " + ", ".join(self.wire))
            if self.rx_ring:
                status.append(" · in the rx ring: " + ", ".join(self.rx_ring))
            yield status
