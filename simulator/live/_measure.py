"""The lab's bench inside the live child: a world of socket pairs and a timing loop.

`LabBench` owns the lab's real descriptors -- one epoll instance, then socket pairs added in
order (``grow``), the first `active` of them readable (``set_active``) -- and times one
multiplexer call on them (``measure``). The child imports this module at start-up, like every
module it uses (an import opens files), and answers the ``lab`` request with it.

Why the loop is shaped this way: a clock read costs ~20-60 ns, as much as a whole ``poll`` over
ten descriptors. So one *sample* times a *batch* of identical calls between two reads of
``time.perf_counter_ns`` and divides: the batch is sized (once, by a calibration call) to last
at least `MIN_SAMPLE_NS`, which makes the two clock reads a fraction of a percent of a sample.
Between the reads there is nothing but the call itself and ``for`` advancing over
``itertools.repeat`` (no counter, no allocation). `bare` runs the same calls with no clock
reads at all, so the overhead of the measurement can be measured (tests/benchmarks/bench_lab.py).

What each mechanism's call includes, exactly:

- ``poll``: ``select.poll().poll(0)`` on an object registered once. CPython keeps its pollfd
  array between calls, so a call is poll(2) plus the list of the K ready pairs.
- ``epoll``: ``select.epoll.poll(0, max(K, 1))``: epoll_wait(2), CPython's event buffer, and
  the list of the K ready pairs.
- ``select``: ``select.select(readers, [], [], 0)``. CPython builds the fd_set from the list on
  every call and turns the result back into a list: the scan a C program does with FD_SET and
  FD_ISSET, which select(2) forces on every caller because it overwrites its sets.
- ``io_uring``: a ring made for the measurement (closed after it, so it takes the lowest free
  number and leaves the pairs' alone), with a one-shot POLL_ADD armed on every reader: the
  N - K idle readers' stay parked on their sockets (paid once, as epoll_ctl is). A call is one
  io_uring_enter submitting K POLL_ADDs that re-arm the K ready readers -- they complete
  inline, the data being there -- and the reaping of their K completions from the mapped CQ
  (`_uring.Ring`: our own ctypes code, where a C program would use liburing). Where the
  kernel refuses io_uring, OSError(ENOSYS), as the live kernel answers io_uring_setup.
"""

from __future__ import annotations

import errno
import itertools
import os
import select
import socket
import statistics
import threading
import time
from collections.abc import Callable

from simulator import uapi
from simulator.live import _uring

#: The shortest batch a sample may time: its two clock reads are then well under 1% of it.
MIN_SAMPLE_NS = 50_000
#: A batch never holds more calls than this (a very cheap call would otherwise need millions).
MAX_BATCH = 10_000
#: Calls run before calibrating: caches, branch predictors and CPython's specialiser settle.
WARM_UP = 3

_LIVE_MECHANISMS = ("select", "poll", "epoll", "io_uring")
#: The lab's ring: SQ entries, the POLL_ADDs submitted at once while arming every reader
#: (`bench.world.URING_ENTRIES` is the same).
URING_ENTRIES = 4096


