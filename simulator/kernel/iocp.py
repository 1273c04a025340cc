"""IOCP, Windows' proactor -- MODEL ONLY (from Windows' documentation: ``CreateIoCompletionPort``,
``WSARecv``, ``WSASend``, ``GetQueuedCompletionStatus``, ``GetQueuedCompletionStatusEx``,
``PostQueuedCompletionStatus``; docs/kernel-spec.md PART I). Linux has no completion port, so
nothing here is held to a real kernel: the live kernel answers every IOCP call with
``OSError(ENOSYS)`` and the runner labels it "model only".

A `CompletionPort` is the port object behind a handle (here: a descriptor):

- *association*: a socket is bound to one port under a completion key, once
  (``CreateIoCompletionPort(file, port, key)``); a second association is
  ERROR_INVALID_PARAMETER;
- *overlapped I/O* (`Overlapped`): ``WSARecv``/``WSASend`` try the operation at once. If it
  completes, the call returns the byte count **and** a completion packet is queued all the same
  (the default, without ``FILE_SKIP_COMPLETION_PORT_ON_SUCCESS``). If it cannot, the call
  reports ERROR_IO_PENDING and the operation is parked on the socket's wait queue, like
  io_uring's internal poll; the wake-up schedules the completion (Windows: AFD completes the
  IRP when data arrives), which does the copy and queues the packet. The program never reads:
  the bytes are already in its buffer when the packet comes;
- the *completion queue*: packets, FIFO (``KQUEUE`` in the Windows kernel); GetQueuedCompletion
  Status dequeues one, the Ex form up to ``max_entries``; a wait with nothing queued times out
  with WAIT_TIMEOUT. ``PostQueuedCompletionStatus`` queues a packet the program makes up.

Threads: the threads blocked in GetQueuedCompletionStatus on a port are released *last-in
first-out* -- a packet queued while threads wait goes to the thread that blocked last, which
runs with the oldest packet (Windows' "I/O Completion Ports" page: "the system releases the last
(most recent) thread associated with that port, passing it the completion information for the
oldest I/O completion"; its cache is still warm). `CompletionPort.waiters` is that stack of
`PortWaiter`s; `queue_packet` hands the packet to the top one instead of queueing it. The cap
on running threads (``NumberOfConcurrentThreads``) is not modelled: every waiter a packet is
handed to runs.

Not modelled (absent, not faked): closesocket cancelling outstanding I/O with
ERROR_OPERATION_ABORTED (an operation holds its socket, like an io_uring request); CancelIoEx;
AcceptEx and ConnectEx; closing a port under its blocked threads (Windows ends their waits with
ERROR_ABANDONED_WAIT_0; here they sleep on).

Complexity: an association O(1); an overlapped call O(1) plus its copy; a dequeue O(packets
returned); releasing a waiter O(1).
"""

from __future__ import annotations

import errno
from collections import deque

from simulator.kernel.clock import PRIO_SOFTIRQ, Clock
from simulator.kernel.sockets import Socket
from simulator.kernel.trace import TraceKind
from simulator.kernel.vfs import File, FileSystem, PollTable
from simulator.kernel.waitqueue import WaitEntry
from simulator.uapi import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EPOLLRDHUP,
    EPOLLRDNORM,
    ERROR_IO_PENDING,
    WSAECONNRESET,
    WSAENOTSOCK,
    WSAESHUTDOWN,
    WSAEWOULDBLOCK,
    CompletionPacket,
    Win32Error,
)

#: What a parked receive / send waits for (an error or hang-up completes it too).
_WAKE_RECV = EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP | EPOLLRDHUP
_WAKE_SEND = EPOLLOUT | EPOLLERR | EPOLLHUP

