"""Benchmark: the model's epoll at scale -- 1,000,000 registered descriptors.

Run it with the project's interpreter::

    .venv/bin/python tests/benchmarks/bench_epoll_scale.py [--n 1000000]

Two questions, each answered against a reference measured in the same run (the machine is
shared and noisy, so only ratios mean anything):

1. Registration: `epoll_ctl(ADD)` of N descriptors (tracing off) versus N
   ``SortedDict.__setitem__`` calls -- the cost of a pure-Python interest tree plus the
   epitem/wait-entry bookkeeping against the best pure-Python sorted map. Target: <= 2x.
2. Harvest: `epoll_wait` with 100 ready descriptors among 1,000 and among N registered. The
   model's cost counters must be identical and the time within 1.5x: epoll_wait is O(ready).

The descriptors are the read ends of N/2 socketpairs plus their write ends (both registered).
Results go to ``results/epoll_scale.json`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from sortedcontainers import SortedDict

from simulator.kernel import ModelKernel
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN

RESULTS = Path(__file__).parent / "results" / "epoll_scale.json"
READY = 100


def build(n: int) -> tuple[ModelKernel, int, list[int], float]:
    """A model with `n` sockets registered in one epoll; returns (kernel, epfd, fds, seconds)."""
    k = ModelKernel(nofile=n + 64, trace=False)
    ep = k.epoll_create()
    fds: list[int] = []
    for _ in range(n // 2):
        fds.extend(k.socketpair())
    ctl = k.epoll_ctl
    start = time.perf_counter()
    for fd in fds:
        ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN)
    return k, ep, fds, time.perf_counter() - start


def sorteddict_seconds(n: int) -> float:
    keys = [(i * 7919, i) for i in range(n)]  # (file identity, fd) pairs, as the tree's keys
    table: SortedDict[tuple[int, int], int] = SortedDict()
    start = time.perf_counter()
    for key in keys:
        table[key] = 0
    return time.perf_counter() - start


def harvest(k: ModelKernel, ep: int, fds: list[int], rounds: int = 7) -> tuple[float, int]:
    """Median seconds of an epoll_wait returning READY events, and its total cost."""
    for i in range(READY):  # make READY read ends readable (even index = first of a pair)
        k.send(fds[2 * i + 1], 1)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        got = k.epoll_wait(ep, READY * 2, 0)  # LT: the same events every time
        times.append(time.perf_counter() - start)
        if len(got) != READY:
            raise RuntimeError(f"expected {READY} events, got {len(got)}")
    return statistics.median(times), k.last_cost.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.n

    small, small_ep, small_fds, _ = build(1_000)
    small_time, small_cost = harvest(small, small_ep, small_fds)
    del small

    ref = sorteddict_seconds(n)
    big, big_ep, big_fds, reg = build(n)
    ref_after = sorteddict_seconds(n)
    big_time, big_cost = harvest(big, big_ep, big_fds)
    reference = statistics.mean([ref, ref_after])

    figures = {
        "n": n,
        "registration_s": reg,
        "sorteddict_s": reference,
        "registration_ratio": reg / reference,
        "epoll_wait_1000_s": small_time,
        "epoll_wait_n_s": big_time,
        "epoll_wait_time_ratio": big_time / small_time,
        "epoll_wait_cost_1000": small_cost,
        "epoll_wait_cost_n": big_cost,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"registration of {n:,} fds: {reg:.2f} s; SortedDict inserts: {reference:.2f} s; "
        f"ratio {figures['registration_ratio']:.2f} (target <= 2)"
    )
    print(
        f"epoll_wait, {READY} ready: {small_time * 1e6:.0f} us at 1,000 vs "
        f"{big_time * 1e6:.0f} us at {n:,}; ratio {figures['epoll_wait_time_ratio']:.2f} "
        f"(target <= 1.5); cost {small_cost} vs {big_cost} (must be equal)"
    )
    return 0 if small_cost == big_cost else 1


if __name__ == "__main__":
    sys.exit(main())
