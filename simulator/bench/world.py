"""The lab's world in the model: the live child's `LabBench` world, built call for call.

`ModelWorld` opens socket pairs in the order the child does and registers each reader in the
multiplexer made first, so every descriptor has the same number on both kernels, and makes the
first K readers readable with one byte each. Its `cost` is the model's work for one call of a
mechanism on the whole world, in the steady state.

io_uring has no interest list to register in: its world is a ring made for the measurement
and closed after it (`_uring_call`), as the live child's is, so it takes the same number on
both kernels and leaves the pairs' numbers alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple

from simulator import uapi
from simulator.kernel import ModelKernel
from simulator.observe import Cost

#: The most calls the model makes to reach a call's steady cost (`ModelWorld.cost`).
_SETTLE_CALLS = 5
#: The lab's ring: SQ entries (the CQ has twice as many), the POLL_ADDs submitted at once
#: while arming every reader (`_measure.URING_ENTRIES` is the same).
URING_ENTRIES = 4096


class ModelWorld:
    """The live bench's world (`_measure.LabBench`) built in the model, call for call.

    `multiplexer` is the instance made first and registered with every reader: ``epoll`` (for
    select, poll and epoll, as in the live child) or ``kqueue`` (a world of its own, so its
    descriptors are numbered as the epoll world's are).
    """

    def __init__(self, multiplexer: str, pairs: int) -> None:
        self.kernel = ModelKernel(nofile=2 * pairs + 16, trace=False)
        self._kqueue = multiplexer == "kqueue"
        self.mux = self.kernel.kqueue() if self._kqueue else self.kernel.epoll_create()
        self.pairs: list[tuple[int, int]] = []
        self.active = 0

    def grow(self, pairs: int) -> list[int]:
        k = self.kernel
        while len(self.pairs) < pairs:
            reader, writer = k.socketpair()
            if self._kqueue:
                k.kevent(self.mux, [uapi.KEvent(reader)], 0, 0)
            else:
                k.epoll_ctl(self.mux, uapi.EPOLL_CTL_ADD, reader, uapi.EPOLLIN)
            self.pairs.append((reader, writer))
        return [reader for reader, _writer in self.pairs]

    def set_active(self, active: int) -> None:
        for _reader, writer in self.pairs[self.active : active]:
            self.kernel.send(writer, 1)
        for reader, _writer in self.pairs[active : self.active]:
            self.kernel.recv(reader, 1)
        self.active = active

    def refill(self) -> None:
        """The traffic of the polling problem: one byte to each of the first K readers again,
        after a round read them (`bench.polling`)."""
        for _reader, writer in self.pairs[: self.active]:
            self.kernel.send(writer, 1)

    def cost(self, mechanism: str) -> Cost:
        """The model's work for one call of `mechanism` on the whole world, in the steady state.

        The call is repeated until two calls in a row cost the same (at most `_SETTLE_CALLS`),
        as the live child times calls only after warming up: after readiness fell
        (``set_active`` to fewer), the items that were ready are still on the ready list, and
        the next calls visit them and drop them (their re-poll finds nothing) -- with a
        maxevents of K, over two calls. That is history, not the cost of a call at N and K.
        """
        if mechanism == "io_uring":
            with self._uring_call() as call:
                return self._steady(call)
        return self._steady(self._call(mechanism))

    def _steady(self, call: Callable[[], Cost]) -> Cost:
        cost = call()
        for _ in range(_SETTLE_CALLS - 1):
            again = call()
            if again == cost:
                break
            cost = again
        return cost

    def _call(self, mechanism: str) -> Callable[[], Cost]:
        """One call of `mechanism` on the whole world, returning its cost."""
        k = self.kernel
        readers = [reader for reader, _writer in self.pairs]
        wanted = max(self.active, 1)
        requests = [(fd, uapi.POLLIN) for fd in readers] if mechanism == "poll" else []
        calls: dict[str, Callable[[], object]] = {
            "select": lambda: k.select(readers, [], [], 0),
            "poll": lambda: k.poll(requests, 0),
            "epoll": lambda: k.epoll_wait(self.mux, wanted, 0),
            "kqueue": lambda: k.kevent(self.mux, [], wanted, 0),
        }
        if mechanism not in calls:
            raise ValueError(f"the model lab has no call for {mechanism!r}")
        call = calls[mechanism]

        def measured() -> Cost:
            call()
            return k.last_cost

        return measured

    @contextmanager
    def _uring_call(self) -> Iterator[Callable[[], Cost]]:
        """io_uring's call on the whole world, as the live child makes it
        (`_measure.LabBench`): a ring whose one-shot POLL_ADD on every reader is armed once
        (the N - K idle readers' stay parked on their sockets, paid for once, as
        ``epoll_ctl`` is; the K ready ones complete at once), then each call re-arms the K
        ready readers (their polls complete inline, the data being there) and reaps the K
        completions: ``io_uring_submit`` and ``io_uring_wait``, whose costs add up. The ring
        is closed on exit."""
        k = self.kernel
        readers = [reader for reader, _writer in self.pairs]
        ring = k.io_uring_setup(URING_ENTRIES)
        try:
            for start in range(0, len(readers), URING_ENTRIES):
                k.io_uring_submit(ring, _polls(readers[start : start + URING_ENTRIES]))
                k.io_uring_wait(ring, 0, 0)
            ready = _polls(readers[: self.active])

            def call() -> Cost:
                k.io_uring_submit(ring, ready)
                cost = k.last_cost
                k.io_uring_wait(ring, len(ready), 0)
                return Cost(
                    *(a + b for a, b in zip(astuple(cost), astuple(k.last_cost), strict=True))
                )

            yield call
        finally:
            k.close(ring)


def _polls(readers: list[int]) -> list[uapi.Sqe]:
    """One one-shot POLL_ADD (POLLIN) per reader, its user_data the reader's fd."""
    return [uapi.Sqe("POLL_ADD", fd=fd, events=uapi.POLLIN, user_data=fd) for fd in readers]