#: Linux errnos the socket layer raises, as Winsock names them (``WSAGetLastError``).
_WSA_OF_ERRNO: dict[int, int] = {
    errno.ECONNRESET: WSAECONNRESET,
    errno.EPIPE: WSAESHUTDOWN,
    errno.ENOTSOCK: WSAENOTSOCK,
    errno.EAGAIN: WSAEWOULDBLOCK,
}


def wsa_error(exc: OSError) -> Win32Error:
    """A socket error as Winsock reports it; an errno with no Winsock counterpart here is a
    model gap and surfaces as itself."""
    if exc.errno in _WSA_OF_ERRNO:
        return Win32Error(_WSA_OF_ERRNO[exc.errno])
    raise exc


class Overlapped:
    """One overlapped operation in flight (its ``OVERLAPPED``): the socket it holds, its tag,
    and the wait entry it is parked with. Callbacks are bound methods (checkpoints deep-copy)."""

    __slots__ = ("entry", "nbytes", "op", "port", "sock", "tag")

    def __init__(self, port: CompletionPort, op: str, sock: Socket, nbytes: int, tag: int) -> None:
        self.port = port
        self.op = op  #: "recv" or "send"
        self.sock = sock
        self.nbytes = nbytes
        self.tag = tag
        self.entry: WaitEntry | None = None

    def wake(self, entry: WaitEntry, key: int) -> bool:
        """The socket's wake-up: a key that misses the mask is ignored; otherwise unhook and
        schedule the completion (the IRP completes in the receive path)."""
        mask = _WAKE_SEND if self.op == "send" else _WAKE_RECV
        if key and not key & mask:
            return False
        self.sock.wq.remove(entry)
        self.entry = None
        self.port.clock.schedule(0, PRIO_SOFTIRQ, f"{self.port.label} completes", self.retry)
        return True

    def retry(self) -> None:
        self.port.attempt_woken(self.sock)


class PortWaiter:
    """A thread blocked in GetQueuedCompletionStatus(Ex) on a port (MODEL ONLY: Windows): its
    label (``thread 2 in GetQueuedCompletionStatus``) and the packet handed to it when it is
    released."""

    __slots__ = ("label", "packets")

    def __init__(self, label: str) -> None:
        self.label = label
        self.packets: list[CompletionPacket] = []


