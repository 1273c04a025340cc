"""Tracing off changes nothing but the trace: every result and every cost counter is the same.

Bulk runs (the complexity lab, the benchmarks) switch tracing off for speed; the lessons they
teach rest on the cost counters, so those must not depend on it. Every shipped scenario runs
on the model twice, tracing on and off, and the step records (results, verdicts, costs) and
the model's final state must be identical; the interest tree's fast paths (inserting and
finding keys in bulk, erasing) are compared call by call on a larger random workload too.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest

from simulator.kernel import ModelKernel
from simulator.observe import Cost
from simulator.scenario.loader import load_scenario
from simulator.scenario.runner import Runner, StepRecord
from simulator.uapi import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLET,
    EPOLLIN,
    EPOLLOUT,
    Kernel,
)

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


def _run(path: Path, trace: bool) -> tuple[list[StepRecord], ModelKernel]:
    models: list[ModelKernel] = []

    def factory(**params: Any) -> Kernel:
        models.append(ModelKernel(**params, trace=trace))
        return models[-1]

    with Runner(load_scenario(path), factory, None) as runner:
        records = [dataclasses.replace(record, trace=()) for record in runner]
        # The runner may rebuild its model from checkpoints; the last one it used is current.
        return records, models[-1]


def _state(k: ModelKernel) -> list[object]:
    """Everything a viewer can see of the model, with the snapshot API."""
    seen: list[object] = [k.now_ns, k.calls, k.fd_table(), k.nic_snapshot()]
    for fd in k.open_fds():
        seen += [k.file_at(fd), k.wait_queue_of(fd), k.epoll_at(fd, depth=64, limit=10**6)]
        seen.append(k.kqueue_at(fd))
    return seen


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_runs_the_same_with_tracing_off(path: Path) -> None:
    traced, traced_model = _run(path, trace=True)
    untraced, untraced_model = _run(path, trace=False)
    assert untraced_model.trace == [] and untraced_model.tracing is False
    assert len(traced) == len(untraced)
    for on, off in zip(traced, untraced, strict=True):
        assert off == on, f"{path.name} step {on.number}: {off.call}"
    assert _state(untraced_model) == _state(traced_model)


def _workload(k: ModelKernel, seed: int) -> list[tuple[object, Cost]]:
    """Random registrations, changes and removals in one epoll, readiness on the way."""
    rng = random.Random(seed)
    ep = k.epoll_create()
    pairs = [k.socketpair() for _ in range(300)]
    fds = [fd for pair in pairs for fd in pair]
    rng.shuffle(fds)
    registered: list[int] = []
    seen: list[tuple[object, Cost]] = []
    for step in range(1_500):
        choice = rng.random()
        result: object = None
        if choice < 0.5 or not registered:
            fd = rng.choice(fds)
            try:
                k.epoll_ctl(ep, EPOLL_CTL_ADD, fd, rng.choice([EPOLLIN, EPOLLIN | EPOLLET]))
                registered.append(fd)
            except FileExistsError as exc:
                result = exc.errno
        elif choice < 0.7:
            fd = registered.pop(rng.randrange(len(registered)))
            k.epoll_ctl(ep, EPOLL_CTL_DEL, fd)
        elif choice < 0.8:
            k.epoll_ctl(ep, EPOLL_CTL_MOD, rng.choice(registered), EPOLLIN | EPOLLOUT)
        elif choice < 0.9:
            _reader, b = rng.choice(pairs)
            result = k.send(b, 1 + step % 7)
        else:
            result = k.epoll_wait(ep, 16, 0)
        seen.append((result, k.last_cost))
    return seen


@pytest.mark.parametrize("seed", [1, 2])
def test_interest_tree_work_is_counted_the_same_with_tracing_off(seed: int) -> None:
    on = _workload(ModelKernel(nofile=1024, trace=True), seed)
    off = _workload(ModelKernel(nofile=1024, trace=False), seed)
    for number, (traced, untraced) in enumerate(zip(on, off, strict=True)):
        assert untraced == traced, f"call {number}"


def test_the_tracing_switch_counts_like_the_constructor_flag() -> None:
    on = _workload(ModelKernel(nofile=1024), 3)
    k = ModelKernel(nofile=1024)
    k.tracing = False
    assert _workload(k, 3) == on and k.trace == []