class LabBench:
    """The lab's world in the child: ``pairs`` socket pairs, readers registered in an epoll.

    Every descriptor is created here and closed by the child's exit (the lab's child serves one
    sweep, and ending it releases everything at once): a pair is
    ``(reader, writer)``, the reader registered for EPOLLIN; pair *i* is readable (one byte
    queued) exactly when *i* < `active`.
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._active = 0
        self._poller: select.poll | None = None  # rebuilt when the world grows
        self._ring: _uring.Ring | None = None  # io_uring's, for one measurement only

    def grow(self, pairs: int) -> list[int]:
        """Open pairs until there are `pairs`; returns every reader's fd number, in order.

        O(new pairs). Raises OSError (EMFILE) like socketpair(2) at the descriptor limit.
        """
        while len(self._pairs) < pairs:
            reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            reader.setblocking(False)
            writer.setblocking(False)
            self._pairs.append((reader, writer))
            self._epoll.register(reader.fileno(), select.EPOLLIN)
            self._poller = None
        return [reader.fileno() for reader, _writer in self._pairs]

    def set_active(self, active: int) -> None:
        """Make exactly the first `active` readers readable: one byte each. O(change)."""
        if not 0 <= active <= len(self._pairs):
            raise ValueError(f"active must be 0 to {len(self._pairs)}, got {active}")
        for _reader, writer in self._pairs[self._active : active]:
            writer.send(b"x")
        for reader, _writer in self._pairs[active : self._active]:
            reader.recv(1)
        self._active = active

    def measure(self, mechanism: str, repeat: int, bare: bool = False) -> dict[str, object]:
        """Time `repeat` samples of `mechanism`'s call on the whole world (see the module).

        Returns ``median_ns``, ``q1_ns``, ``q3_ns`` (per call, over the samples), ``batch``
        (calls per sample), ``repeat`` and ``ready`` (what the call reported, as a check that
        it saw the world). With `bare`, the same ``repeat * batch`` calls run with no clock
        read between them and ``total_ns`` is their time, for the overhead benchmark; it also
        reports ``timed_ns``, the sum of a timed run's samples, run just before in the same
        process, and both runs' CPU time (``timed_cpu_ns``, ``bare_cpu_ns``: this thread's,
        which a machine shared with other work does not inflate by preempting us).
        """
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat}")
        call, args = self._call(mechanism)
        try:
            return self._timing(call, args, repeat, bare)
        finally:
            self._close_ring()

    def _timing(
        self, call: Callable[..., object], args: tuple[object, ...], repeat: int, bare: bool
    ) -> dict[str, object]:
        """`measure`'s samples of `call(*args)`."""
        ready = 0
        for _ in range(WARM_UP):
            ready = _count_ready(call(*args))
        start = time.perf_counter_ns()
        call(*args)
        one = max(1, time.perf_counter_ns() - start)
        batch = max(1, min(MAX_BATCH, -(-MIN_SAMPLE_NS // one)))
        samples = _timed(call, args, batch, repeat)
        quartiles = statistics.quantiles(samples, n=4) if repeat > 1 else samples * 3
        result: dict[str, object] = {
            "median_ns": statistics.median(samples),
            "q1_ns": quartiles[0],
            "q3_ns": quartiles[2],
            "batch": batch,
            "repeat": repeat,
            "ready": ready,
        }
        if bare:
            cpu = time.thread_time_ns
            start = cpu()
            again = _timed(call, args, batch, repeat)
            middle = cpu()
            result["total_ns"] = _bare(call, args, batch * repeat)
            result["bare_cpu_ns"] = cpu() - middle
            result["timed_cpu_ns"] = middle - start
            result["timed_ns"] = sum(again) * batch
        return result

    def polling(self, repeat: int) -> dict[str, dict[str, float]]:
        """The polling problem on this world: `repeat` timed rounds of each way to find data.

        ``busy``: one ``recv(1)`` on every reader in turn, as a loop over non-blocking sockets
        does -- K answer a byte (useful), N - K raise BlockingIOError, EAGAIN (useless).
        ``epoll``: one ``epoll.poll(0, K)`` and one ``recv(1)`` on each descriptor it returns.
        Each round is timed alone (it lasts microseconds at least: N calls, or one wait and K
        reads); after it, untimed, the K writers send one byte each again -- the traffic --
        so every round starts from the same world. Returns, for each way, the median and
        quartiles of the round's time (``median_ns``, ``q1_ns``, ``q3_ns``), the ``calls`` of a
        round and how many of them were ``useless`` (EAGAIN). RuntimeError if a round found
        other than K bytes.
        """
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat}")
        readers = [reader for reader, _writer in self._pairs]
        by_fd = {reader.fileno(): reader for reader in readers}
        writers = [writer for _reader, writer in self._pairs[: self._active]]
        wanted = max(self._active, 1)

        def busy() -> int:
            useful = 0
            for reader in readers:
                try:
                    reader.recv(1)
                    useful += 1
                except BlockingIOError:
                    pass
            return useful

        def event_driven() -> int:
            events = self._epoll.poll(0, wanted)
            for fd, _mask in events:
                by_fd[fd].recv(1)
            return len(events)

        clock = time.perf_counter_ns
        result = {}
        # (way, one round, its calls, how many of them find nothing: EAGAIN)
        for name, round_, calls, useless in (
            ("busy", busy, len(readers), len(readers) - self._active),
            ("epoll", event_driven, 1 + self._active, 0),
        ):
            samples = []
            for _ in range(WARM_UP + repeat):
                start = clock()
                found = round_()
                samples.append(float(clock() - start))
                if found != self._active:
                    raise RuntimeError(f"a {name} round found {found} bytes, not {self._active}")
                for writer in writers:
                    writer.send(b"x")
            samples = samples[WARM_UP:]
            quartiles = statistics.quantiles(samples, n=4) if repeat > 1 else samples * 3
            result[name] = {
                "median_ns": statistics.median(samples),
                "q1_ns": quartiles[0],
                "q3_ns": quartiles[2],
                "calls": calls,
                "useless": useless,
            }
        return result

    def _uring_call(self, readers: list[int]) -> Callable[[], list[uapi.Cqe]]:
        """io_uring's call on the world (module docstring), its ring made and armed."""
        try:
            ring = _uring.Ring(URING_ENTRIES)
        except OSError as exc:
            if _uring.refused(exc.errno):
                raise OSError(errno.ENOSYS, "this kernel refuses io_uring") from None
            raise
        self._ring = ring
        fd, submit, reap = ring.fd, ring.submit, ring.reap
        for start in range(0, len(readers), URING_ENTRIES):
            submit(fd, _polls(readers[start : start + URING_ENTRIES]))
            reap()
        ready = _polls(readers[: self._active])

        def call() -> list[uapi.Cqe]:
            submit(fd, ready)
            return reap()

        return call

    def _close_ring(self) -> None:
        """Close the measurement's ring (the kernel cancels the polls still parked)."""
        if self._ring is not None:
            os.close(self._ring.fd)
            self._ring.unmap()
            self._ring = None

    def _call(self, mechanism: str) -> tuple[Callable[..., object], tuple[object, ...]]:
        """The bound method and arguments of one call of `mechanism` on the whole world."""
        readers = [reader.fileno() for reader, _writer in self._pairs]
        if mechanism == "poll":
            if self._poller is None:
                self._poller = select.poll()
                for fd in readers:
                    self._poller.register(fd, select.POLLIN)
            return self._poller.poll, (0,)
        if mechanism == "epoll":
            return self._epoll.poll, (0, max(self._active, 1))
        if mechanism == "select":
            return select.select, (readers, [], [], 0)
        if mechanism == "io_uring":
            return self._uring_call(readers), ()
        raise ValueError(f"the live lab measures {', '.join(_LIVE_MECHANISMS)}, not {mechanism!r}")


def machine_costs(repeat: int) -> dict[str, object]:
    """This machine's cost of the operations the thrashing model charges (`bench.thrash`).

    Not an operation of `LabBench`: it needs none of the lab's world, and leaves nothing open.

    ``syscall_ns``: a null syscall, ``os.getppid()`` (it only reads a field of the task),
    timed in batches like `measure`. ``pipe_pair_ns``: one ``os.write`` of a byte to a pipe
    and its ``os.read`` in the same thread -- the four syscalls of a ping-pong's round
    trip, half of them, with nobody to wake. ``pingpong_ns``: one round trip of a byte
    between two threads over two pipes, both threads pinned to one CPU so that every
    hand-over is a context switch (``pinned`` says whether the kernel allowed it; if not
    they may run on two CPUs and a hand-over is a cross-CPU wake-up instead). Medians of
    `repeat` samples each; the pipes are closed and the threads joined when it returns (a
    joined thread's kernel task ends a moment later). CPython's call overhead (and, for the
    ping-pong, taking the GIL) is in every figure, as it is in every call a muxlab lesson
    makes.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    syscall = _timed(os.getppid, (), _batch_for(os.getppid, ()), repeat)
    read_end, write_end = os.pipe()
    try:

        def pair() -> None:
            os.write(write_end, b"x")
            os.read(read_end, 1)

        pipe_pair = _timed(pair, (), _batch_for(pair, ()), repeat)
    finally:
        os.close(read_end)
        os.close(write_end)
    round_trips, pinned = _pingpong(repeat)
    return {
        "syscall_ns": statistics.median(syscall),
        "pipe_pair_ns": statistics.median(pipe_pair),
        "pingpong_ns": statistics.median(round_trips),
        "pinned": pinned,
        "repeat": repeat,
    }


#: Round trips one ping-pong sample times: ~10 us each, so a sample lasts well over
#: `MIN_SAMPLE_NS` and its two clock reads vanish in it.
PINGPONG_ROUNDS = 200


def _batch_for(call: Callable[..., object], args: tuple[object, ...]) -> int:
    """How many calls of `call` a sample needs to last `MIN_SAMPLE_NS` (after `WARM_UP`)."""
    for _ in range(WARM_UP):
        call(*args)
    start = time.perf_counter_ns()
    call(*args)
    one = max(1, time.perf_counter_ns() - start)
    return max(1, min(MAX_BATCH, -(-MIN_SAMPLE_NS // one)))


def _pingpong(repeat: int) -> tuple[list[float], bool]:
    """`repeat` samples of a pipe ping-pong between two threads: ns per round trip, and
    whether both threads could be pinned to one CPU (``sched_setaffinity`` on the calling
    thread; a cpuset may refuse it)."""
    to_b_read, to_b_write = os.pipe()
    to_a_read, to_a_write = os.pipe()
    cpu = min(os.sched_getaffinity(0))
    pinned: list[bool] = []
    samples: list[float] = []
    rounds = (WARM_UP + repeat) * PINGPONG_ROUNDS

    def pin() -> None:
        try:
            os.sched_setaffinity(0, {cpu})  # pid 0: this thread only
            pinned.append(True)
        except OSError:
            pinned.append(False)

    def b_side() -> None:
        pin()
        for _ in itertools.repeat(None, rounds):
            os.read(to_b_read, 1)
            os.write(to_a_write, b"x")

    def a_side() -> None:
        pin()
        clock = time.perf_counter_ns
        for _ in range(WARM_UP + repeat):
            start = clock()
            for _ in itertools.repeat(None, PINGPONG_ROUNDS):
                os.write(to_b_write, b"x")
                os.read(to_a_read, 1)
            samples.append((clock() - start) / PINGPONG_ROUNDS)

    threads = [
        threading.Thread(target=side, name=f"muxlab-lab-{side.__name__}")
        for side in (b_side, a_side)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for fd in (to_b_read, to_b_write, to_a_read, to_a_write):
            os.close(fd)
    return samples[WARM_UP:], all(pinned)


def _polls(readers: list[int]) -> list[uapi.Sqe]:
    """One one-shot POLL_ADD (POLLIN) per reader, its user_data the reader's fd."""
    return [uapi.Sqe("POLL_ADD", fd=fd, events=uapi.POLLIN, user_data=fd) for fd in readers]


def _count_ready(result: object) -> int:
    if isinstance(result, tuple):  # select: (readable, writable, exceptional)
        return sum(len(part) for part in result)
    assert isinstance(result, list)
    return len(result)


def _timed(
    call: Callable[..., object], args: tuple[object, ...], batch: int, repeat: int
) -> list[float]:
    """`repeat` samples: the time per call of a batch of `batch` calls, in ns."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(repeat):
        start = clock()
        for _ in itertools.repeat(None, batch):
            call(*args)
        samples.append((clock() - start) / batch)
    return samples


def _bare(call: Callable[..., object], args: tuple[object, ...], count: int) -> int:
    """The time of `count` calls in one loop, with one clock read before and one after."""
    start = time.perf_counter_ns()
    for _ in itertools.repeat(None, count):
        call(*args)
    return time.perf_counter_ns() - start
