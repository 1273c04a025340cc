"""The call table: one declaration per call of the `simulator.uapi.Kernel` protocol.

Each `Syscall` says what a call takes (its arguments and their kinds), what it returns, which
mechanism's panels it belongs to, whether it can wait, and whether it changes the fd table.
Everything else is derived from it: the scenario vocabulary and its JSON Schema
(`simulator.scenario.format`), the names a step binds and uses (`simulator.scenario.loader`,
`simulator.scenario.calls`), the runner's bookkeeping, the TUI's choice of panels and of
questions, `simulator.live.LiveKernel`'s proxy methods and its child's dispatch. A test
(``tests/test_call_table.py``) checks that the protocol, this table, `ModelKernel`,
`LiveKernel` and the child agree on every name, parameter and default.

Adding a call is one entry in `CALLS`, its method in the `Kernel` protocol, and its two
implementations (``ModelKernel`` and the live child's ``_Engine``); see docs/architecture.md.

This module sits at the bottom beside `simulator.uapi`: importing it loads neither the model
nor the live engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, get_args

from simulator.uapi import ThreadStateError, WaitForeverError


class ArgKind(enum.Enum):
    """What an argument is, which decides how it is written, resolved, converted and checked."""

    FD = "fd"  #: a descriptor, converted like ``os.close``/``select.epoll`` do (a C int)
    SOCKET = "socket"  #: a descriptor given to ``socket.socket(fileno=...)`` (a C long, cut)
    FD_LIST = "fd_list"  #: a list of descriptors (select's sets)
    POLL_LIST = "poll_list"  #: ``[(fd, events), ...]``
    KEVENT_CHANGES = "kevent_changes"  #: a kevent changelist (``KEvent``s)
    FLAGS = "flags"  #: a number written by name, from the table of `Arg.family`
    BYTES = "bytes"  #: a byte count
    BACKLOG = "backlog"  #: listen(2)'s backlog
    NOFILE = "nofile"  #: a descriptor limit
    MAX_EVENTS = "max_events"  #: how many events a wait may return
    TIMEOUT = "timeout"  #: how long a wait may block, by the rule of `Arg.timeout`
    # io_uring
    SQE_LIST = "sqe_list"  #: submission queue entries (``Sqe``s)
    ENTRIES = "entries"  #: io_uring_setup's SQ size
    COMPLETIONS = "completions"  #: how many completions a wait waits for
    # threads and blocking descriptors
    BOOL = "bool"  #: a truth value (O_NONBLOCK cleared or set)
    THREAD = "thread"  #: a thread id from ``spawn_thread`` (`simulator.threads`)
    CALL = "call"  #: the name of a protocol call a thread makes
    CALL_ARGS = "call_args"  #: that call's positional arguments (a ``*args`` parameter)
    # IOCP (model only)
    HANDLE = "handle"  #: a descriptor, or -1 (INVALID_HANDLE_VALUE / NULL: none)
    KEY = "key"  #: a completion key or an OVERLAPPED's tag: a number the program chooses

    @property
    def names_fds(self) -> bool:
        """Whether the argument holds descriptors (which scenarios write by name)."""
        return self in _FD_KINDS


_FD_KINDS = frozenset(
    {
        ArgKind.FD,
        ArgKind.SOCKET,
        ArgKind.FD_LIST,
        ArgKind.POLL_LIST,
        ArgKind.KEVENT_CHANGES,
        ArgKind.SQE_LIST,
        ArgKind.HANDLE,
    }
)


class Family(enum.Enum):
    """The name table a `ArgKind.FLAGS` argument is written with."""

    EPOLL_EVENTS = "epoll events"  #: ``["IN", "ET"]`` (`uapi.EPOLL_EVENT_NAMES`)
    EPOLL_OP = "epoll_ctl op"  #: ``"ADD"``, ``"DEL"``, ``"MOD"``
    SHUTDOWN_HOW = "shutdown mode"  #: ``"SHUT_RD"``, ``"SHUT_WR"``, ``"SHUT_RDWR"``


class Timeout(enum.Enum):
    """Which of CPython's timeout rules a wait's timeout follows (`simulator.conversions`)."""

    EPOLL_MS = "epoll_ms"  #: ``select.epoll.poll``: ms, floats rounded up, negative/None = forever
    POLL_MS = "poll_ms"  #: ``select.poll.poll``: ms rounded away from 0, negative/None = forever
    SELECT_S = "select_s"  #: ``select.select``: seconds, None = forever, negative = ValueError
    KEVENT_S = "kevent_s"  #: ``kqueue.control``: seconds, None = forever
    URING_MS = "uring_ms"  #: io_uring_wait: whole ms, negative = forever (`conversions`)
    WIN_MS = "win_ms"  #: GetQueuedCompletionStatus: whole ms, negative = INFINITE (model only)

    @property
    def in_seconds(self) -> bool:
        return self in (Timeout.SELECT_S, Timeout.KEVENT_S)


class ResultKind(enum.Enum):
    """What a call returns, which decides how results and ``expect`` are written."""

    NONE = "none"  #: nothing: written "ok"
    COUNT = "count"  #: a byte count
    FD = "fd"  #: a new descriptor, bound by ``as = "name"``
    PAIR = "pair"  #: two descriptors, bound by ``as = ["a", "b"]``
    EVENTS = "events"  #: ``[[fd, [names]], ...]`` (epoll_wait, poll)
    SELECT = "select"  #: ``[[readable], [writable], [exceptional]]``
    KEVENTS = "kevents"  #: ``[{ ident, filter, flags, fflags, data, udata }, ...]``
    CQES = "cqes"  #: ``[{ user_data, res, flags }, ...]`` (io_uring_wait)
    # threads
    TID = "tid"  #: a new thread's id
    DONE = "done"  #: True when the started call finished, False when the thread sleeps
    THREAD_STATE = "thread_state"  #: ``(state, call)``
    ANY = "any"  #: the joined call's own result (its `ResultKind`)
    PACKETS = "packets"  #: ``[{ bytes, key, overlapped, status }, ...]`` (IOCP, model only)


class _Required:
    """The default of an argument that has none."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
