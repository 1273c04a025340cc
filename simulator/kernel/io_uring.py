"""io_uring, the proactor (``io_uring/``: ``io_uring.c``, ``poll.c``, ``net.c``, ``timeout.c``,
``cancel.c``, ``openclose.c``, ``nop.c``).

A reactor (epoll) says a descriptor is *ready* and the program does the read; io_uring *does*
the read and says it is *complete*. An `IoRing` is ``struct io_ring_ctx`` behind a ring fd:

- the submission ring (`SqRing`: head, tail, mask, the SQE array): the program writes SQEs at
  the tail; ``io_uring_enter`` consumes them from the head (`IoRing.submit`,
  ``io_submit_sqes``);
- the completion ring (`CqRing`: head, tail, mask, the CQE array, and the overflow list where
  completions wait when the ring is full, ``IORING_FEAT_NODROP``): the kernel posts at the
  tail, the program reaps from the head.

Each consumed SQE becomes a request (`IoKiocb`, ``struct io_kiocb``), issued at once without
blocking (``io_issue_sqe`` with ``IO_URING_F_NONBLOCK``). It completes *inline* when it can
(data already queued: the CQE is posted when the submission batch is flushed,
``io_submit_flush_completions``), or it is *parked*: an internal poll entry is hooked on the
file's wait queue (``io_arm_poll_handler``, beside epoll's entries), whose wake function
(``io_poll_wake``) queues *task work* (``io_req_task_work_add``); the task work runs when the
submitting task next returns to user space -- in the model, as the next pending event of the
clock -- re-issues the operation and posts its CQE. A request holds a reference to its file
while in flight (``req->file``), so closing the descriptor does not cancel it.

``IOSQE_IO_LINK`` chains run one after the other; a request that fails (res < 0) cancels the
rest of its chain with -ECANCELED (``io_fail_links``) -- unless it was linked with
``IOSQE_IO_HARDLINK``, whose failure does not break the chain. Results are -errno, never
exceptions: only the ring itself (a bad ring fd, a bad size) raises.

A chain cut by the end of its batch (the batch's last SQE is linked) is not issued inline: it is
punted to an io-wq worker thread (``io_submit_state_end`` -> ``io_queue_sqe_fallback`` ->
``io_queue_iowq``), which issues its members in turn *without* ``IO_URING_F_NONBLOCK``
(``io_wq_submit_work``): a RECV or ACCEPT with nothing to take, or a SEND without room, sleeps in
the worker (`IoKiocb.iowq`, parked like an internal poll, with the worker's rules: a SEND sleeps
until every byte is queued, and ASYNC_CANCEL interrupts the sleep, -EALREADY and -EINTR,
``io_wq_cancel_cb``). docs/kernel-spec.md IU-19.

Tracing: each request's journey is a run of trace events named after the kernel function that
makes the step -- ``io_submit_sqes`` (COPY_IN of the SQE, ``list`` "sq"), ``io_issue_sqe``
(SQE_ISSUE), ``io_arm_poll_handler`` / ``io_poll_add`` / ``io_timeout`` (SQE_PARK, beside the
WAIT_ADD of the poll entry), the wait queue's CALLBACK (``io_poll_wake``), ``io_req_task_work_add``
(TASK_WORK_ADD), the task work itself (TASK_WORK_RUN: ``io_poll_task_func``...), the CQE posted
(COPY_OUT, ``list`` "cq": ``io_req_complete_post``, or ``io_submit_flush_completions`` for a
batch's inline completions) and the program's reap (CQE_REAP). The journey's events cost
nothing, and are not even formatted with tracing off: the costs do not depend on them.

Complexity: submitting n SQEs is O(n); a wake-up of a parked request is O(1) plus its re-issue;
POLL_REMOVE and ASYNC_CANCEL search the parked requests, O(parked) (the kernel hashes them by
user_data; the list keeps issue order, which decides which of equal user_data goes first).
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable

from simulator.kernel.clock import PRIO_SOFTIRQ, PRIO_TIMER, Clock, Pending
from simulator.kernel.sockets import TCP_LISTEN, Socket, TcpSocket, UnixSocket
from simulator.kernel.trace import TraceKind, Tracer
from simulator.kernel.vfs import FdTable, File, FileSystem, PollTable, oserror
from simulator.kernel.waitqueue import WaitEntry, WaitQueue
from simulator.uapi import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLNVAL,
    EPOLLOUT,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRNORM,
    IORING_MAX_ENTRIES,
    IOSQE_IO_HARDLINK,
    IOSQE_IO_LINK,
    Cqe,
    Sqe,
)

#: How the ring installs a descriptor: ``ModelKernel._new_fd(make, check)``.
NewFd = Callable[[Callable[[int], File], Callable[[], None]], int]

#: ``IO_POLL_UNMASK``: bits a poll request always hears, whatever it asked for.
IO_POLL_UNMASK = EPOLLERR | EPOLLHUP | EPOLLNVAL | EPOLLRDHUP
#: ``IORING_CQE_F_SOCK_NONEMPTY``: the socket still had data after a RECV.
IORING_CQE_F_SOCK_NONEMPTY = 1 << 2
#: What a parked op waits for (``io_issue_def``'s pollin / pollout).
_POLL_IN = EPOLLIN | EPOLLRDNORM
_POLL_OUT = EPOLLOUT | EPOLLWRNORM


def roundup_pow_of_two(n: int) -> int:
    """The smallest power of two >= `n` (n >= 1)."""
    return 1 << (n - 1).bit_length()


class SqRing:
    """The submission ring: `array` slots indexed by ``index & ring_mask``. The program owns
    the tail, the kernel the head; ``tail - head`` SQEs wait to be consumed."""

    __slots__ = ("array", "head", "ring_entries", "ring_mask", "tail")

    def __init__(self, entries: int) -> None:
        self.ring_entries = entries
        self.ring_mask = entries - 1
        self.head = 0
        self.tail = 0
        self.array: list[Sqe | None] = [None] * entries

    def queued(self) -> int:
        return self.tail - self.head


class CqRing:
    """The completion ring: the kernel owns the tail, the program the head. A completion that
    finds the ring full waits in `overflow` (``IORING_FEAT_NODROP``) until there is room."""

    __slots__ = ("cqes", "head", "overflow", "ring_entries", "ring_mask", "tail")

    def __init__(self, entries: int) -> None:
        self.ring_entries = entries
        self.ring_mask = entries - 1
        self.head = 0
        self.tail = 0
        self.cqes: list[Cqe | None] = [None] * entries
        self.overflow: deque[Cqe] = deque()

    def ready(self) -> int:
        return self.tail - self.head


class IoKiocb:
    """One request (``struct io_kiocb``): its SQE, the file it holds, where it is parked (a
    poll entry or a timer), and the next request of its link chain.

    Its callbacks (the poll entry's wake function, task work, the timer) are its own bound
    methods, never closures: a model checkpoint (a deep copy) then copies them along with the
    request they act on.
    """

    __slots__ = (
        "done_io",
        "entry",
        "file",
        "interest",
        "iowq",
        "link",
        "polled",
        "reserved",
        "ring",
        "sqe",
        "timer",
        "woken_mask",
    )

    def __init__(self, ring: IoRing, sqe: Sqe) -> None:
        self.ring = ring
        self.sqe = sqe
        self.file: File | None = None
        self.link: IoKiocb | None = None
        self.entry: WaitEntry | None = None
        self.timer: Pending | None = None
        self.interest = 0  # the poll mask it waits for, IO_POLL_UNMASK included
        self.polled = False  # a POLL_ADD (POLL_REMOVE can find it), not an internal poll
        self.woken_mask = 0  # the wake-up key that fired the poll (``__io_poll_execute``)
        self.iowq = False  # issued by an io-wq worker, blocking (a cut chain's member, IU-19)
        self.done_io = 0  # bytes a SEND sleeping in its worker has queued so far
        self.reserved: int | None = None  # the number an ACCEPT asleep in its worker holds

    @property
    def in_worker(self) -> bool:
        """Asleep in an io-wq worker: a RECV, SEND or ACCEPT of a cut chain that waits for its
        socket (a POLL_ADD or TIMEOUT issued by a worker arms its poll or timer and leaves)."""
        return self.iowq and not self.polled and self.entry is not None

    def io_poll_wake(self, entry: WaitEntry, key: int) -> bool:
        """The poll entry's wake function: a key that misses the mask is ignored; otherwise
        the entry unhooks itself (one-shot) and task work is queued."""
        if key and not key & self.interest:
            return False
        assert self.file is not None
        self.file.wq.remove(entry)
        self.entry = None
        self.woken_mask = key & self.interest  # stashed: the task work reports it as it is
        self.ring.task_work(self.poll_task, "io_poll_task_func", self)
        return True

    def poll_task(self) -> None:
        self.ring.trace_req(TraceKind.TASK_WORK_RUN, "io_poll_task_func", self)
        self.ring.poll_task(self)

    def issue_task(self) -> None:
        self.ring.trace_req(TraceKind.TASK_WORK_RUN, "io_req_task_submit", self)
        self.ring.issue(self)

    def io_timeout_fn(self) -> None:
        """The hrtimer expired: complete -ETIME from task work."""
        self.timer = None
        if self in self.ring.parked:
            self.ring.parked.remove(self)
            self.ring.task_work(self.timed_out, "io_timeout_complete", self)

    def timed_out(self) -> None:
        self.ring.trace_req(TraceKind.TASK_WORK_RUN, "io_timeout_complete", self)
        self.ring.complete(self, -errno.ETIME)

    def cancelled(self) -> None:
        self.ring.trace_req(TraceKind.TASK_WORK_RUN, "io_req_task_cancel", self)
        self.ring.complete(self, -errno.ECANCELED)

    def interrupted(self) -> None:
        """The worker's sleep was interrupted (``io_wq_worker_cancel`` signals it): the
        socket call returns -EINTR, or what a SEND had queued by then (``sent ? : err``); an
        ACCEPT gives its reserved number back (``put_unused_fd``)."""
        self.ring.trace_req(TraceKind.TASK_WORK_RUN, "io_req_task_cancel", self)
        self.ring.unreserve(self)
        self.ring.complete(self, self.done_io or -errno.EINTR)


class IoRing(File):
    """``struct io_ring_ctx``: the rings, the requests in flight, and the hooks into the rest of
    the kernel it needs (the fd table, the clock, a way to install and close descriptors)."""

    kind = "io_uring"
    #: A ring can be polled and watched by epoll (``io_uring_poll``).
    has_poll = True

    def __init__(
        self,
        fs: FileSystem,
        label: str,
        entries: int,
        *,
        fdt: FdTable,
        clock: Clock,
        new_fd: NewFd,
        close_fd: Callable[[int], None],
        blocking: set[File] | None = None,
    ) -> None:
        super().__init__(fs, label)
        self.tracer: Tracer = fs.tracer
        #: ``ctx->cq_wait``: the tasks in ``io_uring_enter(GETEVENTS)``, woken by each CQE
        #: posted (`CqWait`). Not the ring's poll queue (`wq`, where epoll hooks its entries).
        self.cq_wait = WaitQueue(self.tracer, label, ".cq_wait")
        sq_entries = roundup_pow_of_two(entries)
        self.sq = SqRing(sq_entries)
        self.cq = CqRing(2 * sq_entries)
        self.fdt = fdt
        self.clock = clock
        self._new_fd = new_fd
        self._close_fd = close_fd
        #: The files whose O_NONBLOCK is clear (``ModelKernel.blocking_files``, shared).
        self.blocking: set[File] = set() if blocking is None else blocking
        #: Requests parked on a poll entry or a timer, in the order they parked.
        self.parked: list[IoKiocb] = []
        #: Inline completions of the current submission batch (``submit_state.compl_reqs``).
        self._batch: list[tuple[IoKiocb, int, int]] | None = None

    # -- posting completions ------------------------------------------------------------------
    def trace_req(self, kind: TraceKind, function: str, req: IoKiocb, what: str = "") -> None:
        """Record a free step of `req`'s journey, made by the kernel's `function` (`what`
        says more). Nothing is formatted with tracing off."""
        tracer = self.tracer
        if tracer.enabled:
            sqe = req.sqe
            subject = f"{sqe.op} ud={sqe.user_data}" + (f" {what}" if what else "")
            tracer.charge(kind, self.label, 0, function + ": {e.subject}", subject=subject)

    def _post(self, cqe: Cqe, function: str = "io_req_complete_post") -> None:
        """``io_fill_cqe_req``: write the CQE at the tail, or queue it on the overflow list.
        `function` is the kernel's caller that posts it (the trace event's name)."""
        cq = self.cq
        if cq.overflow or cq.ready() == cq.ring_entries:
            cq.overflow.append(cqe)
            where = f"{self.label}.cq.overflow"
            function = "io_cqring_event_overflow"
            self.cq_wait.wake_up(EPOLLIN, 0)  # the waiters flush the overflow list themselves
        else:
            cq.cqes[cq.tail & cq.ring_mask] = cqe
            cq.tail += 1
            where = f"{self.label}.cq"
            # io_poll_wq_wake: whoever polls the ring (epoll) hears of the new CQE
            self.wq.wake_up(EPOLLIN)
            # io_cqring_wake: every task in io_cqring_wait checks whether it has enough
            self.cq_wait.wake_up(EPOLLIN, 0)
        self.tracer.charge(
            TraceKind.COPY_OUT,
            where,
            1,
            function + ": CQE user_data={e.subject} res={e.count}",
            subject=str(cqe.user_data),
            count=cqe.res,
            list="cq",
        )

    def flush_overflow(self) -> None:
        """``io_cqring_overflow_flush``: move overflowed CQEs into the ring while there is room."""
        cq = self.cq
        while cq.overflow and cq.ready() < cq.ring_entries:
            cq.cqes[cq.tail & cq.ring_mask] = cq.overflow.popleft()
            cq.tail += 1

    def reap(self) -> list[Cqe]:
        """The program's side: every CQE from head to tail; the head moves past them."""
        cq = self.cq
        out = []
        while cq.head != cq.tail:
            cqe = cq.cqes[cq.head & cq.ring_mask]
            assert cqe is not None
            out.append(cqe)
            cq.head += 1
            if self.tracer.enabled:
                self.tracer.charge(
                    TraceKind.CQE_REAP,
                    f"{self.label}.cq",
                    0,
                    "the program reaps CQE {e.subject}: CQ head -> {e.count}",
                    subject=f"user_data={cqe.user_data} res={cqe.res}",
                    count=cq.head,
                )
        return out

    def complete(self, req: IoKiocb, res: int, cflags: int = 0) -> None:
        """A request is done: post its CQE (now, or at the batch flush), release its file, and
        go on with its chain -- or cancel the rest of it when it failed."""
        if self._batch is not None:
            self._batch.append((req, res, cflags))
            return
        self._post(Cqe(req.sqe.user_data, res, cflags))
        self._finish(req, res)

    def _finish(self, req: IoKiocb, res: int) -> None:
        """The request is freed: its file released, its chain continued -- or failed, unless
        it was hard-linked (``io_queue_next``, ``io_fail_links``)."""
        if req.file is not None:
            self.fs.fput(req.file)
            req.file = None
        nxt, req.link = req.link, None
        if nxt is not None and res < 0 and not req.sqe.flags & IOSQE_IO_HARDLINK:
            # io_fail_links: the rest of the chain completes -ECANCELED, in order
            cancelled: IoKiocb | None = nxt
            while cancelled is not None:
                self._post(Cqe(cancelled.sqe.user_data, -errno.ECANCELED), "io_fail_links")
                following = cancelled.link
                cancelled.link = None
                cancelled = following
        elif nxt is not None:  # io_queue_next: the next one is issued from task work
            self.task_work(nxt.issue_task, "io_req_task_submit", nxt)

    def task_work(self, work: Callable[[], None], what: str, req: IoKiocb) -> None:
        """``io_req_task_work_add``: run `work` (the kernel's function `what`, for `req`) when
        the task returns to user space."""
        self.trace_req(TraceKind.TASK_WORK_ADD, "io_req_task_work_add", req, f"-> {what}")
        self.clock.schedule(0, PRIO_SOFTIRQ, f"{self.label} task work: {what}", work)

    # -- submission ---------------------------------------------------------------------------
    def queue(self, sqes: list[Sqe]) -> int:
        """The program writes what fits of `sqes` at the SQ tail; how many it wrote."""
        sq = self.sq
        room = sq.ring_entries - sq.queued()
        for sqe in sqes[:room]:
            sq.array[sq.tail & sq.ring_mask] = sqe
            sq.tail += 1
        return min(room, len(sqes))

    def submit(self) -> int:
        """``io_submit_sqes``: consume every queued SQE from the head, assemble link chains,
        issue each request (a chain when its last member is seen), then flush the batch's
        inline completions. The number consumed."""
        sq = self.sq
        submitted = 0
        self._batch = []
        head: IoKiocb | None = None
        last: IoKiocb | None = None
        # ``ctx->cached_sq_head``: the head the program sees moves only once the whole batch
        # is issued and flushed (``io_commit_sqring``), so while the batch is issued the SQ
        # still looks as the program filled it -- a POLL_ADD on the ring itself finds no room
        # in a full SQ (``io_sqring_full`` reads the committed head: IU-15).
        cached_head = sq.head
        while cached_head != sq.tail:
            sqe = sq.array[cached_head & sq.ring_mask]
            assert sqe is not None
            cached_head += 1
            submitted += 1
            self.tracer.charge(
                TraceKind.COPY_IN,
                f"{self.label}.sq",
                1,
                "io_submit_sqes: SQE {e.subject}",
                subject=f"{sqe.op} user_data={sqe.user_data}",
                list="sq",
            )
            req = IoKiocb(self, sqe)
            if last is not None:
                last.link = req
            else:
                head = req
            last = req
            if not sqe.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK):
                assert head is not None
                self.issue(head)
                head = last = None
        if head is not None:
            # io_submit_state_end -> io_queue_sqe_fallback -> io_queue_iowq: a chain cut by the
            # batch's end goes to an io-wq worker, which issues its members in turn, blocking
            # (IU-19). Its CQEs come after the batch's inline ones, as the worker runs after.
            member: IoKiocb | None = head
            while member is not None:
                member.iowq = True
                member = member.link
            self.issue(head)
        batch, self._batch = self._batch, None
        for req, res, cflags in batch:
            self._post(Cqe(req.sqe.user_data, res, cflags), "io_submit_flush_completions")
        for req, res, _ in batch:
            self._finish(req, res)
        sq.head = cached_head  # io_commit_sqring
        return submitted

    # -- issue --------------------------------------------------------------------------------
    def _get_file(self, req: IoKiocb) -> File | None:
        """``io_file_get_normal``: the file at the SQE's fd, referenced; None if not open."""
        file = self.fdt.lookup(req.sqe.fd) if req.sqe.fd >= 0 else None
        if file is not None:
            file.f_count += 1
            req.file = file
        return file

    def issue(self, req: IoKiocb) -> None:
        """``io_issue_sqe``: run the op without blocking; complete it, or park it."""
        self.trace_req(TraceKind.SQE_ISSUE, "io_issue_sqe", req)
        op = req.sqe.op
        if op == "NOP":
            self.complete(req, 0)
        elif op == "TIMEOUT":
            self._arm_timeout(req)
        elif op in ("POLL_REMOVE", "ASYNC_CANCEL"):
            self._cancel(req)
        elif op == "CLOSE":
            self._close(req)
        else:
            if req.file is None and self._get_file(req) is None:
                self.complete(req, -errno.EBADF)
                return
            if op == "POLL_ADD":
                self._poll_add(req)
            else:
                self._issue_io(req)

    def _issue_io(self, req: IoKiocb) -> None:
        """RECV, SEND, ACCEPT: try now; on EAGAIN park on the internal poll
        (``io_arm_poll_handler``)."""
        file = req.file
        sqe = req.sqe
        if not isinstance(file, Socket):
            self.complete(req, -errno.ENOTSOCK)
            return
        try:
            if sqe.op == "RECV":
                got = file.recv(sqe.nbytes)
                self.complete(req, got, IORING_CQE_F_SOCK_NONEMPTY if _inq(file) else 0)
            elif sqe.op == "SEND" and req.iowq:
                # A blocking sock_sendmsg: it sleeps (sock_alloc_send_pskb,
                # sk_stream_wait_memory) until every byte is queued.
                req.done_io += file.send(sqe.nbytes - req.done_io)
                if req.done_io < sqe.nbytes:
                    raise oserror(errno.EAGAIN)
                self.complete(req, req.done_io)
            elif sqe.op == "SEND":
                self.complete(req, file.send(sqe.nbytes))
            else:
                self.complete(req, self._accept(file, req))
        except BlockingIOError:
            if req.iowq and sqe.op == "ACCEPT" and file not in self.blocking:
                # A worker's accept sleeps only on a blocking listener: do_accept adds the
                # file's own O_NONBLOCK, where sock_recvmsg/sock_sendmsg never look (IU-19).
                self.complete(req, -errno.EAGAIN)
                return
            self._arm_poll(req, _POLL_OUT if sqe.op == "SEND" else _POLL_IN)
        except OSError as exc:
            assert exc.errno is not None
            self.complete(req, req.done_io or -exc.errno)  # ``sent ? : err``

    def _accept(self, listener: Socket, req: IoKiocb) -> int:
        """``io_accept``: the descriptor first (EMFILE), then the queue (EAGAIN, EINVAL).

        Issued by a worker on a blocking listener (IU-19), the accept sleeps in ``do_accept``
        *holding* the number it reserved (``__get_unused_fd_flags`` comes first): descriptors
        made meanwhile get the next ones, and the connection is installed at it."""

        def child(_fd: int) -> File:
            assert isinstance(listener, TcpSocket)
            return listener.accept_queue.popleft()

        def queued() -> None:
            if not isinstance(listener, TcpSocket) or listener.state != TCP_LISTEN:
                raise oserror(errno.EINVAL)
            if not listener.accept_queue:
                raise oserror(errno.EAGAIN)

        if not (req.iowq and listener in self.blocking):
            return self._new_fd(child, queued)
        if req.reserved is None:
            req.reserved = self.fdt.alloc_fd()
        try:
            self.fs.check_file_max(1)
            queued()
        except BlockingIOError:
            raise  # the worker sleeps, the number stays reserved
        except OSError:
            self.unreserve(req)
            raise
        fd, req.reserved = req.reserved, None
        self.fdt.install(fd, self.fs.get_file(child(fd)))
        return fd

    def unreserve(self, req: IoKiocb) -> None:
        """Give back the number an ACCEPT reserved, if it holds one (``put_unused_fd``)."""
        if req.reserved is not None:
            self.fdt.put_unused_fd(req.reserved)
            req.reserved = None

    # -- polls: POLL_ADD and the internal poll of a parked op ---------------------------------
    def _arm_poll(self, req: IoKiocb, events: int) -> None:
        """Hook a poll entry on the file's wait queue; its wake function queues task work."""
        file = req.file
        assert file is not None
        if req.polled:
            function = "io_poll_add"
        else:  # a cut chain's member sleeps in its io-wq worker (IU-19)
            function = "io_wq_submit_work" if req.iowq else "io_arm_poll_handler"
        self.trace_req(TraceKind.SQE_PARK, function, req, f"parks on {file.label}.wq")
        req.interest = events | IO_POLL_UNMASK
        entry = WaitEntry(req.io_poll_wake, req, f"{self.label} poll ud={req.sqe.user_data}")
        req.entry = entry
        file.wq.add(entry, cost=1)
        self.parked.append(req)

    def poll_task(self, req: IoKiocb) -> None:
        """``io_poll_task_func``: a parked op is issued again; a POLL_ADD completes with the
        wake-up key it stashed (``io_poll_check_events``), re-polling only after a keyless
        wake-up -- so it reports IN even if another request has drained the data meanwhile --
        and re-arms if that re-poll finds nothing."""
        if req not in self.parked:  # cancelled between the wake-up and now
            return
        self.parked.remove(req)
        if not req.polled:  # io_req_task_submit: the op is issued again, now that it can run
            self.trace_req(TraceKind.SQE_ISSUE, "io_issue_sqe", req, "again")
            self._issue_io(req)
            return
        assert req.file is not None
        mask, req.woken_mask = req.woken_mask, 0
        if not mask:
            mask = self._vfs_poll(req.file) & req.interest
        if mask:
            self.complete(req, mask)
        else:
            self._arm_poll(req, req.sqe.events)

    @staticmethod
    def _vfs_poll(file: File) -> int:
        return file.poll(None)

    def _poll_add(self, req: IoKiocb) -> None:
        """``io_poll_add``: complete now with the ready mask, or park a poll entry."""
        assert req.file is not None
        interest = req.sqe.events | IO_POLL_UNMASK
        mask = self._vfs_poll(req.file) & interest
        if mask:
            self.complete(req, mask)
            return
        req.polled = True  # before the arming: it names the kernel function in the trace
        self._arm_poll(req, req.sqe.events)

    # -- timeouts -------------------------------------------------------------------------------
    def _arm_timeout(self, req: IoKiocb) -> None:
        """``io_timeout``: an hrtimer whose expiry completes the request with -ETIME."""
        self.trace_req(TraceKind.SQE_PARK, "io_timeout", req, "arms an hrtimer")
        req.timer = self.clock.schedule(
            req.sqe.timeout_ms * 1_000_000, PRIO_TIMER, f"{self.label} timeout", req.io_timeout_fn
        )
        self.parked.append(req)

    # -- cancellation ---------------------------------------------------------------------------
    def _unpark(self, req: IoKiocb) -> None:
        """Take a parked request off its wait queue or timer."""
        self.parked.remove(req)
        if req.entry is not None and req.file is not None:
            req.file.wq.remove(req.entry, cost=1)
            req.entry = None
        if req.timer is not None:
            self.clock.cancel(req.timer)
            req.timer = None

    def _cancel(self, req: IoKiocb) -> None:
        """POLL_REMOVE (POLL_ADDs only) and ASYNC_CANCEL (any parked request): the target's
        user_data is this SQE's. The canceller completes first with 0 (-ENOENT if nothing
        matched); the target's -ECANCELED follows from task work.

        ASYNC_CANCEL looks in io-wq first (``io_try_cancel``: ``io_async_cancel_one``): a
        request asleep in its worker (IU-19) is running, so its worker is interrupted -- it
        completes -EINTR (`IoKiocb.interrupted`) -- and the answer is -EALREADY; a cancel that
        a worker runs itself always finds one running: itself (it carries the user_data it
        looks for). -EALREADY falls through to the polls (``io_poll_cancel``, internal polls
        included), then the timeouts: a match there is cancelled and the answer is 0."""
        polls_only = req.sqe.op == "POLL_REMOVE"
        wanted = req.sqe.user_data
        running = False
        if not polls_only:
            worker = next(
                (r for r in self.parked if r.in_worker and r.sqe.user_data == wanted), None
            )
            if worker is not None:
                self._unpark(worker)
                self.task_work(worker.interrupted, "io_req_task_queue_fail", worker)
            running = worker is not None or req.iowq
        matching = [
            r
            for r in self.parked
            if r.sqe.user_data == wanted and not r.in_worker and (r.polled or not polls_only)
        ]
        # the poll hash before the timeout list, each in the order they were armed
        target = next((r for r in matching if r.timer is None), None) or next(iter(matching), None)
        if target is None:
            self.complete(req, -errno.EALREADY if running else -errno.ENOENT)
            return
        self._unpark(target)
        self.complete(req, 0)
        self.task_work(target.cancelled, "io_req_task_cancel", target)

    # -- close ----------------------------------------------------------------------------------
    def _close(self, req: IoKiocb) -> None:
        """``io_close``: EBADF for a number not open, and for an io_uring's own fd."""
        fd = req.sqe.fd
        file = self.fdt.lookup(fd) if fd >= 0 else None
        if file is None or isinstance(file, IoRing):
            self.complete(req, -errno.EBADF)
            return
        self._close_fd(fd)
        self.complete(req, 0)

    def release(self) -> None:
        """``io_ring_ctx_free``: the last reference went: cancel everything in flight (no CQE
        can be seen any more) and drop the files the requests held."""
        for req in list(self.parked):
            self._unpark(req)
            self.unreserve(req)  # the worker's accept is interrupted (io_uring_cancel_generic)
            nxt: IoKiocb | None = req
            while nxt is not None:
                if nxt.file is not None:
                    self.fs.fput(nxt.file)
                    nxt.file = None
                nxt = nxt.link

    def poll(self, pt: PollTable | None) -> int:
        """``io_uring_poll``: OUT while the SQ has room, IN while the CQ (or its overflow list)
        holds completions the program has not reaped."""
        self.register_poll(pt)
        mask = 0
        if self.sq.queued() < self.sq.ring_entries:
            mask |= EPOLLOUT | EPOLLWRNORM
        if self.cq.ready() or self.cq.overflow:
            mask |= EPOLLIN | EPOLLRDNORM
        return mask

    def _check(self) -> None:
        """Invariants: each ring holds between 0 and its size (the overflow list may outlive a
        full CQ: it is flushed by the next wait, IU-2); a parked request is hooked on its
        file's wait queue or holds a timer (exactly one), and holds its file while hooked."""
        for ring in (self.sq, self.cq):
            assert 0 <= ring.tail - ring.head <= ring.ring_entries
        for req in self.parked:
            assert (req.entry is None) != (req.timer is None), req.sqe
            if req.entry is not None:
                assert req.file is not None and req.entry.queue is req.file.wq
                assert req.entry in req.file.wq.entries

    def describe(self) -> str:
        return (
            f"{self.label}: io_uring, SQ {self.sq.queued()}/{self.sq.ring_entries}, "
            f"CQ {self.cq.ready()}/{self.cq.ring_entries}, {len(self.parked)} in flight"
        )


