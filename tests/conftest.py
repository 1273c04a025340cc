"""Shared fixtures: the two kernels, alone and as a differential `Twin`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel
from simulator.uapi import Kernel
from tests.twin import Twin

#: The live kernel's bound on an infinite wait in tests: the default (2 s) would make every
#: test of an infinite wait pay it; the engine is quiescent, so a short bound answers the same.
WAIT_BOUND_S = 0.1


def model_like(live: LiveKernel) -> ModelKernel:
    """A model whose RLIMIT_NOFILE matches what the live child was granted.

    The hard limit the child gets depends on this machine's privileges (raising it needs
    CAP_SYS_RESOURCE), so the model takes the live value rather than its default.
    """
    soft, hard = live.limits
    return ModelKernel(nofile=soft, nofile_hard=hard)


@pytest.fixture(params=["model", "live"])
def kernel(request: pytest.FixtureRequest) -> Iterator[Kernel]:
    """Each kernel in turn, for checks that hold on both (each test runs twice)."""
    k: Kernel = ModelKernel() if request.param == "model" else LiveKernel(wait_bound_s=WAIT_BOUND_S)
    with k:
        yield k


@pytest.fixture
def twin() -> Iterator[Twin]:
    """The model and the real kernel in lockstep: every call must agree on both."""
    with LiveKernel(wait_bound_s=WAIT_BOUND_S) as live, model_like(live) as model:
        yield Twin(model, live)


@pytest.fixture(params=["unix", "tcp"])
def family(request: pytest.FixtureRequest) -> str:
    """A stream-socket family, for behaviours AF_UNIX and TCP share (each test runs twice):
    ``tests.diffkit.pair(twin, family)`` connects a pair of that family."""
    param: str = request.param
    return param
