"""`ModelKernel`: the deterministic kernel model behind the `Kernel` protocol.

One simulated process on one simulated machine: an fd table with RLIMIT_NOFILE, a file count
against file-max, AF_UNIX and TCP sockets, the loopback NIC, epoll, poll and select, all on a
virtual clock. Each protocol method is a syscall: it opens a trace frame (`trace`,
`last_cost`), does what the kernel does, and lets pending work (segments in flight) settle
before it returns, so results never depend on timing and every run repeats exactly.

Argument checks that CPython performs before the syscall are reproduced here too, so a caller
gets exactly what ``select.epoll``/``select.poll``/``select.select`` would raise on Linux.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable, Sequence
from types import TracebackType

from simulator import syscalls, threads
from simulator.conversions import (
    c_int,
    check_sqes,
    epoll_timeout_ms,
    fds_in_changes,
    fds_in_lists,
    fds_in_poll_list,
    fds_in_sqes,
    fildes,
    io_uring_entries,
    io_uring_min_complete,
    io_uring_timeout_ns,
    poll_timeout_ms,
    refuse_stdio,
    select_timeout_ns,
    socket_fileno,
)
from simulator.kernel.clock import Clock
from simulator.kernel.eventpoll import EventPoll, do_epoll_ctl
from simulator.kernel.io_uring import CqWait, IoRing, check_entries
from simulator.kernel.iocp import CompletionPort, PortWaiter
from simulator.kernel.kqueue import KQueue, KqueueList, do_kevent, do_kqueue
from simulator.kernel.nic import Nic
from simulator.kernel.sched import Scheduler
from simulator.kernel.selectpoll import do_poll, do_select, select_fd_list
from simulator.kernel.sockets import (
    TCP_ESTABLISHED,
    TCP_LISTEN,
    TCP_SYN_SENT,
    Socket,
    TcpSocket,
    UnixSocket,
)
from simulator.kernel.trace import Cost, TraceEvent, TraceKind, Tracer
from simulator.kernel.vfs import FdTable, File, FileSystem, RegularFile, oserror
from simulator.kernel.views import ModelViews
from simulator.kernel.waitqueue import WaitEntry
from simulator.uapi import (
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    FD_SETSIZE,
    FILL_CHUNK,
    NO_HANDLE,
    WAIT_TIMEOUT,
    WSAENOTSOCK,
    CompletionPacket,
    Cqe,
    KEvent,
    Sqe,
    WaitForeverError,
    Win32Error,
)


def _ok() -> None:
    """No check of a call's own (see `ModelKernel._new_fds`)."""


# The prose of CPython's own work in poll and select (user space, before and after the call).
_POLLFD_ARRAY = "dict -> pollfd array: {e.count} fds"
_POLL_RESULTS = "pollfd array -> result list: {e.count} fds"
_SET2LIST = "fd_sets -> result lists (set2list): {e.count} fds"

#: ``EP_MAX_EVENTS``: INT_MAX / sizeof(struct epoll_event).
EP_MAX_EVENTS = 0x7FFFFFFF // 12
#: ``/proc/sys/net/core/somaxconn``: listen() backlogs are clipped to it.
SOMAXCONN = 4096


