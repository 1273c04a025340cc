"""`LiveKernel`: the `Kernel` protocol over real syscalls, executed in a child process.

The child (`simulator.live._child`) owns every real descriptor; `LiveKernel` is its proxy. Each
protocol call is one request and one reply over a pipe (`simulator.live._wire`), and a failed
call raises in the caller exactly what CPython raised in the child: the same exception type,
errno and arguments.

The control channel is the child's fd 0 (requests) and fd 1 (replies). The first design moved
the control pipe "to high numbers"; we deliberately do not: a descriptor at a high
number grows the process's fd table (64 slots to start with, doubled as needed, never shrunk),
and select(2) clips its scan to that table's capacity (KERNEL_SPEC PS-4), so a high control fd
would hide the very quirk the lessons show. With the channel on 0 and 1 the child's open
descriptors are exactly 0, 1 and 2 (stderr is shared with the parent), its table keeps the
initial 64 slots, and its first socket is fd 3 -- as in the model. The child re-creates its fd
table at start-up, because fork() would otherwise hand it a table as large as the parent's.

The child cannot outlive the parent: it exits at EOF on fd 0 and has ``PR_SET_PDEATHSIG`` =
SIGKILL. That signal fires when the *thread* that forked the child exits (prctl(2)), so all
children are started by one long-lived daemon thread (`_Spawner`): a LiveKernel made inside a
short-lived worker thread keeps its child.

If the child dies (or `close_all` ended it), every call raises ``ChildProcessError``. Note
that ``ChildProcessError`` is an ``OSError`` subclass; its ``errno`` is None, which tells it
apart from the kernel's answers.

Calls settle before they return (see ``_Engine._settle`` in the child): AF_UNIX is
synchronous; for TCP loopback the child waits, bounded, until no segment is in flight -- which
includes the receiver's delayed ACK, so once a connection has used its 16 quick ACKs a TCP
send with unread data at the receiver takes ~40 ms; a connection that does not settle in time
is reported (`uapi.LiveSettleError`), never compared as it stands. Waits with an infinite
timeout are bounded by the constructor's `wait_bound_s` (`uapi.LIVE_WAIT_BOUND_S` by default)
and then raise `uapi.WaitForeverError`.

The protocol's calls are not written out here: each is one line, ``send =
_remote(uapi.Kernel.send)``, typed by the protocol and dispatched through the call table
(`simulator.syscalls`) to the child's method of the same name.
"""

from __future__ import annotations

import atexit
import errno
import functools
import inspect
import os
import queue
import re
import select
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from simulator import conversions, observe, syscalls, uapi
from simulator.isolated import python_command
from simulator.live import _libc, _wire

#: How long the parent waits for any one reply (or the child's start-up) before giving up on
#: the child. Generous: the slowest call is an infinite wait (`wait_bound_s`).
REPLY_TIMEOUT_S = 30.0
#: The longest `LiveKernel` wait bound: a wait must end well within REPLY_TIMEOUT_S.
MAX_WAIT_BOUND_S = 20.0
#: How long the rest of a reply may keep us waiting once it has begun (see `_receive`).
BODY_STALL_S = 1.0

#: Per-run limits (`LiveKernel`): waits that time out may block this long in all, and the
#: child's sockets may hold this many bytes. Without them a 10,000-step scenario of 2 s waits
#: runs for hours, and TCP fills at the default RLIMIT_NOFILE pin about 2 GiB of kernel memory.
WAIT_BUDGET_S = 30.0
QUEUED_BYTES_CAP = 64 << 20

_FDINFO_LINE = re.compile(
    r"tfd:\s*(?P<tfd>\d+)\s+events:\s*(?P<events>[0-9a-f]+)\s+data:\s*(?P<data>[0-9a-f]+)"
    r"\s+pos:(?P<pos>-?\d+)\s+ino:(?P<ino>[0-9a-f]+)\s+sdev:(?P<sdev>[0-9a-f]+)"
)