#: The values an argument may default to (in the protocol or in scenario files).
Default = int | float | tuple[()] | None | _Required


@dataclass(frozen=True)
class Arg:
    """One argument: its name (the protocol's parameter name), kind and defaults.

    `default` is the protocol's (`REQUIRED`: none); `scenario_default` what a scenario step
    gets when it leaves the argument out (lessons mostly poll without waiting), by default the
    protocol's.
    """

    name: str
    kind: ArgKind
    default: Default = REQUIRED
    scenario_default: Default = REQUIRED
    family: Family | None = None  #: for `ArgKind.FLAGS`
    timeout: Timeout | None = None  #: for `ArgKind.TIMEOUT`
    variadic: bool = False  #: a ``*args`` parameter (it has no default and takes the rest)

    @property
    def step_default(self) -> Default:
        """The default in scenario files."""
        return self.default if self.scenario_default is REQUIRED else self.scenario_default


@dataclass(frozen=True)
class Syscall:
    """One call of the protocol, as every layer sees it."""

    name: str
    args: tuple[Arg, ...]
    result: ResultKind
    summary: str
    mechanism: Mechanism | None = None  #: whose panels it uses
    can_wait: bool = False  #: whether it can block (a timeout): predict mode asks about it
    allocates_fds: bool = False  #: it installs new descriptors
    releases_fds: bool = False  #: it frees a descriptor number
    #: Whether a scenario step may ``do`` it. The thread calls are not steps: a step names the
    #: thread that makes it instead (docs/scenario-format.md).
    scenario: bool = True

    @property
    def binds(self) -> bool:
        """Whether ``as`` can name what it returns."""
        return self.result in (ResultKind.FD, ResultKind.PAIR)

    @property
    def changes_fd_table(self) -> bool:
        """Whether it moves the fd table (after which two kernels' numbers may differ)."""
        return self.allocates_fds or self.releases_fds

    @property
    def stdio_checked(self) -> tuple[Arg, ...]:
        """The arguments that name descriptors (0, 1 and 2 are refused in them)."""
        return tuple(a for a in self.args if a.kind.names_fds)


#: A multiplexer (what a scenario's ``mechanism`` names).
Mechanism = Literal["epoll", "poll", "select", "kqueue", "io_uring", "iocp"]
#: The multiplexers, in the order menus and panels list them.
MECHANISMS: tuple[Mechanism, ...] = get_args(Mechanism)

#: Exceptions a kernel raises *as its answer* (what CPython raises on the real kernel): an
#: ``OSError`` (with an errno, or CPython's errno-less "invalid flags"), CPython's own argument
#: checks (ValueError, TypeError, OverflowError, KeyError), MemoryError (a buffer CPython cannot
#: allocate), and the protocol's `WaitForeverError` and `ThreadStateError`. Scenarios name them
#: by class.
ANSWER_EXCEPTIONS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    OverflowError,
    OSError,
    WaitForeverError,
    MemoryError,
    ThreadStateError,
)

_K = ArgKind
_R = ResultKind
_FD = Arg("fd", _K.FD)
_SOCK = Arg("fd", _K.SOCKET)
_LISTEN = Arg("listen_fd", _K.SOCKET)
_NBYTES = Arg("nbytes", _K.BYTES)
_TID = Arg("tid", _K.THREAD)

