"""Sockets: AF_UNIX stream pairs and TCP over the loopback NIC, with their readiness and wake-ups.

Each socket is a `File` with a wait queue and a ->poll method that computes its readiness mask
from its state, exactly as ``unix_poll`` (``net/unix/af_unix.c``) and ``tcp_poll``
(``net/ipv4/tcp.c``) do (KERNEL_SPEC SK-1, SK-2, SK-3). State changes wake the wait queue with
the *key* the real socket callbacks use (EP-5): data arrival ``IN|PRI|RDNORM|RDBAND``
(``sock_def_readable``), buffer space ``OUT|WRNORM|WRBAND`` (``unix_write_space`` /
``sk_stream_write_space``), errors ``ERR`` (``sock_def_error_report``), and state changes with
no key at all (``sock_def_wakeup``: every watcher is woken and re-polls).

AF_UNIX is synchronous: ``send`` links the data into the peer's receive queue and wakes it in
the same call. TCP segments travel through the `Nic` (tx, wire, rx ring, IRQ, softirq) on the
virtual clock; the kernel settles after every call, so the result is just as deterministic.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING

from simulator.kernel.trace import TraceKind
from simulator.kernel.vfs import File, FileSystem, PollTable, oserror
from simulator.uapi import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    SHUT_RD,
    SHUT_RDWR,
)

if TYPE_CHECKING:
    from simulator.kernel.nic import Nic

RCV_SHUTDOWN = 1
SEND_SHUTDOWN = 2
SHUTDOWN_MASK = 3

#: Wake-up keys of the default socket callbacks (EP-5).
KEY_READABLE = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND
KEY_WRITABLE = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
KEY_ERROR = EPOLLERR
KEY_STATE = 0

PAGE_SIZE = 4096
#: ``SKB_MAX_HEAD(0)``: the linear part of an skb that fits one page with its shared info.
SKB_MAX_HEAD = PAGE_SIZE - 320
#: ``UNIX_SKB_FRAGS_SZ``: AF_UNIX stream sends put at most 32 KiB in page fragments per skb.
UNIX_SKB_FRAGS_SZ = PAGE_SIZE << 3


def unix_skb_truesize(size: int) -> int:
    """Memory charged to the sender for one AF_UNIX stream skb carrying `size` bytes.

    ``unix_stream_sendmsg`` puts up to ``SKB_MAX_HEAD`` bytes in a kmalloc'ed head (rounded up
    to a power-of-two slab, at least 512 bytes, with 320 bytes of ``skb_shared_info``) and the
    rest in whole pages; the ``sk_buff`` itself adds 256. Checked against SIOCOUTQ on Linux
    6.18: 1 byte costs 768, 4096 bytes 4864, 5000 bytes 6400.
    """
    data_len = min(size, _page_align(max(0, size - SKB_MAX_HEAD)))
    head = size - data_len
    slab = max(512, 1 << ((_align64(head) + 320 - 1).bit_length()))
    return slab + 256 + data_len


def _page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def _align64(n: int) -> int:
    return (n + 63) & ~63


class Socket(File):
    """Shared socket state: shutdown bits, pending error, and the default callbacks."""

    has_poll = True
    family = "?"
    __slots__ = ("sk_err", "sk_shutdown")

    def __init__(self, fs: FileSystem, label: str) -> None:
        super().__init__(fs, label)
        self.sk_shutdown = 0
        self.sk_err = 0

    # -- the default socket callbacks (net/core/sock.c) --
    def sk_data_ready(self) -> None:
        """``sock_def_readable``: wake one waiter per exclusive rules, key IN-ish."""
        self.wq.wake_up(KEY_READABLE)

    def sk_write_space(self) -> None:
        """Write space appeared: wake with the OUT-ish key."""
        self.wq.wake_up(KEY_WRITABLE)

    def sk_state_change(self) -> None:
        """``sock_def_wakeup``: keyless wake of *all* waiters (every watcher re-polls)."""
        self.wq.wake_up(KEY_STATE, nr_exclusive=0)

    def sk_error_report(self) -> None:
        """``sock_def_error_report``: wake with the ERR key."""
        self.wq.wake_up(KEY_ERROR)

    def sock_error(self) -> int:
        """``sock_error``: fetch and clear the pending error (0 if none)."""
        err, self.sk_err = self.sk_err, 0
        return err

    @staticmethod
    def check_how(how: int) -> int:
        """Map SHUT_* to shutdown bits; EINVAL for anything else (``__sys_shutdown_sock``)."""
        if how < SHUT_RD or how > SHUT_RDWR:
            raise oserror(errno.EINVAL)
        return how + 1

    def send(self, nbytes: int) -> int:
        raise NotImplementedError

    def recv(self, nbytes: int) -> int:
        raise NotImplementedError

    def shutdown(self, how: int) -> None:
        raise NotImplementedError

    def set_linger_zero(self) -> None:
        """SO_LINGER {1, 0}: only TCP gives it a meaning (a reset on close)."""

    def describe(self) -> str:
        """One line of state for the fd-table view."""
        return self.label


class UnixSocket(Socket):
    """An AF_UNIX stream socket of a connected pair (``struct unix_sock``).

    The receive queue holds skbs as ``[bytes_left, truesize, sender]``; the *sender* is charged
    each skb's truesize (``sk_wmem_alloc``) until the reader consumes it completely, which is
    what bounds a stream (KERNEL_SPEC SK-4, DIFF-6).
    """

    kind = "unix"
    family = "AF_UNIX"
    __slots__ = ("dead", "peer", "rcv_bytes", "receive_queue", "sndbuf", "wmem_alloc")

    def __init__(self, fs: FileSystem, label: str, sndbuf: int) -> None:
        super().__init__(fs, label)
        self.peer: UnixSocket | None = None
        self.dead = False  # SOCK_DEAD: released
        self.sndbuf = sndbuf
        self.wmem_alloc = 0  # truesize of our skbs still in the peer's receive queue
        # Made by the first skb: an empty deque is a 64-slot block, 700 bytes per socket.
        self.receive_queue: deque[list[int | UnixSocket]] | None = None
        self.rcv_bytes = 0

    # -- readiness (unix_poll) --
    def writable(self) -> bool:
        """``unix_writable``: at most a quarter of sndbuf in flight (the refcount starts at 1)."""
        return (self.wmem_alloc + 1) << 2 <= self.sndbuf

    def poll(self, pt: PollTable | None) -> int:
        self.register_poll(pt)
        mask = 0
        if self.sk_err:
            mask |= EPOLLERR
        if self.sk_shutdown == SHUTDOWN_MASK:
            mask |= EPOLLHUP
        if self.sk_shutdown & RCV_SHUTDOWN:
            mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
        if self.receive_queue:
            mask |= EPOLLIN | EPOLLRDNORM
        if self.peer is None:  # connection-oriented and in TCP_CLOSE
            mask |= EPOLLHUP
        if self.writable():
            mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
        return mask

    # -- data --
    def send(self, nbytes: int) -> int:
        """``unix_stream_sendmsg``: skbs of at most sndbuf/2-64 bytes until sndbuf is reached."""
        other = self.peer
        if other is None:
            raise oserror(errno.ENOTCONN)
        if self.sk_shutdown & SEND_SHUTDOWN:
            raise oserror(errno.EPIPE)
        sent = 0
        while sent < nbytes:
            if self.wmem_alloc >= self.sndbuf:  # sock_alloc_send_pskb would sleep
                if sent:
                    break
                raise oserror(errno.EAGAIN)
            if other.dead or other.sk_shutdown & RCV_SHUTDOWN:
                if sent:
                    break
                raise oserror(errno.EPIPE)
            # "Keep two messages in the pipe so it schedules better."
            size = min(nbytes - sent, (self.sndbuf >> 1) - 64, SKB_MAX_HEAD + UNIX_SKB_FRAGS_SZ)
            truesize = unix_skb_truesize(size)
            self.wmem_alloc += truesize
            if other.receive_queue is None:
                other.receive_queue = deque()
            other.receive_queue.append([size, truesize, self])
            other.rcv_bytes += size
            sent += size
            self.fs.tracer.charge(
                TraceKind.SOCK_QUEUE,
                other.label,
                0,
                "+{e.count} bytes (skb {e.subject})",
                count=size,
                subject=str(truesize),
            )
            other.sk_data_ready()
        return sent

    def recv(self, nbytes: int) -> int:
        """``unix_stream_read_generic``: drain skbs; each one freed gives the sender space."""
        if not self.receive_queue:
            err = self.sock_error()
            if err:
                raise oserror(err)
            if self.sk_shutdown & RCV_SHUTDOWN:
                return 0
            raise oserror(errno.EAGAIN)
        copied = 0
        while self.receive_queue:
            skb = self.receive_queue[0]
            left = skb[0]
            assert isinstance(left, int)
            chunk = min(left, nbytes - copied)
            skb[0] = left - chunk
            copied += chunk
            self.rcv_bytes -= chunk
            if skb[0]:
                break  # partially read: the skb (and the sender's charge) stays
            self.receive_queue.popleft()
            sender = skb[2]
            assert isinstance(sender, UnixSocket) and isinstance(skb[1], int)
            sender.wmem_alloc -= skb[1]
            sender.unix_write_space()
            if copied >= nbytes:
                break
        return copied

    def unix_write_space(self) -> None:
        """``unix_write_space`` (via ``sock_wfree``): wake writers once writable again."""
        if not self.dead and self.writable():
            self.sk_write_space()

    def shutdown(self, how: int) -> None:
        """``unix_shutdown``: our bits, the mirrored bits on the peer, state-change wakes."""
        mode = self.check_how(how)
        if self.peer is None:
            raise oserror(errno.ENOTCONN)
        self.sk_shutdown |= mode
        other = self.peer
        self.sk_state_change()
        peer_mode = 0
        if mode & RCV_SHUTDOWN:
            peer_mode |= SEND_SHUTDOWN
        if mode & SEND_SHUTDOWN:
            peer_mode |= RCV_SHUTDOWN
        other.sk_shutdown |= peer_mode
        other.sk_state_change()

    def release(self) -> None:
        """``unix_release_sock``: the peer sees both directions shut (HUP), and ECONNRESET
        if we die with unread data; our queued skbs are freed, returning the peer's space."""
        self.dead = True
        self.sk_shutdown = SHUTDOWN_MASK
        other = self.peer
        self.peer = None
        had_unread = bool(self.receive_queue)
        if other is not None:
            other.sk_shutdown = SHUTDOWN_MASK
            if had_unread:
                other.sk_err = errno.ECONNRESET
            other.sk_state_change()
        while self.receive_queue:
            _left, truesize, sender = self.receive_queue.popleft()
            assert isinstance(sender, UnixSocket) and isinstance(truesize, int)
            sender.wmem_alloc -= truesize
            sender.unix_write_space()
        self.rcv_bytes = 0

    def describe(self) -> str:
        return f"{self.label}: AF_UNIX, {self.rcv_bytes} B queued, {self.wmem_alloc} B charged"


