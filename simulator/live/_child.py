"""The live kernel's child process: executes protocol calls on real descriptors.

Run as ``python -m simulator.live._child`` by `LiveKernel`, with requests on fd 0 and replies on
fd 1 (see `simulator.live._wire`). Its descriptor table is the thing being observed, so the
child is careful about it:

- Everything it will ever need is imported before the first request (an import opens files,
  which would take the lowest free fd numbers and could grow the fd table).
- At start-up it re-creates its fd table (`_fresh_fd_table`), so the table has the kernel's
  initial capacity of 64 slots whatever the parent had open when it forked (select(2) clips to
  that capacity: KERNEL_SPEC PS-4).
- Afterwards it allocates a descriptor only when a request asks for one, and closes one only
  when a request says so. epoll objects are kept in `_Engine._owners` because a
  ``select.epoll`` closes its fd when collected.
- ``sys.stdout`` is pointed at stderr: nothing but replies is ever written to fd 1.

It dies with its parent (``PR_SET_PDEATHSIG`` = SIGKILL) and exits when fd 0 reaches EOF.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import math
import mmap
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from simulator import syscalls, threads, uapi
from simulator.conversions import (
    bounded_timeout,
    c_int,
    check_sqes,
    epoll_timeout_ms,
    fildes,
    forever,
    index,
    io_uring_entries,
    io_uring_min_complete,
    io_uring_timeout_ns,
)
from simulator.live import _libc, _measure, _uring, _wire
from simulator.syscalls import Timeout

#: How long tcp_connect waits for the handshake (loopback takes microseconds).
HANDSHAKE_BOUND_S = 1.0
#: How long a call waits for TCP loopback to go quiet (see `_Engine._settle`): more than the
#: longest delayed ACK (TCP_DELACK_MAX, 200 ms), with room for a loaded machine.
SETTLE_BOUND_S = 1.0
_SETTLE_POLL_S = 0.0002
_FILL_CHUNK = bytes(65536)

_LINGER_ABORT = struct.pack("ii", 1, 0)


class _Closable(Protocol):
    def close(self) -> None: ...


@contextmanager
def _borrowed(fd: int) -> Iterator[socket.socket]:
    """A ``socket.socket`` on `fd` that gives the fd back (``detach``) instead of closing it.

    Building it runs getsockopt(SO_TYPE) etc., so a closed fd raises EBADF and a file or an
    epoll fd raises ENOTSOCK -- what send(2), recv(2) and shutdown(2) themselves answer.
    """
    sock = socket.socket(fileno=fd)
    try:
        yield sock
    finally:
        sock.detach()


def _ioctl_int(fd: int, request: int) -> int:
    value: int = struct.unpack("i", fcntl.ioctl(fd, request, bytes(4)))[0]
    return value


def _ioctl_or_zero(fd: int, request: int) -> int:
    """`_ioctl_int`, or 0 where the socket has no such queue (a listener: EINVAL)."""
    try:
        return _ioctl_int(fd, request)
    except OSError:
        return 0


class _Engine:
    """The protocol calls, on this process's real descriptors.

    Bookkeeping, all exact because every descriptor is created and closed here:
    `_owners` maps an fd to the Python object that owns it (select.epoll, select.kqueue), and
    `_tcp` holds the fd numbers that are TCP sockets, for the settle loop.
    """

    def __init__(self) -> None:
        self._owners: dict[int, _Closable] = {}
        self._tcp: set[int] = set()
        self._sockets: set[int] = set()
        # The run's limits (`set_run_limits`) and what has been used of the wait budget.
        self._wait_budget_ms = math.inf
        self._waited_ms = 0
        self._queued_cap = math.inf
        self._bound_s = uapi.LIVE_WAIT_BOUND_S  # how long an infinite wait may block
        self._bench: _measure.LabBench | None = None  # the lab's world (`lab`)
        # io_uring: the rings by fd; listeners with ACCEPTs in flight (how many); objects
        # whose fd an io_uring CLOSE took (kept, so they never close a reused number).
        self._rings: dict[int, _uring.Ring] = {}
        self._accepting: dict[int, int] = {}
        self._orphans: list[_Closable] = []
        #: Numbers CLOSE SQEs named that may close after their submit returned (a chain cut
        #: by the batch's end runs on an io-wq worker: docs/kernel-spec.md IU-19); see
        #: `forget_closed`.
        self._uring_closes: set[int] = set()
        # threads (see `start`): one `_Worker` per spawned thread, and which one runs here
        self._workers: list[_Worker] = []
        self._local = threading.local()
        self._worker_accepts: dict[int, int] = {}  # listener inode -> accepts done by threads

    # --- descriptors and sockets ---------------------------------------------------------

    def socketpair(self) -> tuple[int, int]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a.setblocking(False)
        b.setblocking(False)
        ends = a.detach(), b.detach()
        self._sockets.update(ends)
        return ends

    def tcp_listen(self, backlog: int = 128) -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(backlog)
            sock.setblocking(False)
            fd = sock.detach()
        self._tcp.add(fd)
        self._sockets.add(fd)
        return fd

    def tcp_connect(self, listen_fd: int) -> int:
        """Errors in order: `listen_fd` (EBADF, ENOTSOCK), the new socket (EMFILE), a
        listener that is not AF_INET (EAFNOSUPPORT, as connect(2) answers a foreign address),
        then connect(2)'s own. Refusal (ECONNREFUSED) is asynchronous on TCP: the fd is
        returned and reports it through ERR/SO_ERROR, like any non-blocking connect."""
        with _borrowed(listen_fd) as listener:
            family = listener.family
            address = listener.getsockname()
            # A thread asleep in accept may take the connection before we look: count those.
            inode = os.fstat(listener.fileno()).st_ino
        listening = _libc.tcp_info(listen_fd)
        if listening is not None and listening.state != _libc.TCP_LISTEN:
            listening = None
        ready = self._cq_ready()
        taken = self._worker_accepts.get(inode, 0)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            if family != socket.AF_INET:
                raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
            # Non-blocking connect on TCP: EINPROGRESS, the handshake runs in softirq context.
            err = sock.connect_ex(address)
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            fd = sock.detach()
        self._tcp.add(fd)
        self._sockets.add(fd)
        if listening is not None and listening.unacked > listening.sacked:
            # Accept queue full (sk_acceptq_is_full): the listener drops the SYN, the client
            # stays in SYN_SENT and retries on a 1 s timer. Nothing to wait for now.
            return fd
        ends = select.poll()
        ends.register(fd, select.POLLOUT)  # ERR and HUP (refused) are always reported
        ends.poll(HANDSHAKE_BOUND_S * 1000)
        if listening is None:
            self._settle()
        else:
            # The server side of the connection joins the accept queue when the client's
            # final ACK is processed: wait for it, so the listener is readable on return.
            # A thread asleep in accept may take it at once: that counts as arrived too.
            queued = listening.unacked
            if listen_fd in self._accepting:
                # An io_uring ACCEPT may take the connection off the queue at once: its
                # completion is what to wait for then (counted from before the connect).
                self._settle(
                    lambda: (
                        self._accept_queue(listen_fd) > queued
                        or self._cq_ready() > ready
                        or self._worker_accepts.get(inode, 0) > taken
                    )
                )
            else:
                self._settle(
                    lambda: (
                        self._accept_queue(listen_fd) > queued
                        or self._worker_accepts.get(inode, 0) > taken
                    )
                )
        return fd

    def _accept_queue(self, listen_fd: int) -> int:
        info = _libc.tcp_info(listen_fd)
        return -1 if info is None else info.unacked

    def accept(self, listen_fd: int) -> int:
        # Linux allocates the new descriptor before looking at the queue: at the limit
        # accept() fails EMFILE even when nothing is queued (KERNEL_SPEC SK-5).
        with _borrowed(listen_fd) as listener:
            # The number as socket(fileno=...) cut it to a C int (as the model does).
            with self._blocking_bound(listener.fileno(), socket.SO_RCVTIMEO, "accept"):
                conn, _address = listener.accept()
            if self._worker() is not None:  # tcp_connect's settle counts these
                inode = os.fstat(listener.fileno()).st_ino
                self._worker_accepts[inode] = self._worker_accepts.get(inode, 0) + 1
        # accept4() on Linux does not inherit O_NONBLOCK from the listener.
        conn.setblocking(False)
        if conn.family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fd = conn.detach()
        self._sockets.add(fd)
        if listen_fd in self._tcp:
            self._tcp.add(fd)
        return fd

    def open_file(self) -> int:
        """A new regular file, read-write, that has no name: nothing is left behind however
        the child ends (SIGKILL included). On Linux a memfd (a tmpfs file, as regular as any
        to poll, select and epoll); elsewhere a temporary file unlinked as soon as it exists.
        Like ``os.open``, the descriptor is close-on-exec."""
        if hasattr(os, "memfd_create"):
            return os.memfd_create("muxlab-file", os.MFD_CLOEXEC)
        fd, path = tempfile.mkstemp(prefix="muxlab-live-", suffix=".file")
        os.unlink(path)
        return fd

    def send(self, fd: int, nbytes: int) -> int:
        with (
            _borrowed(fd) as sock,
            self._blocking_bound(sock.fileno(), socket.SO_SNDTIMEO, "send") as cut,
        ):
            # Python ignores SIGPIPE, so a send to a closed stream raises EPIPE (BrokenPipeError).
            sent = sock.send(bytes(nbytes))
            if cut and sent < nbytes:  # a blocking send returns early only when cut short
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        self._settle()
        self._check_queued(f"send({fd})")
        return sent

    def fill(self, fd: int) -> int:
        """Send 64 KiB chunks until EAGAIN. On TCP, acknowledgements free send-buffer space
        (and autotuning grows it) as they arrive, so the fill goes on until a send fails
        EAGAIN *after* the connection has settled: the buffer is full at quiescence."""
        total = 0
        settled = False
        with _borrowed(fd) as sock:
            while True:
                try:
                    # MSG_DONTWAIT: a fill never sleeps, even on a blocking socket
                    total += sock.send(_FILL_CHUNK, socket.MSG_DONTWAIT)
                    settled = False
                except BlockingIOError:
                    if settled or fd not in self._tcp:
                        self._check_queued(f"fill({fd})")
                        return total
                    self._settle()
                    settled = True

    def recv(self, fd: int, nbytes: int) -> int:
        with _borrowed(fd) as sock, self._blocking_bound(sock.fileno(), socket.SO_RCVTIMEO, "recv"):
            received = len(sock.recv(nbytes))
        # Reading may open the TCP receive window: the peer then sends what it had queued.
        self._settle()
        return received

    def shutdown(self, fd: int, how: int) -> None:
        with _borrowed(fd) as sock:
            sock.shutdown(how)
        self._settle()

    def close(self, fd: int) -> None:
        effect = self._close_effect(fd, abort=False)
        self._close_fd(fd)
        self._settle(effect)

    def dup(self, fd: int) -> int:
        new = os.dup(fd)
        if fd in self._rings:  # the same ring, through another number
            self._rings[new] = self._rings[fd]
        if fd in self._sockets:
            self._sockets.add(new)
        if fd in self._tcp:
            self._tcp.add(new)
        return new

    def abort(self, fd: int) -> None:
        with _borrowed(fd) as sock:
            # SO_LINGER {on, 0}: close() discards unsent data and sends RST (TCP); for an
            # AF_UNIX socket the option is accepted and changes nothing.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
        effect = self._close_effect(fd, abort=True)
        self._close_fd(fd)
        self._settle(effect)

    def setrlimit_nofile(self, soft: int) -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def set_limits(self, soft: int, hard: int) -> tuple[int, int]:
        """Start-up limits matching the model's; returns what the kernel actually granted.

        Raising the hard limit needs CAP_SYS_RESOURCE; without it the current hard limit stays
        and the caller learns so from the result.
        """
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        except (ValueError, OSError):
            current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, current_hard), current_hard))
        return resource.getrlimit(resource.RLIMIT_NOFILE)

    # --- the run's limits --------------------------------------------------------------------

    def set_run_limits(
        self, wait_budget_s: float, queued_bytes_cap: int, wait_bound_s: float
    ) -> None:
        """Bound the whole run: the time waits that time out may take in all, the bytes the
        child's sockets may hold, and how long one infinite wait may block (see `LiveKernel`)."""
        self._wait_budget_ms = math.ceil(wait_budget_s * 1000)
        self._queued_cap = queued_bytes_cap
        self._bound_s = wait_bound_s

    def _allowed_ms(self, bound_ms: int) -> int:
        """How much of a wait of `bound_ms` the wait budget still allows."""
        return int(min(bound_ms, max(0, self._wait_budget_ms - self._waited_ms)))

    def _timed_out(self, call: str, bound_ms: int, allowed_ms: int) -> None:
        """Charge a wait that ended with nothing ready; LiveLimitError if the budget cut it.

        Only waits that time out are charged: a wait something is ready for returns at once
        (the engine is quiescent), so what a run spends is decided by its results, not by
        a clock."""
        self._waited_ms += allowed_ms
        if allowed_ms < bound_ms:
            budget = self._wait_budget_ms / 1000
            raise uapi.LiveLimitError(
                f"{call} would take the run past the live kernel's wait limit: waits that time "
                f"out may block for {budget:g} s in all per run (LiveKernel wait_budget_s), "
                "and this run has used it up. Use shorter timeouts or fewer waits that time "
                "out, or run the scenario without the live kernel (--no-live)"
            )

    def _check_queued(self, call: str) -> None:
        """LiveLimitError if the child's sockets hold more than the run's cap: bytes unread
        (SIOCINQ) on every socket, plus bytes not yet acknowledged (SIOCOUTQ) on TCP ones."""
        if self._queued_cap == math.inf:
            return
        # A CLOSE linked behind a parked request may have run within this very call (from the
        # task work of the send that completed the request): no number it closed is looked at.
        self.forget_closed()
        queued = 0
        seen: set[int] = set()
        for fd in tuple(self._sockets):  # a thread's accept may add one meanwhile
            identity = os.fstat(fd).st_ino
            if identity in seen:
                continue  # a dup: the same socket
            seen.add(identity)
            queued += _ioctl_or_zero(fd, _libc.SIOCINQ)
            if fd in self._tcp:
                queued += _ioctl_or_zero(fd, _libc.SIOCOUTQ)
        if queued > self._queued_cap:
            raise uapi.LiveLimitError(
                f"{call}: the live kernel's sockets now hold {queued:,} bytes, more than its "
                f"limit of {self._queued_cap:,} bytes per run (LiveKernel queued_bytes_cap). "
                "Read (recv) or close connections before filling more, or run the scenario "
                "without the live kernel (--no-live)"
            )

    def _close_fd(self, fd: int) -> None:
        owner = self._owners.pop(fd, None)
        if owner is None:
            os.close(fd)
        else:
            owner.close()
        ring = self._rings.pop(fd, None)
        if ring is not None and ring not in self._rings.values():
            ring.unmap()  # no number of ours refers to it any more
        self._tcp.discard(fd)
        self._sockets.discard(fd)

    # --- multiplexers ----------------------------------------------------------------------

    def epoll_create(self) -> int:
        epoll = select.epoll()
        fd = epoll.fileno()
        self._owners[fd] = epoll
        return fd

    def epoll_ctl(self, epfd: int, op: int, fd: int, events: int = 0) -> None:
        """epoll_ctl(2) on any epfd number, with CPython's argument checks
        (``select.epoll.register``): fds through the ``fildes`` converter, `events` through
        ``unsigned_int(bitwise=True)`` (masked to 32 bits, never an overflow), then the
        kernel decides everything else, in its own order (KERNEL_SPEC EP-25)."""
        epfd = fildes(epfd)
        fd = fildes(fd)
        mask = index(events) & 0xFFFFFFFF
        _libc.epoll_ctl(epfd, c_int(op), fd, mask)

    def epoll_wait(self, epfd: int, maxevents: int, timeout_ms: int) -> list[tuple[int, int]]:
        """``select.epoll.poll`` on any epfd: maxevents -1 means FD_SETSIZE - 1, other values
        below 1 are a ValueError; a negative (or None) timeout is infinite, which waits at
        most the wait bound and then raises WaitForeverError. Finite timeouts longer than
        the bound are cut to it: the engine is quiescent, so the answer ([]) is the same."""
        maxevents = c_int(maxevents)
        epfd = fildes(epfd)
        bounded, infinite = bounded_timeout(Timeout.EPOLL_MS, timeout_ms, self._bound_s)
        bound = index(bounded)
        if maxevents == -1:
            maxevents = uapi.FD_SETSIZE - 1
        elif maxevents < 1:
            raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
        buffer = self._event_buffer(maxevents)
        worker = self._worker() is not None
        if worker:  # a spawned thread sleeps as long as the call says: nothing bounds it
            bound = -1 if infinite else index(epoll_timeout_ms(timeout_ms))
        allowed = bound if worker else self._allowed_ms(bound)
        remaining = allowed
        deadline = time.monotonic() + allowed / 1000
        while True:
            try:
                count = _libc.epoll_wait(epfd, buffer, maxevents, remaining)
                break
            except InterruptedError:
                # PEP 475: retry with the time that is left.
                if allowed >= 0:
                    remaining = max(0, math.ceil((deadline - time.monotonic()) * 1000))
        if count == 0 and not worker:
            self._timed_out(f"epoll_wait({epfd})", bound, allowed)
            if infinite:
                raise forever(f"epoll_wait({epfd})", self._bound_s)
        # CPython reports data.fd: the low 32 bits of the union, as a C int.
        return [
            (ctypes.c_int32(buffer[i].data & 0xFFFFFFFF).value, buffer[i].events)
            for i in range(count)
        ]

    @staticmethod
    def _event_buffer(maxevents: int) -> ctypes.Array[_libc.EpollEvent]:
        # Anonymous memory is committed only where the kernel writes events, like the malloc()
        # CPython uses; a size the system cannot reserve is a MemoryError, as there. (Above
        # EP_MAX_EVENTS the kernel then refuses the count, EINVAL, without touching it.)
        size = maxevents * ctypes.sizeof(_libc.EpollEvent)
        try:
            memory = mmap.mmap(-1, size)  # fd -1: MAP_ANONYMOUS, no descriptor involved
        except OSError as exc:
            raise MemoryError() from exc
        return (_libc.EpollEvent * maxevents).from_buffer(memory)

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int) -> list[tuple[int, int]]:
        """``select.poll``: one object per call, registered in order (registering an fd again
        overwrites its mask and keeps its first position, as CPython's dict does). A negative
        or None timeout is infinite: bounded, then WaitForeverError."""
        poller = select.poll()
        for fd, events in fds:
            poller.register(fd, events)
        if self._worker() is not None:
            return poller.poll(timeout_ms)  # a spawned thread: unbounded
        # Only values CPython would accept as an infinite timeout are bounded here; a negative
        # number below INT_MIN must still reach CPython, which refuses it (OverflowError).
        timeout: Any
        timeout, infinite = bounded_timeout(Timeout.POLL_MS, timeout_ms, self._bound_s)
        bound_ms = math.ceil(self._bound_s * 1000)
        bound = math.ceil(timeout) if _is_number(timeout) and 0 < timeout <= bound_ms else 0
        allowed = self._allowed_ms(bound)
        if allowed < bound:
            timeout = allowed
        ready = poller.poll(timeout)
        if not ready:
            self._timed_out("poll", bound, allowed)
            if infinite:
                raise forever("poll", self._bound_s)
        return ready

    def select(
        self,
        rlist: Sequence[int],
        wlist: Sequence[int],
        xlist: Sequence[int],
        timeout_s: float | None,
    ) -> tuple[list[int], list[int], list[int]]:
        """``select.select`` directly: its checks (fd >= FD_SETSIZE, negative fds, too many
        fds, negative timeout) and the kernel's (EBADF, the table-capacity clip of PS-4).
        None is infinite: bounded, then WaitForeverError (on a spawned thread: unbounded)."""
        if self._worker() is not None:
            return select.select(rlist, wlist, xlist, timeout_s)
        timeout, infinite = bounded_timeout(Timeout.SELECT_S, timeout_s, self._bound_s)
        timeout, bound, allowed = self._budget_seconds(timeout)
        readable, writable, exceptional = select.select(rlist, wlist, xlist, timeout)
        if not (readable or writable or exceptional):
            self._timed_out("select", bound, allowed)
            if infinite:
                raise forever("select", self._bound_s)
        return readable, writable, exceptional

    def _budget_seconds(self, timeout: Any) -> tuple[Any, int, int]:
        """A timeout in seconds cut to what the wait budget allows: ``(timeout, bound_ms,
        allowed_ms)``. Values CPython will refuse are left for it to refuse."""
        if not (_is_number(timeout) and 0 < timeout <= self._bound_s):
            return timeout, 0, 0
        bound = math.ceil(timeout * 1000)
        allowed = self._allowed_ms(bound)
        return (allowed / 1000 if allowed < bound else timeout), bound, allowed

    def kqueue(self) -> int:
        if sys.platform == "linux" or not hasattr(select, "kqueue"):
            raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
        kq = select.kqueue()
        fd = kq.fileno()
        self._owners[fd] = kq
        return fd

    def kevent(
        self,
        kq: int,
        changes: Sequence[uapi.KEvent],
        max_events: int,
        timeout_s: float | None,
    ) -> list[uapi.KEvent]:
        if sys.platform == "linux" or not hasattr(select, "kqueue"):
            raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
        queue = self._owners.get(kq)
        if not isinstance(queue, select.kqueue):
            # Not one we created (a dup, or not a kqueue at all): wrap the number, and keep the
            # wrapper as the fd's owner so it is closed by close(kq) and by nothing else.
            queue = select.kqueue.fromfd(kq)
            self._owners[kq] = queue
        changelist = [
            select.kevent(c.ident, c.filter, c.flags, c.fflags, c.data, c.udata) for c in changes
        ]
        timeout, infinite = bounded_timeout(Timeout.KEVENT_S, timeout_s, self._bound_s)
        timeout, bound, allowed = self._budget_seconds(timeout)
        events = queue.control(changelist, max_events, timeout)
        if max_events > 0 and not events:
            self._timed_out(f"kevent({kq})", bound, allowed)
            if infinite:
                raise forever(f"kevent({kq})", self._bound_s)
        return [uapi.KEvent(e.ident, e.filter, e.flags, e.fflags, e.data, e.udata) for e in events]

    # --- io_uring: the real one, through raw syscalls (`simulator.live._uring`) ---------------

    def io_uring_setup(self, entries: int) -> int:
        """io_uring_setup(2). Where the kernel refuses io_uring (not built: ENOSYS; disabled by
        ``kernel.io_uring_disabled``: EPERM) the answer is ENOSYS: the step is model only."""
        entries = io_uring_entries(entries)
        try:
            ring = _uring.Ring(entries)
        except OSError as exc:
            if _uring.refused(exc.errno):
                raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS)) from None
            raise
        self._rings[ring.fd] = ring
        return ring.fd

    def io_uring_submit(self, ring: int, sqes: Sequence[uapi.Sqe]) -> int:
        checked = check_sqes(sqes)
        ring = c_int(ring)
        target = self._ring(ring)
        for sqe in checked:
            if sqe.op == "CLOSE" and sqe.fd in self._owners:
                # The kernel closes it: its owner must never close the number again.
                self._orphans.append(self._owners.pop(sqe.fd))
            if sqe.op == "ACCEPT":
                self._accepting[sqe.fd] = self._accepting.get(sqe.fd, 0) + 1
        submitted = target.submit(ring, checked)
        self._uring_closes.update(sqe.fd for sqe in checked if sqe.op == "CLOSE")
        self.forget_closed()
        self._settle()
        return submitted

    def forget_closed(self) -> None:
        """Drop from the bookkeeping the numbers io_uring CLOSEs have closed by now.

        A CLOSE need not have run when its submit returns: at the end of a cut chain it runs
        on an io-wq worker (IU-19), behind a RECV it runs when data comes -- from the task
        work of the very call that brings it. `_serve` calls this before each request, once
        the parent has waited for the workers (`LiveKernel`'s settle), and `_check_queued`
        before it looks, so no stale number is ever looked at (a socket closed meanwhile
        would make it answer EBADF for an unrelated call). O(numbers pending)."""
        if not self._uring_closes:
            return
        for fd in [fd for fd in self._uring_closes if not _is_open(fd)]:
            self._uring_closes.discard(fd)
            self._tcp.discard(fd)
            self._sockets.discard(fd)

    def io_uring_wait(self, ring: int, min_complete: int, timeout_ms: int) -> list[uapi.Cqe]:
        """io_uring_enter(GETEVENTS) with a timeout (``IORING_ENTER_EXT_ARG``), then reap the
        CQ. A negative timeout is infinite: bounded on thread 0, then WaitForeverError; a
        spawned thread waits as long as the call says."""
        ring = c_int(ring)
        wanted = io_uring_min_complete(min_complete)
        bounded, infinite = bounded_timeout(Timeout.URING_MS, timeout_ms, self._bound_s)
        bound = index(bounded)
        target = self._ring(ring)
        if self._worker() is not None:  # a spawned thread sleeps in io_cqring_wait, unbounded
            timeout_ns = io_uring_timeout_ns(timeout_ms)
            if target.ready() < wanted and timeout_ns != 0:
                target.enter_wait(ring, wanted, timeout_ns)
            cqes = target.reap()
            self._adopt_accepted(cqes)
            return cqes
        allowed = self._allowed_ms(bound) if target.ready() < wanted else 0
        target.enter_wait(ring, wanted, allowed * 1_000_000)
        cqes = target.reap()
        if len(cqes) < wanted:
            self._timed_out(f"io_uring_wait({ring})", bound, allowed)
            if infinite:
                raise forever(f"io_uring_wait({ring})", self._bound_s)
        self._adopt_accepted(cqes)
        self._settle()
        return cqes

    # IOCP is Windows' (model only): Linux has no completion port, so every call is refused
    # like kqueue on Linux, and the runner labels the step "model only".
    def CreateIoCompletionPort(
        self, file: int = uapi.NO_HANDLE, port: int = uapi.NO_HANDLE, key: int = 0
    ) -> int:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    def WSARecv(self, fd: int, nbytes: int, overlapped: int) -> int:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    def WSASend(self, fd: int, nbytes: int, overlapped: int) -> int:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    def GetQueuedCompletionStatus(self, port: int, timeout_ms: int) -> list[uapi.CompletionPacket]:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    def GetQueuedCompletionStatusEx(
        self, port: int, max_entries: int, timeout_ms: int
    ) -> list[uapi.CompletionPacket]:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    def PostQueuedCompletionStatus(
        self, port: int, nbytes: int = 0, key: int = 0, overlapped: int = 0
    ) -> None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    def _cq_ready(self) -> int:
        return sum(ring.ready() for ring in self._rings.values())

    def _ring(self, fd: int) -> _uring.Ring:
        """Our ring at `fd`; for any other number, the kernel's answer to io_uring_enter on it
        (EBADF, or EOPNOTSUPP: not a ring)."""
        found = self._rings.get(fd)
        if found is None:
            _uring.io_uring_enter(fd, 0, 0, 0, None)
            raise RuntimeError(f"fd {fd} is an io_uring the engine did not make")
        return found

    def _adopt_accepted(self, cqes: list[uapi.Cqe]) -> None:
        """Descriptors that ACCEPTs installed join the bookkeeping, set up as `accept` sets
        up its own (TCP_NODELAY): a completion whose result is a socket we do not know yet."""
        if not self._accepting:
            return
        for fd in {cqe.res for cqe in cqes if cqe.res > 2}:
            if fd in self._sockets or fd in self._owners or not _is_socket(fd):
                continue
            self._sockets.add(fd)
            with _borrowed(fd) as conn:
                if conn.family == socket.AF_INET:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._tcp.add(fd)

    # --- threads and blocking descriptors (simulator.threads) ---------------------------------

    def set_blocking(self, fd: int, blocking: bool) -> None:
        os.set_blocking(fd, blocking)

    def _worker(self) -> _Worker | None:
        """The spawned thread running this code, or None on thread 0 (the main thread)."""
        worker: _Worker | None = getattr(self._local, "worker", None)
        return worker

    @contextmanager
    def _blocking_bound(self, fd: int, option: int, call: str) -> Iterator[bool]:
        """Bound a blocking socket call of thread 0 by the wait bound (SO_RCVTIMEO or
        SO_SNDTIMEO for the call's duration): with every other thread asleep, nothing could
        end it later, so running out of time is `uapi.WaitForeverError`, as in the model.
        Yields whether a bound was set. A spawned thread's call is never bounded (it sleeps),
        nor is a call on a non-blocking descriptor."""
        if self._worker() is not None or not os.get_blocking(fd):
            yield False
            return
        bound_ms = math.ceil(self._bound_s * 1000)
        allowed = max(1, self._allowed_ms(bound_ms))
        timeval = struct.pack("ll", allowed // 1000, allowed % 1000 * 1000)
        os_sock = socket.socket(fileno=fd)
        try:
            os_sock.setsockopt(socket.SOL_SOCKET, option, timeval)
            try:
                yield True
            except BlockingIOError:
                self._timed_out(call, bound_ms, allowed)
                raise forever(f"{call}({fd}) on a blocking socket", self._bound_s) from None
            finally:
                os_sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("ll", 0, 0))
        finally:
            os_sock.detach()

    def spawn_thread(self) -> int:
        tid = threads.check_spawn(len(self._workers))
        self._workers.append(_Worker())
        return tid

    def start(self, tid: int, call: str, *args: object) -> bool:
        """Begin `call(*args)` on a new real thread for `tid` and return at once (False): the
        parent (`LiveKernel.start`) waits, from /proc, until the thread has finished or sleeps
        in the kernel, then asks `thread_state`."""
        tid = threads.check_tid(tid, len(self._workers))
        worker = self._workers[tid - 1]
        values = threads.check_start(tid, worker.state(), call, args)
        method = getattr(self, call)

        def run() -> None:
            _libc.set_thread_name(f"{_libc.THREAD_NAME}{tid}")  # the threads panel reads it
            self._local.worker = worker
            try:
                worker.result = method(**values)
            except Exception as exc:  # the call's answer, read by join
                worker.error = exc
            worker.done = True

        worker.call, worker.result, worker.error, worker.done = call, None, None, False
        threading.Thread(target=run, name=f"muxlab-thread-{tid}", daemon=True).start()
        return False

    def thread_state(self, tid: int) -> tuple[str, str | None]:
        return self._workers[threads.check_tid(tid, len(self._workers)) - 1].state()

    def join(self, tid: int) -> object:
        worker = self._workers[threads.check_tid(tid, len(self._workers)) - 1]
        threads.check_join(tid, worker.state())
        result, error = worker.result, worker.error
        worker.call, worker.result, worker.error = None, None, None
        if error is not None:
            raise error
        return result

    # --- settling TCP loopback -------------------------------------------------------------

    def _settle(self, expect: Callable[[], bool] | None = None) -> None:
        """Return once no TCP segment of ours is in flight and `expect` (if any) holds.

        AF_UNIX needs nothing: a send links the data into the peer's queue and wakes it inside
        the syscall. TCP loopback is synchronous in practice too (KERNEL_SPEC DIFF-1: the
        segment is delivered by the softirq that runs when the sender re-enables bottom
        halves), but under softirq load delivery moves to ksoftirqd, and one part is
        asynchronous by design: the receiver's *delayed ACK*. Once a connection has used its
        16 quick ACKs, a receiver holding unread data acknowledges on a timer (~40 ms here,
        at most TCP_DELACK_MAX = 200 ms), and until then the sender's queue still charges the
        bytes (SIOCOUTQ), which decides its OUT readiness and how much a send accepts.
        Nothing a process can do forces that ACK out early (TCP_QUICKACK only flushes it when
        the receive queue is empty), so the loop waits for it.

        "In flight" is TCP_INFO ``tcpi_unacked`` (``packets_out``: segments sent and not yet
        acknowledged, SYN and FIN included) on any of our TCP sockets. Bytes never sent
        because the peer's window is full are not in flight: that is the quiescent state of a
        full connection. A connection in its handshake (SYN_SENT/SYN_RECV, e.g. its SYN was
        dropped by a full accept queue) is timer-driven and ignored. Bounded by
        SETTLE_BOUND_S (above TCP_DELACK_MAX): past it the call raises
        `uapi.LiveSettleError` -- never returns "as things are", which would be a false
        divergence.
        """
        if not self._tcp and expect is None:
            return
        deadline = time.monotonic() + SETTLE_BOUND_S
        while self._in_flight() or not (expect is None or expect()):
            if time.monotonic() >= deadline:
                raise uapi.LiveSettleError(
                    f"TCP loopback did not settle within {SETTLE_BOUND_S:g} s "
                    + (
                        "(segments still in flight)"
                        if self._in_flight()
                        else "(the peer did not react)"
                    )
                    + "; the machine may be overloaded -- the step's real answer is unknown"
                )
            time.sleep(_SETTLE_POLL_S)

    def _in_flight(self) -> bool:
        for fd in tuple(self._tcp):  # a thread's accept may add one meanwhile
            info = _libc.tcp_info(fd)
            if (
                info is not None
                and info.unacked
                and info.state not in (_libc.TCP_LISTEN, _libc.TCP_SYN_SENT, _libc.TCP_SYN_RECV)
            ):
                return True
        return False

    def _close_effect(self, fd: int, *, abort: bool) -> Callable[[], bool] | None:
        """What closing TCP socket `fd` will do to its peer, as a predicate to settle on.

        After close() the socket has no fd left to watch, so the engine watches the peer, when
        the peer is one of our own descriptors and this is the socket's last reference (no other
        descriptor, no io_uring request in flight that may hold the file): a RST
        (abort, or unread data in the receive queue) moves the peer to CLOSE; a FIN (sent at
        once unless unsent data is queued ahead of it) moves it out of ESTABLISHED/FIN_WAIT*.
        """
        info = _libc.tcp_info(fd) if fd in self._tcp else None
        if info is None or info.state in (_libc.TCP_LISTEN, _libc.TCP_SYN_SENT):
            return None
        identity = os.fstat(fd).st_ino
        if any(other != fd and _same_socket(other, identity) for other in tuple(self._tcp)):
            return None
        if any(ring.in_flight for ring in self._rings.values()):
            # An io_uring request (a parked POLL_ADD or RECV) holds its own reference to the
            # file: close() may not be the last one, and then nothing reaches the peer.
            return None
        peer = self._peer_of(fd)
        if peer is None:
            return None
        if abort or _ioctl_int(fd, _libc.SIOCINQ) > 0:
            return lambda: _tcp_state(peer) == _libc.TCP_CLOSE
        sends_fin = info.state in (_libc.TCP_ESTABLISHED, _libc.TCP_CLOSE_WAIT)
        if sends_fin and _ioctl_int(fd, _libc.SIOCOUTQNSD) == 0:
            waiting = (_libc.TCP_ESTABLISHED, _libc.TCP_FIN_WAIT1, _libc.TCP_FIN_WAIT2)
            return lambda: _tcp_state(peer) not in waiting
        return None

    def _peer_of(self, fd: int) -> int | None:
        """Our fd for the other end of TCP connection `fd`, if we hold it."""
        with _borrowed(fd) as sock:
            try:
                local, remote = sock.getsockname(), sock.getpeername()
            except OSError:
                return None
        for other in tuple(self._tcp):
            if other == fd:
                continue
            with _borrowed(other) as candidate:
                try:
                    if candidate.getsockname() == remote and candidate.getpeername() == local:
                        return other
                except OSError:
                    continue
        return None

    # --- the lab (simulator.bench): its own world and timing loop, not protocol calls ------

    def lab(self, op: str, *args: Any) -> Any:
        """One operation of the child's `_measure.LabBench`: ``grow``, ``set_active``,
        ``measure``, ``polling`` or ``costs``. The bench is made by the first request, so its
        epoll takes the lowest free fd, as the model's does when the lab builds the same world
        there."""
        if op == "costs":  # the machine's costs need no world: no bench, nothing left open
            return _measure.machine_costs(*args)
        if op not in ("grow", "set_active", "measure", "polling"):
            raise ValueError(f"not a lab operation: {op!r}")
        if self._bench is None:
            self._bench = _measure.LabBench()
        return getattr(self._bench, op)(*args)


