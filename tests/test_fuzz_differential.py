"""Differential fuzzer: random call sequences on the model and the real kernel at once.

A hypothesis `RuleBasedStateMachine` drives `ModelKernel` and `LiveKernel` through `Twin`, so
every result and every exception (type, errno, message) of every call must be identical on
both. Each example gets a fresh pair of kernels (a LiveKernel costs one process spawn, ~50 ms).

What it draws (descriptors come from Bundles, plus raw numbers so that closed, never-opened
and out-of-range descriptors are exercised too, and now and then numbers CPython's converters
refuse or truncate; 0-2 are left alone: in the live child they are the control channel):

* a start: two socketpairs, a TCP connection and an epoll watching them with random masks;
* sockets: socketpair, tcp_listen (random backlog), tcp_connect (to listeners whose accept
  queue is below the backlog, to other sockets -- refused, or the listener behind an accepted
  socket's address -- and to non-sockets), accept, send and recv (small and large sizes),
  fill, drain (recv until EOF/error), shutdown (every `how`, and invalid ones), close,
  abort, dup, open_file;
* epoll: epoll_create, epoll_ctl (ADD/MOD/DEL and invalid ops, random flags including
  ET/ONESHOT/EXCLUSIVE/RDHUP/WAKEUP and unknown bits, bad descriptors), epoll_wait
  (timeout 0, maxevents including 0 and -1);
* poll (timeout 0, random masks, unopened and negative descriptors; also a poll of every
  descriptor, and in half the runs after every step) and select (timeout 0, descriptors
  beyond the fd-table capacity, >= FD_SETSIZE, negative);
* io_uring: io_uring_setup, io_uring_submit (batches of every op but TIMEOUT, with links, on
  sockets and any other descriptor) and io_uring_wait (timeout 0);
* setrlimit_nofile (never below `NOFILE_FLOOR`, sometimes exactly at the lowest free
  descriptor so that EMFILE comes next, sometimes a value it refuses);
* threads (up to `MAX_FUZZ_THREADS`): spawn, start a call that sleeps -- epoll_wait(-1) on an
  epoll instance, poll(-1) or select(None) on sockets and listeners -- and join; after every
  step each thread's state must agree. Only calls whose outcome Linux defines whatever order
  the woken threads run in: none of them consumes what another sleeper waits for (no recv or
  accept sleepers, no epoll_wait on an instance that is nested or that a poll sleeper watches).

Never a blocking timeout. Where the model is documented as not byte-exact -- TCP buffer sizes,
which depend on autotuning (`ModelKernel` docstring; docs/kernel-spec.md SK-4, DIFF-6) -- the
strategy stays inside the exact regime (see `TCP_EXACT_BYTES`, `fill` and `drain`), and it leaves
out the few states where the *real* kernel is driven by timers, so that the answer depends on how
long the run took (a connect beyond the backlog, sends from a filled TCP socket, draining a
filled receiver that is shut for reading; evidence in `fill` and `drain`), and the io_uring
batches whose CQEs an io-wq worker and the submitting task would race to post
(`_io_wq_races`, docs/kernel-spec.md IU-19). Comparisons are never loosened beyond that.

The default suite runs a small budget, the hypothesis profile's (tests/conftest.py: "dev", or
"ci" under CI); the large one is `-m slow`:

    .venv/bin/python -m pytest tests/test_fuzz_differential.py -m slow -q
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from simulator.kernel import ModelKernel
from simulator.kernel.eventpoll import EpItem, EventPoll
from simulator.kernel.io_uring import IoKiocb, IoRing
from simulator.kernel.kqueue import Knote
from simulator.kernel.selectpoll import PollWqueues
from simulator.kernel.sockets import RCV_SHUTDOWN, TCP_LISTEN, Socket, TcpSocket
from simulator.kernel.vfs import File
from simulator.live import LiveKernel
from simulator.uapi import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLMSG,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWAKEUP,
    EPOLLWRBAND,
    EPOLLWRNORM,
    FD_SETSIZE,
    IOSQE_IO_HARDLINK,
    IOSQE_IO_LINK,
    Sqe,
)
from tests.conftest import model_like
from tests.twin import Divergence, Outcome, Twin

#: Bytes one direction of a TCP connection may hold (unread at the receiver plus unsent at the
#: sender) while the model is byte-exact: below the initial receive window of a loopback
#: connection every byte is delivered at once on both kernels. Beyond it, how much the real
#: receiver queues depends on receive-buffer autotuning, which the model does not reproduce
#: byte for byte (`ModelKernel`: "the real split between the two queues depends on
#: autotuning"). `fill` is the deliberate exception (see `DifferentialMachine.fill`).
TCP_EXACT_BYTES = 32 * 1024
#: setrlimit_nofile never goes below this, so that a run can always continue after closes.
NOFILE_FLOOR = 6


EPOLL_BITS = [
    EPOLLIN,
    EPOLLPRI,
    EPOLLOUT,
    EPOLLERR,
    EPOLLHUP,
    EPOLLRDNORM,
    EPOLLRDBAND,
    EPOLLWRNORM,
    EPOLLWRBAND,
    EPOLLMSG,
    EPOLLRDHUP,
    EPOLLEXCLUSIVE,
    EPOLLWAKEUP,
    EPOLLONESHOT,
    EPOLLET,
    1 << 20,  # unknown bits are stored verbatim (EP-19)
    1 << 27,  # EPOLL_URING_WAKE, internal
]
POLL_BITS = EPOLL_BITS[:11]


def _mask(bits: list[int]) -> st.SearchStrategy[int]:
    return st.lists(st.sampled_from(bits), max_size=5).map(
        lambda chosen: functools.reduce(operator.or_, chosen, 0)
    )


@st.composite
def _weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[Any]]) -> Any:
    """Draw from one of the strategies with the given relative weights.

    (``st.one_of`` de-duplicates equal branches, so repeating one does not weight it, and in
    a state machine it does not keep to the weights of distinct branches either.)
    """
    machine = draw(st.runner())  # leave out Bundles that are still empty
    branches = [
        strategy
        for weight, strategy in choices
        if not (isinstance(strategy, Bundle) and not machine.bundle(strategy.name))
        for _ in range(weight)
    ]
    return draw(branches[draw(st.sampled_from(range(len(branches))))])


def _mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 8) -> Any:
    """`usual`, and `rare` about once in `one_in` draws (argument errors end a call early)."""
    return _weighted((one_in - 1, usual), (1, rare))


#: Raw descriptor numbers: closed, never opened, (64+) beyond the fd table's initial capacity,
#: where select(2) stops looking (docs/kernel-spec.md PS-4), and sometimes numbers CPython's
#: converters answer before the kernel: negative, beyond a C int, and 2**32 + n, which
#: ``socket(fileno=...)`` truncates to n (see test_diff_regressions). 0-2 are the live child's
#: control channel and stderr, never touched.
RAW_FD = _mostly(
    st.integers(3, 70),
    st.one_of(
        st.sampled_from([-1, 2**31, -(2**31) - 1, 2**63]),
        st.integers(3, 40).map(lambda n: n + 2**32),
    ),
    16,
)

EPOLL_EVENTS = _weighted(
    # what programs register: readiness bits with ET/ONESHOT
    (
        5,
        _mask([EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EPOLLET, EPOLLONESHOT, EPOLLRDNORM]),
    ),
    # EXCLUSIVE with bits it allows, sometimes one it does not (EP-16)
    (
        1,
        _mask([EPOLLIN, EPOLLOUT, EPOLLET, EPOLLERR, EPOLLHUP, EPOLLWAKEUP, EPOLLRDHUP]).map(
            lambda m: m | EPOLLEXCLUSIVE
        ),
    ),
    (2, _mask(EPOLL_BITS)),  # anything, unknown bits included (EP-19)
    (1, st.integers(0, 2**32 - 1)),
)
EPOLL_OPS = _weighted(
    (3, st.just(EPOLL_CTL_ADD)),
    (2, st.just(EPOLL_CTL_MOD)),
    (1, st.just(EPOLL_CTL_DEL)),
    (1, st.sampled_from([0, 4, -1])),
)
MAXEVENTS = _mostly(st.integers(1, 4), st.sampled_from([0, -1, -2, 1023, 1024]), one_in=3)
POLL_MASK = _mostly(
    st.one_of(_mask(POLL_BITS), st.integers(0, 0xFFFF)), st.sampled_from([-1, 0x10000]), 12
)
SEND_SIZES = st.one_of(
    st.integers(0, 100),
    st.integers(1000, 5000),
    st.sampled_from([65536, 100_000, 212_992, 1 << 20]),
)
RECV_SIZES = _mostly(
    st.one_of(st.integers(0, 100), st.integers(1000, 5000), st.sampled_from([65536, 1 << 20])),
    st.just(-1),
    12,
)
SHUT_HOWS = _mostly(st.sampled_from([0, 1, 2]), st.sampled_from([3, -1]))


def _wait_queues(file: File) -> list[Any]:
    """Every wait queue of `file` (an epoll has two: ``wq`` and ``poll_wait``)."""
    return [q for q in (file.wq, getattr(file, "poll_wait", None)) if q is not None]


def check_model(model: ModelKernel) -> None:
    """Every invariant of the model between two calls; AssertionError says which one broke.

    Each epoll instance checks itself (`EventPoll._check`: its tree, ready list, ovflist and
    wait entries); across instances: every epitem a file lists in ``f_ep`` is in its epoll's
    tree, every wait entry on a file belongs to a live epitem (or a knote) -- poll and select
    unhook theirs before they return -- and the per-user watch count is the number of epitems
    of every live epoll: those in the fd table, and those a thread asleep in epoll_wait still
    holds after their descriptor was closed (found through the epitems of watched files).
    """
    files = {id(f): f for f in model.fds().values()}.values()
    epolls = {id(f): f for f in files if isinstance(f, EventPoll)}
    for file in files:
        for epi in file.f_ep:
            epolls.setdefault(id(epi.ep), epi.ep)
            node = epi.ep.rbr.find(epi.tree_key)
            if node is None or node.value is not epi:
                raise AssertionError(f"{file.label}: f_ep holds {epi!r}, in no epoll's tree")
        for queue in _wait_queues(file):
            for entry in queue.entries:
                owner = entry.owner
                if isinstance(owner, Knote) or (
                    isinstance(owner, EpItem) and owner.file is file and owner in file.f_ep
                ):
                    continue
                if isinstance(owner, IoKiocb) and owner.file is file and owner in owner.ring.parked:
                    continue  # an io_uring request parked on its internal poll
                if model.sched.sleeping() and (
                    isinstance(owner, PollWqueues) or entry.label.startswith("thread ")
                ):
                    continue  # a thread asleep in poll, select or epoll_wait
                raise AssertionError(f"{queue.name}: {entry.label} outlived its call or epitem")
        if isinstance(file, IoRing):
            file._check()
    watches = 0
    for ep in epolls.values():
        ep._check()
        watches += len(ep.rbr)
    if model.user_watches != watches:
        raise AssertionError(f"user_watches {model.user_watches}, but {watches} epitems exist")


class DifferentialMachine(RuleBasedStateMachine):
    """Random protocol calls on both kernels; `Twin` fails the step on any disagreement."""

    fds = Bundle("fds")  # every descriptor handed out (open or since closed)
    sockets = Bundle("sockets")  # connected stream sockets
    listeners = Bundle("listeners")
    epolls = Bundle("epolls")
    rings = Bundle("rings")
    #: Mostly descriptors of the right kind, sometimes any other, sometimes a raw number.
    any_fd = _weighted((4, fds), (1, RAW_FD))
    sock_fd = _weighted((6, sockets), (1, fds), (1, RAW_FD))
    ep_fd = _weighted((6, epolls), (1, fds), (1, RAW_FD))
    watched_fd = _mostly(
        _weighted((5, sockets), (1, listeners), (1, epolls), (1, fds), (1, RAW_FD)),
        st.sampled_from([-1, 5000]),
    )
    polled_fd = _mostly(
        _weighted((4, sockets), (1, listeners), (1, epolls), (1, fds), (1, RAW_FD)),
        st.sampled_from([1000, 5000, -1]),
        12,
    )
    selected_fd = _mostly(
        _weighted((4, sockets), (1, listeners), (1, epolls), (1, fds), (1, RAW_FD)),
        st.sampled_from([63, 64, 100, 127, 128, 1023, FD_SETSIZE, -1]),
        8,
    )

    def __init__(self) -> None:
        super().__init__()
        self.live = LiveKernel()
        self.model = model_like(self.live)
        self.twin = Twin(self.model, self.live)
        #: file_id of model TCP sockets whose *receive* queue a `fill` of the peer stuffed:
        #: how many bytes the real one holds depends on autotuning, so no recv there.
        self.inexact_rx: set[int] = set()
        #: file_id of model TCP sockets that were filled: from then on what a send accepts
        #: depends on *time* on the real side (see `fill`), so no more sends from them.
        self.filled_tx: set[int] = set()
        self.watch = False
        #: Spawned threads, and the descriptors those asleep wait on (poll/select sleepers
        #: per thread, epoll_wait sleepers' instances), to keep out races Linux leaves open.
        self.tids: list[int] = []
        self.polled: dict[int, set[int]] = {}
        self.waited: dict[int, int] = {}

    def teardown(self) -> None:
        self.live.close_all()
        self.model.close_all()

    # -- plumbing ------------------------------------------------------------------------------
    def call(self, name: str, *args: Any) -> Any:
        """One call through the twin: the common result, or None if both raised the same."""
        try:
            return getattr(self.twin, name)(*args)
        except Divergence:
            raise
        except Exception:
            return None

    def _tcp(self, fd: int) -> TcpSocket | None:
        """The model's TCP socket a socket call on `fd` reaches (numbers are truncated to a C
        int the way ``socket(fileno=...)`` does), or None."""
        if not -(2**63) <= fd < 2**63:
            return None
        file = self.model.file((fd + 2**31) % 2**32 - 2**31)
        return file if isinstance(file, TcpSocket) else None

    def _connectable(self) -> list[int]:
        """Sockets tcp_connect may target: any whose address is not a listener with a full
        accept queue (the SYN would be dropped and retried on a timer, 1 s later). Those
        whose address nobody listens on are refused; AF_UNIX ones are EAFNOSUPPORT."""
        out = []
        for fd, f in self.model.fds().items():
            if not isinstance(f, Socket):
                continue
            bound = f.bound_listener() if isinstance(f, TcpSocket) else None
            if bound is None or len(bound.accept_queue) < bound.backlog:
                out.append(fd)
        return out

    def _lowest_free(self) -> int:
        fd = 0
        while fd in self.model.fdt.slots:
            fd += 1
        return fd

    @staticmethod
    def _fds(result: Any) -> MultipleResults[int]:
        if result is None:
            return multiple()
        return multiple(*result) if isinstance(result, tuple) else multiple(result)

    # -- a starting point: one of each, so that most rules have something to work on ---------
    @initialize(targets=(fds, sockets))
    def start_with_a_socketpair(self) -> MultipleResults[int]:
        return self._fds(self.call("socketpair"))

    @initialize(targets=(fds, sockets))
    def start_with_a_tcp_connection(self) -> MultipleResults[int]:
        return self.tcp_connection(128)

    @initialize(targets=(fds, sockets))
    def start_with_another_socketpair(self) -> MultipleResults[int]:
        return self._fds(self.call("socketpair"))

    @initialize(targets=(fds, epolls), events=st.lists(EPOLL_EVENTS, min_size=6, max_size=6))
    def start_with_an_epoll(self, events: list[int]) -> MultipleResults[int]:
        """An epoll watching the sockets made so far (initializers run in random order)."""
        epfd = self.call("epoll_create")
        if epfd is not None:
            socks = [fd for fd, f in self.model.fds().items() if isinstance(f, Socket)]
            for fd, mask in zip(socks, events, strict=False):
                self.call("epoll_ctl", epfd, EPOLL_CTL_ADD, fd, mask)
        return self._fds(epfd)

    @initialize(watch=st.booleans())
    def decide_whether_to_poll_everything_after_each_step(self, watch: bool) -> None:
        self.watch = watch

    @invariant()
    def readiness_agrees(self) -> None:
        """In half of the runs, poll(2) every descriptor after every step (see
        `readiness_snapshot`): a divergence in readiness shows up where it is caused. The other
        half never polls unasked, since a poll can change state too (TCP arms its write-space
        wake-up, an epoll drops items that are no longer ready)."""
        if self.watch:
            self.readiness_snapshot(0xFFFF)

    @invariant()
    def model_invariants_hold(self) -> None:
        """After every rule: every tree, list and epoll instance of the model is sound."""
        check_model(self.model)

    @invariant()
    def interest_lists_agree_with_proc(self) -> None:
        """After every rule: each epoll's interest list is the real one, as
        ``/proc/<pid>/fdinfo/<epfd>`` shows it (fd, stored mask, data; the real order is by
        file address, so the lists are compared as multisets)."""
        for epfd, file in self.model.fds().items():
            if not isinstance(file, EventPoll):
                continue
            model = sorted((epi.fd, epi.events, epi.data) for epi in file.items())
            real = sorted((e["tfd"], e["events"], e["data"]) for e in self.live.fdinfo(epfd))
            if model != real:
                history = "\n  ".join(self.twin.log[-12:])
                raise Divergence(
                    f"the interest list of epoll fd {epfd} differs from /proc fdinfo\n"
                    f"  model (fd, events, data): {model}\n  real:  {real}\n"
                    f"calls so far (latest last):\n  {history}"
                )

    # -- descriptors and sockets ---------------------------------------------------------------
    @rule(targets=(fds, sockets))
    def socketpair(self) -> MultipleResults[int]:
        return self._fds(self.call("socketpair"))

    @rule(targets=(fds, listeners), backlog=st.one_of(st.integers(1, 4), st.just(128)))
    def tcp_listen(self, backlog: int) -> MultipleResults[int]:
        return self._fds(self.call("tcp_listen", backlog))

    @rule(targets=(fds, sockets), backlog=st.one_of(st.integers(1, 4), st.just(128)))
    def tcp_connection(self, backlog: int) -> MultipleResults[int]:
        """listen + connect + accept + close the listener: a connected TCP pair in one step."""
        lfd = self.call("tcp_listen", backlog)
        if lfd is None:
            return multiple()
        client = self.call("tcp_connect", lfd)
        server = None if client is None else self.call("accept", lfd)
        self.call("close", lfd)
        return multiple(*(fd for fd in (client, server) if fd is not None))

    @rule(targets=(fds, sockets), data=st.data())
    def tcp_connect(self, data: st.DataObject) -> MultipleResults[int]:
        """Mostly to listeners whose queue has room; also to other sockets (refused, or the
        listener behind an accepted socket's address) and to descriptors that are no socket
        at all (EBADF, ENOTSOCK). Never beyond a backlog: see `_connectable`."""
        not_a_socket = st.one_of(
            st.integers(3, 70).filter(lambda fd: not isinstance(self.model.file(fd), Socket)),
            st.sampled_from([-1, 2**31, 2**63]),
        )
        targets = self._connectable()
        listening = [fd for fd in targets if getattr(self._tcp(fd), "state", None) == TCP_LISTEN]
        choices: list[tuple[int, st.SearchStrategy[Any]]] = [(1, not_a_socket)]
        if targets:
            choices.append((2, st.sampled_from(targets)))
        if listening:
            choices.append((5, st.sampled_from(listening)))
        lfd = data.draw(_weighted(*choices), label="connect to")
        return self._fds(self.call("tcp_connect", lfd))

    @rule(targets=(fds, sockets), fd=_weighted((4, listeners), (1, fds), (1, RAW_FD)))
    def accept(self, fd: int) -> MultipleResults[int]:
        return self._fds(self.call("accept", fd))

    @rule(target=fds)
    def open_file(self) -> MultipleResults[int]:
        return self._fds(self.call("open_file"))

    @rule(fd=sockets, nbytes=st.integers(1, 100))
    def send_a_little(self, fd: int, nbytes: int) -> None:
        self.send(fd, nbytes)

    @rule(fd=sock_fd, nbytes=SEND_SIZES)
    def send(self, fd: int, nbytes: int) -> None:
        sock = self._tcp(fd)
        if sock is not None and sock.file_id in self.filled_tx:
            return  # timer-dependent on the real side: see `fill`
        if sock is not None and sock.peer is not None and sock.peer.file_id not in self.inexact_rx:
            held = sock.snd_queued + sock.peer.rcv_bytes
            nbytes = min(nbytes, max(0, TCP_EXACT_BYTES - held))  # see TCP_EXACT_BYTES
        self.call("send", fd, nbytes)

    @rule(fd=sock_fd, nbytes=RECV_SIZES)
    def recv(self, fd: int, nbytes: int) -> None:
        sock = self._tcp(fd)
        if sock is not None and sock.file_id in self.inexact_rx:
            return  # how much the real receive queue holds after a fill is autotuned
        self.call("recv", fd, nbytes)

    @rule(fd=sock_fd)
    def drain(self, fd: int) -> None:
        """recv(1 MiB) until end of stream or an error (EAGAIN included). The total must match,
        except after a TCP `fill`, where only "read something" is compared; a full drain
        empties the connection on both kernels, so it is byte-exact again afterwards."""
        sock = self._tcp(fd)
        inexact = sock is not None and sock.file_id in self.inexact_rx
        if inexact and sock is not None and sock.sk_shutdown & RCV_SHUTDOWN:
            # After a fill, a receiver shut for reading sends no window update as it reads
            # (tcp_cleanup_rbuf), so the sender stays stalled -- until its persist timer
            # probes: on Linux 6.18 the same drain read 113,152 bytes, then 226,304 more
            # 0.3 s later, 2,113,536 after another second; after SHUT_RDWR the probe's data
            # draws a reset (ERR on both ends) ~0.3 s later. Timer-driven, so not drawn
            # (test_diff_regressions: ..._no_window_update_after_shut_rd).
            return

        def drain(kernel: Any) -> tuple[int | bool, object]:
            total = 0
            while True:
                last = Outcome.of(lambda: kernel.recv(fd, 1 << 20))
                if last.error is not None or not last.result:
                    return (total > 0 if inexact else total), last.key()
                total += last.result

        here = f"drain({fd})" + (" [after a TCP fill: compared as 'read > 0']" if inexact else "")
        self._compare(
            here, Outcome.of(lambda: drain(self.model)), Outcome.of(lambda: drain(self.live))
        )
        peer = None if sock is None else sock.peer
        if sock is not None and not sock.rcv_bytes and (peer is None or not peer.snd_queued):
            self.inexact_rx.discard(sock.file_id)  # the connection is empty on both kernels
            if peer is not None:
                self.filled_tx.discard(peer.file_id)

    def _compare(self, here: str, m: Outcome, lv: Outcome) -> None:
        """What `Twin` does for one call, for calls the fuzzer composes itself."""
        self.twin.log.append(here)
        if m.key() != lv.key():
            history = "\n  ".join(self.twin.log[-12:])
            raise Divergence(
                f"model and real kernel disagree on {here}\n"
                f"  model: {m.key()}\n  real:  {lv.key()}\n"
                f"calls so far (latest last):\n  {history}"
            )

    @rule(fd=sock_fd)
    def fill(self, fd: int) -> None:
        """AF_UNIX: the byte count must match exactly (SK-4). TCP: it depends on autotuning and
        is documented as not modelled byte-exact, so only "accepted something" is compared --
        and the peer's receive queue is left unread from then on.

        Once a TCP connection is full, the real one is not quiescent: its persist timer
        (zero-window probes, first after ~200 ms) lets the sender queue more later -- on
        Linux 6.18 a fill accepted 4,243,968 bytes, an immediate second fill 0, and the same
        fill 0.3 s later 47,616 bytes, every time. The live engine settles in-flight segments,
        not timers, so a send or fill from a filled socket depends on how long the run took
        (hypothesis saw it as a flaky failure). Such sends are not drawn; readiness of both
        ends stays stable and is compared as usual.
        """
        sock = self._tcp(fd)
        if sock is None:
            self.call("fill", fd)
            return
        if sock.file_id in self.filled_tx:
            return
        m = Outcome.of(lambda: self.model.fill(fd) > 0)
        lv = Outcome.of(lambda: self.live.fill(fd) > 0)
        self._compare(f"fill({fd}) [TCP: compared as 'accepted > 0']", m, lv)
        if lv.result:
            self.filled_tx.add(sock.file_id)
            if sock.peer is not None:
                self.inexact_rx.add(sock.peer.file_id)

    @rule(fd=_weighted((4, sockets), (1, listeners), (1, any_fd)), how=SHUT_HOWS)
    def shutdown(self, fd: int, how: int) -> None:
        self.call("shutdown", fd, how)

    @rule(fd=any_fd)
    def close(self, fd: int) -> None:
        self.call("close", fd)

    @rule(fd=sock_fd)
    def abort(self, fd: int) -> None:
        self.call("abort", fd)

    @rule(targets=(fds, sockets), fd=_weighted((4, sockets), (1, fds), (1, RAW_FD)))
    def dup(self, fd: int) -> MultipleResults[int]:
        return self._fds(self.call("dup", fd))

    @rule(fd=any_fd, keep=st.booleans())
    def grow_the_fd_table(self, fd: int, keep: bool) -> None:
        """dup until a descriptor above 64 exists: the fd table grows (64 -> 128 slots), which
        moves select(2)'s clipping point (PS-4); then close the dups again (or all but the
        top one)."""
        dups: list[int] = []
        while not dups or dups[-1] < 64:
            new = self.call("dup", fd)
            if new is None:
                break
            dups.append(new)
        for extra in dups[:-1] if keep else dups:
            self.call("close", extra)

    @rule(data=st.data())
    def setrlimit_nofile(self, data: st.DataObject) -> None:
        lowest = self._lowest_free()
        hard = self.live.limits[1]
        soft = data.draw(
            _mostly(
                st.one_of(
                    st.sampled_from([lowest, lowest + 1, lowest + 2]),
                    st.integers(NOFILE_FLOOR, 64),
                    st.just(1024),
                ).map(lambda n: max(n, NOFILE_FLOOR)),
                # refused ones: the limit stays as it was
                st.sampled_from([-1, hard + 1, 2**63, -(2**63) - 1]),
            ),
            label="soft",
        )
        self.call("setrlimit_nofile", soft)

    # -- epoll ---------------------------------------------------------------------------------
    @rule(targets=(fds, epolls))
    def epoll_create(self) -> MultipleResults[int]:
        return self._fds(self.call("epoll_create"))

    @rule(
        epfd=ep_fd,
        op=EPOLL_OPS,
        fd=watched_fd,
        events=EPOLL_EVENTS,
    )
    def epoll_ctl(self, epfd: int, op: int, fd: int, events: int) -> None:
        self.call("epoll_ctl", epfd, op, fd, events)

    # The same call with arguments that mostly succeed, so that interest lists fill up (one
    # rule per op: rules are drawn about uniformly, this is how they get their weight).
    @rule(epfd=epolls, fd=_weighted((6, sockets), (1, listeners), (1, epolls)), events=EPOLL_EVENTS)
    def epoll_add(self, epfd: int, fd: int, events: int) -> None:
        self.call("epoll_ctl", epfd, EPOLL_CTL_ADD, fd, events)

    @rule(epfd=epolls, fd=_weighted((6, sockets), (1, listeners)), events=EPOLL_EVENTS)
    def epoll_modify(self, epfd: int, fd: int, events: int) -> None:
        self.call("epoll_ctl", epfd, EPOLL_CTL_MOD, fd, events)

    @rule(epfd=epolls, fd=_weighted((6, sockets), (1, listeners), (1, epolls)))
    def epoll_delete(self, epfd: int, fd: int) -> None:
        self.call("epoll_ctl", epfd, EPOLL_CTL_DEL, fd, 0)

    @rule(epfd=ep_fd, maxevents=MAXEVENTS)
    def epoll_wait(self, epfd: int, maxevents: int) -> None:
        self.call("epoll_wait", epfd, maxevents, 0)

    @rule(epfd=epolls, maxevents=st.sampled_from([1, 2, 3, -1]))
    def epoll_harvest(self, epfd: int, maxevents: int) -> None:
        self.call("epoll_wait", epfd, maxevents, 0)

    # -- io_uring ------------------------------------------------------------------------------
    @rule(targets=(fds, rings), entries=st.sampled_from([1, 2, 4, 0]))
    def io_uring_setup(self, entries: int) -> MultipleResults[int]:
        return self._fds(self.call("io_uring_setup", entries))

    @rule(
        ring=_weighted((6, rings), (1, fds), (1, RAW_FD)),
        data=st.data(),
        count=st.integers(1, 5),
    )
    def io_uring_submit(self, ring: int, data: st.DataObject, count: int) -> None:
        """A batch of random SQEs (no TIMEOUT: its expiry is wall-clock time on the real side),
        kept inside the exact regime like the plain calls: no RECV from a TCP socket whose
        receive queue a fill stuffed, no SEND from a filled one, no CLOSE of a TCP socket (its
        peer's reaction is what `close` settles on, and a CLOSE op cannot); and none of the
        races between an io-wq worker and the submitting task (`_io_wq_races`)."""
        sqes = []
        for _ in range(count):
            op = data.draw(
                st.sampled_from(
                    [
                        "NOP",
                        "RECV",
                        "SEND",
                        "POLL_ADD",
                        "POLL_REMOVE",
                        "ASYNC_CANCEL",
                        "CLOSE",
                        "ACCEPT",
                    ]
                ),
                label="op",
            )
            fd = data.draw(self.sock_fd if op != "ACCEPT" else self.any_fd, label="fd")
            tcp = self._tcp(fd)
            if tcp is not None and (
                (op == "RECV" and tcp.file_id in self.inexact_rx)
                or (op == "SEND" and tcp.file_id in self.filled_tx)
                or op == "CLOSE"
            ):
                op = "NOP"
            sqes.append(
                Sqe(
                    op,
                    fd=fd,
                    nbytes=data.draw(st.integers(0, 100), label="nbytes"),
                    events=data.draw(POLL_MASK, label="events"),
                    user_data=data.draw(st.integers(0, 3), label="user_data"),
                    flags=data.draw(
                        st.sampled_from([0, 0, IOSQE_IO_LINK, IOSQE_IO_HARDLINK]), label="flags"
                    ),
                )
            )
        self.call("io_uring_submit", ring, self._io_wq_races(ring, sqes))

    def _io_wq_races(self, ring: int, sqes: list[Sqe]) -> list[Sqe]:
        """`sqes` with NOPs where Linux leaves the order of CQEs to the scheduler.

        A chain cut by the batch's end runs on an io-wq worker, which posts its CQEs itself,
        while the submitting task posts the others from task work (docs/kernel-spec.md
        IU-19): which comes first is a race on the real side. So no ASYNC_CANCEL in a cut
        chain (its CQE races those of what it cancels), none that a request asleep in a
        worker would answer (it may answer beside a parked one), and no request waiting on a
        file beside one asleep in a worker (one wake-up, two posters)."""
        target = self.model.file(ring) if -(2**31) <= ring < 2**31 else None
        if not isinstance(target, IoRing):
            return sqes
        rings = [f for f in self.model.fds().values() if isinstance(f, IoRing)]
        parked = [r for f in rings for r in f.parked]
        in_worker = {id(r.file) for r in parked if r.in_worker}
        waited = {id(r.file) for r in parked}
        asleep = {r.sqe.user_data for r in parked if r.in_worker}
        consumed = sqes[: target.sq.ring_entries - target.sq.queued()]
        cut = len(consumed)
        while cut and consumed[cut - 1].flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK):
            cut -= 1
        if cut == len(consumed):
            cut = len(sqes)  # no chain is cut
        waiting = {"RECV", "SEND", "ACCEPT", "POLL_ADD"}
        out = []
        for i, sqe in enumerate(sqes):
            file = self.model.fdt.lookup(sqe.fd) if -(2**31) <= sqe.fd < 2**31 else None
            key = id(file) if file is not None else None
            racy = (
                (sqe.op == "ASYNC_CANCEL" and (i >= cut or sqe.user_data in asleep))
                or (sqe.op in waiting and key in in_worker)
                or (i >= cut and sqe.op in waiting and key in waited)
            )
            if sqe.op in waiting and key is not None:
                waited.add(key)
            out.append(dataclasses.replace(sqe, op="NOP") if racy else sqe)
        return out

    @rule(ring=_weighted((6, rings), (1, fds)), min_complete=st.sampled_from([0, 0, 1, 8]))
    def io_uring_wait(self, ring: int, min_complete: int) -> None:
        self.call("io_uring_wait", ring, min_complete, 0)

    # -- poll and select -----------------------------------------------------------------------
    @rule(
        entries=st.lists(
            st.tuples(
                polled_fd,
                POLL_MASK,
            ),
            max_size=6,
        )
    )
    def poll(self, entries: list[tuple[int, int]]) -> None:
        self.call("poll", entries, 0)

    @rule(mask=st.sampled_from([0xFFFF, 0]) | POLL_MASK)
    def readiness_snapshot(self, mask: int) -> None:
        """poll(2) every descriptor up to one past the highest open one: the whole readiness
        state at once (closed ones: NVAL)."""
        highest = max(self.model.fds(), default=2)
        self.call("poll", [(fd, mask) for fd in range(3, highest + 2)], 0)

    @rule(sets=st.tuples(*[st.lists(selected_fd, max_size=4)] * 3))
    def select(self, sets: tuple[list[int], list[int], list[int]]) -> None:
        self.call("select", *sets, 0)

    # -- threads -------------------------------------------------------------------------------
    @invariant()
    def threads_agree(self) -> None:
        for tid in self.tids:
            if self.twin.thread_state(tid)[0] != "sleeping":
                self.polled.pop(tid, None)
                self.waited.pop(tid, None)

    @rule()
    def spawn_thread(self) -> None:
        if len(self.tids) < MAX_FUZZ_THREADS:
            self.tids.append(self.twin.spawn_thread())

    def _idle_thread(self, data: st.DataObject) -> int | None:
        idle = [t for t in self.tids if self.model.thread_state(t)[0] == "idle"]
        return data.draw(st.sampled_from(idle), label="tid") if idle else None

    def _nested(self, epfd: int) -> bool:
        file = self.model.file(epfd)
        return isinstance(file, EventPoll) and bool(file.f_ep or file.watched_epolls())

    @rule(data=st.data(), maxevents=st.sampled_from([1, 2, 8]))
    def start_epoll_wait(self, data: st.DataObject, maxevents: int) -> None:
        tid = self._idle_thread(data)
        epfd = data.draw(self.epolls, label="epfd") if self.bundle("epolls") else None
        if tid is None or epfd is None or self._nested(epfd):
            return
        if any(epfd in fds for fds in self.polled.values()):
            return  # a poll sleeper on the instance and an epoll_wait sleeper race (epoll14)
        if self.call("start", tid, "epoll_wait", epfd, maxevents, -1) is False:
            self.waited[tid] = epfd

    @rule(data=st.data(), how=st.sampled_from(["poll", "select"]))
    def start_poll(self, data: st.DataObject, how: str) -> None:
        tid = self._idle_thread(data)
        if tid is None or not (self.bundle("sockets") or self.bundle("listeners")):
            return
        watched = _weighted((3, self.sockets), (1, self.listeners))
        fds = data.draw(st.lists(watched, min_size=1, max_size=3), label="fds")
        if how == "poll":
            masks = data.draw(st.lists(POLL_MASK, min_size=len(fds), max_size=len(fds)))
            asleep = self.call("start", tid, "poll", list(zip(fds, masks, strict=True)), -1)
        else:
            asleep = self.call("start", tid, "select", fds, fds, [], None)
        if asleep is False:
            self.polled[tid] = set(fds)

    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        if self.tids:
            self.call("join", data.draw(st.sampled_from(self.tids), label="tid"))


#: The most threads a fuzzing run spawns.
MAX_FUZZ_THREADS = 3


def fast() -> settings:
    """The default budget: max_examples from the hypothesis profile this run loaded ("dev", or
    "ci" under CI: tests/conftest.py), 30 calls an example."""
    return settings(
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


SLOW = settings(
    max_examples=3000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_model_and_real_kernel_agree_on_random_call_sequences() -> None:
    run_state_machine_as_test(DifferentialMachine, settings=fast())


@pytest.mark.slow
def test_model_and_real_kernel_agree_on_long_random_call_sequences() -> None:
    run_state_machine_as_test(DifferentialMachine, settings=SLOW)