# --------------------------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------------------------

TCP_ESTABLISHED = "ESTABLISHED"
TCP_SYN_SENT = "SYN_SENT"
TCP_FIN_WAIT1 = "FIN_WAIT1"
TCP_FIN_WAIT2 = "FIN_WAIT2"
TCP_CLOSE_WAIT = "CLOSE_WAIT"
TCP_LAST_ACK = "LAST_ACK"
TCP_CLOSING = "CLOSING"
TCP_CLOSE = "CLOSE"
TCP_LISTEN = "LISTEN"


class TcpSocket(Socket):
    """A TCP socket on 127.0.0.1: a listener, or one end of a loopback connection.

    Simplified where the real stack's arithmetic depends on autotuning and timing: the send
    queue holds up to `sndbuf` unacknowledged payload bytes and the peer accepts up to its
    `rcvbuf` into its receive queue (the window); both are `ModelKernel` parameters. What a
    program observes about states, errors and wake-ups follows ``tcp_poll``, ``tcp_sendmsg``,
    ``tcp_recvmsg``, ``tcp_fin``, ``tcp_reset`` and ``tcp_close``.
    """

    kind = "tcp"
    family = "AF_INET"

    def __init__(self, fs: FileSystem, nic: Nic, label: str, sndbuf: int, rcvbuf: int) -> None:
        super().__init__(fs, label)
        self.nic = nic
        self.state = TCP_CLOSE
        self.peer: TcpSocket | None = None
        self.sndbuf = sndbuf
        self.rcvbuf = rcvbuf
        self.snd_queued = 0  # accepted by send(), not yet acknowledged by the peer
        self.snd_unsent = 0  # part of snd_queued not yet handed to the NIC
        self.in_flight = 0  # sent, not yet landed in the peer's receive queue
        self.rcv_bytes = 0
        self.nospace = False  # SOCK_NOSPACE: a writer found the buffer full
        self.done = False  # SOCK_DONE: FIN received
        self.fin_pending = False  # our FIN waits behind unsent data
        self.orphan = False  # closed by the user; the connection may linger
        self.linger_zero = False
        self.backlog = 0
        self.accept_queue: deque[TcpSocket] = deque()
        #: For a socket made by a listener: that listener. ``inet_csk_clone_lock`` copies the
        #: listener's local address into the child, so a connect to the child's address
        #: (``getsockname``) reaches the listener while it still listens on that port.
        self.listener: TcpSocket | None = None

    def bound_listener(self) -> TcpSocket | None:
        """The socket that accepts connections sent to our local address, if any."""
        owner = self if self.listener is None else self.listener
        return owner if owner.state == TCP_LISTEN else None

    # -- readiness (tcp_poll) --
    def writeable(self) -> bool:
        """``sk_stream_is_writeable``: free space at least half of what is queued."""
        return self.sndbuf - self.snd_queued >= self.snd_queued // 2

    def poll(self, pt: PollTable | None) -> int:
        self.register_poll(pt)
        if self.state == TCP_LISTEN:
            return EPOLLIN | EPOLLRDNORM if self.accept_queue else 0
        mask = 0
        if self.sk_shutdown == SHUTDOWN_MASK or self.state == TCP_CLOSE:
            mask |= EPOLLHUP
        if self.sk_shutdown & RCV_SHUTDOWN:
            mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP
        if self.state != TCP_SYN_SENT:
            if self.rcv_bytes:
                mask |= EPOLLIN | EPOLLRDNORM
            if self.sk_shutdown & SEND_SHUTDOWN or self.writeable():
                mask |= EPOLLOUT | EPOLLWRNORM
            else:
                self.nospace = True  # tcp_poll arms the write-space wake-up
        if self.sk_err:
            mask |= EPOLLERR
        return mask

    # -- data --
    def send(self, nbytes: int) -> int:
        """``tcp_sendmsg``: state and error checks, then queue what fits in sndbuf."""
        if self.state == TCP_LISTEN:
            raise oserror(errno.EPIPE)
        if self.state not in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
            # sk_stream_wait_connect: a pending error wins, otherwise EPIPE.
            raise oserror(self.sock_error() or errno.EPIPE)
        if self.sk_err or self.sk_shutdown & SEND_SHUTDOWN:
            raise oserror(self.sock_error() or errno.EPIPE)
        room = self.sndbuf - self.snd_queued
        if nbytes and room <= 0:
            self.nospace = True
            raise oserror(errno.EAGAIN)
        accepted = min(nbytes, max(room, 0))
        if accepted < nbytes:
            self.nospace = True
        self.snd_queued += accepted
        self.snd_unsent += accepted
        self.tcp_push()
        return accepted

    def window(self) -> int:
        """Receive space the peer has left for our data (its rcvbuf minus queued and in flight)."""
        peer = self.peer
        if peer is None:
            return 0
        return max(0, peer.rcvbuf - peer.rcv_bytes - self.in_flight)

    def tcp_push(self) -> None:
        """Hand unsent bytes to the NIC as far as the peer's window allows, then a pending FIN."""
        peer = self.peer
        if peer is None:
            return
        n = min(self.snd_unsent, self.window())
        if n:
            self.snd_unsent -= n
            self.in_flight += n
            self.nic.transmit(self, peer, "DATA", n)
        if self.fin_pending and not self.snd_unsent:
            self.fin_pending = False
            self.nic.transmit(self, peer, "FIN", 0)

    def recv(self, nbytes: int) -> int:
        """``tcp_recvmsg``: data first; then EOF, pending error, ENOTCONN or EAGAIN."""
        if self.state == TCP_LISTEN:
            raise oserror(errno.ENOTCONN)
        if self.rcv_bytes:
            n = min(nbytes, self.rcv_bytes)
            self.rcv_bytes -= n
            if (
                n
                and self.peer is not None
                and self.peer.snd_unsent
                and not self.sk_shutdown & RCV_SHUTDOWN
            ):
                # The window reopened: a window update lets the peer push more -- but
                # tcp_cleanup_rbuf sends none once the receive side is shut ("do not send
                # window open ACK in states where we will not receive more"): the peer then
                # stays stalled until its persist timer probes (not modelled: timer-driven).
                self.nic.transmit(self, self.peer, "WINDOW", 0)
            return n
        if self.done:
            return 0
        err = self.sock_error()
        if err:
            raise oserror(err)
        if self.sk_shutdown & RCV_SHUTDOWN:
            return 0
        if self.state == TCP_CLOSE:
            raise oserror(errno.ENOTCONN)
        raise oserror(errno.EAGAIN)

    def shutdown(self, how: int) -> None:
        """``inet_shutdown`` + ``tcp_shutdown``: SHUT_WR sends a FIN after queued data."""
        mode = self.check_how(how)
        if self.state in (TCP_LISTEN, TCP_SYN_SENT):
            # inet_shutdown: a listener ignores anything but SHUT_RD, which disconnects it
            # (so does any shutdown in SYN_SENT); tcp_disconnect stops listening, moves to
            # CLOSE and *clears* sk_shutdown -- poll then says OUT|HUP, recv ENOTCONN.
            if mode & RCV_SHUTDOWN or self.state == TCP_SYN_SENT:
                if self.state == TCP_LISTEN:
                    self.stop_listening()
                else:
                    self.sk_err = errno.ECONNRESET
                self.state = TCP_CLOSE
                self.sk_shutdown = 0
                self.done = False
            self.nic.deliver_now()  # the children's resets reach their peers first
            self.sk_state_change()
            return
        # inet_shutdown, TCP_CLOSE: ENOTCONN, but it falls through to the default branch, so
        # the bits are set anyway ("hack to wake up other listeners, who can poll for HUP").
        not_connected = self.state == TCP_CLOSE
        self.sk_shutdown |= mode
        if mode & SEND_SHUTDOWN:
            self.send_fin()  # tcp_shutdown: only ESTABLISHED and CLOSE_WAIT send a FIN
        # inet_shutdown wakes our own watchers last, after loopback has delivered the FIN:
        # the peer's watchers are woken first (its epitems are queued ahead of ours).
        self.nic.deliver_now()
        self.sk_state_change()
        if not_connected:
            raise oserror(errno.ENOTCONN)

    def send_fin(self) -> None:
        """``tcp_send_fin``: ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK."""
        if self.state == TCP_ESTABLISHED:
            self.state = TCP_FIN_WAIT1
        elif self.state == TCP_CLOSE_WAIT:
            self.state = TCP_LAST_ACK
        else:
            return
        self.fin_pending = True
        self.tcp_push()

    def set_linger_zero(self) -> None:
        self.linger_zero = True

    def release(self) -> None:
        """``tcp_close``: unread data or SO_LINGER 0 -> RST; otherwise an orderly FIN."""
        self.orphan = True
        if self.state == TCP_LISTEN:
            self.stop_listening()
            self.state = TCP_CLOSE
            return
        self.sk_shutdown = SHUTDOWN_MASK
        if self.state == TCP_CLOSE:
            return
        if self.rcv_bytes or self.linger_zero:
            self.rcv_bytes = 0
            self.send_reset()
            self.state = TCP_CLOSE
            return
        self.send_fin()

    def stop_listening(self) -> None:
        """``inet_csk_listen_stop``: connections never accepted are reset."""
        while self.accept_queue:
            child = self.accept_queue.popleft()
            child.orphan = True
            child.send_reset()
            child.state = TCP_CLOSE

    def send_reset(self) -> None:
        if self.peer is not None:
            self.nic.transmit(self, self.peer, "RST", 0)
        self.snd_queued = self.snd_unsent = 0

    # -- segment arrival (softirq context) --
    def tcp_rcv(self, src: TcpSocket, kind: str, nbytes: int) -> None:
        """A segment from `src` arrived (``tcp_v4_rcv`` -> ``tcp_rcv_state_process``)."""
        if kind == "RST":
            self.tcp_reset()
            return
        if self.state == TCP_CLOSE:
            if kind in ("DATA", "FIN"):
                self.nic.transmit(self, src, "RST", 0)  # nobody home: reset
            return
        if kind == "DATA":
            if self.sk_shutdown & RCV_SHUTDOWN and self.state in (TCP_FIN_WAIT1, TCP_FIN_WAIT2):
                # tcp_rcv_state_process, FIN_WAIT1/FIN_WAIT2: "RFC 793 says to queue data in
                # these states, RFC 1122 says we MUST send a reset" -- new data for a socket
                # whose receive side is shut (closed, or shutdown(SHUT_RD) and SHUT_WR) is
                # answered by tcp_reset() here and an RST to the sender (tcp_v4_do_rcv's
                # reset path). The data is dropped. (In ESTABLISHED, SHUT_RD alone does not
                # refuse data: tcp_data_queue still queues it.)
                src.in_flight -= nbytes
                self.nic.transmit(self, src, "RST", 0)
                self.tcp_reset()
                return
            src.in_flight -= nbytes
            self.rcv_bytes += nbytes
            self.fs.tracer.charge(
                TraceKind.SOCK_QUEUE, self.label, 0, "+{e.count} bytes", count=nbytes
            )
            self.nic.transmit(self, src, "ACK", nbytes)
            self.sk_data_ready()
        elif kind == "ACK":
            self.snd_queued -= nbytes
            self.tcp_check_space()
            if self.snd_unsent:
                self.tcp_push()
        elif kind == "WINDOW":
            self.tcp_push()
        elif kind == "FINACK":
            self.fin_acked()
        elif kind == "FIN":
            self.tcp_fin(src)

    def tcp_check_space(self) -> None:
        """``tcp_check_space``: a writer that saw a full buffer is woken once it drains."""
        if self.nospace and self.writeable():
            self.nospace = False
            self.sk_write_space()

    def tcp_fin(self, src: TcpSocket) -> None:
        """``tcp_fin``: the peer will send no more; EOF becomes readable (RDHUP)."""
        self.sk_shutdown |= RCV_SHUTDOWN
        self.done = True
        if self.state == TCP_ESTABLISHED:
            self.state = TCP_CLOSE_WAIT
        elif self.state in (TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_CLOSING):
            self.state = TCP_CLOSE  # TIME_WAIT: the full socket is done with
        self.nic.transmit(self, src, "FINACK", 0)
        if not self.orphan:
            self.sk_state_change()

    def fin_acked(self) -> None:
        """Our FIN was acknowledged."""
        if self.state == TCP_FIN_WAIT1:
            self.state = TCP_FIN_WAIT2
        elif self.state == TCP_LAST_ACK:
            self.state = TCP_CLOSE
            if not self.orphan:
                self.sk_state_change()

    def tcp_reset(self) -> None:
        """``tcp_reset``: ECONNRESET (EPIPE after the peer's FIN, ECONNREFUSED for a
        connection attempt), then ``tcp_done``."""
        if self.state == TCP_CLOSE:
            return
        if self.state == TCP_SYN_SENT:
            err = errno.ECONNREFUSED
        else:
            err = errno.EPIPE if self.state == TCP_CLOSE_WAIT else errno.ECONNRESET
        self.sk_err = err
        self.snd_queued = self.snd_unsent = 0
        self.state = TCP_CLOSE
        self.sk_shutdown = SHUTDOWN_MASK
        if not self.orphan:
            self.sk_state_change()
            self.sk_error_report()

    def describe(self) -> str:
        if self.state == TCP_LISTEN:
            return f"{self.label}: TCP LISTEN, {len(self.accept_queue)} pending"
        queued = f"{self.rcv_bytes} B queued, {self.snd_queued} B unacked"
        return f"{self.label}: TCP {self.state}, {queued}"
