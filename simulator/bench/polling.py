"""The polling problem: asking every non-blocking socket in turn, against one epoll_wait.

A program without a readiness API finds data by trying: one ``recv`` on each of its N
non-blocking sockets, round after round. When K of them have received something, N - K of
those calls answer EAGAIN -- useless work that grows with N while the useful work stays K. The
event-driven program asks once (``epoll_wait``) and reads only the K sockets it is told about.

For each N and K the lab times one round of each way on the real kernel, inside the live child
(`LabBench.polling`: the median and quartiles of `Plan.repeat` rounds, each timed alone, the
traffic -- one byte to each of the K -- sent untimed between rounds), and runs the same rounds
on the model, which counts the calls, the EAGAIN answers and the kernel's work.

Cost: like the sweep, max(N) pairs opened once; a point costs `repeat` rounds of N calls.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from simulator.bench.plan import Plan, largest_size
from simulator.bench.world import ModelWorld
from simulator.live import LiveKernel


@dataclass(frozen=True, slots=True)
class PollingPoint:
    """One N and K of the polling problem.

    Real kernel (per round, median; quartiles beside): `busy_ns` for the loop of N ``recv``
    calls, `epoll_ns` for one ``epoll_wait`` and K ``recv``; and the rates they mean:
    `busy_useless_per_s` and `busy_useful_per_s` (calls answering EAGAIN and calls answering
    data, per second of looping), `epoll_useful_per_s`. Model (per round, counted by running
    it): `model_busy_calls`, `model_busy_useless` (EAGAIN answers), `model_epoll_calls`,
    and `model_epoll_cost` (the kernel's unit operations of the round's epoll_wait and reads,
    `observe.Cost.total`). The model charges no unit operation to a ``recv`` (its categories
    are the multiplexers' work), so the busy loop's model figure is its count of calls.
    """

    n: int
    active: int
    repeat: int
    busy_ns: float
    busy_q1_ns: float
    busy_q3_ns: float
    epoll_ns: float
    epoll_q1_ns: float
    epoll_q3_ns: float
    busy_useless_per_s: float
    busy_useful_per_s: float
    epoll_useful_per_s: float
    model_busy_calls: int
    model_busy_useless: int
    model_epoll_calls: int
    model_epoll_cost: int

    def as_json(self) -> dict[str, Any]:
        """The JSON object of one line of ``muxlab lab polling --json``."""
        return {"plot": "polling", **{name: getattr(self, name) for name in self.__slots__}}


def polling(plan: Plan) -> Generator[PollingPoint, None, None]:
    """Yield a `PollingPoint` for each size and active count of `plan` (checked), in order.

    The live child ends when the generator finishes, is closed or is interrupted.
    """
    top = max(plan.sizes)
    hard = 2 * largest_size() + 5  # the pairs and `plan._OVERHEAD_FDS`
    with ExitStack() as stack:
        live = stack.enter_context(LiveKernel(nofile=min(2 * top + 16, hard), nofile_hard=hard))
        world = ModelWorld("epoll", top)
        for n in plan.sizes:
            if live.lab("grow", n) != world.grow(n):
                raise RuntimeError("the live lab's descriptors differ from the model's")
            for active in plan.active:
                world.set_active(active)
                live.lab("set_active", active)
                real = live.lab("polling", plan.repeat)
                yield _point(plan, n, active, real, world)


#: Rounds the model runs before counting, as the child warms up: after K fell, the first
#: epoll_wait calls still visit (and drop) the items that were ready (`ModelWorld.cost`).
_WARM_UP = 3


def _model_rounds(world: ModelWorld) -> tuple[int, int, int, int]:
    """(busy calls, busy EAGAINs, epoll calls, epoll cost) of one round of each way on the
    model, after `_WARM_UP` rounds. The traffic is sent again after each round, as in the
    child."""
    for _ in range(_WARM_UP):
        _model_round(world)
    return _model_round(world)


def _model_round(world: ModelWorld) -> tuple[int, int, int, int]:
    k = world.kernel
    readers = [reader for reader, _writer in world.pairs]
    useless = 0
    for reader in readers:
        try:
            k.recv(reader, 1)
        except BlockingIOError:
            useless += 1
    world.refill()
    events = k.epoll_wait(world.mux, max(world.active, 1), 0)
    epoll_cost = k.last_cost.total
    for fd, _mask in events:
        k.recv(fd, 1)
        epoll_cost += k.last_cost.total
    world.refill()
    return len(readers), useless, 1 + len(events), epoll_cost


def _point(
    plan: Plan, n: int, active: int, real: dict[str, dict[str, float]], world: ModelWorld
) -> PollingPoint:
    busy, event = real["busy"], real["epoll"]
    busy_s = busy["median_ns"] / 1e9
    calls, useless, epoll_calls, epoll_cost = _model_rounds(world)
    if useless != busy["useless"] or epoll_calls != event["calls"]:
        raise RuntimeError("the model's rounds differ from the live child's")  # a bug of ours
    return PollingPoint(
        n=n,
        active=active,
        repeat=plan.repeat,
        busy_ns=busy["median_ns"],
        busy_q1_ns=busy["q1_ns"],
        busy_q3_ns=busy["q3_ns"],
        epoll_ns=event["median_ns"],
        epoll_q1_ns=event["q1_ns"],
        epoll_q3_ns=event["q3_ns"],
        busy_useless_per_s=busy["useless"] / busy_s,
        busy_useful_per_s=active / busy_s,
        epoll_useful_per_s=active / (event["median_ns"] / 1e9),
        model_busy_calls=calls,
        model_busy_useless=useless,
        model_epoll_calls=epoll_calls,
        model_epoll_cost=epoll_cost,
    )
