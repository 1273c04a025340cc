"""Rewind on every shipped scenario: seeking to any step gives exactly what a fresh run to that
step gives -- the model's observable state and the step records -- whichever checkpoint the
seek starts from. The live answers come from a recording (what a rewind replays anyway), so
the check runs anywhere and never touches a socket."""

from __future__ import annotations

import copy
import functools
import random
from pathlib import Path
from typing import Any

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.eventpoll import EventPoll
from simulator.kernel.kqueue import KQueue
from simulator.scenario import Recording, Runner, load_scenario
from simulator.scenario.library import scenario_files, shipped_dir
from simulator.uapi import Kernel
from tests.tui_support import model_recording

SHIPPED = shipped_dir()
FILES = scenario_files([SHIPPED])[0] if SHIPPED is not None else []


def observe(model: Kernel) -> tuple[object, ...]:
    """What the model shows: clock, counts, each descriptor's file and wait queue, every epoll's
    tree and ready list, every kqueue's knotes, every thread's state -- and what poll and
    epoll_wait would answer now (asked of a copy, since asking can change state)."""
    assert isinstance(model, ModelKernel)
    files: list[object] = []
    for fd, file in model.fds().items():
        entry: list[object] = [fd, file.label, file.kind, file.f_count]
        entry.append([e.label for e in file.wq.entries])
        entry.append(getattr(file, "rcv_bytes", None))
        if isinstance(file, EventPoll):
            entry.append([(epi.fd, epi.events, epi.key) for epi in file.items()])
            entry.append([epi.fd for epi in file.rdllist])
            entry.append(file.ovflist)
        if isinstance(file, KQueue):
            entry.append([repr(kn) for kn in file.knotes()])
            entry.append([repr(kn) for kn in file.pending()])
        files.append(entry)
    threads = model.threads()
    answers: list[object] = []
    if not model.sched.active:
        # A model whose threads sleep inside a call cannot be copied (their Python stacks), so
        # then the threads' own states -- and the wait-queue entries above -- stand for it.
        probe = copy.deepcopy(model)
        answers.append(probe.poll([(fd, 0xFFFF) for fd in probe.fds() if fd > 2], 0))
        for fd, file in probe.fds().items():
            if isinstance(file, EventPoll):
                answers.append(probe.epoll_wait(fd, 64, 0))
    counts = (model.now_ns, model.user_watches, model.fs.nr_files, model.fdt.capacity)
    return (counts, model.fdt.nofile, files, answers, threads)


def _as_json(runner: Runner, n: int) -> list[dict[str, Any]]:
    return [record.to_json() for record in runner.records[:n]]


@functools.cache
def fresh_run(path: Path) -> tuple[Recording, list[tuple[object, ...]], list[dict[str, Any]]]:
    """`path`'s recording, and a fresh run's state after each step and its records: the same
    for both checkpoint intervals, so made once (a third of each case's time)."""
    scenario = load_scenario(path)
    recording = model_recording(path)
    with Runner(scenario, ModelKernel, recording=recording) as fresh:
        states = [observe(fresh.model)]
        for _ in fresh:
            states.append(observe(fresh.model))
        return recording, states, _as_json(fresh, len(fresh.steps))


# The interval varies fastest: a file's two cases are neighbours, and share `fresh_run`.
@pytest.mark.parametrize("checkpoint_every", [16, 3])
@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_seeking_to_any_step_equals_a_fresh_run_to_it(path: Path, checkpoint_every: int) -> None:
    scenario = load_scenario(path)
    recording, states, fresh_records = fresh_run(path)
    order = list(range(len(states)))
    random.Random(path.stem).shuffle(order)
    with Runner(
        scenario, ModelKernel, recording=recording, checkpoint_every=checkpoint_every
    ) as rewound:
        rewound.seek(len(states) - 1)
        for n in [*reversed(range(len(states))), *order]:
            model = rewound.seek(n)
            assert observe(model) == states[n], f"{path.name}: state after seek({n})"
            assert _as_json(rewound, n) == fresh_records[:n], f"{path.name}: records to {n}"
