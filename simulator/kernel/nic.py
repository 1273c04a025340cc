"""The loopback NIC: how a TCP segment becomes readiness on the receiving socket.

A segment handed to the device (``NIC_TX``) spends `latency_ns` on the "wire", lands in the
receive ring (``NIC_RX``), and the device raises its interrupt (``IRQ``). The interrupt does
almost nothing: it schedules the NET_RX softirq, which drains the ring and delivers each
segment to its socket (``SOFTIRQ``) -- where ``tcp_rcv`` queues the data and the socket's
callback wakes whoever waits on it (``ep_poll_callback`` for epoll, ``pollwake`` for
poll/select). That last hop is the heart of the lesson: readiness is *pushed* to epoll by the
interrupt path, never scanned for.

Real loopback runs this whole path synchronously inside ``send`` (KERNEL_SPEC DIFF-1); the
model spreads it over virtual time so the TUI can show each stage, and settles it before the
syscall returns, so results are the same.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.kernel.clock import PRIO_IRQ, PRIO_SOFTIRQ, Clock
from simulator.kernel.trace import TraceKind, Tracer

if TYPE_CHECKING:
    from simulator.kernel.sockets import TcpSocket


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment in flight: who sends it to whom, what it is, how many payload bytes."""

    src: TcpSocket
    dst: TcpSocket
    kind: str  # SYN, SYNACK, DATA, ACK, WINDOW, FIN, FINACK, RST
    nbytes: int

    def describe(self) -> str:
        size = f" {self.nbytes} B" if self.kind == "DATA" else ""
        return f"{self.kind}{size} {self.src.label} -> {self.dst.label}"


class Nic:
    """``lo``: a transmit path, a wire with a fixed latency, an rx ring, an IRQ and a softirq."""

    def __init__(self, clock: Clock, tracer: Tracer, latency_ns: int, irq_ns: int = 1_000) -> None:
        self.clock = clock
        self.tracer = tracer
        self.latency_ns = latency_ns
        self.irq_ns = irq_ns
        self.wire: deque[Segment] = deque()
        self.rx_ring: deque[Segment] = deque()
        self.softirq_scheduled = False
        self.irqs = 0
        self.delivered = 0

    def transmit(self, src: TcpSocket, dst: TcpSocket, kind: str, nbytes: int) -> None:
        """``dev_queue_xmit``: put a segment on the wire; it lands after the latency."""
        seg = Segment(src, dst, kind, nbytes)
        self.wire.append(seg)
        self.tracer.charge(TraceKind.NIC_TX, "nic", 0, "{e.subject}", subject=seg.describe())
        self.clock.schedule(self.latency_ns, PRIO_IRQ, "rx " + seg.describe(), self._arrive)

    def deliver_now(self) -> None:
        """Let everything in flight arrive before the calling syscall goes on.

        Real loopback is synchronous: ``loopback_xmit`` hands the packet to ``netif_rx``, and
        the NET_RX softirq runs as soon as the transmit path re-enables bottom halves
        (``rcu_read_unlock_bh`` in ``__dev_queue_xmit``), still inside the sending syscall.
        So the peer has processed the segment, and woken its watchers, before the syscall
        takes its next step -- e.g. ``inet_shutdown``'s own ``sk_state_change``. The model's
        wire latency is virtual time; this lets it pass now.
        """
        self.clock.settle()

    def _arrive(self) -> None:
        """The segment reaches the receive ring; raise the interrupt once per batch."""
        seg = self.wire.popleft()
        self.rx_ring.append(seg)
        self.tracer.charge(
            TraceKind.NIC_RX, "nic.rx_ring", 0, "{e.subject}", subject=seg.describe()
        )
        if not self.softirq_scheduled:
            self.softirq_scheduled = True
            self.irqs += 1
            self.tracer.charge(TraceKind.IRQ, "nic", 0, "raise NET_RX softirq")
            self.clock.schedule(self.irq_ns, PRIO_SOFTIRQ, "NET_RX softirq", self._net_rx)

    def _net_rx(self) -> None:
        """``net_rx_action``: drain the ring, delivering each segment to its socket."""
        self.softirq_scheduled = False
        while self.rx_ring:
            seg = self.rx_ring.popleft()
            self.delivered += 1
            self.tracer.charge(
                TraceKind.SOFTIRQ, seg.dst.label, 0, "{e.subject}", subject=seg.describe()
            )
            if seg.kind in ("SYN", "SYNACK"):
                continue  # the handshake's states are set by ModelKernel.tcp_connect
            seg.dst.tcp_rcv(seg.src, seg.kind, seg.nbytes)
