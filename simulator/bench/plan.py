"""What a lab sweep measures, checked before a descriptor is opened.

A `Plan` names the mechanisms, the sizes N (registered socket pairs), the active counts K (pairs
with data queued) and the samples per point. `Plan.checked` refuses what cannot run with one
message a user can act on (`PlanError`): a size the descriptor limit cannot hold (and the
largest that fits), zero or negative numbers, K above the smallest N, an unknown mechanism.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Literal

#: How a mechanism is measured here: on the real kernel and the model, or on the model only.
Where = Literal["live", "model only"]


@dataclass(frozen=True, slots=True)
class Mechanism:
    """One multiplexer of the lab: its name, where it runs, and why when it is model only."""

    name: str
    where: Where
    why: str = ""


#: The lab's mechanisms, in plot order. A new one is an entry here, its model call in
#: `world.ModelWorld` and its live call in `live._measure.LabBench`. io_uring is measured live
#: where the kernel allows it; where it refuses io_uring, its points are the model's only
#: (`sweep.URING_REFUSED`).
MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in (
        Mechanism("select", "live"),
        Mechanism("poll", "live"),
        Mechanism("epoll", "live"),
        Mechanism("io_uring", "live"),
        Mechanism("kqueue", "model only", "Linux has no kqueue: the model's FreeBSD kqueue"),
    )
}

DEFAULT_SIZES = (10, 30, 100, 300, 1000, 3000, 10_000)
DEFAULT_ACTIVE = (10,)
DEFAULT_REPEAT = 21
#: The thrash experiment's defaults (`thrash.ThrashPlan`): here, with the sweep's, so that the
#: command line's parser (built for every ``muxlab`` command) reads them without importing the
#: experiment's module.
DEFAULT_RATES = (10_000, 20_000, 50_000, 100_000, 200_000, 300_000, 500_000, 700_000, 1_000_000)
DEFAULT_WORK_NS = 5_000
#: Descriptors the live child holds besides the pairs: 0, 1, 2, the lab's epoll, and
#: io_uring's ring while it is measured.
_OVERHEAD_FDS = 5


class PlanError(ValueError):
    """A plan that cannot run; the message says what to change."""


def largest_size(nofile: int | None = None) -> int:
    """The most socket pairs the live child can hold: its descriptors at RLIMIT_NOFILE's hard
    limit (`nofile`; by default this process's, which the child inherits), less 0, 1, 2, the
    epoll instance and io_uring's ring, two per pair."""
    if nofile is None:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if nofile == resource.RLIM_INFINITY:
            nofile = 1 << 20
    return (nofile - _OVERHEAD_FDS) // 2


@dataclass(frozen=True, slots=True)
class Plan:
    """A sweep: every mechanism at every size N and active count K, `repeat` samples each."""

    mechanisms: tuple[str, ...] = tuple(MECHANISMS)
    sizes: tuple[int, ...] = DEFAULT_SIZES
    active: tuple[int, ...] = DEFAULT_ACTIVE
    repeat: int = DEFAULT_REPEAT

    @classmethod
    def default(cls, limit: int | None = None) -> Plan:
        """The default sweep, its sizes cut to the descriptor limit (`largest_size`)."""
        top = largest_size() if limit is None else limit
        sizes = (*(n for n in DEFAULT_SIZES if n < top), min(top, DEFAULT_SIZES[-1]))
        return cls(sizes=tuple(sorted(set(sizes))))

    def checked(self, limit: int | None = None) -> Plan:
        """This plan with sizes and counts sorted and deduplicated; PlanError if it cannot run.

        `limit` is the most pairs allowed (default: `largest_size()`).
        """
        top = largest_size() if limit is None else limit
        unknown = [m for m in self.mechanisms if m not in MECHANISMS]
        if unknown:
            raise PlanError(
                f"unknown mechanism {unknown[0]!r}: choose from {', '.join(MECHANISMS)}"
            )
        if not self.mechanisms:
            raise PlanError(f"no mechanism given: choose from {', '.join(MECHANISMS)}")
        for what, values in (("--sizes", self.sizes), ("--active", self.active)):
            if not values:
                raise PlanError(f"{what} needs at least one number")
            bad = [v for v in values if v < 1]
            if bad:
                raise PlanError(f"{what} must be 1 or more, got {bad[0]}")
        if self.repeat < 1:
            raise PlanError(f"--repeat must be 1 or more, got {self.repeat}")
        too_big = max(self.sizes)
        if too_big > top:
            raise PlanError(
                f"--sizes {too_big} is beyond this machine's descriptor limit: a pair takes two "
                f"descriptors and RLIMIT_NOFILE allows {top} pairs; the largest possible size "
                f"is {top} (raise the limit with `ulimit -n` to go further)"
            )
        if max(self.active) > min(self.sizes):
            raise PlanError(
                f"--active {max(self.active)} is more than the smallest size, "
                f"{min(self.sizes)}: K active pairs need N >= K registered at every point"
            )
        return Plan(
            mechanisms=tuple(dict.fromkeys(self.mechanisms)),
            sizes=tuple(sorted(set(self.sizes))),
            active=tuple(sorted(set(self.active))),
            repeat=self.repeat,
        )

    @property
    def points(self) -> int:
        """How many points the sweep yields."""
        return len(self.mechanisms) * len(self.sizes) * len(self.active)