#: The child imports only the standard library and `simulator`: it starts without `site`.
_CHILD_ARGV = python_command("simulator.live._child", site=False)


class _Spawner:
    """Starts child processes from one daemon thread that lives as long as the process.

    ``PR_SET_PDEATHSIG`` is tied to the thread that forked the child, not to the process: a
    child forked by a Textual worker thread would be SIGKILLed when the worker finished.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[Future[subprocess.Popen[bytes]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        """A new child, started with its control channel on fds 0 and 1."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="muxlab-live-spawner", daemon=True
                )
                self._thread.start()
        request: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put(request)
        return request.result()

    def _run(self) -> None:
        while True:
            request = self._requests.get()
            try:
                request.set_result(_popen_child())
            except BaseException as exc:
                request.set_exception(exc)


def _popen_child() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _CHILD_ARGV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,  # the child's only descriptors are 0, 1 and 2
        start_new_session=True,  # a terminal's Ctrl-C is for the parent, which ends the child
    )


_spawner = _Spawner()
_instances: weakref.WeakSet[LiveKernel] = weakref.WeakSet()


@atexit.register
def _close_everything() -> None:
    for kernel in list(_instances):
        kernel.close_all()


P = ParamSpec("P")
R = TypeVar("R")

#: What the live kernel adds to a call's protocol docstring (``help(LiveKernel.send)``).
_NOTES: dict[str, str] = {
    "socketpair": "Both ends non-blocking.",
    "tcp_listen": "Non-blocking, bound to 127.0.0.1, ephemeral port.",
    "tcp_connect": (
        "Non-blocking and TCP_NODELAY. Returns once the handshake is over (bounded, 1 s) and the "
        "connection is in the listener's accept queue. If the accept queue is full the listener "
        "drops the SYN and the fd is returned in SYN_SENT at once. A refused connection is "
        "reported the non-blocking way: through ERR and SO_ERROR, not by raising. Errors, in "
        "order: `listen_fd` (EBADF, ENOTSOCK), the new socket (EMFILE), a listener that is not "
        "AF_INET (EAFNOSUPPORT), then connect(2)'s own."
    ),
    "accept": (
        "Non-blocking (and TCP_NODELAY on TCP). BlockingIOError (EAGAIN) when the queue is "
        "empty; at RLIMIT_NOFILE, OSError(EMFILE) even when it is empty, because Linux "
        "allocates the fd first (KERNEL_SPEC SK-5)."
    ),
    "open_file": "A regular file opened O_RDWR, with no name (a memfd): nothing to clean up.",
    "send": (
        "One send(2) of zero bytes. BlockingIOError when the buffer is full, BrokenPipeError "
        "(EPIPE) after the peer is gone, OSError(ENOTSOCK) on a file or an epoll fd."
    ),
    "fill": (
        "64 KiB chunks until EAGAIN (0 if already full). On TCP the buffer counts as full only "
        "when a send fails after the connection has settled (acknowledgements free space and "
        "autotuning grows the buffer as they arrive)."
    ),
    "setrlimit_nofile": "The child's limit, keeping its hard limit; this process is untouched.",
    "epoll_ctl": (
        "`events` exactly as given (no default mask) and data = `fd`. CPython's argument checks "
        "first, then the kernel's errors in its own order (KERNEL_SPEC EP-25). Works on any "
        "epfd number, including dups and non-epoll fds."
    ),
    "epoll_wait": (
        "``select.epoll.poll``: maxevents -1 means FD_SETSIZE - 1. A wait blocks at most the "
        "wait bound (`wait_bound_s`: the engine is quiescent, so a longer wait could not end "
        "differently); an infinite one that nothing ends within it is WaitForeverError."
    ),
    "poll": (
        "``select.poll``: each ``(fd, events)`` registered in order (registering an fd twice "
        "overwrites its mask and keeps its first position). Timeouts as in `epoll_wait`."
    ),
    "select": (
        "The kernel clips the scan to the child's fd-table capacity (64 slots): an unopened fd "
        "beyond it is returned as ready, one below it raises EBADF (KERNEL_SPEC PS-4). None is "
        "infinite: WaitForeverError if nothing is ready within the wait bound."
    ),
    "kqueue": "OSError(ENOSYS) on Linux.",
    "kevent": "OSError(ENOSYS) on Linux; timeouts as in `select`.",
    **{
        name: "OSError(ENOSYS): IOCP is Windows' (model only)."
        for name in (
            "CreateIoCompletionPort",
            "WSARecv",
            "WSASend",
            "GetQueuedCompletionStatus",
            "GetQueuedCompletionStatusEx",
            "PostQueuedCompletionStatus",
        )
    },
    "io_uring_setup": (
        "The real io_uring (raw syscalls); OSError(ENOSYS) where the kernel refuses it "
        "(not built, or disabled by kernel.io_uring_disabled)."
    ),
    "io_uring_wait": (
        "A negative timeout is infinite: WaitForeverError if too few completions arrive within "
        "the wait bound."
    ),
}