class CqWait:
    """One task in ``io_cqring_wait`` (``struct io_wait_queue``): it waits until the CQ tail
    reaches `target`, the head when it began waiting plus the completions it wants -- a tail
    fixed then, so CQEs another thread reaps meanwhile still count (``io_should_wake``).

    Its `entry` goes on the ring's ``cq_wait`` queue, exclusive, at the tail; the wake
    function (``io_wake_function``) wakes the task when `should_wake`, or when a CQE went to
    the overflow list (the task flushes it and looks again), and unhooks the entry
    (``autoremove_wake_function``); otherwise it leaves the task asleep. O(1) a wake-up.
    """

    __slots__ = ("entry", "ring", "target", "woken")

    def __init__(self, ring: IoRing, wanted: int, label: str) -> None:
        self.ring = ring
        self.target = ring.cq.head + wanted
        self.woken = False
        self.entry = WaitEntry(self.io_wake_function, self, label)

    def should_wake(self) -> bool:
        """``io_should_wake``: the tail has reached the target."""
        return self.ring.cq.tail - self.target >= 0

    def io_wake_function(self, entry: WaitEntry, _key: int) -> bool:
        if not (self.should_wake() or self.ring.cq.overflow):
            return False
        self.woken = True
        self.ring.cq_wait.remove(entry)
        return True


def _inq(sock: Socket) -> bool:
    """Whether the receive queue still holds data after a read (``msg_inq``): TCP's
    ``tcp_inq_hint`` also says so at end of stream (SOCK_DONE), so a reader knows to come back
    for the 0; AF_UNIX counts bytes only."""
    if isinstance(sock, TcpSocket):
        return bool(sock.rcv_bytes or sock.done)
    return isinstance(sock, UnixSocket) and bool(sock.rcv_bytes)


def check_entries(entries: int) -> None:
    """``io_uring_create``: 0 and anything above IORING_MAX_ENTRIES are EINVAL."""
    if entries == 0 or entries > IORING_MAX_ENTRIES:
        raise oserror(errno.EINVAL)