#: Every call, by name, in the protocol's order.
CALLS: dict[str, Syscall] = {
    call.name: call
    for call in (
        # descriptors and sockets
        Syscall("socketpair", (), _R.PAIR, "an AF_UNIX stream pair", allocates_fds=True),
        Syscall(
            "tcp_listen",
            (Arg("backlog", _K.BACKLOG, 128),),
            _R.FD,
            "a TCP listener on 127.0.0.1",
            allocates_fds=True,
        ),
        Syscall(
            "tcp_connect",
            (_LISTEN,),
            _R.FD,
            "a TCP client connected to a listener",
            allocates_fds=True,
        ),
        Syscall("accept", (_LISTEN,), _R.FD, "accept a pending connection", allocates_fds=True),
        Syscall("open_file", (), _R.FD, "a regular file", allocates_fds=True),
        Syscall("send", (_SOCK, _NBYTES), _R.COUNT, "send nbytes; returns bytes accepted"),
        Syscall("fill", (_SOCK,), _R.COUNT, "send until the send buffer is full"),
        Syscall("recv", (_SOCK, _NBYTES), _R.COUNT, "read up to nbytes; 0 at end of stream"),
        Syscall(
            "shutdown",
            (_SOCK, Arg("how", _K.FLAGS, family=Family.SHUTDOWN_HOW)),
            _R.NONE,
            "shut down one or both directions",
        ),
        Syscall("close", (_FD,), _R.NONE, "close a descriptor", releases_fds=True),
        Syscall("dup", (_FD,), _R.FD, "duplicate a descriptor", allocates_fds=True),
        Syscall(
            "abort", (_SOCK,), _R.NONE, "close with SO_LINGER 0 (TCP reset)", releases_fds=True
        ),
        Syscall(
            "setrlimit_nofile",
            (Arg("soft", _K.NOFILE),),
            _R.NONE,
            "set the soft RLIMIT_NOFILE",
        ),
        # multiplexers
        Syscall(
            "epoll_create",
            (),
            _R.FD,
            "a new epoll instance",
            mechanism="epoll",
            allocates_fds=True,
        ),
        Syscall(
            "epoll_ctl",
            (
                Arg("epfd", _K.FD),
                Arg("op", _K.FLAGS, family=Family.EPOLL_OP),
                _FD,
                Arg("events", _K.FLAGS, 0, family=Family.EPOLL_EVENTS),
            ),
            _R.NONE,
            "add, modify or delete an interest",
            mechanism="epoll",
        ),
        Syscall(
            "epoll_wait",
            (
                Arg("epfd", _K.FD),
                Arg("maxevents", _K.MAX_EVENTS, scenario_default=64),
                Arg("timeout_ms", _K.TIMEOUT, scenario_default=0, timeout=Timeout.EPOLL_MS),
            ),
            _R.EVENTS,
            "collect ready events",
            mechanism="epoll",
            can_wait=True,
        ),
        Syscall(
            "poll",
            (
                Arg("fds", _K.POLL_LIST),
                Arg("timeout_ms", _K.TIMEOUT, scenario_default=0, timeout=Timeout.POLL_MS),
            ),
            _R.EVENTS,
            "poll a list of descriptors",
            mechanism="poll",
            can_wait=True,
        ),
        Syscall(
            "select",
            (
                Arg("rlist", _K.FD_LIST, scenario_default=()),
                Arg("wlist", _K.FD_LIST, scenario_default=()),
                Arg("xlist", _K.FD_LIST, scenario_default=()),
                Arg("timeout_s", _K.TIMEOUT, scenario_default=0.0, timeout=Timeout.SELECT_S),
            ),
            _R.SELECT,
            "select on three fd sets",
            mechanism="select",
            can_wait=True,
        ),
        Syscall("kqueue", (), _R.FD, "a new kqueue", mechanism="kqueue", allocates_fds=True),
        Syscall(
            "kevent",
            (
                Arg("kq", _K.FD),
                Arg("changes", _K.KEVENT_CHANGES, scenario_default=()),
                Arg("max_events", _K.MAX_EVENTS, scenario_default=64),
                Arg("timeout_s", _K.TIMEOUT, scenario_default=0.0, timeout=Timeout.KEVENT_S),
            ),
            _R.KEVENTS,
            "apply changes, then collect events",
            mechanism="kqueue",
            can_wait=True,
        ),
        # completion I/O (the proactor): io_uring
        Syscall(
            "io_uring_setup",
            (Arg("entries", _K.ENTRIES),),
            _R.FD,
            "a new io_uring (SQ and CQ rings)",
            mechanism="io_uring",
            allocates_fds=True,
        ),
        Syscall(
            "io_uring_submit",
            (Arg("ring", _K.FD), Arg("sqes", _K.SQE_LIST)),
            _R.COUNT,
            "queue SQEs and enter: the number submitted",
            mechanism="io_uring",
            # an ACCEPT installs a descriptor, a CLOSE releases one
            allocates_fds=True,
            releases_fds=True,
        ),
        Syscall(
            "io_uring_wait",
            (
                Arg("ring", _K.FD),
                Arg("min_complete", _K.COMPLETIONS, scenario_default=0),
                Arg("timeout_ms", _K.TIMEOUT, scenario_default=0, timeout=Timeout.URING_MS),
            ),
            _R.CQES,
            "wait for completions, then reap every ready one",
            mechanism="io_uring",
            can_wait=True,
        ),
        # threads and blocking descriptors (simulator.threads)
        Syscall(
            "set_blocking",
            (_FD, Arg("blocking", _K.BOOL)),
            _R.NONE,
            "clear or set O_NONBLOCK on the open file description",
        ),
        Syscall("spawn_thread", (), _R.TID, "a new idle thread", scenario=False),
        Syscall(
            "start",
            (
                Arg("tid", _K.THREAD),
                Arg("call", _K.CALL),
                Arg("args", _K.CALL_ARGS, variadic=True),
            ),
            _R.DONE,
            "a thread begins a call; False when it now sleeps",
            scenario=False,
        ),
        Syscall(
            "thread_state",
            (_TID,),
            _R.THREAD_STATE,
            "what a thread is doing",
            scenario=False,
        ),
        Syscall("join", (_TID,), _R.ANY, "a finished thread's result", scenario=False),
        # completion I/O, Windows' proactor: IOCP -- MODEL ONLY (the live kernel: ENOSYS)
        Syscall(
            "CreateIoCompletionPort",
            (
                Arg("file", _K.HANDLE, -1),
                Arg("port", _K.HANDLE, -1),
                Arg("key", _K.KEY, 0),
            ),
            _R.FD,
            "a new completion port, or associate a socket with one (model only: Windows)",
            mechanism="iocp",
            allocates_fds=True,
        ),
        Syscall(
            "WSARecv",
            (_SOCK, _NBYTES, Arg("overlapped", _K.KEY)),
            _R.COUNT,
            "overlapped receive: bytes now, or ERROR_IO_PENDING (model only: Windows)",
            mechanism="iocp",
        ),
        Syscall(
            "WSASend",
            (_SOCK, _NBYTES, Arg("overlapped", _K.KEY)),
            _R.COUNT,
            "overlapped send: bytes now, or ERROR_IO_PENDING (model only: Windows)",
            mechanism="iocp",
        ),
        Syscall(
            "GetQueuedCompletionStatus",
            (
                Arg("port", _K.FD),
                Arg("timeout_ms", _K.TIMEOUT, scenario_default=0, timeout=Timeout.WIN_MS),
            ),
            _R.PACKETS,
            "dequeue one completion packet, or WAIT_TIMEOUT (model only: Windows)",
            mechanism="iocp",
            can_wait=True,
        ),
        Syscall(
            "GetQueuedCompletionStatusEx",
            (
                Arg("port", _K.FD),
                Arg("max_entries", _K.MAX_EVENTS, scenario_default=64),
                Arg("timeout_ms", _K.TIMEOUT, scenario_default=0, timeout=Timeout.WIN_MS),
            ),
            _R.PACKETS,
            "dequeue up to max_entries packets, or WAIT_TIMEOUT (model only: Windows)",
            mechanism="iocp",
            can_wait=True,
        ),
        Syscall(
            "PostQueuedCompletionStatus",
            (
                Arg("port", _K.FD),
                Arg("nbytes", _K.BYTES, 0),
                Arg("key", _K.KEY, 0),
                Arg("overlapped", _K.KEY, 0),
            ),
            _R.NONE,
            "queue a packet of the program's own (model only: Windows)",
            mechanism="iocp",
        ),
    )
}

#: Calls that can wait: predict mode asks about them even without an ``ask``.
WAITING_CALLS = frozenset(name for name, call in CALLS.items() if call.can_wait)


def mechanism_of_call(name: str) -> Mechanism | None:
    """The mechanism whose panels call `name` uses, or None (sockets, descriptors)."""
    call = CALLS.get(name)
    return None if call is None else call.mechanism


__all__ = [
    "ANSWER_EXCEPTIONS",
    "CALLS",
    "MECHANISMS",
    "REQUIRED",
    "WAITING_CALLS",
    "Arg",
    "ArgKind",
    "Family",
    "Mechanism",
    "ResultKind",
    "Syscall",
    "Timeout",
    "mechanism_of_call",
]
