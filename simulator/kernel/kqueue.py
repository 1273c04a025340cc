"""kqueue: the model of FreeBSD's ``sys/kern/kern_event.c``, to be read beside it.

Linux has no kqueue, so nothing here can be checked against the real kernel underneath us;
KERNEL_SPEC PART C (KQ-1..KQ-10) and FreeBSD's source are the judge. One `KQueue` per kqueue,
hanging off an anonymous file like an eventpoll:

* ``kq_knlist`` -- knotes of fd-based filters (READ, WRITE), an array indexed by the *fd
  number* (grown ``KQEXTENT`` slots at a time), each slot a list of knotes, newest first
  (``SLIST_INSERT_HEAD``). Keying by the number, not the open file, is why ``close(fd)``
  removes them (`KqueueList.knote_fdclose`, KQ-8) where epoll keeps watching while a dup lives.
* ``kq_knhash`` -- knotes of the other filters (TIMER), a 64-bucket hash of the ident.
* ``kq_head`` -- the *pending queue*: knotes whose filter fired, in activation order (a TAILQ,
  here the instrumented `DList`). ``kevent`` only ever walks this queue: O(pending).
* ``wq`` -- tasks sleeping in ``kevent`` (the kernel sleeps on the kqueue's address and
  ``wakeup(kq)`` wakes them all); ``kq_sel`` -- whoever watches the kqueue fd itself (poll,
  select, epoll, or a knote in another kqueue: ``kq->kq_sel``).

Readiness is *pushed*: a knote on a socket hooks a wait-queue entry on the socket, whose wake
function (`KQueue.knote_callback`, the per-knote body of ``knote()``) runs the filter and, if it
is true, marks the knote ACTIVE and queues it (``KNOTE_ACTIVATE``). A socket is a single wait
queue in this Linux-shaped model where FreeBSD has one knlist per socket buffer; the wake-up key
says which side changed, so a READ knote ignores write-space wake-ups and vice versa.

Timers are the one place that differs in mechanism (not in results) from the kernel: the
model's clock runs every pending event when a call settles, so a periodic callout would never
let it settle. Timer knotes therefore keep their next expiry and are brought up to date
(`KQueue.callout_catch_up`) before anything else touches their kqueue -- every activation,
every ``kevent``, every poll of the kqueue fd -- in expiry order, exactly as if the callout
had fired on time. Only a task sleeping in ``kevent`` puts a real event on the clock, at the
next expiry of one of its kqueue's enabled timers.

Names follow the kernel; each method names the function it models.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING

from simulator import conversions
from simulator.kernel.clock import PRIO_TIMER, Clock, Pending
from simulator.kernel.dlist import DList, ListNode
from simulator.kernel.sockets import (
    KEY_ERROR,
    KEY_READABLE,
    KEY_WRITABLE,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    TCP_CLOSE,
    TCP_LISTEN,
    TCP_SYN_SENT,
    Socket,
    TcpSocket,
    UnixSocket,
)
from simulator.kernel.trace import TraceKind, Tracer
from simulator.kernel.vfs import FdTable, File, FileSystem, PollTable, oserror
from simulator.kernel.waitqueue import WaitEntry, WaitQueue
from simulator.uapi import (
    EPOLLIN,
    EPOLLRDNORM,
    KQ_EV_ADD,
    KQ_EV_CLEAR,
    KQ_EV_DELETE,
    KQ_EV_DISABLE,
    KQ_EV_DISPATCH,
    KQ_EV_ENABLE,
    KQ_EV_EOF,
    KQ_EV_ERROR,
    KQ_EV_ONESHOT,
    KQ_EV_RECEIPT,
    KQ_EV_SYSFLAGS,
    KQ_FILTER_READ,
    KQ_FILTER_TIMER,
    KQ_FILTER_WRITE,
    KQ_NOTE_MSECONDS,
    KQ_NOTE_NSECONDS,
    KQ_NOTE_SECONDS,
    KQ_NOTE_USECONDS,
    KEvent,
)

if TYPE_CHECKING:
    from simulator.kernel.selectpoll import Sleeper

# --- knote status bits (sys/sys/event.h, kn_status) --------------------------------------------
KN_ACTIVE = 0x01  #: the filter fired; the event is waiting to be retrieved
KN_QUEUED = 0x02  #: linked on ``kq_head``
KN_DISABLED = 0x04  #: EV_DISABLE / EV_DISPATCH: registered, not queued (the scan drops it)
KN_DETACHED = 0x08  #: not hooked on its object (anymore)
KN_MARKER = 0x20  #: the placeholder ``kqueue_scan`` walks behind

KN_STATUS_NAMES: dict[str, int] = {
    "ACTIVE": KN_ACTIVE,
    "QUEUED": KN_QUEUED,
    "DISABLED": KN_DISABLED,
    "DETACHED": KN_DETACHED,
}

#: ``NOTE_LOWAT`` (READ/WRITE fflags): fire only once ``data`` reaches the knote's own ``sdata``.
NOTE_LOWAT = 0x0001
#: The timer-unit bits; at most one may be set (``NOTE_TIMER_PRECMASK``).
NOTE_TIMER_PRECMASK = KQ_NOTE_SECONDS | KQ_NOTE_MSECONDS | KQ_NOTE_USECONDS | KQ_NOTE_NSECONDS
_TIMER_UNIT_NS = {
    0: 1_000_000,  # no unit given: milliseconds
    KQ_NOTE_SECONDS: 1_000_000_000,
    KQ_NOTE_MSECONDS: 1_000_000,
    KQ_NOTE_USECONDS: 1_000,
    KQ_NOTE_NSECONDS: 1,
}

#: ``kern.kq_calloutmax``: timer knotes allowed system-wide (ENOMEM beyond).
KQ_CALLOUTMAX = 4 * 1024
#: ``KQEXTENT``: the fd-indexed knote array grows by this many slots.
KQEXTENT = 256
#: ``KN_HASHSIZE``: buckets of the ident hash.
KN_HASHSIZE = 64
#: Largest fd an ident can name (``kev->ident > INT_MAX`` is EBADF).
INT_MAX = 2**31 - 1
#: A timespec with more seconds than this means "no timeout" to ``kqueue_scan`` (INT32_MAX).
_TV_SEC_FOREVER = 2**31 - 1

FILTER_NAMES = {
    KQ_FILTER_READ: "EVFILT_READ",
    KQ_FILTER_WRITE: "EVFILT_WRITE",
    KQ_FILTER_TIMER: "EVFILT_TIMER",
}

#: Socket wake-up keys that concern each side (FreeBSD hangs READ knotes on ``so_rcv``'s knlist
#: and WRITE knotes on ``so_snd``'s); key 0 (a state change) concerns both.
_READ_KEYS = KEY_READABLE | KEY_ERROR
_WRITE_KEYS = KEY_WRITABLE | KEY_ERROR


_FIRED = "{e.subject}: data={e.count} -> true"
_NOT_FIRED = "{e.subject}: data={e.count} -> false"


def kn_hash(ident: int) -> int:
    """``KN_HASH(ident, mask)``: the knhash bucket of a (non-fd) ident."""
    val = ident % 2**64  # idents are uintptr_t
    return (val ^ (val >> 8)) & (KN_HASHSIZE - 1)


class Knote:
    """``struct knote``: one (ident, filter) registration in one kqueue (KQ-1).

    `ident`, `filter`, `flags`, `fflags`, `data`, `udata` are ``kn_kevent``: what a retrieval
    copies out (filters update `data`, `fflags` and `flags` |= EV_EOF). `sfflags` and `sdata`
    are ``kn_sfflags``/``kn_sdata``, the values the user passed (a timer's period, a
    NOTE_LOWAT mark). `status` holds the KN_* bits, `fp` the watched file (``kn_fp``, which
    the knote holds a reference on), `fop` its filter (``kn_fop``), `tqe` the link on the
    pending queue (``kn_tqe``) and `hook` the wait-queue entry on the watched object (its
    place on the object's knlist, ``kn_selnext``). Timers keep their callout here:
    `next_ns` (absolute expiry, None when disarmed) and `period_ns`.
    """

    __slots__ = (
        "callout_seq",
        "data",
        "fflags",
        "filter",
        "flags",
        "fop",
        "fp",
        "hook",
        "ident",
        "kq",
        "next_ns",
        "period_ns",
        "sdata",
        "sfflags",
        "status",
        "tqe",
        "udata",
    )

    def __init__(self, kq: KQueue, ident: int, filt: int, fop: FilterOps | None) -> None:
        self.kq = kq
        self.ident = ident
        self.filter = filt
        self.flags = 0
        self.fflags = 0
        self.data = 0
        self.udata = 0
        self.sfflags = 0
        self.sdata = 0
        self.status = 0
        self.fp: File | None = None
        self.fop = fop
        self.tqe: ListNode[Knote] = ListNode(self)
        self.hook: WaitEntry | None = None
        self.next_ns: int | None = None
        self.period_ns = 0
        self.callout_seq = 0

    @property
    def filter_name(self) -> str:
        """``EVFILT_READ`` and friends (the number itself for filters the model lacks)."""
        return FILTER_NAMES.get(self.filter, str(self.filter))

    def status_names(self) -> list[str]:
        """The KN_* bits set, by name (for views)."""
        return [name for name, bit in KN_STATUS_NAMES.items() if self.status & bit]

    def kevent(self) -> KEvent:
        """A copy of ``kn_kevent``: what a retrieval hands to the user."""
        return KEvent(self.ident, self.filter, self.flags, self.fflags, self.data, self.udata)

    @property
    def trace_fd(self) -> int | None:
        """The descriptor it watches, for its trace events (None: a timer or the marker)."""
        if self.status & KN_MARKER or self.filter == KQ_FILTER_TIMER:
            return None
        return self.ident

    def __str__(self) -> str:
        if self.status & KN_MARKER:
            return "marker"
        if self.filter == KQ_FILTER_TIMER:
            return f"timer {self.ident}"
        return f"fd {self.ident} {self.filter_name.removeprefix('EVFILT_')}"

    def __repr__(self) -> str:
        status = "|".join(self.status_names()) or "0"
        return f"<knote {self} data={self.data} status={status}>"


class _KeventBuf:
    """The kernel's copy of one changelist entry, which ``kqueue_register`` may rewrite."""

    __slots__ = ("data", "fflags", "filter", "flags", "ident", "udata")

    def __init__(self, ev: KEvent) -> None:
        self.ident = ev.ident
        self.filter = ev.filter
        self.flags = ev.flags & ~KQ_EV_SYSFLAGS  # kqueue_kevent: EV_SYSFLAGS never come in
        self.fflags = ev.fflags
        self.data = ev.data
        self.udata = ev.udata


# ------------------------------------------------------------------------------------------------
# Filters (struct filterops)
# ------------------------------------------------------------------------------------------------


class FilterOps:
    """``struct filterops``: how a knote attaches to its object and decides whether it fired.

    `isfd` says the ident is a descriptor (knote lives in ``kq_knlist``) rather than a number
    (``kq_knhash``). `wake_keys` are the wake-up keys of the watched object's wait queue this
    filter listens to (0: the filter hooks nothing, e.g. a vnode or a timer). `event` is
    ``f_event``: update ``data``/``fflags``/``flags`` and say whether the condition holds.
    """

    isfd = True
    wake_keys = 0

    def attach(self, kn: Knote) -> int:
        """``f_attach``: 0 or an errno."""
        return 0

    def detach(self, kn: Knote) -> None:
        """``f_detach``."""

    def event(self, kn: Knote) -> bool:
        raise NotImplementedError


def _socket(kn: Knote) -> Socket:
    sock = kn.fp
    assert isinstance(sock, Socket)
    return sock


def _rcv_bytes(sock: Socket) -> int:
    """``sbavail(&so->so_rcv)``: bytes waiting to be read."""
    if isinstance(sock, UnixSocket | TcpSocket):
        return sock.rcv_bytes
    return 0


def _snd_space(sock: Socket) -> int:
    """``sbspace(&so->so_snd)``, defined for the model's sockets.

    AF_UNIX: SO_SNDBUF minus the truesize of our skbs the peer has not consumed yet
    (``sndbuf - wmem_alloc``, which can dip below zero by one skb's overhead: clamped).
    TCP: SO_SNDBUF minus the bytes queued and not yet acknowledged (``sndbuf - snd_queued``).
    """
    if isinstance(sock, UnixSocket):
        return max(0, sock.sndbuf - sock.wmem_alloc)
    if isinstance(sock, TcpSocket):
        return max(0, sock.sndbuf - sock.snd_queued)
    return 0


class SoReadOps(FilterOps):
    """``filt_soread``: EVFILT_READ on a connected (or connecting) socket (KQ-5).

    ``data`` = bytes readable. Read side shut down -> EV_EOF with ``fflags`` = the pending
    socket error, true even while data is still buffered. A pending error alone is true.
    Otherwise true once ``data`` reaches the low-water mark: 1 (the model has no
    SO_RCVLOWAT), or the knote's own ``sdata`` with NOTE_LOWAT.
    """

    wake_keys = _READ_KEYS

    def event(self, kn: Knote) -> bool:
        sock = _socket(kn)
        kn.data = _rcv_bytes(sock)
        if sock.sk_shutdown & RCV_SHUTDOWN:
            kn.flags |= KQ_EV_EOF
            kn.fflags = sock.sk_err
            return True
        if sock.sk_err:
            return True
        if kn.sfflags & NOTE_LOWAT:
            return kn.data >= kn.sdata
        return kn.data >= 1


class SoListenOps(FilterOps):
    """``filt_solisten``: EVFILT_READ on a listening socket: ``data`` = completed connections
    waiting in the accept queue; true when there is at least one (KQ-5)."""

    wake_keys = _READ_KEYS

    def event(self, kn: Knote) -> bool:
        sock = _socket(kn)
        assert isinstance(sock, TcpSocket)
        kn.data = len(sock.accept_queue)
        return kn.data > 0


class SoWriteOps(FilterOps):
    """``filt_sowrite``: EVFILT_WRITE on a socket (KQ-6).

    ``data`` = send-buffer space (`_snd_space`). Write side shut down -> EV_EOF with
    ``fflags`` = the socket error, true. A pending error is true. An unconnected TCP socket is
    never writable. Otherwise the knote's NOTE_LOWAT mark if it has one, else the socket's own
    poll rule (AF_UNIX: at most a quarter of sndbuf in flight; TCP: ``sk_stream_is_writeable``),
    so kqueue and poll agree on *when* a socket is writable in this model.
    """

    wake_keys = _WRITE_KEYS

    def event(self, kn: Knote) -> bool:
        sock = _socket(kn)
        kn.data = _snd_space(sock)
        if sock.sk_shutdown & SEND_SHUTDOWN:
            kn.flags |= KQ_EV_EOF
            kn.fflags = sock.sk_err
            return True
        if sock.sk_err:
            return True
        if isinstance(sock, TcpSocket) and sock.state in (TCP_LISTEN, TCP_SYN_SENT, TCP_CLOSE):
            return False  # PR_CONNREQUIRED and not SS_ISCONNECTED
        if kn.sfflags & NOTE_LOWAT:
            return kn.data >= kn.sdata
        if isinstance(sock, UnixSocket):
            return sock.writable()
        if isinstance(sock, TcpSocket):
            if sock.writeable():
                return True
            # The model's TCP wakes writers only after SOCK_NOSPACE was set (as tcp_poll sets
            # it); a WRITE knote that found the buffer full must arm that wake-up the same way.
            sock.nospace = True
        return False


class KqReadOps(FilterOps):
    """``filt_kqueue``: EVFILT_READ on another kqueue: ``data`` = its pending count (KQ-5)."""

    wake_keys = EPOLLIN

    def event(self, kn: Knote) -> bool:
        target = kn.fp
        assert isinstance(target, KQueue)
        target.callout_catch_up()
        kn.data = target.kq_count
        return kn.data > 0


class VnReadOps(FilterOps):
    """``filt_vfsread``: EVFILT_READ on a regular file: ``data`` = bytes from the offset to
    EOF, true when not zero. The model's files hold no data, so this never fires."""

    def event(self, kn: Knote) -> bool:
        kn.data = 0
        return False


class VnWriteOps(FilterOps):
    """``filt_vfswrite``: a regular file is always writable (``data`` 0)."""

    def event(self, kn: Knote) -> bool:
        kn.data = 0
        return True


class TimerOps(FilterOps):
    """EVFILT_TIMER (KQ-7): ``filt_timerattach``/``filt_timerdetach``/``filt_timer``/
    ``filt_timertouch``.

    ``sdata`` is the period in the unit the NOTE_* bit selects (default ms); periodic unless
    EV_ONESHOT; EV_CLEAR is forced on. Each expiry adds one to ``data`` and activates the
    knote; a retrieval returns the expirations since the last one and zeroes the count.
    """

    isfd = False

    def validate(self, kn: Knote, sfflags: int, sdata: int) -> int | None:
        """``filt_timervalidate``: the period in ns, or None if the parameters are invalid."""
        if sdata < 0 or sfflags & ~NOTE_TIMER_PRECMASK:
            return None
        unit = _TIMER_UNIT_NS.get(sfflags & NOTE_TIMER_PRECMASK)
        if unit is None:  # more than one unit bit
            return None
        if sdata == 0 and not kn.flags & KQ_EV_ONESHOT:
            sdata = 1  # a zero period would spin: one unit instead
        return sdata * unit

    def attach(self, kn: Knote) -> int:
        period = self.validate(kn, kn.sfflags, kn.sdata)
        if period is None:
            return errno.EINVAL
        kqlist = kn.kq.kqlist
        if kqlist.ncallouts >= kqlist.calloutmax:
            return errno.ENOMEM
        kqlist.ncallouts += 1
        kn.flags |= KQ_EV_CLEAR  # "automatically set"
        kn.status &= ~KN_DETACHED
        kn.kq.callout_start(kn, period)
        return 0

    def detach(self, kn: Knote) -> None:
        kn.kq.callout_stop(kn)
        kn.kq.kqlist.ncallouts -= 1
        kn.status |= KN_DETACHED

    def event(self, kn: Knote) -> bool:
        return kn.data != 0

    def touch_register(self, kn: Knote, kev: _KeventBuf) -> int:
        """``filt_timertouch(EVENT_REGISTER)``: EV_ADD on an existing timer restarts it.

        The old callout is cancelled, the knote leaves the queue and undelivered expirations
        are dropped; then it starts over with the new period. (FreeBSD validates after
        cancelling and reports a bad period on the *next retrieval* as an EV_ERROR event; the
        model refuses it at once with EINVAL and leaves the old timer running.)
        """
        if not kev.flags & KQ_EV_ADD:
            return 0
        period = self.validate(kn, kev.fflags, kev.data)
        if period is None:
            return errno.EINVAL
        kq = kn.kq
        kq.callout_stop(kn)
        if kn.status & KN_QUEUED:
            kq.knote_dequeue(kn)
        kn.status &= ~KN_ACTIVE
        kn.data = 0
        kn.sfflags = kev.fflags
        kn.sdata = kev.data
        kq.callout_start(kn, period)
        return 0

    def touch_process(self, kn: Knote) -> KEvent:
        """``filt_timertouch(EVENT_PROCESS)``: copy out, then zero the expiration count."""
        ev = kn.kevent()
        if kn.flags & KQ_EV_CLEAR:
            kn.data = 0
            kn.fflags = 0
        return ev


SOREAD = SoReadOps()
SOLISTEN = SoListenOps()
SOWRITE = SoWriteOps()
KQREAD = KqReadOps()
VNREAD = VnReadOps()
VNWRITE = VnWriteOps()
TIMER = TimerOps()


def fo_kqfilter(file: File, filt: int) -> FilterOps | None:
    """``fo_kqfilter``: the filter for `filt` on this kind of file, or None (EINVAL).

    Sockets pick the listen variant at attach time (``soo_kqfilter`` looks at
    SO_ACCEPTCONN); a kqueue supports only EVFILT_READ (``kqueue_kqfilter``); regular files get
    the vnode filters. Any other pollable file is an epoll fd, which has no kqfilter: there is
    no epoll where kqueue lives (``invfo_kqfilter``).
    """
    if isinstance(file, Socket):
        if filt == KQ_FILTER_READ:
            if isinstance(file, TcpSocket) and file.state == TCP_LISTEN:
                return SOLISTEN
            return SOREAD
        return SOWRITE
    if isinstance(file, KQueue):
        return KQREAD if filt == KQ_FILTER_READ else None
    if file.has_poll:
        return None
    return VNREAD if filt == KQ_FILTER_READ else VNWRITE


# ------------------------------------------------------------------------------------------------
# The kqueue
# ------------------------------------------------------------------------------------------------


class KqueueList:
    """The process's live kqueues (``fdp->fd_kqlist``, newest first) and the machine's timer
    count against ``kern.kq_calloutmax``.

    `knote_fdclose` is what ``close(fd)`` calls before it releases the descriptor.
    """

    def __init__(self, clock: Clock, tracer: Tracer, calloutmax: int = KQ_CALLOUTMAX) -> None:
        self.clock = clock
        self.tracer = tracer
        self.calloutmax = calloutmax
        self.ncallouts = 0
        self.kqueues: list[KQueue] = []

    def knote_fdclose(self, fd: int) -> None:
        """``knote_fdclose``: drop every knote on descriptor *number* `fd` in every kqueue (KQ-8).

        O(kqueues + knotes on that fd). The open file itself does not matter: knotes a dup
        registered under another number survive, unlike epoll, which keys on the file (EP-20).
        """
        for kq in list(self.kqueues):
            kq.knote_fdclose(fd)


class KQueue(File):
    """``struct kqueue`` and the anonymous file it hangs off (``DTYPE_KQUEUE``).

    A kqueue fd is pollable: readable while knotes are pending (``kqueue_poll``, KQ-9); and it
    can be watched by EVFILT_READ in another kqueue (KQ-5).
    """

    kind = "kqueue"
    has_poll = True

    def __init__(self, fs: FileSystem, label: str, kqlist: KqueueList) -> None:
        super().__init__(fs, label)
        tracer = fs.tracer
        self.kqlist = kqlist
        self.clock = kqlist.clock
        self.kq_knlist: list[list[Knote]] = []
        self.kq_knhash: list[list[Knote]] | None = None
        self.kq_head: DList[Knote] = DList(tracer, f"{label}.kq_head")
        self.kq_count = 0
        # File.wq is where pollers register: for a kqueue that is kq->kq_sel.
        self.kq_sel = self.wq
        self.kq_sel.name = f"{label}.kq_sel"
        self.wq = WaitQueue(tracer, f"{label}.wq")
        self.callouts: list[Knote] = []  # armed timer knotes, in arm order
        self.callout: Pending | None = None  # the wake-up put on the clock while a task sleeps
        self._callout_seq = 0

    @property
    def tracer(self) -> Tracer:
        return self.fs.tracer

    # -- views -----------------------------------------------------------------------------------
    def knotes(self) -> list[Knote]:
        """Every knote: fd knotes by fd number (newest first within an fd), then timers by hash
        bucket -- the order ``kqueue_drain`` walks them. O(n)."""
        out = [kn for slot in self.kq_knlist for kn in slot]
        if self.kq_knhash is not None:
            out.extend(kn for bucket in self.kq_knhash for kn in bucket)
        return out

    def pending(self) -> list[Knote]:
        """The pending queue, head first (the next retrieval starts at the head). O(n)."""
        return [kn for kn in self.kq_head if not kn.status & KN_MARKER]

    def find(self, ident: int, filt: int) -> Knote | None:
        """The knote for (ident, filter), or None (KQ-1). O(knotes on that fd / bucket)."""
        if filt == KQ_FILTER_TIMER:
            if self.kq_knhash is None:
                return None
            bucket = self.kq_knhash[kn_hash(ident)]
        elif 0 <= ident < len(self.kq_knlist):
            bucket = self.kq_knlist[ident]
        else:
            return None
        for kn in bucket:
            if kn.ident == ident and kn.filter == filt:
                return kn
        return None

    def _check(self) -> None:
        """Verify the structures; raise AssertionError saying what broke. O(n)."""
        self.kq_head._check()
        queued = self.pending()
        if len(queued) != self.kq_count:
            raise AssertionError(f"{self.label}: {len(queued)} queued, kq_count {self.kq_count}")
        everyone = self.knotes()
        ids = {id(kn) for kn in everyone}
        for kn in queued:
            if id(kn) not in ids:
                raise AssertionError(f"{self.label}: {kn!r} is queued but not registered")
        for kn in everyone:
            if bool(kn.status & KN_QUEUED) != kn.tqe.linked:
                raise AssertionError(f"{self.label}: {kn!r} QUEUED bit disagrees with its link")
            if self.find(kn.ident, kn.filter) is not kn:
                raise AssertionError(f"{self.label}: {kn!r} cannot be found by its key")
            hooked = kn.hook is not None and kn.hook.queue is not None
            if kn.fop is not None and kn.fop.wake_keys and not hooked:
                raise AssertionError(f"{self.label}: {kn!r} is not hooked on its object")
        if len({(kn.ident, kn.filter) for kn in everyone}) != len(everyone):
            raise AssertionError(f"{self.label}: two knotes share an (ident, filter)")

    # -- activation --------------------------------------------------------------------------
    def knote_enqueue(self, kn: Knote) -> None:
        """``knote_enqueue``: append to the tail of the pending queue and wake the waiters."""
        assert not kn.status & KN_QUEUED
        self.kq_head.append(kn.tqe)
        kn.status |= KN_QUEUED
        self.kq_count += 1
        self.kqueue_wakeup()

    def knote_dequeue(self, kn: Knote) -> None:
        """``knote_dequeue``."""
        self.kq_head.remove(kn.tqe)
        kn.status &= ~KN_QUEUED
        self.kq_count -= 1

    def knote_activate(self, kn: Knote) -> None:
        """``KNOTE_ACTIVATE``: mark ACTIVE; queue it unless already queued or disabled (KQ-4).

        A knote that fires again before it is retrieved stays where it is: several triggers
        between two retrievals make one event, with the filter's latest ``data``.
        """
        kn.status |= KN_ACTIVE
        if not kn.status & (KN_QUEUED | KN_DISABLED):
            self.knote_enqueue(kn)

    def kqueue_wakeup(self) -> None:
        """``kqueue_wakeup``: wake every task sleeping in kevent on this kqueue, and whoever
        watches the kqueue fd (pollers, epolls, knotes in other kqueues: ``kq_sel``)."""
        if self.wq:
            self.wq.wake_up(0, nr_exclusive=0)
        if self.kq_sel:
            self.kq_sel.wake_up(EPOLLIN | EPOLLRDNORM, nr_exclusive=0)

    def knote_callback(self, entry: WaitEntry, key: int) -> bool:
        """The wake function of a knote on its object's wait queue: the body of ``knote()``.

        Runs the filter (``f_event``) and activates the knote if it is true. Wake-ups that
        concern the other side of a socket (write space for a READ knote, data for a WRITE
        knote) are ignored, as FreeBSD keeps one knlist per socket buffer.
        """
        kn = entry.owner
        assert isinstance(kn, Knote)
        keys = kn.fop.wake_keys if kn.fop is not None else 0
        if key and not key & keys:
            self.tracer.charge(
                TraceKind.CALLBACK,
                self.label,
                0,
                "{e.subject}: key {e.mask:#x} not for it",
                fd=kn.trace_fd,
                mask=key,
                subject=str(kn),
            )
            return False
        self.callout_catch_up()  # expiries that happened before this event come first
        if self.filter_event(kn):
            self.knote_activate(kn)
            return True
        return False

    def filter_event(self, kn: Knote) -> bool:
        """Run the knote's filter (``kn->kn_fop->f_event(kn, 0)``), traced."""
        assert kn.fop is not None
        fired = kn.fop.event(kn)
        where = kn.fp.label if kn.fp is not None else self.label
        self.tracer.charge(
            TraceKind.FILE_POLL,
            where,
            0,
            _FIRED if fired else _NOT_FIRED,
            fd=kn.trace_fd,
            count=kn.data,
            subject=str(kn),
        )
        return fired

    # -- timers (the callout, caught up lazily; see the module docstring) ---------------------
    def callout_start(self, kn: Knote, period_ns: int) -> None:
        """Arm `kn`'s timer: first expiry one period from now (``callout_reset_sbt_on``)."""
        kn.period_ns = period_ns
        kn.next_ns = self.clock.now_ns + period_ns
        self._callout_seq += 1
        kn.callout_seq = self._callout_seq
        self.callouts.append(kn)
        self.tracer.charge(
            TraceKind.TIMER,
            self.label,
            0,
            "{e.subject}: armed, due at {e.count} ns",
            count=kn.next_ns,
            subject=str(kn),
        )

    def callout_stop(self, kn: Knote) -> None:
        """Disarm `kn`'s timer (``callout_drain``)."""
        if kn in self.callouts:
            self.callouts.remove(kn)
        kn.next_ns = None

    def callout_catch_up(self) -> None:
        """Fire every timer expiry due by now, earliest first (``filt_timerexpire``).

        O(timers). A periodic timer that was due several times since the last look counts all
        of them at once, as the kernel's callout does when it runs late.
        """
        now = self.clock.now_ns
        due = [kn for kn in self.callouts if kn.next_ns is not None and kn.next_ns <= now]
        if not due:
            return
        due.sort(key=lambda kn: (kn.next_ns, kn.callout_seq))
        for kn in due:
            if kn.next_ns is None or kn.next_ns > now:
                # An activation below woke a watcher whose filter caught this kqueue up
                # already (EVFILT_READ on this kqueue): that expiry is counted.
                continue
            if kn.flags & KQ_EV_ONESHOT:
                count = 1
                self.callouts.remove(kn)
                kn.next_ns = None
            else:
                count = 1 + (now - kn.next_ns) // kn.period_ns
                kn.next_ns += count * kn.period_ns
            kn.data += count
            self.tracer.charge(
                TraceKind.TIMER,
                self.label,
                0,
                "{e.subject}: expired x{e.count}",
                count=count,
                subject=str(kn),
            )
            self.knote_activate(kn)

    def _arm_wakeup(self) -> None:
        """Put the next expiry of an enabled timer on the clock, for a task about to sleep.

        Only enabled timers can wake the sleeper (a disabled one counts expirations but is
        never queued), so a kqueue whose timers are all disabled sleeps forever -- and the
        model says so (WaitForeverError) instead of ticking for ever.
        """
        due = [
            kn.next_ns
            for kn in self.callouts
            if kn.next_ns is not None and not kn.status & KN_DISABLED
        ]
        if not due:
            self.callout = None
            return
        delay = min(due) - self.clock.now_ns
        self.callout = self.clock.schedule(delay, PRIO_TIMER, f"{self.label} callout", self._fire)

    def _fire(self) -> None:
        self.callout = None
        self.callout_catch_up()
        if self.wq or self.kq_sel:  # still somebody waiting: keep the next expiry on the clock
            self._arm_wakeup()

    # -- registration ------------------------------------------------------------------------
    def knote_attach(self, kn: Knote) -> None:
        """``knote_attach``: link into ``kq_knlist[fd]`` or the ident hash, at the head."""
        assert kn.fop is not None
        if kn.fop.isfd:
            if kn.ident >= len(self.kq_knlist):  # kqueue_expand
                size = len(self.kq_knlist)
                while size <= kn.ident:
                    size += KQEXTENT
                self.kq_knlist.extend([] for _ in range(size - len(self.kq_knlist)))
            bucket = self.kq_knlist[kn.ident]
        else:
            if self.kq_knhash is None:  # hashinit
                self.kq_knhash = [[] for _ in range(KN_HASHSIZE)]
            bucket = self.kq_knhash[kn_hash(kn.ident)]
        bucket.insert(0, kn)
        self.tracer.charge(
            TraceKind.LIST_PREPEND,
            f"{self.label}.knlist",
            1,
            "{e.subject}",
            fd=kn.trace_fd,
            list="knlist",
            subject=str(kn),
        )

    def knlist_add(self, kn: Knote) -> None:
        """``knlist_add``: hook the knote on its object's wait queue (the object's knlist)."""
        target = kn.fp
        assert target is not None
        queue = target.kq_sel if isinstance(target, KQueue) else target.wq
        kn.hook = WaitEntry(self.knote_callback, kn, f"{self.label}:{kn}")
        queue.add(kn.hook, cost=1)

    def knote_drop(self, kn: Knote) -> None:
        """``knote_drop``: detach from the object, unlink from the kqueue, drop the file ref."""
        assert kn.fop is not None
        if not kn.status & KN_DETACHED:
            kn.fop.detach(kn)
        if kn.hook is not None and kn.hook.queue is not None:
            kn.hook.queue.remove(kn.hook, cost=1)
        kn.hook = None
        kn.status |= KN_DETACHED
        if kn.fop.isfd:
            bucket = self.kq_knlist[kn.ident]
        else:
            assert self.kq_knhash is not None
            bucket = self.kq_knhash[kn_hash(kn.ident)]
        bucket.remove(kn)
        self.tracer.charge(
            TraceKind.LIST_REMOVE,
            f"{self.label}.knlist",
            1,
            "{e.subject}",
            fd=kn.trace_fd,
            list="knlist",
            subject=str(kn),
        )
        if kn.status & KN_QUEUED:
            self.knote_dequeue(kn)
        if kn.fp is not None:
            fp, kn.fp = kn.fp, None
            self.fs.fput(fp)

    def kqueue_register(self, fdt: FdTable, kev: _KeventBuf) -> int:
        """``kqueue_register``: apply one change; 0 or an errno (KQ-3).

        The checks come in the kernel's order: ENABLE with DISABLE (EINVAL), the filter
        (EINVAL), the descriptor (EBADF), a kqueue watching itself (EINVAL); then the knote is
        looked up by (ident, filter). Absent: EV_ADD creates it (enabled unless EV_DISABLE;
        its flags are fixed now), anything else is ENOENT. Present: EV_DELETE drops it;
        otherwise EV_ENABLE/EV_DISABLE change its state and EV_ADD updates ``udata``, ``sfflags``
        and ``sdata`` -- never its flags, and never an already-triggered state. Finally the
        filter runs (unless disabled) and an ACTIVE, enabled, unqueued knote is queued.
        """
        if kev.flags & (KQ_EV_ENABLE | KQ_EV_DISABLE) == KQ_EV_ENABLE | KQ_EV_DISABLE:
            return errno.EINVAL
        if kev.filter not in FILTER_NAMES:
            return errno.EINVAL  # kqueue_fo_find: a filter the model does not have
        isfd = kev.filter != KQ_FILTER_TIMER
        file: File | None = None
        if isfd:
            if kev.ident < 0 or kev.ident > INT_MAX:
                return errno.EBADF
            file = fdt.lookup(kev.ident)
            if file is None:
                return errno.EBADF  # fget
            if file is self:
                return errno.EINVAL  # "we should be able to support events on ourselves"
        kn = self.find(kev.ident, kev.filter)
        if kn is None:
            if not kev.flags & KQ_EV_ADD:
                return errno.ENOENT
            return self._knote_create(kev, file)
        if kev.flags & KQ_EV_DELETE:
            self.knote_drop(kn)
            return 0
        if kev.flags & KQ_EV_ENABLE:
            kn.status &= ~KN_DISABLED
        elif kev.flags & KQ_EV_DISABLE:
            kn.status |= KN_DISABLED
        kn.udata = kev.udata
        if isinstance(kn.fop, TimerOps):
            error = kn.fop.touch_register(kn, kev)
            if error:
                return error
        else:
            kn.sfflags = kev.fflags
            kn.sdata = kev.data
        self._done_ev_add(kn)
        return 0

    def _knote_create(self, kev: _KeventBuf, file: File | None) -> int:
        """The EV_ADD-of-a-new-knote half of ``kqueue_register``."""
        fop: FilterOps | None = TIMER if file is None else fo_kqfilter(file, kev.filter)
        kn = Knote(self, kev.ident, kev.filter, fop)
        kn.sfflags, kn.sdata = kev.fflags, kev.data
        # The kernel zeroes these in the caller's copy too: an EV_RECEIPT for a new knote
        # comes back with fflags 0.
        kev.fflags = kev.data = 0
        kn.flags = kev.flags & ~(KQ_EV_ADD | KQ_EV_DELETE | KQ_EV_ENABLE | KQ_EV_DISABLE)
        kn.udata = kev.udata
        kn.status = KN_DETACHED | (KN_DISABLED if kev.flags & KQ_EV_DISABLE else 0)
        if fop is None:
            return errno.EINVAL  # fo_kqfilter refused this filter on this file
        error = fop.attach(kn)
        if error:
            return error
        self.knote_attach(kn)
        if file is not None:
            file.f_count += 1  # the knote holds the file (fget's reference is kept)
            kn.fp = file
            if fop.wake_keys:
                self.knlist_add(kn)
            kn.status &= ~KN_DETACHED
        self._done_ev_add(kn)
        return 0

    def _done_ev_add(self, kn: Knote) -> None:
        """``done_ev_add``: run the filter unless disabled, then queue if ACTIVE (KQ-4)."""
        if not kn.status & KN_DISABLED and self.filter_event(kn):
            kn.status |= KN_ACTIVE
        if kn.status & (KN_ACTIVE | KN_DISABLED | KN_QUEUED) == KN_ACTIVE:
            self.knote_enqueue(kn)

    # -- retrieval ---------------------------------------------------------------------------
    def kqueue_scan(self, sched: Sleeper, maxevents: int, timeout_ns: int | None) -> list[KEvent]:
        """``kqueue_scan``: collect up to `maxevents` events, sleeping if none (KQ-2, KQ-4).

        `timeout_ns` None waits forever, 0 polls. The walk starts at the head behind a marker
        appended at the tail, so knotes re-queued during the walk are not seen twice:

        * DISABLED knotes found on the queue are dropped from it;
        * EV_ONESHOT: copied out as the filter last left it, then deleted;
        * everything else re-runs its filter: false -> silently dequeued (no longer ACTIVE);
          true -> copied out, then EV_CLEAR zeroes data/fflags, EV_DISPATCH disables, and both
          leave the queue; a level-triggered knote goes back to the **tail** (round robin).

        If the walk found nothing to report, it goes back to sleep until the same deadline.
        O(pending) per walk.
        """
        if maxevents == 0:
            return []  # never blocks, whatever the timeout
        deadline = None if timeout_ns is None else self.clock.now_ns + timeout_ns
        while True:
            self.callout_catch_up()
            if self.kq_count == 0:
                if timeout_ns == 0 or not self._sleep(sched, deadline):
                    return []
                continue
            out = self._scan_once(maxevents)
            if out:
                return out

    def _scan_once(self, maxevents: int) -> list[KEvent]:
        tracer = self.tracer
        out: list[KEvent] = []
        marker = Knote(self, -1, 0, None)
        marker.status = KN_MARKER
        self.kq_head.append(marker.tqe)
        while len(out) < maxevents:
            node = self.kq_head.pop_front()
            assert node is not None
            kn = node.owner
            if kn is marker:
                break
            if kn.status & KN_DISABLED:
                kn.status &= ~KN_QUEUED
                self.kq_count -= 1
                continue
            if kn.flags & KQ_EV_ONESHOT:
                kn.status &= ~KN_QUEUED
                self.kq_count -= 1
                ev = kn.kevent()
                self.knote_drop(kn)
            else:
                if not self.filter_event(kn):
                    kn.status &= ~(KN_QUEUED | KN_ACTIVE)
                    self.kq_count -= 1
                    continue
                fop = kn.fop
                if isinstance(fop, TimerOps):
                    ev = fop.touch_process(kn)  # f_touch(EVENT_PROCESS): copies, then clears
                else:
                    ev = kn.kevent()
                    if kn.flags & KQ_EV_CLEAR:  # "manually clear knotes who weren't touched"
                        kn.data = 0
                        kn.fflags = 0
                if kn.flags & (KQ_EV_CLEAR | KQ_EV_DISPATCH):
                    if kn.flags & KQ_EV_DISPATCH:
                        kn.status |= KN_DISABLED
                    kn.status &= ~(KN_QUEUED | KN_ACTIVE)
                    self.kq_count -= 1
                else:
                    self.kq_head.append(kn.tqe)
            out.append(ev)
            tracer.charge(
                TraceKind.COPY_OUT,
                self.label,
                1,
                "{e.subject}: data={e.count}",
                fd=kn.trace_fd,
                count=ev.data,
                subject=str(kn),
            )
        if marker.tqe.linked:
            self.kq_head.remove(marker.tqe)
        return out

    def _sleep(self, sched: Sleeper, deadline: int | None) -> bool:
        """Sleep on the kqueue (``msleep_sbt(kq, ..., "kqread")``); True if woken."""
        woken = False

        def wake(_entry: WaitEntry, _key: int) -> bool:
            nonlocal woken
            woken = True
            return True

        entry = WaitEntry(wake, "task", "kevent")
        self.wq.add(entry)
        self._arm_wakeup()
        try:
            sched.sleep_until(deadline, lambda: woken, self.label)
        finally:
            self.wq.remove(entry)
            if self.callout is not None:
                self.clock.cancel(self.callout)
                self.callout = None
        return woken

    def kqueue_kevent(
        self,
        fdt: FdTable,
        sched: Sleeper,
        changes: Sequence[KEvent],
        nevents: int,
        timeout_ns: int | None,
    ) -> list[KEvent]:
        """``kqueue_kevent``: every change in order, then the scan (KQ-2).

        A change that fails, or carries EV_RECEIPT, is written to the eventlist as an EV_ERROR
        entry (``data`` = errno, 0 for a receipt), using up one slot. With no slot left the call
        stops there and fails with that errno -- or returns nothing for a successful receipt;
        later changes are not applied. If any EV_ERROR entry was written the call returns
        them without collecting a single event. A change with filter 0 is skipped.
        """
        tracer = self.tracer
        self.callout_catch_up()
        out: list[KEvent] = []
        for change in changes:
            tracer.charge(TraceKind.COPY_IN, self.label, 1, "struct kevent")
            if not change.filter:
                continue
            kev = _KeventBuf(change)
            error = self.kqueue_register(fdt, kev)
            if error or kev.flags & KQ_EV_RECEIPT:
                if nevents == 0:
                    if error:
                        raise oserror(error)
                    return []
                ev = KEvent(kev.ident, kev.filter, KQ_EV_ERROR, kev.fflags, error, kev.udata)
                out.append(ev)
                tracer.charge(
                    TraceKind.COPY_OUT, self.label, 1, "EV_ERROR data={e.count}", count=error
                )
                nevents -= 1
        if out:
            return out
        return self.kqueue_scan(sched, nevents, timeout_ns)

    # -- file operations ---------------------------------------------------------------------
    def poll(self, pt: PollTable | None) -> int:
        """``kqueue_poll``: IN|RDNORM while knotes are queued (not re-checked); never OUT."""
        if pt is not None and pt.queue_proc is not None:
            pt.queue_proc(self, self.kq_sel)
        self.callout_catch_up()
        if self.kq_sel and self.callout is None:
            # Someone (poll, select, an epoll, another kqueue) now waits on us: a timer
            # expiry must be able to wake them, so the next one goes on the clock.
            self._arm_wakeup()
        return EPOLLIN | EPOLLRDNORM if self.kq_count else 0

    def knote_fdclose(self, fd: int) -> None:
        """Our part of ``knote_fdclose``: drop the knotes in ``kq_knlist[fd]``."""
        if 0 <= fd < len(self.kq_knlist):
            for kn in list(self.kq_knlist[fd]):
                self.knote_drop(kn)

    def release(self) -> None:
        """``kqueue_close``: drop every knote (``kqueue_drain``), wake pollers, leave the list."""
        for kn in self.knotes():
            self.knote_drop(kn)
        if self.kq_sel:
            self.kq_sel.wake_up(EPOLLIN | EPOLLRDNORM, nr_exclusive=0)
        if self in self.kqlist.kqueues:
            self.kqlist.kqueues.remove(self)


# ------------------------------------------------------------------------------------------------
# The syscalls, with CPython's layer around them
# ------------------------------------------------------------------------------------------------


def do_kqueue(fdt: FdTable, kqlist: KqueueList) -> int:
    """``kern_kqueue``: a new kqueue on the lowest free descriptor (EMFILE, ENFILE)."""
    fs = fdt.fs
    fd = fdt.alloc_fd()
    try:
        fs.check_file_max()
    except OSError:
        fdt.put_unused_fd(fd)
        raise
    kq = KQueue(fs, f"kqueue{fd}", kqlist)
    kqlist.kqueues.insert(0, kq)  # TAILQ_INSERT_HEAD(&fdp->fd_kqlist, kq, kq_list)
    fdt.install(fd, fs.get_file(kq))
    return fd


def kevent_timeout_ns(timeout_s: object) -> int | None:
    """CPython's conversion of ``kqueue.control``'s timeout
    (`simulator.conversions.kevent_timeout_ns`), then the kernel's reading of it:
    ``kqueue_scan`` treats more than INT32_MAX seconds as no timeout at all."""
    ns = conversions.kevent_timeout_ns(timeout_s)
    if ns is None or ns // 1_000_000_000 > _TV_SEC_FOREVER:
        return None
    return ns


def do_kevent(
    fdt: FdTable,
    sched: Sleeper,
    kqfd: int,
    changes: Sequence[KEvent],
    max_events: int,
    timeout_s: float | None,
) -> list[KEvent]:
    """``select.kqueue.control`` then ``kevent(2)`` (KQ-2, KQ-10).

    CPython checks first: ``max_events`` < 0 and a bad timeout are ValueError/TypeError, a
    change that is not a kevent is TypeError. Then the kernel: EBADF unless `kqfd` is a
    kqueue, and `KQueue.kqueue_kevent`.
    """
    if max_events < 0:
        raise ValueError(f"Length of eventlist must be 0 or positive, got {max_events}")
    timeout_ns = kevent_timeout_ns(timeout_s)
    for change in changes:
        if not isinstance(change, KEvent):
            raise TypeError("changelist must be an iterable of select.kevent objects")
    kq = fdt.get(kqfd)  # EBADF
    if not isinstance(kq, KQueue):
        raise oserror(errno.EBADF)  # kqueue_acquire
    return kq.kqueue_kevent(fdt, sched, changes, max_events, timeout_ns)