class _Worker:
    """One spawned thread's call: its name, and once `done`, its result or exception."""

    def __init__(self) -> None:
        self.call: str | None = None
        self.result: object = None
        self.error: Exception | None = None
        self.done = False

    def state(self) -> tuple[threads.State, str | None]:
        if self.call is None:
            return (threads.IDLE, None)
        return (threads.FINISHED if self.done else threads.SLEEPING, self.call)


def _same_socket(fd: int, identity: int) -> bool:
    try:
        return os.fstat(fd).st_ino == identity
    except OSError:
        return False


def _tcp_state(fd: int) -> int:
    info = _libc.tcp_info(fd)
    return _libc.TCP_CLOSE if info is None else info.state


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float))


#: The requests the child answers: the calls of the call table (`simulator.syscalls`) and the
#: engine's own set-up, nothing else.
CALLS = frozenset(syscalls.CALLS) | {"set_limits", "set_run_limits", "lab"}


def _fresh_fd_table() -> None:
    """Give this process an fd table of the kernel's initial capacity (64 slots).

    fork() copies the parent's table at the parent's size (``dup_fd`` sizes the copy to the
    highest fd open in the parent) and execve() keeps it: a parent with fd 200 open hands the
    child a 256-slot table, and select(2) would then examine fds that PS-4 says it skips.
    unshare(CLONE_FILES) copies the table afresh, sized to what is open now (0, 1, 2), but only
    when the table is shared -- so a helper thread shares it for the duration of the call.
    """
    release = threading.Event()
    sharer = threading.Thread(target=release.wait, name="fd-table-sharer")
    sharer.start()
    try:
        _libc.unshare_files()
    finally:
        release.set()
        sharer.join()