#: Arguments that are sequences: sent as lists (the channel carries data, not iterators).
_SEQUENCES = (
    syscalls.ArgKind.FD_LIST,
    syscalls.ArgKind.POLL_LIST,
    syscalls.ArgKind.KEVENT_CHANGES,
    syscalls.ArgKind.SQE_LIST,
)


def _remote(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[LiveKernel, P], R]:
    """`LiveKernel`'s method for the protocol call `method`, typed by the protocol.

    The arguments are bound to the protocol's signature (its defaults), checked against the
    standard streams by their kinds in the call table (`conversions.refuse_stdio_arguments`),
    and sent to the child, which runs its ``_Engine`` method of the same name.
    """
    name = method.__name__
    call = syscalls.CALLS[name]
    signature = inspect.signature(method)
    sequences = tuple(arg.name for arg in call.args if arg.kind in _SEQUENCES)

    @functools.wraps(method)
    def remote(self: LiveKernel, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        conversions.refuse_stdio_arguments(name, values)
        for key in sequences:
            values[key] = list(values[key])
        if name == "io_uring_setup":
            self._io_workers = True  # from now on io-wq threads may run (IU-19)
        try:
            return cast(R, self._call(name, *values.values()))
        finally:
            self._settle_threads()

    notes = _NOTES.get(name)
    doc = method.__doc__ or f"{call.summary[0].upper()}{call.summary[1:]}."
    remote.__doc__ = f"{doc}\n\n{notes}" if notes else doc
    return remote


class LiveKernel:
    """The real kernel, driven through the `Kernel` protocol from a child process.

    Usable as a context manager; `close_all` (also run by ``__exit__``, ``__del__`` and at
    interpreter exit) kills and reaps the child, which releases every descriptor at once.
    Thread-safe: calls from several threads are serialised.

    Beyond the protocol: `pid`, `alive`, and `fdinfo` (the real epoll interest list).
    """

    def __init__(
        self,
        *,
        nofile: int = 1024,
        nofile_hard: int = 1_048_576,
        wait_budget_s: float = WAIT_BUDGET_S,
        queued_bytes_cap: int = QUEUED_BYTES_CAP,
        wait_bound_s: float = uapi.LIVE_WAIT_BOUND_S,
    ) -> None:
        """Start the child with RLIMIT_NOFILE (`nofile`, `nofile_hard`), the model's defaults.

        The child would otherwise inherit this process's limits, and EMFILE would come at a
        different count than in the model. Raising the hard limit needs privilege; where it
        is refused the child keeps the inherited hard limit (see `limits`).

        An infinite wait (timeout -1 or None) blocks at most `wait_bound_s` seconds and then
        raises `uapi.WaitForeverError` (finite waits are cut to it too: the engine is quiescent,
        so a longer wait could not end differently). Tests use a small bound.

        The run is bounded as a whole: waits that end with nothing ready (each at most
        `wait_bound_s`) may block for `wait_budget_s` seconds in all, and `send`/`fill` may
        leave at most `queued_bytes_cap` bytes in the child's sockets (unread, or not yet
        acknowledged on TCP). Past either, the call raises `uapi.LiveLimitError` -- no
        kernel's answer: the child is closed, which releases everything it held.
        """
        if not 0 < wait_bound_s <= MAX_WAIT_BOUND_S:
            raise ValueError(
                f"wait_bound_s must be above 0 and at most {MAX_WAIT_BOUND_S:g} s, "
                f"got {wait_bound_s}"
            )
        #: How long an infinite wait blocks before it is `uapi.WaitForeverError`.
        self.wait_bound_s = wait_bound_s
        self._lock = threading.Lock()
        self._released = False
        self._threads = False  # whether a thread has been started (then calls settle them)
        #: Whether a ring was asked for: then io_uring's io-wq worker threads may be running
        #: requests after a call returned (docs/kernel-spec.md IU-19), and calls settle them.
        self._io_workers = False
        #: The child's threads as the last settle left them (see `_settle_threads`).
        self._settled: dict[int, tuple[str, int, int]] | None = None
        self._proc = _spawner.spawn()
        _instances.add(self)
        try:
            self._exchange(None)  # the child's greeting: it is ready
            granted = self._call("set_limits", nofile, nofile_hard)
        except BaseException:
            self.close_all()
            raise
        #: The child's RLIMIT_NOFILE (soft, hard) as the kernel granted it at start-up.
        self.limits: tuple[int, int] = (int(granted[0]), int(granted[1]))
        try:
            self._call("set_run_limits", wait_budget_s, queued_bytes_cap, wait_bound_s)
        except BaseException:
            self.close_all()
            raise

    def __repr__(self) -> str:
        return f"<LiveKernel pid={self._proc.pid} {'alive' if self.alive else 'gone'}>"

    # --- the child -----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The child's process id (kept after the child is gone)."""
        return self._proc.pid

    @property
    def alive(self) -> bool:
        """True while the child runs and `close_all` has not been called."""
        return not self._released and self._proc.poll() is None

    def close_all(self) -> None:
        """Kill and reap the child: every descriptor it held is released. Idempotent."""
        proc = getattr(self, "_proc", None)
        if proc is None or self._released:
            return
        self._released = True
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with self._lock:  # a call in flight sees EOF and returns first
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()

    def __del__(self) -> None:
        self.close_all()

    def __enter__(self) -> LiveKernel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_all()

    def fdinfo(self, epfd: int) -> list[dict[str, int]]:
        """The real interest list of epoll `epfd`, from ``/proc/<pid>/fdinfo/<epfd>``.

        One dict per epitem, in the kernel's rb-tree order (by file pointer, then fd -- not fd
        order): ``tfd`` (the fd number registered), ``events`` (the stored mask: ERR|HUP
        added, ONESHOT-disarmed items show only private bits, EPOLLWAKEUP stripped), ``data``,
        ``pos``, ``ino`` and ``sdev`` (identify the file, e.g. across dups). Read in this
        process; the child is not involved. Raises OSError(EBADF) if `epfd` is not open in
        the child and ValueError if it is not an epoll instance.
        """
        with self._lock:
            self._require_child()
            proc_dir = f"/proc/{self._proc.pid}"
            try:
                target = os.readlink(f"{proc_dir}/fd/{epfd}")
                text = Path(f"{proc_dir}/fdinfo/{epfd}").read_text()
            except FileNotFoundError:
                raise OSError(errno.EBADF, f"fd {epfd} is not open in the live kernel") from None
        if target != "anon_inode:[eventpoll]":
            raise ValueError(f"fd {epfd} is not an epoll instance ({target})")
        entries = []
        for match in _FDINFO_LINE.finditer(text):
            fields = match.groupdict()
            entries.append(
                {
                    "tfd": int(fields["tfd"]),
                    "events": int(fields["events"], 16),
                    "data": int(fields["data"], 16),
                    "pos": int(fields["pos"]),
                    "ino": int(fields["ino"], 16),
                    "sdev": int(fields["sdev"], 16),
                }
            )
        return entries

    # --- the lab (simulator.bench) --------------------------------------------------------

    def lab(self, op: str, *args: object) -> Any:
        """One operation on the lab's own world in the child (`simulator.live._measure`):
        ``grow(pairs)``, ``set_active(k)``, ``measure(mechanism, repeat, bare=False)``,
        ``polling(repeat)``, ``costs(repeat)``. Not a protocol call: the lab times calls inside the
        child, where no round trip through the control channel is in the measurement."""
        return self._call("lab", op, *args)

    def _require_child(self) -> subprocess.Popen[bytes]:
        if self._released:
            raise ChildProcessError(f"the live kernel (child pid {self._proc.pid}) is closed")
        if self._proc.poll() is not None:
            raise self._lost()
        return self._proc

    def _lost(self) -> ChildProcessError:
        """Reap the dead child and describe how it died."""
        status = self._proc.wait()
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return ChildProcessError(
            f"the live kernel's child process (pid {self._proc.pid}) {how}; "
            "its descriptors are gone, start a new LiveKernel"
        )

    def _call(self, method: str, *args: object) -> Any:
        reply = self._exchange(_wire.frame((method, args)))
        if reply[0] == "ok":
            return reply[1]
        _status, name, err, exc_args = reply
        error = _wire.decode_error(name, err, exc_args)
        if isinstance(error, uapi.LiveLimitError):
            self.close_all()  # the run is over; free what it holds now
        raise error

    def _broken(self, why: str) -> ChildProcessError:
        """End a child whose channel is out of step, and say why."""
        self._proc.kill()
        self._proc.wait()
        return ChildProcessError(
            f"the live kernel's control channel broke ({why}); the child process "
            f"(pid {self._proc.pid}) was ended, start a new LiveKernel"
        )

    def _exchange(self, request: bytes | None) -> tuple[Any, ...]:
        """Send `request` (None: just read the child's greeting) and return the reply."""
        with self._lock:
            proc = self._require_child()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                if request is not None:
                    _wire.write_all(proc.stdin.fileno(), request)
                reply = self._receive(proc.stdout.fileno())
            except (BrokenPipeError, EOFError):
                raise self._lost() from None
            except _wire.ProtocolError as exc:
                raise self._broken(f"a malformed reply: {exc}") from None
            except BaseException:
                # Interrupted half-way (e.g. KeyboardInterrupt): the channel is out of step.
                proc.kill()
                raise
        if reply[0] == "broken":
            raise self._broken(f"the child could not read a request: {reply[1]}")
        return reply

    def _receive(self, fd: int) -> tuple[Any, ...]:
        """One reply. The header may take up to REPLY_TIMEOUT_S (the call is running); the
        child writes a reply in one go, so a body that stops coming for BODY_STALL_S, or a
        header over the size cap, is a `ProtocolError` at once."""
        header = _read_exactly(fd, _wire.HEADER.size, REPLY_TIMEOUT_S, begun=False)
        body = _read_exactly(fd, _wire.body_size(header), BODY_STALL_S, begun=True)
        return _wire.decode_reply(body)

    # --- the protocol's calls, one line each, dispatched from the call table -------------

    socketpair = _remote(uapi.Kernel.socketpair)
    tcp_listen = _remote(uapi.Kernel.tcp_listen)
    tcp_connect = _remote(uapi.Kernel.tcp_connect)
    accept = _remote(uapi.Kernel.accept)
    open_file = _remote(uapi.Kernel.open_file)
    send = _remote(uapi.Kernel.send)
    fill = _remote(uapi.Kernel.fill)
    recv = _remote(uapi.Kernel.recv)
    shutdown = _remote(uapi.Kernel.shutdown)
    close = _remote(uapi.Kernel.close)
    dup = _remote(uapi.Kernel.dup)
    abort = _remote(uapi.Kernel.abort)
    setrlimit_nofile = _remote(uapi.Kernel.setrlimit_nofile)
    epoll_create = _remote(uapi.Kernel.epoll_create)
    epoll_ctl = _remote(uapi.Kernel.epoll_ctl)
    epoll_wait = _remote(uapi.Kernel.epoll_wait)
    poll = _remote(uapi.Kernel.poll)
    select = _remote(uapi.Kernel.select)
    kqueue = _remote(uapi.Kernel.kqueue)
    kevent = _remote(uapi.Kernel.kevent)
    # io_uring
    io_uring_setup = _remote(uapi.Kernel.io_uring_setup)
    io_uring_submit = _remote(uapi.Kernel.io_uring_submit)
    io_uring_wait = _remote(uapi.Kernel.io_uring_wait)
    # IOCP (Windows, model only): every call answers OSError(ENOSYS)
    CreateIoCompletionPort = _remote(uapi.Kernel.CreateIoCompletionPort)
    WSARecv = _remote(uapi.Kernel.WSARecv)
    WSASend = _remote(uapi.Kernel.WSASend)
    GetQueuedCompletionStatus = _remote(uapi.Kernel.GetQueuedCompletionStatus)
    GetQueuedCompletionStatusEx = _remote(uapi.Kernel.GetQueuedCompletionStatusEx)
    PostQueuedCompletionStatus = _remote(uapi.Kernel.PostQueuedCompletionStatus)

    # --- threads and blocking descriptors (simulator.threads) ----------------------------

    set_blocking = _remote(uapi.Kernel.set_blocking)
    spawn_thread = _remote(uapi.Kernel.spawn_thread)
    thread_state = _remote(uapi.Kernel.thread_state)
    join = _remote(uapi.Kernel.join)

    def start(self, tid: int, call: str, *args: object) -> bool:
        """Thread `tid` (idle) begins `call(*args)`, any protocol call by name; True when the
        call has finished, False when the thread now sleeps in the kernel.

        The child runs the call on a real thread of its own, unbounded (an infinite wait
        there really sleeps); this returns once every thread of the child has finished or
        sleeps in the kernel, as /proc shows it (`_settle_threads`). Bad input is refused
        with the model's exceptions and messages (`simulator.threads.check_start`)."""
        self._call("start", tid, call, *args)
        self._threads = True
        self._settle_threads()
        state = self._call("thread_state", tid)
        return bool(state[0] == "finished")

    def _settle_threads(self) -> None:
        """Return once every thread of the child but its main one has ended or sleeps in a
        blocking syscall, the same for `THREAD_STABLE_SAMPLES` reads of
        ``/proc/<pid>/task/<tid>/{stat,syscall}`` in a row (a thread just woken is runnable,
        or back in user space, or waiting for the GIL: none of those is asleep in one of
        `_BLOCKING_SYSCALLS`). LiveSettleError past `THREAD_SETTLE_BOUND_S`. Free until a
        thread has been started or a ring asked for; one read once every thread has ended,
        or when no thread has been scheduled since the last settle (``schedstat``'s count of
        times it ran is unchanged: it is still in the same sleep) -- most calls wake nobody.

        Once a ring was asked for, io_uring's own threads count too (IU-19): an io-wq worker
        (``iou-wrk-<pid>``) runs requests punted to it after the call that queued them
        returned, so the call is settled only when every worker sleeps -- idle, or in the
        blocking op it runs (any wait: it makes no syscall) -- and the main thread sleeps too
        (it has run the task work a worker may have queued for it, which posts CQEs)."""
        if not (self._threads or self._io_workers) or not self.alive:
            return
        deadline = time.monotonic() + THREAD_SETTLE_BOUND_S
        last: dict[int, tuple[str, int, int]] | None = None
        stable = 0
        while True:
            now = _task_states(self._proc.pid, kernel_side=self._io_workers)
            if not now:
                return  # every thread has ended: nothing can wake any more
            asleep = all(
                state == "S" and (number in _BLOCKING_SYSCALLS or number == _ASLEEP_ANYWHERE)
                for state, number, _ in now.values()
            )
            if asleep and now == self._settled and all(runs >= 0 for *_, runs in now.values()):
                return  # no thread has run since the last settle: the same sleep, one read
            stable = stable + 1 if asleep and now == last else 0
            if stable >= THREAD_STABLE_SAMPLES:
                self._settled = now
                return
            if time.monotonic() >= deadline:
                busy = {tid: state for tid, state in now.items() if state[0] != "S"}
                raise uapi.LiveSettleError(
                    f"a thread of the live kernel neither finished nor slept in the kernel "
                    f"within {THREAD_SETTLE_BOUND_S:g} s (task: (state, syscall) {busy or now})"
                    "; the machine may be overloaded -- the step's real answer is unknown"
                )
            last = now
            time.sleep(THREAD_SAMPLE_S)

    def proc_threads(self) -> observe.ProcThreads | None:
        """The child's threads that `start` made and its memory, as /proc shows them now (the
        threads panel's real side, `simulator.observe.HasProcThreads`): each thread's protocol
        number (from the name the child gives it, `_libc.THREAD_NAME`), kernel tid, ``stat``
        state letter, the syscall it sleeps in and its context switches. Read in this process,
        O(threads); None once the child is gone."""
        with self._lock:
            if not self.alive:
                return None
            pid = self._proc.pid
        found = []
        for os_tid, (letter, number, _runs) in _task_states(pid).items():
            base = f"/proc/{pid}/task/{os_tid}"
            try:
                comm = Path(f"{base}/comm").read_text().strip()
                status = _status_fields(Path(f"{base}/status").read_text())
            except (FileNotFoundError, ProcessLookupError):
                continue  # it ended meanwhile
            tid = comm.removeprefix(_libc.THREAD_NAME)
            if tid == comm or not tid.isdigit():
                continue  # not a thread `start` made
            syscall = _SYSCALL_NAMES.get(number) if letter == "S" else None
            switches = status.get("voluntary_ctxt_switches", 0)
            switches += status.get("nonvoluntary_ctxt_switches", 0)
            found.append(observe.ProcThread(int(tid), os_tid, letter, syscall, switches))
        try:
            process = _status_fields(Path(f"/proc/{pid}/status").read_text())
        except (FileNotFoundError, ProcessLookupError):
            return None
        return observe.ProcThreads(
            tuple(sorted(found, key=lambda t: (t.tid, t.os_tid))),
            process.get("Threads", 0),
            process.get("VmSize", 0),
            process.get("VmRSS", 0),
        )


#: How the parent decides that the child's threads are quiet (`LiveKernel._settle_threads`):
#: reads this far apart, this many alike in a row, within this bound.
THREAD_SAMPLE_S = 0.0005
THREAD_STABLE_SAMPLES = 8
THREAD_SETTLE_BOUND_S = 2.0

#: The syscalls a thread of the child sleeps in (x86_64 and aarch64 numbers): recvfrom,
#: sendto, accept, accept4, recvmsg, sendmsg, epoll_wait, epoll_pwait, epoll_pwait2, poll,
#: ppoll, select, pselect6; and io_uring_enter (426 on both: new syscalls share one number).
#: Where /proc/<pid>/task/<tid>/syscall cannot be read (it needs ptrace access), the number
#: recorded instead: the state letter alone decides.
_UNREADABLE = -2
_BLOCKING_SYSCALLS = frozenset(
    {45, 44, 43, 288, 47, 46, 232, 281, 441, 7, 271, 23, 270, _UNREADABLE}
    if os.uname().machine == "x86_64"
    else {207, 206, 202, 242, 212, 211, 22, 441, 73, 72, _UNREADABLE}
) | {426}  # io_uring_enter (io_cqring_wait)


#: The syscall number `_task_states` records for a thread whose every sleep counts as settled:
#: an io-wq worker (it makes no syscall; idle, or blocked in the op it runs) and the main
#: thread (between calls it sleeps reading the next request).
_ASLEEP_ANYWHERE = -3
#: The name (``comm``) of io_uring's io-wq worker threads, ``iou-wrk-<pid>`` (io_uring/io-wq.c).
_IO_WORKER = "iou-wrk-"


#: The names of `_BLOCKING_SYSCALLS`, for the threads panel (`LiveKernel.proc_threads`).
_SYSCALL_NAMES = (
    {
        45: "recvfrom",
        44: "sendto",
        43: "accept",
        288: "accept4",
        47: "recvmsg",
        46: "sendmsg",
        232: "epoll_wait",
        281: "epoll_pwait",
        441: "epoll_pwait2",
        7: "poll",
        271: "ppoll",
        23: "select",
        270: "pselect6",
        426: "io_uring_enter",
    }
    if os.uname().machine == "x86_64"
    else {
        207: "recvfrom",
        206: "sendto",
        202: "accept",
        242: "accept4",
        212: "recvmsg",
        211: "sendmsg",
        22: "epoll_pwait",
        441: "epoll_pwait2",
        73: "ppoll",
        72: "pselect6",
        426: "io_uring_enter",
    }
)


def _status_fields(text: str) -> dict[str, int]:
    """The numeric fields of a ``/proc/.../status`` file (``VmRSS:  1708 kB`` -> 1708)."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        first = value.split(maxsplit=1)[0] if value.strip() else ""
        if first.isdigit():
            fields[key] = int(first)
    return fields


def _task_states(pid: int, *, kernel_side: bool = False) -> dict[int, tuple[str, int, int]]:
    """``{tid: (state letter, syscall number or -1, times it ran or -1)}`` of every thread of
    process `pid` but its main thread, from /proc (a thread gone meanwhile is left out: it has
    ended). The count is ``schedstat``'s third field (``sched_info.pcount``).

    With `kernel_side`, also the main thread, and io_uring's io-wq workers as asleep anywhere
    (`_ASLEEP_ANYWHERE`, their syscall file unread); the main thread's count is left at 0, as
    it runs every call. Without it, io-wq workers are left out."""
    states: dict[int, tuple[str, int, int]] = {}
    try:
        tids = [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return states
    for tid in tids:
        if tid == pid and not kernel_side:
            continue
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/stat") as stat:
                name, _, rest = stat.read().rpartition(")")
                letter = rest.split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if tid == pid:
            states[tid] = (letter, _ASLEEP_ANYWHERE, 0)
            continue
        if name.partition("(")[2].startswith(_IO_WORKER):
            if kernel_side:
                states[tid] = (letter, _ASLEEP_ANYWHERE, _runs(base))
            continue
        try:
            with open(f"{base}/syscall") as syscall:
                first = syscall.read().split(" ", 1)[0].strip()
            number = int(first) if first.lstrip("-").isdigit() else -1
        except PermissionError:
            number = _UNREADABLE  # no ptrace access: decide by the state letter alone
        except (FileNotFoundError, ProcessLookupError):
            continue
        states[tid] = (letter, number, _runs(base))
    return states


def _runs(base: str) -> int:
    """How many times the thread at /proc path `base` has run (``schedstat``), -1 unknown."""
    try:
        with open(f"{base}/schedstat") as schedstat:
            return int(schedstat.read().split()[2])
    except (OSError, IndexError, ValueError):
        return -1  # unknown: the stability window decides


def _read_exactly(fd: int, size: int, stall_s: float, *, begun: bool) -> bytes:
    """`size` bytes from the reply pipe; EOFError if the child closed it. When nothing arrives
    for `stall_s`: ProtocolError (a truncated message) if the message has `begun` or some of
    it came, else ChildProcessError (no reply)."""
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while size:
        deadline = time.monotonic() + stall_s
        while not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            if time.monotonic() < deadline:
                continue  # a signal cut the poll short
            if begun or chunks:
                raise _wire.ProtocolError(f"a truncated reply: {size} bytes still missing")
            raise ChildProcessError(
                f"the live kernel's child process sent no reply within {REPLY_TIMEOUT_S} s"
            )
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
