"""The path of one packet: tx → wire → rx ring → IRQ → softirq → socket → wake-up → ready list.

Drawn as a lane of stages; during a step's animation the stage of the current micro-step is
lit, with that micro-step's detail underneath. Between calls the model is quiescent (wire and
ring empty), so at rest the lane shows the NIC's counters.

An io_uring step draws the proactor's lane (`PROACTOR_STAGES`): the same packet path, framed by
a request's journey -- its SQE consumed (``io_submit_sqes``), issued (``io_issue_sqe``), parked
on the socket's wait queue (``io_arm_poll_handler``) -- and, after the wake-up
(``io_poll_wake``), the task work that completes it, its CQE posted and reaped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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

#: The proactor's lane: an io_uring request's journey around the same packet path.
PROACTOR_STAGES: tuple[tuple[str, frozenset[TraceKind]], ...] = (
    ("SQE", frozenset({TraceKind.COPY_IN})),
    ("issue", frozenset({TraceKind.SQE_ISSUE})),
    ("parked", frozenset({TraceKind.SQE_PARK})),
    *STAGES[:-1],
    ("task work", frozenset({TraceKind.TASK_WORK_ADD, TraceKind.TASK_WORK_RUN})),
    ("CQE", frozenset({TraceKind.COPY_OUT})),
    ("reaped", frozenset({TraceKind.CQE_REAP})),
)

#: The kinds that belong to a stage only on one list (`TraceEvent.list`): a ready-list append,
#: an SQE read from the SQ, a CQE written to the CQ (not a copy of another call's results).
_ON_LIST = {TraceKind.LIST_APPEND: "rdllist", TraceKind.COPY_IN: "sq", TraceKind.COPY_OUT: "cq"}


def stage_of(event: TraceEvent | None, proactor: bool = False) -> int | None:
    """Which stage of the lane (the proactor's if `proactor`) a micro-step belongs to (None:
    not on the path). O(stages)."""
    if event is None:
        return None
    on_list = _ON_LIST.get(event.kind)
    if on_list is not None and event.list != on_list:
        return None
    for i, (_, kinds) in enumerate(PROACTOR_STAGES if proactor else STAGES):
        if event.kind in kinds:
            return i
    return None


@dataclass(frozen=True)
class NicLane:
    """Detached picture of the loopback NIC and where the current micro-step is; `proactor`
    draws the io_uring lane (`PROACTOR_STAGES`)."""

    wire: tuple[str, ...] = ()
    rx_ring: tuple[str, ...] = ()
    irqs: int = 0
    delivered: int = 0
    event: TraceEvent | None = None
    proactor: bool = False

    @classmethod
    def capture(cls, model: Observable, proactor: bool = False) -> NicLane:
        nic = model.nic_snapshot()
        return cls(nic.wire, nic.rx_ring, nic.irqs, nic.delivered, proactor=proactor)

    def with_event(self, event: TraceEvent | None) -> NicLane:
        return replace(self, event=event)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lit = stage_of(self.event, self.proactor)
        lane = Text()
        for i, (name, _) in enumerate(PROACTOR_STAGES if self.proactor else STAGES):
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