class ModelKernel(ModelViews):
    """The model kernel. Parameters are the machine's tunables; all are optional.

    * `nofile`, `nofile_hard`: RLIMIT_NOFILE soft and hard limits (EMFILE).
    * `file_max`: ``fs.file-max``, the system-wide open-file limit (ENFILE). The model
      enforces it for everyone; the real kernel exempts root.
    * `unix_sndbuf`: SO_SNDBUF of AF_UNIX sockets (bounds a stream, SK-4).
    * `tcp_sndbuf`, `tcp_rcvbuf`: payload bytes a TCP socket queues for sending and accepts
      into its receive queue. The defaults are what Linux 6.18 showed on the reference machine
      for a fresh loopback connection: `fill` accepts 4,243,968 bytes in 64 KiB chunks, of
      which the receiver holds 113,152. Linux autotunes both as traffic flows, so after the
      first fill the model's TCP byte counts are an approximation (SK-4, DIFF-6).
    * `nic_latency_ns`: time a segment spends on the loopback "wire".
    * `max_user_watches`: ``fs.epoll.max_user_watches`` (ENOSPC).
    * `cpus`: the simulated CPUs the process's threads run on (`simulator.kernel.sched`).
    * `trace`: record trace events (costs are always counted).
    """

    def __init__(
        self,
        *,
        nofile: int = 1024,
        nofile_hard: int = 1_048_576,
        file_max: int = 2**63 - 1,
        unix_sndbuf: int = 212_992,
        tcp_sndbuf: int = 4_130_816,
        tcp_rcvbuf: int = 113_152,
        nic_latency_ns: int = 5_000,
        max_user_watches: int = 5_491_511,
        cpus: int = 2,
        trace: bool = True,
    ) -> None:
        if nofile < 0:  # a soft limit of 0 is legal: no new descriptor at all
            raise ValueError(f"nofile must not be negative, got {nofile}")
        for name, value in (
            ("nofile_hard", nofile_hard),
            ("file_max", file_max),
            ("unix_sndbuf", unix_sndbuf),
            ("tcp_sndbuf", tcp_sndbuf),
            ("tcp_rcvbuf", tcp_rcvbuf),
            ("max_user_watches", max_user_watches),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if nic_latency_ns < 0:
            raise ValueError(f"nic_latency_ns must not be negative, got {nic_latency_ns}")
        if nofile > nofile_hard:
            raise ValueError(f"nofile ({nofile}) exceeds nofile_hard ({nofile_hard})")
        self.clock = Clock()
        self.tracer = Tracer(enabled=trace, clock=self.clock)
        self.fs = FileSystem(self.tracer, file_max)
        self.fdt = FdTable(self.fs, nofile, nofile_hard)
        self.nic = Nic(self.clock, self.tracer, nic_latency_ns)
        self.unix_sndbuf = unix_sndbuf
        self.tcp_sndbuf = tcp_sndbuf
        self.tcp_rcvbuf = tcp_rcvbuf
        self.max_user_watches = max_user_watches
        self.user_watches = 0
        self.kqlist = KqueueList(self.clock, self.tracer)
        self._labels = 0
        self.calls = 0
        # threads and blocking descriptors
        self.sched = Scheduler(self.clock, self.tracer, cpus)
        #: Open file descriptions whose O_NONBLOCK is clear (sockets start non-blocking).
        self.blocking_files: set[File] = set()

    # -- views -------------------------------------------------------------------------------
    @property
    def trace(self) -> list[TraceEvent]:
        """The micro-steps of the last call (empty when tracing is off)."""
        return self.tracer.events

    @property
    def last_cost(self) -> Cost:
        """The work of the last call, by category."""
        return self.tracer.cost

    # -- issue 10: the last call's trace, to keep (made when first read) ---------------------
    def trace_frame(self) -> Sequence[TraceEvent]:
        """`trace` as a value to keep: its events are made when first read (`Tracer.frame`),
        so a run that keeps every call's trace pays only for those it reads."""
        return self.tracer.frame()

    @property
    def tracing(self) -> bool:
        """Whether trace events are recorded (switch off for bulk work)."""
        return self.tracer.enabled

    @tracing.setter
    def tracing(self, on: bool) -> None:
        self.tracer.enabled = on

    @property
    def now_ns(self) -> int:
        """The virtual clock."""
        return self.clock.now_ns

    def observe(self, observer: Callable[[TraceEvent], None] | None) -> None:
        """Call `observer` with each micro-step as it is recorded (None: stop); see
        `Tracer.observer`."""
        self.tracer.observer = observer

    def file(self, fd: int) -> File | None:
        """The open file description at `fd`, or None."""
        return self.fdt.lookup(fd)

    def fds(self) -> dict[int, File]:
        """The fd table: descriptor -> file, in fd order."""
        return {fd: f for fd, f in sorted(self.fdt.slots.items()) if self.fdt.lookup(fd)}

    def epoll(self, epfd: int) -> EventPoll:
        """The eventpoll behind `epfd` (for views); EBADF/EINVAL like the syscalls."""
        file = self.fdt.get(epfd)
        if not isinstance(file, EventPoll):
            raise oserror(errno.EINVAL)
        return file

    # -- plumbing ----------------------------------------------------------------------------
    def _begin(self, name: str) -> None:
        self.calls += 1
        if self.sched.current:
            return  # a spawned thread's call: its micro-steps belong to the call that runs it
        self.tracer.begin_call(name)

    def _settle(self) -> None:
        """Let every segment in flight arrive: the kernel is quiescent when a call returns."""
        self.clock.settle()

    def _label(self, kind: str) -> str:
        self._labels += 1
        return f"{kind}{self._labels}"

    def _new_fds(
        self, count: int, make: Callable[[list[int]], Sequence[File]], check: Callable[[], None]
    ) -> list[int]:
        """Install new descriptors, the kernel's way: reserve `count` numbers (EMFILE), account
        that many files against file-max (ENFILE), run `check` (the call's own errors, with
        the numbers reserved), then `make` the files for those numbers and install them. Any
        error gives the reserved numbers back: a failed call leaves the fd table as it was."""
        fds = self.fdt.alloc_fds(count) if count > 1 else [self.fdt.alloc_fd()]
        try:
            self.fs.check_file_max(count)
            check()
        except BaseException:  # an errno, a blocking accept that waits forever, a thread ended
            for fd in fds:
                self.fdt.put_unused_fd(fd)
            raise
        for fd, file in zip(fds, make(fds), strict=True):
            self.fdt.install(fd, self.fs.get_file(file))
        return fds

    def _new_fd(self, make: Callable[[int], File], check: Callable[[], None] = _ok) -> int:
        """One new descriptor for the file `make(fd)` returns (see `_new_fds`)."""
        return self._new_fds(1, lambda fds: [make(fds[0])], check)[0]

    def _socket(self, fd: int) -> Socket:
        file = self.fdt.get(socket_fileno(fd))
        if not isinstance(file, Socket):
            raise oserror(errno.ENOTSOCK)
        return file

    def _charge_watch(self, delta: int) -> None:
        if delta > 0 and self.user_watches >= self.max_user_watches:
            raise oserror(errno.ENOSPC)
        self.user_watches += delta

    def sleep_until(self, deadline_ns: int | None, woken: Callable[[], bool], label: str) -> None:
        """Block the calling task until `woken()` or the deadline, running pending events.

        Raises WaitForeverError when there is no deadline and nothing left that could wake us.
        A spawned thread instead sleeps until something wakes it (`Scheduler.sleep`): the
        call that wakes it runs it before returning.
        """
        if self.sched.current:
            self.sched.sleep(woken, deadline_ns, label)
            return
        self.tracer.charge(TraceKind.THREAD_SLEEP, label, 1, "task sleeps")
        self.clock.run_until(deadline_ns, stop=woken)
        if woken():
            self.tracer.charge(TraceKind.THREAD_WAKE, label, 1, "task runs again")
        elif deadline_ns is None:
            raise WaitForeverError(f"{label} would block forever: nothing can wake it")
        else:
            self.tracer.charge(TraceKind.TIMER, label, 0, "timed out")

    def _deadline(self, timeout_ns: int | None) -> int | None:
        return None if timeout_ns is None else self.clock.now_ns + timeout_ns

    # -- descriptors and sockets -------------------------------------------------------------
    def socketpair(self) -> tuple[int, int]:
        """``socketpair(AF_UNIX, SOCK_STREAM)``: two connected sockets."""
        self._begin("socketpair")

        def pair(_fds: list[int]) -> tuple[UnixSocket, UnixSocket]:
            a = UnixSocket(self.fs, self._label("unix"), self.unix_sndbuf)
            b = UnixSocket(self.fs, self._label("unix"), self.unix_sndbuf)
            a.peer, b.peer = b, a
            return a, b

        fds = self._new_fds(2, pair, _ok)
        return fds[0], fds[1]

    def tcp_listen(self, backlog: int = 128) -> int:
        """``socket`` + ``bind(127.0.0.1:0)`` + ``listen(backlog)``."""
        self._begin("tcp_listen")
        sock = TcpSocket(self.fs, self.nic, self._label("listen"), self.tcp_sndbuf, self.tcp_rcvbuf)
        fd = self._new_fd(lambda _fd: sock)
        sock.state = TCP_LISTEN
        sock.backlog = min(max(backlog, 0), SOMAXCONN)
        return fd

    def tcp_connect(self, listen_fd: int) -> int:
        """A new client socket connected to the listener at `listen_fd`; handshake done."""
        self._begin("tcp_connect")
        refuse_stdio(listen_fd, socket=True)
        listener = self._socket(listen_fd)
        client = TcpSocket(self.fs, self.nic, self._label("tcp"), self.tcp_sndbuf, self.tcp_rcvbuf)
        fd = self._new_fd(lambda _fd: client)
        if not isinstance(listener, TcpSocket):
            self.fdt.close(fd)
            raise oserror(errno.EAFNOSUPPORT)  # connect(2) to an address of another family
        client.state = TCP_SYN_SENT
        # The address connected to is getsockname(listen_fd): an accepted socket shares its
        # listener's, so the SYN goes to that listener if it still listens.
        bound = listener.bound_listener()
        if bound is None:
            # Nobody listens at that address: the SYN is answered with a reset, which
            # tcp_reset turns into ECONNREFUSED. Non-blocking, so connect itself succeeded
            # (EINPROGRESS); the refusal shows as ERR|HUP and SO_ERROR (SK-3).
            self.nic.transmit(listener, client, "RST", 0)
            self._settle()
            return fd
        listener = bound
        if len(listener.accept_queue) > listener.backlog:  # sk_acceptq_is_full: SYN dropped
            self.fdt.close(fd)
            raise oserror(errno.ETIMEDOUT)
        child = TcpSocket(self.fs, self.nic, self._label("tcp"), self.tcp_sndbuf, self.tcp_rcvbuf)
        child.state = TCP_ESTABLISHED
        child.listener = listener
        child.peer, client.peer = client, child
        # The three-way handshake crosses the NIC: SYN, SYN-ACK, ACK. The child joins the
        # accept queue when the final ACK lands, which wakes the listener (sk_data_ready).
        self.nic.transmit(client, listener, "SYN", 0)
        self._settle()
        self.nic.transmit(listener, client, "SYNACK", 0)
        self._settle()
        client.state = TCP_ESTABLISHED
        listener.accept_queue.append(child)
        self.nic.transmit(client, child, "ACK", 0)
        self._settle()
        listener.sk_data_ready()
        self._settle()  # task work the wake-up queued (an io_uring ACCEPT) runs before return
        return fd

    def accept(self, listen_fd: int) -> int:
        """``accept4``: the descriptor is reserved *before* the queue is looked at (SK-5)."""
        self._begin("accept")
        refuse_stdio(listen_fd, socket=True)
        listener = self.fdt.get(socket_fileno(listen_fd))
        if not isinstance(listener, Socket):
            # CPython needs a socket object for the number first (``socket(fileno=fd)`` asks
            # getsockopt(SO_TYPE)), so a non-socket is ENOTSOCK even at the limit, where the
            # raw __sys_accept4_file would have said EMFILE first.
            raise oserror(errno.ENOTSOCK)

        blocking = listener in self.blocking_files  # read once, as sock_rcvtimeo is

        def queued() -> None:
            # With the new fd reserved (a thread asleep in accept holds its number).
            while True:  # inet_csk_accept, inet_csk_wait_for_connect
                if not isinstance(listener, TcpSocket) or listener.state != TCP_LISTEN:
                    raise oserror(errno.EINVAL)
                if listener.accept_queue:
                    return
                if not blocking:
                    raise oserror(errno.EAGAIN)
                self._sleep_on(listener, "accept", exclusive=True)

        def child(_fd: int) -> File:
            assert isinstance(listener, TcpSocket)
            return listener.accept_queue.popleft()

        return self._new_fd(child, queued)

    def open_file(self) -> int:
        """``open`` of a regular file."""
        self._begin("open_file")
        file = RegularFile(self.fs, self._label("file"))
        return self._new_fd(lambda _fd: file)

    def send(self, fd: int, nbytes: int) -> int:
        """``send``: bytes accepted (EAGAIN when nothing fits)."""
        self._begin("send")
        refuse_stdio(fd, socket=True)
        sock = self._socket(fd)
        if nbytes < 0:
            raise ValueError("negative count")  # the payload is bytes(nbytes)
        if sock not in self.blocking_files:
            sent = sock.send(nbytes)
            self._settle()
            return sent
        # A blocking stream send returns when every byte is queued, sleeping while the buffer
        # is full (sk_stream_wait_memory, sock_alloc_send_pskb).
        sent = 0
        while sent < nbytes:
            try:
                sent += sock.send(nbytes - sent)
            except BlockingIOError:
                self._sleep_on(sock, "send", exclusive=False)
            self._settle()
        return sent

    def fill(self, fd: int) -> int:
        """Send `FILL_CHUNK`-byte chunks until EAGAIN; the total accepted."""
        self._begin("fill")
        refuse_stdio(fd, socket=True)
        sock = self._socket(fd)
        total = 0
        while True:
            try:
                sent = sock.send(FILL_CHUNK)
            except BlockingIOError:
                break
            finally:
                self._settle()
            total += sent
        return total

    def recv(self, fd: int, nbytes: int) -> int:
        """``recv``: bytes read; 0 at end of stream."""
        self._begin("recv")
        refuse_stdio(fd, socket=True)
        # The descriptor is resolved first (EBADF, ENOTSOCK), as when CPython builds the
        # socket object for it; only then does ``sock_recv`` reject a negative size.
        sock = self._socket(fd)
        if not -(2**63) <= nbytes < 2**63:
            raise OverflowError("Python int too large to convert to C ssize_t")
        _check_size(nbytes)
        if nbytes == 0:
            return 0  # CPython's sock_recv returns b"" for a zero size without calling recv(2)
        blocking = sock in self.blocking_files  # read once: a later change does not reach us
        while True:  # sk_wait_data / unix_stream_data_wait: sleep, then look again
            try:
                got = sock.recv(nbytes)
                break
            except BlockingIOError:
                if not blocking:
                    raise
            self._sleep_on(sock, "recv", exclusive=False)
        self._settle()
        return got

    def shutdown(self, fd: int, how: int) -> None:
        self._begin("shutdown")
        refuse_stdio(fd, socket=True)
        sock = self._socket(fd)
        sock.shutdown(c_int(how))
        self._settle()

    def close(self, fd: int) -> None:
        self._begin("close")
        refuse_stdio(fd)
        fd = c_int(fd)  # os.close
        self.fdt.get(fd)  # EBADF before anything changes
        self.kqlist.knote_fdclose(fd)  # kqueue forgets the number first (KQ-8)
        self.fdt.close(fd)
        self._settle()

    def dup(self, fd: int) -> int:
        """``dup``: a new number for the same open file description."""
        self._begin("dup")
        refuse_stdio(fd)
        file = self.fdt.get(c_int(fd))  # os.dup
        new = self.fdt.alloc_fd()
        file.f_count += 1
        self.fdt.install(new, file)
        return new

    def abort(self, fd: int) -> None:
        """Close with SO_LINGER {1, 0}: TCP sends a reset instead of a FIN."""
        self._begin("abort")
        refuse_stdio(fd, socket=True)
        self._socket(fd).set_linger_zero()  # setsockopt through socket(fileno=fd)...
        fd = c_int(fd)  # ...then os.close(fd)
        self.fdt.get(fd)  # EBADF before anything changes
        self.kqlist.knote_fdclose(fd)
        self.fdt.close(fd)
        self._settle()

    def setrlimit_nofile(self, soft: int) -> None:
        """``setrlimit(RLIMIT_NOFILE, (soft, hard))``, as CPython's resource module reports it."""
        self._begin("setrlimit_nofile")
        if not -(2**63) <= soft < 2**63:
            # resource.setrlimit's py2rlimit converts with PyLong_AsLong (CPython 3.11).
            raise OverflowError("Python int too large to convert to C long")
        if soft < 0 or soft > self.fdt.nofile_hard:
            raise ValueError("current limit exceeds maximum limit")
        self.fdt.nofile = soft

    # -- epoll -------------------------------------------------------------------------------
    def epoll_create(self) -> int:
        """``epoll_create1(EPOLL_CLOEXEC)``, as ``select.epoll()`` calls it."""
        self._begin("epoll_create")
        return self._new_fd(lambda fd: EventPoll(self.fs, f"epoll{fd}", self._charge_watch))

    def epoll_ctl(self, epfd: int, op: int, fd: int, events: int = 0) -> None:
        """``epoll_ctl``; `events` is taken modulo 2**32 like CPython's bitwise converter."""
        self._begin("epoll_ctl")
        refuse_stdio(epfd, fd)
        for number in (epfd, fd):  # CPython's fildes converter, epfd first
            fildes(number)
        c_int(op)
        self.tracer.charge(TraceKind.COPY_IN, "epoll_ctl", 1, "struct epoll_event")
        do_epoll_ctl(self.fdt, epfd, op, fd, events & 0xFFFFFFFF)
        self._settle()

    def epoll_wait(self, epfd: int, maxevents: int, timeout_ms: int) -> list[tuple[int, int]]:
        """``ep_poll``: harvest, else sleep on ``ep->wq`` until woken or timed out (EP-10)."""
        self._begin("epoll_wait")
        refuse_stdio(epfd)
        c_int(maxevents)  # select.epoll.poll parses its arguments first
        fildes(epfd)
        wait_ms = epoll_timeout_ms(timeout_ms)  # then converts the timeout
        if maxevents == -1:
            maxevents = FD_SETSIZE - 1
        elif maxevents < 1:
            raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
        # do_epoll_wait: the fd first (EBADF), then ep_check_params: the count, then the type.
        file = self.fdt.get(epfd)
        if maxevents > EP_MAX_EVENTS or not isinstance(file, EventPoll):
            raise oserror(errno.EINVAL)
        ep = file
        deadline = self._deadline(None if wait_ms is None else wait_ms * 1_000_000)
        timed_out = wait_ms == 0
        while True:
            events = ep.send_events(maxevents)
            if events or timed_out:
                self._settle()
                return events
            if not self._ep_sleep(ep, deadline):
                return []

    def _ep_sleep(self, ep: EventPoll, deadline: int | None) -> bool:
        """Sleep exclusively on ``ep->wq``; True if a callback woke us, False on timeout."""
        woken = False

        def wake(entry: WaitEntry, _key: int) -> bool:
            nonlocal woken
            woken = True  # ep_autoremove_wake_function: off the queue as we wake
            ep.wq.remove(entry)
            return True

        entry = WaitEntry(wake, "task", self._task_label("epoll_wait"))
        ep.wq.add_exclusive_head(entry)  # newest sleeper first (EP-10)
        try:
            self.sleep_until(deadline, lambda: woken, ep.label)
        finally:
            ep.wq.remove(entry)
        return woken

    # -- poll and select ---------------------------------------------------------------------
    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int) -> list[tuple[int, int]]:
        """``select.poll()``: register each entry (later masks overwrite), then ``poll(2)``."""
        self._begin("poll")
        refuse_stdio(*fds_in_poll_list(fds))
        table: dict[int, int] = {}
        for fd, events in fds:
            fildes(fd)
            if events < 0:
                raise ValueError("value must be positive")
            if events > 0xFFFF:
                raise OverflowError("Python int too large for C unsigned short")
            table[fd] = events
        entries = list(table.items())
        self.tracer.charge(  # CPython builds the pollfd array
            TraceKind.FD_SCAN, "CPython", len(entries), _POLLFD_ARRAY, count=len(entries)
        )
        ms = poll_timeout_ms(timeout_ms)  # CPython's conversion: None, floats, C int range
        deadline = self._deadline(None if ms < 0 else ms * 1_000_000)
        revents = do_poll(self.fdt, self, entries, deadline, ms == 0)
        self.tracer.charge(  # ...and walks it for the results
            TraceKind.FD_SCAN, "CPython", len(entries), _POLL_RESULTS, count=len(entries)
        )
        self._settle()
        return [(fd, mask) for (fd, _), mask in zip(entries, revents, strict=True) if mask]

    def select(
        self,
        rlist: Sequence[int],
        wlist: Sequence[int],
        xlist: Sequence[int],
        timeout_s: float | None,
    ) -> tuple[list[int], list[int], list[int]]:
        """``select.select``: CPython's checks, ``select(2)``, results in input order."""
        self._begin("select")
        refuse_stdio(*fds_in_lists(rlist, wlist, xlist))
        timeout_ns = select_timeout_ns(timeout_s)
        sets = (
            select_fd_list(self.tracer, rlist),
            select_fd_list(self.tracer, wlist),
            select_fd_list(self.tracer, xlist),
        )
        nfds = max((max(s) for s in sets if s), default=-1) + 1
        res = do_select(self.fdt, self, nfds, sets, self._deadline(timeout_ns), timeout_ns == 0)
        n = min(nfds, self.fdt.capacity)
        # Bits above the table's capacity were never copied back: they are still set (PS-4).
        results = tuple(r | {fd for fd in s if fd >= n} for r, s in zip(res, sets, strict=True))
        listed = len(rlist) + len(wlist) + len(xlist)
        self.tracer.charge(TraceKind.FD_SCAN, "CPython", listed, _SET2LIST, count=listed)
        self._settle()
        return (
            [fd for fd in rlist if fd in results[0]],
            [fd for fd in wlist if fd in results[1]],
            [fd for fd in xlist if fd in results[2]],
        )

    # -- kqueue ------------------------------------------------------------------------------
    def kqueue(self) -> int:
        """``kqueue()``, as ``select.kqueue()`` calls it."""
        self._begin("kqueue")
        return do_kqueue(self.fdt, self.kqlist)

    def kevent(
        self, kq: int, changes: Sequence[KEvent], max_events: int, timeout_s: float | None
    ) -> list[KEvent]:
        """``select.kqueue.control``: changes, then events (KQ-2; semantics in `kqueue`)."""
        self._begin("kevent")
        refuse_stdio(kq, *fds_in_changes(changes))
        events = do_kevent(self.fdt, self, kq, changes, max_events, timeout_s)
        self._settle()
        return events

    def kqueue_of(self, kq: int) -> KQueue:
        """The kqueue behind `kq` (for views); EBADF like ``kevent`` if it is not one."""
        file = self.fdt.get(kq)
        if not isinstance(file, KQueue):
            raise oserror(errno.EBADF)
        return file

    # -- io_uring (the proactor: `simulator.kernel.io_uring`) -----------------------------------
    def io_uring_setup(self, entries: int) -> int:
        """``io_uring_setup``: the size is checked (EINVAL) before the fd is taken (EMFILE)."""
        self._begin("io_uring_setup")
        entries = io_uring_entries(entries)
        check_entries(entries)
        return self._new_fd(
            lambda fd: IoRing(
                self.fs,
                f"io_uring{fd}",
                entries,
                fdt=self.fdt,
                clock=self.clock,
                new_fd=self._new_fd,
                close_fd=self._close_fd,
                blocking=self.blocking_files,
            )
        )

    def io_uring_submit(self, ring: int, sqes: Sequence[Sqe]) -> int:
        """Write what fits of `sqes` at the SQ tail, then ``io_uring_enter(to_submit)``."""
        self._begin("io_uring_submit")
        refuse_stdio(ring, *fds_in_sqes(sqes))
        checked = check_sqes(sqes)
        ctx = self._io_ring(c_int(ring))
        ctx.queue(checked)
        submitted = ctx.submit()
        self._settle()  # task work (link continuations) runs on the way back to user space
        return submitted

    def io_uring_wait(self, ring: int, min_complete: int, timeout_ms: int) -> list[Cqe]:
        """``io_uring_enter(GETEVENTS)`` with a timeout, then reap the whole CQ.

        The wait is ``io_cqring_wait``: the task sleeps on the ring's ``cq_wait`` queue
        (`CqWait`), woken by the CQEs `IoRing` posts, and goes back to sleep while the CQ tail
        falls short of its target. On thread 0, a wait nothing can end raises
        WaitForeverError; a spawned thread sleeps until a CQE comes (IU-17).
        """
        self._begin("io_uring_wait")
        refuse_stdio(ring)
        ring = c_int(ring)
        wanted = io_uring_min_complete(min_complete)
        timeout_ns = io_uring_timeout_ns(timeout_ms)
        ctx = self._io_ring(ring)
        ctx.flush_overflow()
        if ctx.cq.ready() < wanted and timeout_ns != 0:
            self._io_cqring_wait(ctx, wanted, self._deadline(timeout_ns))
        cqes = ctx.reap()
        self._settle()
        return cqes

    def _io_cqring_wait(self, ctx: IoRing, wanted: int, deadline: int | None) -> None:
        """Sleep on ``ctx->cq_wait`` until the CQ tail reaches the head plus `wanted` (or the
        deadline): after each wake-up, flush the overflow list and look again."""
        wait = CqWait(ctx, wanted, self._task_label("io_uring_wait"))
        while not wait.should_wake():
            wait.woken = False
            ctx.cq_wait.add_exclusive(wait.entry)  # prepare_to_wait_exclusive
            try:
                self.sleep_until(deadline, lambda: wait.woken, ctx.cq_wait.name)
            finally:
                ctx.cq_wait.remove(wait.entry)  # a no-op once the wake function unhooked it
            if not wait.woken:
                return  # the timeout expired
            ctx.flush_overflow()

    def _io_ring(self, fd: int) -> IoRing:
        """The io_uring at `fd`: EBADF if not open, EOPNOTSUPP if not a ring."""
        file = self.fdt.get(fd)
        if not isinstance(file, IoRing):
            raise oserror(errno.EOPNOTSUPP)
        return file

    def _close_fd(self, fd: int) -> None:
        """Close a descriptor from inside the kernel (io_uring's CLOSE), as `close` does."""
        self.kqlist.knote_fdclose(fd)
        self.fdt.close(fd)

    # -- threads and blocking descriptors (simulator.threads) --------------------------------
    def _task_label(self, call: str) -> str:
        """Who sleeps, for a wait entry's label: the thread and its call."""
        return f"thread {self.sched.current} in {call}"

    def _sleep_on(self, sock: Socket, call: str, *, exclusive: bool) -> None:
        """One sleep of a blocking socket call on the socket's wait queue, until any wake-up.

        ``accept`` waits exclusively at the tail (``prepare_to_wait_exclusive``: the oldest
        sleeper is woken first, one per connection) and leaves the queue as it is woken
        (``autoremove_wake_function``); ``recv`` and ``send`` wait non-exclusively at the head,
        so every sleeper wakes and looks again. The caller re-checks its condition.
        """
        woken = False
        wq = sock.wq

        def wake(entry: WaitEntry, _key: int) -> bool:
            nonlocal woken
            woken = True
            if exclusive:
                wq.remove(entry)
            return True

        entry = WaitEntry(wake, "task", self._task_label(call))
        if exclusive:
            wq.add_exclusive(entry)
        else:
            wq.add(entry)
        try:
            self.sleep_until(None, lambda: woken, wq.name)
        finally:
            wq.remove(entry)

    def set_blocking(self, fd: int, blocking: bool) -> None:
        """``os.set_blocking``: O_NONBLOCK on the open file description (dups share it).
        Wakes nobody: a thread already asleep stays asleep."""
        self._begin("set_blocking")
        refuse_stdio(fd)
        file = self.fdt.get(c_int(fd))
        if blocking:
            self.blocking_files.add(file)
        else:
            self.blocking_files.discard(file)

    def spawn_thread(self) -> int:
        """A new idle thread (`simulator.threads.check_spawn`)."""
        self._begin("spawn_thread")
        threads.check_spawn(len(self.sched.tasks) - 1)
        return self.sched.spawn()

    def start(self, tid: int, call: str, *args: object) -> bool:
        """Thread `tid` begins `call(*args)` (checked by `simulator.threads.check_start`).

        The call runs now, as thread `tid`, until it finishes or sleeps; for as long as it
        runs it holds a reference to each file its descriptor arguments name (``fdget``, or a
        poll table's ``get_file``), so closing one of them neither frees it nor wakes the
        thread (EP-21, PS-5). Its micro-steps and context switches are this call's.
        """
        self._begin("start")
        tid = threads.check_tid(tid, len(self.sched.tasks) - 1)
        values = threads.check_start(tid, self.sched.tasks[tid].reported(), call, args)
        method = getattr(self, call)
        held = self._files_named(call, values)

        def run() -> object:
            try:
                return method(**values)
            finally:
                for file in held:
                    self.fs.fput(file)

        for file in held:
            file.f_count += 1
        return self.sched.start(tid, call, run)

    def _files_named(self, call: str, values: dict[str, object]) -> list[File]:
        """The open files the descriptor arguments of `call` name now (each once)."""
        fds: list[object] = []
        for arg in syscalls.CALLS[call].stdio_checked:
            value = values[arg.name]
            if arg.kind in (syscalls.ArgKind.FD, syscalls.ArgKind.SOCKET):
                fds.append(value)
            elif arg.kind is syscalls.ArgKind.FD_LIST:
                fds += fds_in_lists(value)
            elif arg.kind is syscalls.ArgKind.POLL_LIST:
                fds += fds_in_poll_list(value)
        files: list[File] = []
        for fd in fds:
            file = self.fdt.lookup(fd) if type(fd) is int else None
            if file is not None and file not in files:
                files.append(file)
        return files

    def thread_state(self, tid: int) -> tuple[str, str | None]:
        """``("idle", None)``, ``("sleeping", call)`` or ``("finished", call)``. Like `join`, it
        reads the scheduler's books and makes no micro-step: it opens no trace frame, so the
        last call's `trace` and `last_cost` stay those of the call that did the work."""
        self.calls += 1
        tid = threads.check_tid(tid, len(self.sched.tasks) - 1)
        return self.sched.tasks[tid].reported()

    def join(self, tid: int) -> object:
        """The finished call's result (or its exception, raised); the thread is idle again.
        No trace frame (see `thread_state`)."""
        self.calls += 1
        tid = threads.check_tid(tid, len(self.sched.tasks) - 1)
        task = self.sched.tasks[tid]
        threads.check_join(tid, task.reported())
        result, error = task.result, task.error
        task.state, task.call, task.result, task.error = threads.IDLE, None, None, None
        if error is not None:
            raise error
        return result

    # -- IOCP, Windows' proactor: MODEL ONLY (`simulator.kernel.iocp`, spec PART I) ---------
    def CreateIoCompletionPort(
        self, file: int = NO_HANDLE, port: int = NO_HANDLE, key: int = 0
    ) -> int:
        """Create a port (no `file`), or associate the socket `file` with `port` (a new one
        when `port` is NO_HANDLE) under `key`. ERROR_INVALID_HANDLE for a handle that is not
        open (or a port that is not one), ERROR_INVALID_PARAMETER for a socket already
        associated or a `port` given without a `file`."""
        self._begin("CreateIoCompletionPort")
        refuse_stdio(file, port)
        sock: Socket | None = None
        if file != NO_HANDLE:
            found = self.fdt.lookup(file) if file >= 0 else None
            if not isinstance(found, Socket):
                raise Win32Error(ERROR_INVALID_HANDLE)
            if self._port_of(found) is not None:
                raise Win32Error(ERROR_INVALID_PARAMETER)
            sock = found
        elif port != NO_HANDLE:
            raise Win32Error(ERROR_INVALID_PARAMETER)
        if port == NO_HANDLE:
            port = self._new_fd(lambda fd: CompletionPort(self.fs, f"iocp{fd}", self.clock))
        ctx = self._completion_port(port)
        if sock is not None:
            ctx.associate(sock, key)
        return port

    def WSARecv(self, fd: int, nbytes: int, overlapped: int) -> int:
        """Overlapped receive (`CompletionPort.start`)."""
        self._begin("WSARecv")
        refuse_stdio(fd, socket=True)
        return self._overlapped("recv", fd, nbytes, overlapped)

    def WSASend(self, fd: int, nbytes: int, overlapped: int) -> int:
        """Overlapped send (`CompletionPort.start`)."""
        self._begin("WSASend")
        refuse_stdio(fd, socket=True)
        return self._overlapped("send", fd, nbytes, overlapped)

    def GetQueuedCompletionStatus(self, port: int, timeout_ms: int) -> list[CompletionPacket]:
        """One packet (a list of one), or WAIT_TIMEOUT; thread 0 waiting on a port nothing
        can fill raises WaitForeverError."""
        self._begin("GetQueuedCompletionStatus")
        refuse_stdio(port)
        return self._dequeue(port, 1, timeout_ms, "GetQueuedCompletionStatus")

    def GetQueuedCompletionStatusEx(
        self, port: int, max_entries: int, timeout_ms: int
    ) -> list[CompletionPacket]:
        """Up to `max_entries` packets (at least 1: ERROR_INVALID_PARAMETER), or WAIT_TIMEOUT."""
        self._begin("GetQueuedCompletionStatusEx")
        refuse_stdio(port)
        if max_entries < 1:
            raise Win32Error(ERROR_INVALID_PARAMETER)
        return self._dequeue(port, max_entries, timeout_ms, "GetQueuedCompletionStatusEx")

    def PostQueuedCompletionStatus(
        self, port: int, nbytes: int = 0, key: int = 0, overlapped: int = 0
    ) -> None:
        """Queue a packet made up by the program (no I/O behind it)."""
        self._begin("PostQueuedCompletionStatus")
        refuse_stdio(port)
        self._completion_port(port).queue_packet(CompletionPacket(nbytes, key, overlapped))

    def _completion_port(self, fd: int) -> CompletionPort:
        file = self.fdt.lookup(fd) if fd >= 0 else None
        if not isinstance(file, CompletionPort):
            raise Win32Error(ERROR_INVALID_HANDLE)
        return file

    def _port_of(self, sock: Socket) -> CompletionPort | None:
        """The port `sock` is associated with: O(open descriptors)."""
        for file in self.fds().values():
            if isinstance(file, CompletionPort) and sock in file.keys:
                return file
        return None

    def _overlapped(self, op: str, fd: int, nbytes: int, tag: int) -> int:
        file = self.fdt.lookup(fd) if fd >= 0 else None
        if file is None:
            raise Win32Error(ERROR_INVALID_HANDLE)
        if not isinstance(file, Socket):
            raise Win32Error(WSAENOTSOCK)
        ctx = self._port_of(file)
        if ctx is None:  # the model queues packets only: an unassociated socket has nowhere
            raise Win32Error(ERROR_INVALID_PARAMETER)
        try:
            return ctx.start(op, file, nbytes, tag)
        finally:
            self._settle()

    def _dequeue(self, port: int, most: int, timeout_ms: int, call: str) -> list[CompletionPacket]:
        """Take what is queued; with nothing, block on the port as a `PortWaiter` (pushed on
        its LIFO stack) until a packet is handed to it or the timeout expires."""
        ctx = self._completion_port(port)
        timeout_ns = io_uring_timeout_ns(timeout_ms)  # whole ms, negative = INFINITE
        handed: list[CompletionPacket] = []
        if not ctx.packets and timeout_ns != 0:
            waiter = PortWaiter(self._task_label(call))
            ctx.waiters.append(waiter)
            try:
                self.sleep_until(
                    self._deadline(timeout_ns), lambda: bool(waiter.packets), f"{ctx.label}.waiters"
                )
            finally:
                if waiter in ctx.waiters:  # timed out (or ended) before a packet came
                    ctx.waiters.remove(waiter)
            handed = waiter.packets
        packets = ctx.dequeue(most, handed)
        self._settle()
        if not packets:
            raise Win32Error(WAIT_TIMEOUT)
        return packets

    # -- lifetime ----------------------------------------------------------------------------
    def close_all(self) -> None:
        """End every thread still inside a call (each unwinds, letting go of what it held),
        then close every descriptor above stderr, lowest first."""
        self.sched.cancel_all()
        for fd in sorted(self.fdt.slots):
            if fd > 2 and self.fdt.lookup(fd) is not None:
                self.kqlist.knote_fdclose(fd)
                self.fdt.close(fd)
        self._settle()

    def __enter__(self) -> ModelKernel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_all()


def _check_size(nbytes: int) -> None:
    """CPython rejects negative buffer sizes before any syscall."""
    if nbytes < 0:
        raise ValueError("negative buffersize in recv")


def _settles_threads(method: Callable[..., object]) -> Callable[..., object]:
    """`method`, followed by running every thread it woke (`Scheduler.run_ready`): a call
    returns only when every thread has finished its call or gone back to sleep."""

    @functools.wraps(method)
    def call(self: ModelKernel, /, *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        finally:
            if self.sched.active:
                self.sched.run_ready()

    return call


for _name in syscalls.CALLS:
    setattr(ModelKernel, _name, _settles_threads(getattr(ModelKernel, _name)))