#: How long the rest of a request may keep the child waiting once its header has arrived. The
#: parent writes a request in one go, so a body that stops coming is a truncated request.
BODY_STALL_S = 1.0


def _read_exactly(size: int, stall_s: float | None) -> bytes | None:
    """`size` bytes from fd 0, or None at end of file (the parent closed the channel).

    With `stall_s`, ProtocolError when no byte arrives for that long (a truncated message)."""
    chunks = []
    waiter = select.poll()
    waiter.register(0, select.POLLIN)
    while size:
        if stall_s is not None and not waiter.poll(stall_s * 1000):
            raise _wire.ProtocolError(
                f"a truncated request: {size} bytes still missing after {stall_s} s"
            )
        chunk = os.read(0, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _serve(engine: _Engine, hello: dict[str, object]) -> None:
    """Answer requests until EOF. A request that cannot be read is answered ``("broken",
    reason)`` and ends the child quietly: after it, nothing on the channel can be trusted."""
    _wire.write_all(1, _wire.frame(("ok", hello)))
    while True:
        try:
            header = _read_exactly(_wire.HEADER.size, None)
            if header is None:
                return
            body = _read_exactly(_wire.body_size(header), BODY_STALL_S)
            if body is None:
                return
            method, args = _wire.decode_request(body)
        except _wire.ProtocolError as exc:
            _wire.write_all(1, _wire.frame(("broken", str(exc))))
            return
        reply: _wire.Reply
        try:
            if method not in CALLS:
                raise RuntimeError(f"not a protocol call: {method!r}")
            engine.forget_closed()
            reply = ("ok", getattr(engine, method)(*args))
        except Exception as exc:
            reply = _wire.encode_error(exc)
        try:
            message = _wire.frame(reply)
        except (TypeError, ValueError) as exc:  # a result too large to send, or a bug
            message = _wire.frame(_wire.encode_error(exc))
        _wire.write_all(1, message)


def main() -> None:
    """Start up (see the module docstring), answer requests until EOF, clean up."""
    sys.stdout = sys.stderr
    _libc.set_parent_death_signal(signal.SIGKILL)
    _fresh_fd_table()
    with contextlib.suppress(BrokenPipeError):  # the parent went away mid-reply
        _serve(_Engine(), {"pid": os.getpid()})


if __name__ == "__main__":
    main()
