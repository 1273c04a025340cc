"""Shared fixtures: the two kernels, alone and as a differential `Twin`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel
from simulator.uapi import Kernel
from tests.twin import Twin


@pytest.fixture(params=["model", "live"])
def kernel(request: pytest.FixtureRequest) -> Iterator[Kernel]:
    """Each kernel in turn, for checks that hold on both (each test runs twice)."""
    k: Kernel = ModelKernel() if request.param == "model" else LiveKernel()
    with k:
        yield k


@pytest.fixture
def twin() -> Iterator[Twin]:
    """The model and the real kernel in lockstep: every call must agree on both."""
    with ModelKernel() as model, LiveKernel() as live:
        yield Twin(model, live)
