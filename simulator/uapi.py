"""The user-space API both kernels speak: Linux constant values, `KEvent`, the `Kernel` protocol.

Everything that drives a kernel -- scenario steps, the TUI, users' scripts, the test suite -- goes
through `Kernel`. `simulator.kernel.ModelKernel` (the deterministic model) and
`simulator.live.LiveKernel` (real syscalls in a child process) both implement it, so the same
sequence of calls can be run on both and the results compared.

Names and argument order mirror the C calls (see the man pages); values are Linux's
(``include/uapi/linux/eventpoll.h``, ``include/uapi/asm-generic/poll.h``) and FreeBSD's
``sys/sys/event.h`` for kqueue. Errors are exactly what CPython raises on the real kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, runtime_checkable

# --- epoll event bits (uapi eventpoll.h) ------------------------------------------------------
EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLNVAL = 0x020
EPOLLRDNORM = 0x040
EPOLLRDBAND = 0x080
EPOLLWRNORM = 0x100
EPOLLWRBAND = 0x200
EPOLLMSG = 0x400
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31

#: Input-only bits that never describe readiness (kernel ``EP_PRIVATE_BITS``).
EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
#: Bits allowed together with EPOLLEXCLUSIVE (kernel ``EPOLLEXCLUSIVE_OK_BITS``).
EPOLLEXCLUSIVE_OK_BITS = (
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
)

EPOLL_CTL_ADD = 1
EPOLL_CTL_DEL = 2
EPOLL_CTL_MOD = 3

# --- poll(2) bits: the same numbers as the epoll ones on Linux --------------------------------
POLLIN = EPOLLIN
POLLPRI = EPOLLPRI
POLLOUT = EPOLLOUT
POLLERR = EPOLLERR
POLLHUP = EPOLLHUP
POLLNVAL = EPOLLNVAL
POLLRDNORM = EPOLLRDNORM
POLLRDBAND = EPOLLRDBAND
POLLWRNORM = EPOLLWRNORM
POLLWRBAND = EPOLLWRBAND
POLLMSG = EPOLLMSG
POLLRDHUP = EPOLLRDHUP

#: select(2)'s fd_set capacity; CPython rejects any fd at or above it.
FD_SETSIZE = 1024

# --- shutdown(2) ------------------------------------------------------------------------------
SHUT_RD = 0
SHUT_WR = 1
SHUT_RDWR = 2

# --- kqueue (FreeBSD sys/sys/event.h; CPython's select.KQ_* names) ----------------------------
KQ_FILTER_READ = -1
KQ_FILTER_WRITE = -2
KQ_FILTER_TIMER = -7

KQ_EV_ADD = 0x0001
KQ_EV_DELETE = 0x0002
KQ_EV_ENABLE = 0x0004
KQ_EV_DISABLE = 0x0008
KQ_EV_ONESHOT = 0x0010
KQ_EV_CLEAR = 0x0020
KQ_EV_RECEIPT = 0x0040
KQ_EV_DISPATCH = 0x0080
KQ_EV_SYSFLAGS = 0xF000
KQ_EV_ERROR = 0x4000
KQ_EV_EOF = 0x8000

KQ_NOTE_SECONDS = 0x0001
KQ_NOTE_MSECONDS = 0x0002
KQ_NOTE_USECONDS = 0x0004
KQ_NOTE_NSECONDS = 0x0008

#: Event-bit names as scenario files and the TUI write them (prefix dropped).
EPOLL_EVENT_NAMES: dict[str, int] = {
    "IN": EPOLLIN,
    "PRI": EPOLLPRI,
    "OUT": EPOLLOUT,
    "ERR": EPOLLERR,
    "HUP": EPOLLHUP,
    "NVAL": EPOLLNVAL,
    "RDNORM": EPOLLRDNORM,
    "RDBAND": EPOLLRDBAND,
    "WRNORM": EPOLLWRNORM,
    "WRBAND": EPOLLWRBAND,
    "MSG": EPOLLMSG,
    "RDHUP": EPOLLRDHUP,
    "EXCLUSIVE": EPOLLEXCLUSIVE,
    "WAKEUP": EPOLLWAKEUP,
    "ONESHOT": EPOLLONESHOT,
    "ET": EPOLLET,
}

KQ_FILTER_NAMES: dict[str, int] = {
    "READ": KQ_FILTER_READ,
    "WRITE": KQ_FILTER_WRITE,
    "TIMER": KQ_FILTER_TIMER,
}

KQ_FLAG_NAMES: dict[str, int] = {
    "ADD": KQ_EV_ADD,
    "DELETE": KQ_EV_DELETE,
    "ENABLE": KQ_EV_ENABLE,
    "DISABLE": KQ_EV_DISABLE,
    "ONESHOT": KQ_EV_ONESHOT,
    "CLEAR": KQ_EV_CLEAR,
    "RECEIPT": KQ_EV_RECEIPT,
    "DISPATCH": KQ_EV_DISPATCH,
    "ERROR": KQ_EV_ERROR,
    "EOF": KQ_EV_EOF,
}


def event_names(mask: int, names: dict[str, int] = EPOLL_EVENT_NAMES) -> list[str]:
    """Decode a bit mask into names, in table order; unknown bits become hex literals.

    >>> event_names(EPOLLIN | EPOLLRDNORM | (1 << 20))
    ['IN', 'RDNORM', '0x100000']
    """
    out = [name for name, bit in names.items() if bit and mask & bit == bit]
    rest = mask & ~sum(names.values())
    if rest:
        out.append(hex(rest))
    return out


#: How long (seconds) the live kernel lets an infinite wait (-1/None) block before giving up,
#: by default (`simulator.live.LiveKernel`'s ``wait_bound_s``).
LIVE_WAIT_BOUND_S = 2.0


class WaitForeverError(RuntimeError):
    """A wait with an infinite timeout that nothing will ever end.

    The real call would sleep forever. The model raises this when nothing is ready and no
    event is pending; the live kernel raises it when its bounded wait (its ``wait_bound_s``,
    by default `LIVE_WAIT_BOUND_S`) expires. Not an errno: no real syscall returns it.
    """


class LiveLimitError(RuntimeError):
    """The live kernel reached one of its per-run limits (see `simulator.live.LiveKernel`).

    Not an answer a kernel gives: the run cannot go on, and the live kernel has been closed.
    """


class LiveSettleError(RuntimeError):
    """The live kernel's TCP loopback did not go quiet in time after a call (see
    ``simulator.live._child._Engine._settle``): segments still in flight, or a peer that did not
    react. Not an answer a kernel gives: the call's real result is unknown (comparing it would
    be a false divergence), so the run cannot go on.
    """


class ThreadStateError(RuntimeError):
    """A thread call asked of a thread in the wrong state: `Kernel.start` on a thread that is
    not idle, `Kernel.join` on one that is idle or still sleeping, or `Kernel.spawn_thread`
    past the cap (`simulator.threads`). The same answer on both kernels."""


@dataclass(frozen=True, slots=True)
class KEvent:
    """One kqueue change or event: the fields of ``struct kevent`` (and ``select.kevent``).

    `ident` is an fd for the READ/WRITE filters and an arbitrary number for TIMER; `data` is
    bytes available (READ), buffer space (WRITE) or expirations (TIMER) on the way out.
    """

    ident: int
    filter: int = KQ_FILTER_READ
    flags: int = KQ_EV_ADD
    fflags: int = 0
    data: int = 0
    udata: int = 0


# --- io_uring (include/uapi/linux/io_uring.h): the proactor ----------------------------------
#: ``IORING_OP_*`` opcodes of the ops the protocol offers, by the name an `Sqe` gives them.
IORING_OPS: dict[str, int] = {
    "NOP": 0,
    "POLL_ADD": 6,
    "POLL_REMOVE": 7,
    "TIMEOUT": 11,
    "ACCEPT": 13,
    "ASYNC_CANCEL": 14,
    "CLOSE": 19,
    "SEND": 26,
    "RECV": 27,
}
IOSQE_IO_DRAIN = 1 << 1
IOSQE_IO_LINK = 1 << 2
IOSQE_IO_HARDLINK = 1 << 3
#: The ``IOSQE_*`` flags a scenario may name (prefix dropped): the ones the model implements.
IOSQE_FLAG_NAMES: dict[str, int] = {
    "IO_LINK": IOSQE_IO_LINK,
    "IO_HARDLINK": IOSQE_IO_HARDLINK,
}
#: ``IORING_MAX_ENTRIES``: the largest SQ io_uring_setup accepts (without IORING_SETUP_CLAMP).
IORING_MAX_ENTRIES = 32768


@dataclass(frozen=True, slots=True)
class Sqe:
    """One submission queue entry; `op` is an ``IORING_OP_*`` name without the prefix.

    `nbytes` is RECV/SEND's length, `events` POLL_ADD's poll mask; for POLL_REMOVE and
    ASYNC_CANCEL `user_data` is the *target's* user_data (their own completion carries it
    too); `timeout_ms` is TIMEOUT's relative time; `flags` are ``IOSQE_*``.
    """

    op: str
    fd: int = -1
    nbytes: int = 0
    events: int = 0
    user_data: int = 0
    timeout_ms: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Cqe:
    """One completion queue entry, as the kernel writes it: `res` is bytes, a new fd, a poll
    mask, or -errno."""

    user_data: int
    res: int
    flags: int = 0


# --- IOCP (Windows: ioapiset.h, winsock2.h, winerror.h): MODEL ONLY --------------------------
# Windows' completion port, modelled from Windows' documentation; Linux has nothing to hold it
# to, so the live kernel answers every IOCP call with OSError(ENOSYS) ("model only").

#: Windows error codes the IOCP calls report (winerror.h), by their Windows names.
ERROR_SUCCESS = 0
ERROR_INVALID_HANDLE = 6
ERROR_INVALID_PARAMETER = 87
WAIT_TIMEOUT = 258
ERROR_IO_PENDING = 997
WSAEWOULDBLOCK = 10035
WSAENOTSOCK = 10038
WSAESHUTDOWN = 10058
WSAECONNRESET = 10054
#: Every Windows error the model reports, name -> code.
WIN32_ERROR_NAMES: dict[str, int] = {
    "ERROR_SUCCESS": ERROR_SUCCESS,
    "ERROR_INVALID_HANDLE": ERROR_INVALID_HANDLE,
    "ERROR_INVALID_PARAMETER": ERROR_INVALID_PARAMETER,
    "WAIT_TIMEOUT": WAIT_TIMEOUT,
    "ERROR_IO_PENDING": ERROR_IO_PENDING,
    "WSAEWOULDBLOCK": WSAEWOULDBLOCK,
    "WSAENOTSOCK": WSAENOTSOCK,
    "WSAESHUTDOWN": WSAESHUTDOWN,
    "WSAECONNRESET": WSAECONNRESET,
}
#: ``INVALID_HANDLE_VALUE`` / ``NULL`` handle: CreateIoCompletionPort's "no file" / "no port".
NO_HANDLE = -1


def win32_error_name(code: int) -> str:
    """The Windows name of an error code (``997`` -> ``ERROR_IO_PENDING``)."""
    for name, value in WIN32_ERROR_NAMES.items():
        if value == code:
            return name
    return f"WIN32_ERROR_{code}"


class Win32Error(OSError):
    """A Windows error, as ``GetLastError()``/``WSAGetLastError()`` reports it (model only).

    It carries no errno (Linux has none for it): `winerror` is the Windows code and `name` its
    Windows name, e.g. ``WAIT_TIMEOUT``, ``ERROR_IO_PENDING`` (what scenarios write).
    """

    def __init__(self, winerror: int) -> None:
        # as CPython on Windows prints a WinError: "[WinError 258] WAIT_TIMEOUT"
        super().__init__(f"[WinError {winerror}] {win32_error_name(winerror)}")
        self.winerror = winerror

    @property
    def name(self) -> str:
        return win32_error_name(self.winerror)


@dataclass(frozen=True, slots=True)
class CompletionPacket:
    """One completion packet (``OVERLAPPED_ENTRY``), as GetQueuedCompletionStatus(Ex) returns
    it: `bytes_transferred` (``dwNumberOfBytesTransferred``), the completion `key` the file was
    associated with (``lpCompletionKey``), the `overlapped` tag the program gave the operation
    (its ``OVERLAPPED``, here a number), and the operation's `status` (``Internal``: 0 for
    success, else a Windows error code)."""

    bytes_transferred: int
    key: int
    overlapped: int
    status: int = ERROR_SUCCESS


@runtime_checkable
class Kernel(Protocol):
    """The syscall surface shared by the model and the live kernel.

    Sockets are created non-blocking (`set_blocking` changes that). Every call returns only
    once the kernel is quiescent (loopback delivery done) and every thread it woke has finished
    its call or gone back to sleep, so results never depend on timing. A failing call raises what
    CPython raises on the real kernel (an ``OSError`` subclass with the real errno, or
    ``ValueError`` where CPython checks arguments itself).
    """

    # descriptors and sockets
    def socketpair(self) -> tuple[int, int]:
        """An AF_UNIX stream pair."""
        ...

    def tcp_listen(self, backlog: int = 128) -> int:
        """A TCP listener on 127.0.0.1, ephemeral port."""
        ...

    def tcp_connect(self, listen_fd: int) -> int:
        """A TCP client connected to that listener (handshake completed on return)."""
        ...

    def accept(self, listen_fd: int) -> int: ...

    def open_file(self) -> int:
        """A regular file (epoll refuses it with EPERM; poll/select call it always ready)."""
        ...

    def send(self, fd: int, nbytes: int) -> int:
        """Send `nbytes` bytes; returns the number accepted."""
        ...

    def fill(self, fd: int) -> int:
        """Send until the send buffer is full; returns the bytes accepted."""
        ...

    def recv(self, fd: int, nbytes: int) -> int:
        """Read up to `nbytes`; returns the number read, 0 at end of stream."""
        ...

    def shutdown(self, fd: int, how: int) -> None: ...

    def close(self, fd: int) -> None: ...

    def dup(self, fd: int) -> int: ...

    def abort(self, fd: int) -> None:
        """Close with SO_LINGER {1, 0}: a TCP reset."""
        ...

    def setrlimit_nofile(self, soft: int) -> None:
        """Set this process's soft RLIMIT_NOFILE."""
        ...

    # multiplexers
    def epoll_create(self) -> int: ...

    def epoll_ctl(self, epfd: int, op: int, fd: int, events: int = 0) -> None: ...

    def epoll_wait(self, epfd: int, maxevents: int, timeout_ms: int) -> list[tuple[int, int]]: ...

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int) -> list[tuple[int, int]]: ...

    def select(
        self,
        rlist: Sequence[int],
        wlist: Sequence[int],
        xlist: Sequence[int],
        timeout_s: float | None,
    ) -> tuple[list[int], list[int], list[int]]: ...

    def kqueue(self) -> int: ...

    def kevent(
        self, kq: int, changes: Sequence[KEvent], max_events: int, timeout_s: float | None
    ) -> list[KEvent]: ...

    # completion I/O (the proactor): io_uring
    def io_uring_setup(self, entries: int) -> int:
        """A new io_uring; its fd. The SQ has `entries` rounded up to a power of two, the CQ
        twice that."""
        ...

    def io_uring_submit(self, ring: int, sqes: Sequence[Sqe]) -> int:
        """Queue `sqes` in the SQ (what fits) and enter: the number the kernel consumed."""
        ...

    def io_uring_wait(self, ring: int, min_complete: int, timeout_ms: int) -> list[Cqe]:
        """Wait until `min_complete` completions are ready (or `timeout_ms`, negative: no
        limit), then reap and return every ready completion, in CQ order."""
        ...

    # threads and blocking descriptors (the contract's thread calls; simulator.threads)
    def set_blocking(self, fd: int, blocking: bool) -> None:
        """Clear (`blocking`) or set O_NONBLOCK on the open file description: every dup of it
        follows. Sockets are created non-blocking; a blocking one sleeps where a non-blocking
        one raises BlockingIOError (recv, send on a full buffer, accept)."""
        ...

    def spawn_thread(self) -> int:
        """A new idle thread of this process: 1, 2, ... (at most 64; RuntimeError beyond).
        The caller of every other method is thread 0."""
        ...

    def start(self, tid: int, call: str, *args: object) -> bool:
        """Thread `tid` (idle) begins `call(*args)`, any protocol call by name; True when the
        call has finished, False when the thread now sleeps in the kernel."""
        ...

    def thread_state(self, tid: int) -> tuple[str, str | None]:
        """``("idle", None)``, ``("sleeping", call)`` or ``("finished", call)``."""
        ...

    def join(self, tid: int) -> object:
        """The finished call's result, or raises its exception; the thread becomes idle.
        RuntimeError when the thread is idle or still sleeping."""

    # completion I/O, Windows' proactor: IOCP (MODEL ONLY; the live kernel: OSError(ENOSYS))
    def CreateIoCompletionPort(
        self, file: int = NO_HANDLE, port: int = NO_HANDLE, key: int = 0
    ) -> int:
        """With no `file`: a new completion port. With a `file` (a socket): associate it with
        `port` (or with a new port when `port` is NO_HANDLE) under completion `key`; the port."""
        ...

    def WSARecv(self, fd: int, nbytes: int, overlapped: int) -> int:
        """Overlapped receive: the bytes received if it completed at once (a packet is queued
        all the same), else Win32Error(ERROR_IO_PENDING): the packet comes on completion."""
        ...

    def WSASend(self, fd: int, nbytes: int, overlapped: int) -> int:
        """Overlapped send, as `WSARecv`."""
        ...

    def GetQueuedCompletionStatus(self, port: int, timeout_ms: int) -> list[CompletionPacket]:
        """Dequeue one packet (a one-element list), or Win32Error(WAIT_TIMEOUT)."""
        ...

    def GetQueuedCompletionStatusEx(
        self, port: int, max_entries: int, timeout_ms: int
    ) -> list[CompletionPacket]:
        """Dequeue up to `max_entries` packets, FIFO, or Win32Error(WAIT_TIMEOUT)."""
        ...

    def PostQueuedCompletionStatus(
        self, port: int, nbytes: int = 0, key: int = 0, overlapped: int = 0
    ) -> None:
        """Queue a packet the program makes up itself."""
        ...

    def close_all(self) -> None:
        """Release every descriptor (and, for the live kernel, the child process)."""
        ...

    def __enter__(self) -> Kernel: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


#: `Kernel.fill` sends chunks of this many bytes until the kernel says EAGAIN.
FILL_CHUNK = 65536
