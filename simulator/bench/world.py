"""The lab's world in the model: the live child's `LabBench` world, built call for call.

`ModelWorld` opens socket pairs in the order the child does and registers each reader in the
multiplexer made first, so every descriptor has the same number on both kernels, and makes the
first K readers readable with one byte each. Its `cost` is the model's work for one call of a
mechanism on the whole world, in the steady state.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator import uapi
from simulator.kernel import ModelKernel
from simulator.observe import Cost

#: The most calls the model makes to reach a call's steady cost (`ModelWorld.cost`).
_SETTLE_CALLS = 5


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
        call = self._call(mechanism)
        call()
        cost = self.kernel.last_cost
        for _ in range(_SETTLE_CALLS - 1):
            call()
            if self.kernel.last_cost == cost:
                break
            cost = self.kernel.last_cost
        return cost

    def _call(self, mechanism: str) -> Callable[[], object]:
        k = self.kernel
        readers = [reader for reader, _writer in self.pairs]
        wanted = max(self.active, 1)
        if mechanism == "select":
            return lambda: k.select(readers, [], [], 0)
        if mechanism == "poll":
            requests = [(fd, uapi.POLLIN) for fd in readers]
            return lambda: k.poll(requests, 0)
        if mechanism == "epoll":
            return lambda: k.epoll_wait(self.mux, wanted, 0)
        if mechanism == "kqueue":
            return lambda: k.kevent(self.mux, [], wanted, 0)
        raise ValueError(f"the model lab has no call for {mechanism!r}")
