"""The complexity sweep: each multiplexer's time per call on the real kernel, and the model's
work for the same call, as the number of registered descriptors N grows.

The world is N AF_UNIX socket pairs whose readers are all registered (in one epoll instance,
and in each poll/select call), the first K of them with one byte queued. The live child builds
it and times the calls inside itself (`simulator.live._measure`: batches of calls between two
clock reads, the median and quartiles of `Plan.repeat` samples); the model builds the same
world with the same calls in the same order -- so every descriptor has the same number on both
-- and reports `last_cost`, the kernel's unit operations by category.

The world only grows: sizes run in ascending order, and at each size every K and every
mechanism is measured before the next pairs are opened, so a sweep opens max(N) pairs in all.
Cost: O(max N) descriptors and model objects; a point costs `repeat` samples of at least
`_measure.MIN_SAMPLE_NS` each, plus one model call (O(N) for select and poll, O(K) for epoll).
"""

from __future__ import annotations

import errno
from collections.abc import Generator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from simulator import uapi
from simulator.bench.plan import MECHANISMS, Plan, largest_size
from simulator.bench.world import ModelWorld
from simulator.live import LiveKernel

#: The first N at which select cannot run in the lab's world: the lab's epoll is fd 3 and pair
#: i's reader fd 4 + 2i, so the 511th reader is fd 1024, past FD_SETSIZE.
SELECT_WALL = (uapi.FD_SETSIZE - 4) // 2 + 1
WALL_NOTE = "FD_SETSIZE wall: select cannot take a descriptor numbered 1024 or above"
#: The note of io_uring's points where the kernel refuses io_uring (not built: ENOSYS; or
#: ``kernel.io_uring_disabled``): the model's figures only, as for kqueue.
URING_REFUSED = "this kernel refuses io_uring: the model's io_uring only"


@dataclass(frozen=True, slots=True)
class Point:
    """One point of the sweep: `mechanism` over `n` registered pairs, `active` of them ready.

    `real_ns` is the median time per call on the real kernel (`real_q1_ns`, `real_q3_ns` its
    quartiles over `repeat` samples of `batch` calls each); None where the point is impossible
    (select past FD_SETSIZE) or the mechanism is model only. `model` is the model's work for
    one call by category (`observe.Cost`), `model_cost` its total; None past select's wall.
    `note` says why a value is missing.
    """

    mechanism: str
    n: int
    active: int
    real_ns: float | None
    real_q1_ns: float | None
    real_q3_ns: float | None
    repeat: int
    batch: int
    model_cost: int | None
    model: dict[str, int] | None = field(default=None)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        """The JSON object of one line of ``muxlab lab --json``."""
        return {"plot": "complexity", **{name: getattr(self, name) for name in self.__slots__}}


def sweep(plan: Plan) -> Generator[Point, None, None]:
    """Yield the points of `plan` (checked with `Plan.checked`), size by size.

    The live child is started first and ended when the generator finishes, is closed, or is
    interrupted (KeyboardInterrupt included): nothing it opened outlives the sweep. Close the
    generator (``contextlib.closing``) when stopping early.
    """
    top = max(plan.sizes)
    live_wanted = any(MECHANISMS[m].where == "live" for m in plan.mechanisms)
    with ExitStack() as stack:
        live: LiveKernel | None = None
        if live_wanted:
            hard = 2 * largest_size() + 5  # the pairs and `plan._OVERHEAD_FDS`
            live = stack.enter_context(LiveKernel(nofile=min(2 * top + 16, hard), nofile_hard=hard))
        worlds = {
            world: ModelWorld(world, top)
            for world in ("epoll", "kqueue")
            if any(_world_of(m) == world for m in plan.mechanisms)
        }
        for n in plan.sizes:
            readers = {world: model.grow(n) for world, model in worlds.items()}
            if live is not None:
                live_readers = live.lab("grow", n)
                if live_readers != readers.get("epoll", live_readers):
                    raise RuntimeError("the live lab's descriptors differ from the model's")
            for active in plan.active:
                for model in worlds.values():
                    model.set_active(active)
                if live is not None:
                    live.lab("set_active", active)
                for mechanism in plan.mechanisms:
                    yield _point(plan, mechanism, n, active, live, worlds[_world_of(mechanism)])


def _world_of(mechanism: str) -> str:
    return "kqueue" if mechanism == "kqueue" else "epoll"


def _point(
    plan: Plan,
    mechanism: str,
    n: int,
    active: int,
    live: LiveKernel | None,
    world: ModelWorld,
) -> Point:
    if mechanism == "select" and max(fd for fd, _ in world.pairs) >= uapi.FD_SETSIZE:
        return Point(mechanism, n, active, None, None, None, plan.repeat, 0, None, None, WALL_NOTE)
    cost = world.cost(mechanism)
    model = cost.as_dict()
    spec = MECHANISMS[mechanism]
    if spec.where != "live" or live is None:
        return Point(
            mechanism, n, active, None, None, None, plan.repeat, 0, cost.total, model, spec.why
        )
    try:
        timing = live.lab("measure", mechanism, plan.repeat)
    except OSError as exc:
        if mechanism != "io_uring" or exc.errno != errno.ENOSYS:
            raise
        return Point(
            mechanism, n, active, None, None, None, plan.repeat, 0, cost.total, model, URING_REFUSED
        )
    if timing["ready"] != active:  # the call did not see the world we built: a bug of ours
        raise RuntimeError(f"live {mechanism} saw {timing['ready']} ready, not {active}")
    return Point(
        mechanism,
        n,
        active,
        timing["median_ns"],
        timing["q1_ns"],
        timing["q3_ns"],
        plan.repeat,
        timing["batch"],
        cost.total,
        model,
    )