class CompletionPort(File):
    """The port: its FIFO of packets, the sockets associated with it (by completion key) and
    the operations in flight. Always "model only: Windows"."""

    kind = "iocp"
    has_poll = False  # a port is a handle, not something select/poll/epoll can watch

    def __init__(self, fs: FileSystem, label: str, clock: Clock) -> None:
        super().__init__(fs, label)
        self.clock = clock
        self.packets: deque[CompletionPacket] = deque()
        #: socket -> completion key (``FILE_COMPLETION_INFORMATION``); no reference held.
        self.keys: dict[Socket, int] = {}
        #: operations parked on a socket's wait queue, in the order they parked.
        self.pending: list[Overlapped] = []
        #: The threads blocked in GetQueuedCompletionStatus, oldest first: a stack, released
        #: from the top (LIFO).
        self.waiters: list[PortWaiter] = []

    def associate(self, sock: Socket, key: int) -> None:
        self.keys[sock] = key

    def queue_packet(self, packet: CompletionPacket) -> None:
        """``KeInsertQueue``: the packet goes to the thread that blocked on the port last, if
        one waits (LIFO release: it is woken with this packet), else to the queue's tail."""
        if self.waiters:
            waiter = self.waiters.pop()
            waiter.packets.append(packet)
            self.fs.tracer.charge(
                TraceKind.WAKEUP,
                f"{self.label}.waiters",
                1,
                "LIFO release: {e.subject} gets overlapped={e.count}",
                subject=waiter.label,
                count=packet.overlapped,
            )
            return
        self.packets.append(packet)
        self.fs.tracer.charge(
            TraceKind.LIST_APPEND,
            f"{self.label}.queue",
            1,
            "packet queued: overlapped={e.subject} bytes={e.count}",
            subject=str(packet.overlapped),
            count=packet.bytes_transferred,
        )

    def start(self, op: str, sock: Socket, nbytes: int, tag: int) -> int:
        """WSARecv/WSASend: try now; the bytes if done (a packet is queued too), else park and
        raise ERROR_IO_PENDING."""
        req = Overlapped(self, op, sock, nbytes, tag)
        sock.f_count += 1  # the operation holds its socket until it completes
        try:
            done = self._try(req)
        except OSError:
            self.fs.fput(sock)
            raise
        if done is None:
            self._park(req)
            raise Win32Error(ERROR_IO_PENDING)
        return done

    def _try(self, req: Overlapped) -> int | None:
        """Run the operation; its byte count (packet queued), or None when it would block."""
        try:
            got = req.sock.recv(req.nbytes) if req.op == "recv" else req.sock.send(req.nbytes)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise wsa_error(exc) from None
        self._complete(req, got, 0)
        return got

    def _complete(self, req: Overlapped, nbytes: int, status: int) -> None:
        self.queue_packet(CompletionPacket(nbytes, self.keys[req.sock], req.tag, status))
        self.fs.fput(req.sock)

    def _park(self, req: Overlapped) -> None:
        entry = WaitEntry(req.wake, req, f"{self.label} overlapped={req.tag}")
        req.entry = entry
        req.sock.wq.add(entry, cost=1)
        self.pending.append(req)

    def attempt_woken(self, sock: Socket) -> None:
        """The completions a wake-up of `sock` scheduled: every woken operation on it, in the
        order they were issued (Windows queues a socket's IRPs FIFO, while a Linux wait queue
        wakes its newest entry first), each done now (a packet, success or failure) or parked
        again when an earlier one took the data. O(pending)."""
        for req in [r for r in self.pending if r.sock is sock and r.entry is None]:
            self.pending.remove(req)
            try:
                if self._try(req) is None:
                    self._park(req)
            except Win32Error as exc:
                self._complete(req, 0, exc.winerror)

    def dequeue(
        self, most: int, handed: list[CompletionPacket] | None = None
    ) -> list[CompletionPacket]:
        """The packets `handed` to a released waiter, then up to `most` in all from the head,
        FIFO; each copied out to the program's ``OVERLAPPED_ENTRY`` array."""
        out: list[CompletionPacket] = []
        handed = list(handed or ())
        while (handed or self.packets) and len(out) < most:
            packet = handed.pop(0) if handed else self.packets.popleft()
            out.append(packet)
            self.fs.tracer.charge(
                TraceKind.COPY_OUT,
                f"{self.label}.queue",
                1,
                "OVERLAPPED_ENTRY overlapped={e.subject} bytes={e.count}",
                subject=str(packet.overlapped),
                count=packet.bytes_transferred,
            )
        return out

    def poll(self, pt: PollTable | None) -> int:
        return 0

    def release(self) -> None:
        """The last handle closed: drop the associations and the operations' parked entries."""
        for req in list(self.pending):
            if req.entry is not None:
                req.sock.wq.remove(req.entry, cost=1)
                req.entry = None
            self.fs.fput(req.sock)
        self.pending.clear()
        self.keys.clear()

    def _check(self) -> None:
        """Invariants (between calls): a parked operation is hooked on its socket's wait queue
        and its socket is associated with this port; threads wait only while no packet is
        queued (a packet queued meanwhile would have released one), and a waiter still on the
        stack holds no packet."""
        assert not (self.waiters and self.packets)
        assert not any(waiter.packets for waiter in self.waiters)
        for req in self.pending:
            assert req.entry is not None and req.entry in req.sock.wq.entries
            assert req.sock in self.keys

    def describe(self) -> str:
        return (
            f"{self.label}: IOCP (model only: Windows), {len(self.packets)} queued, "
            f"{len(self.pending)} pending, {len(self.keys)} associated"
        )
