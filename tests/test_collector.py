"""A forward run's collector policy (`simulator.scenario.collector`): what each stretch of steps
made is frozen, and everything is handed back when the run ends -- also when a runner's
iteration is left early."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from simulator.scenario.collector import FREEZE_EVERY, ForwardRun
from simulator.scenario.loader import parse_scenario
from simulator.scenario.runner import Runner


class Node:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_forward_run_freezes_each_stretch_of_steps_and_hands_it_back_at_the_end() -> None:
    gc.disable()  # only the policy acts: what is frozen is then exactly known
    try:
        before = Node()
        frozen_at_start = weakref.ref(before)
        with ForwardRun() as run:
            assert gc.get_freeze_count() > 0
            frozen = gc.get_freeze_count()
            del before
            gc.collect()
            assert frozen_at_start() is not None  # alive when the run began: frozen
            made = Node()
            made_in_run = weakref.ref(made)
            for _ in range(FREEZE_EVERY - 1):
                run.step()
            # Within a stretch nothing is frozen (`made` dying below proves it was not). The
            # count may still fall: a frozen object can die by reference count meanwhile, e.g.
            # one left by an earlier test's thread in this worker.
            assert gc.get_freeze_count() <= frozen
            gc.collect()
            assert made_in_run() is not None  # alive, and young: not frozen, not collected
            del made
            gc.collect()
            assert made_in_run() is None  # a young cycle dies: the collector frees it
            survivor = Node()
            survived = weakref.ref(survivor)
            run.step()  # the stretch ends: what it made is frozen
            assert gc.get_freeze_count() > frozen
            del survivor
            gc.collect()
            assert survived() is not None  # a cycle dead while frozen waits for the run's end
        assert gc.get_freeze_count() == 0  # the run ended: everything handed back
        gc.collect()
        assert frozen_at_start() is None and survived() is None
    finally:
        gc.enable()


def test_a_runner_iteration_hands_the_heap_back_when_it_ends_or_is_left() -> None:
    steps = "".join(f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n' for i in range(3))
    scenario = parse_scenario(f'[scenario]\ntitle = "t"\n{steps}', "t.toml")
    with Runner(scenario) as runner:
        records = iter(runner)
        next(records)
        assert gc.get_freeze_count() > 0  # running: the run's objects are frozen
        del records  # left early: the generator closes
        assert gc.get_freeze_count() == 0
    with Runner(scenario) as runner:
        assert len(list(runner)) == 3
        assert gc.get_freeze_count() == 0
