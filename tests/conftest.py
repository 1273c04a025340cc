"""Shared fixtures: the two kernels, alone and as a differential `Twin`; the hypothesis
profiles; the rule for tests that need a program the machine may lack (tmux, Chromium); how a
test starts a program it interrupts as Ctrl+C would; and how the suite is collected, ordered
and ended (the collector off while collecting, the longest first, a worker's garbage collected
before it reports the end)."""

from __future__ import annotations

import gc
import os
import shutil
import sys
from collections.abc import Generator, Iterator, Mapping, Sequence

import pytest
from hypothesis import settings

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel
from simulator.uapi import Kernel
from tests.twin import Twin

# Hypothesis budgets, by name. "dev" is the everyday run; "ci" runs the same budget with no
# example database (a CI machine keeps none) and prints the blob that reproduces a failure.
# Any other run picks one with `--hypothesis-profile=NAME`, which wins over the choice below.
settings.register_profile("dev", max_examples=100)
settings.register_profile("ci", max_examples=100, database=None, print_blob=True)


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this run is CI's: the ``CI`` variable is set (and not empty, "0" or "false")."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false")


def hypothesis_profile(environ: Mapping[str, str] = os.environ) -> str:
    """The profile this run uses unless `--hypothesis-profile` names one: "ci" under CI."""
    return "ci" if in_ci(environ) else "dev"


settings.load_profile(hypothesis_profile())


# Collection imports every test module and what they import (Textual, the app, hypothesis):
# some 150,000 objects that live as long as the process. The cyclic collector would walk them
# again and again while they are made (over a second of each xdist worker's start-up, and every
# worker collects the whole suite); imports make no cyclic garbage worth that, so the collector
# is off while the suite is collected, and on as usual while the tests run.
@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    gc.disable()
    try:
        return (yield)
    finally:
        gc.set_threshold(*TEST_GC_THRESHOLDS)
        gc.enable()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject's addopts): a worker per core this process may run on, and one
    more. Tests also wait -- on live children, subprocesses, tmux, Chromium, a pilot's pauses --
    and two workers on two cores left a core idle a third of the time: on an idle 2-core
    machine the suite took 5:39 with two workers, 5:04 with three, 5:07 with four (README,
    "Quick start"). ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still sets the count (xdist reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may run on
        return len(os.sched_getaffinity(0)) + 1
    return (os.cpu_count() or 1) + 1


#: The collector's thresholds while the tests run (CPython's default: 700, 10, 10). A test
#: that opens the app leaves some 10,000-25,000 objects in reference cycles (widgets and their
#: parents), which live through the test and so reach the oldest generation; at the default,
#: full collections come every ~70,000 allocations and each walks the whole worker (~0.5-2.5
#: million objects: the suite's imports, the app, what waits to be collected) -- ~16% of the
#: CPU of the TUI tests (`gc.callbacks`: 8.7 s of ~55 s for test_tui_menu, _sandbox and
#: _player, -n 0), and half the CPU of opening the menu in a process of that size. The
#: youngest generation collected every 3,000 allocations instead makes full collections about
#: four times rarer (2.2-3.0 s of the same run) for more memory at the worker's peak (those
#: three files: 0.21 -> 0.47 GB; tests/test_tui_*.py, -n auto: 0.53 -> 0.84 GB, user CPU 353 ->
#: 313 s). The program itself keeps CPython's defaults: one app a process.
TEST_GC_THRESHOLDS = (3000, 10, 10)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The worker's garbage collected before it says it has finished, and what survives frozen.

    At `TEST_GC_THRESHOLDS` a worker ends holding 2-4 million objects, much of them cyclic
    garbage (dead apps), and pytest's clean-up collects five times over the whole heap once
    the session is over (its check for exceptions raised in finalizers): 5-10 s (the first
    collection alone took 4.9-9.5 s in each of three workers). But
    once every worker has said it finished, xdist closes their gateways, and execnet's worker
    sends itself SIGINT when its execution has not ended 5 s later -- which landed in
    hypothesis's `gc.callbacks` hook ("Exception ignored in ... gc_callback: KeyboardInterrupt")
    or, anywhere else, would end the worker with a traceback. Collected here, inside the
    session (the controller waits for it), with pytest's unraisable hook still installed, and
    frozen after (`gc.freeze`: the survivors are alive), pytest's five collections walk only
    what is made after."""
    gc.collect()
    gc.freeze()


#: Modules whose tests are the suite's longest (a whole second or more each; the fuzzer and the
#: browser test ~30 s): they run first, so that the last tests a worker takes are short ones
#: and the two workers finish together (xdist's workers steal from the end of each other's
#: queues). Measured with ``--durations``; README, "Quick start".
LONGEST_FIRST = (
    "test_fuzz_differential.py",
    "test_browser.py",
    "test_tui_layout.py",
    "test_tui_shipped.py",
    "test_tui_player.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Puts the tests of `LONGEST_FIRST` first, in that order (a stable sort: the rest keep
    theirs)."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def as_in_a_terminal(argv: Sequence[str]) -> list[str]:
    """`argv` run the way a terminal runs a foreground program: SIGINT at its default, so that
    Python turns it into KeyboardInterrupt. A program started from a non-interactive shell's
    background job (``cmd &``, ``nohup``) inherits SIGINT ignored, and an ignored signal stays
    ignored across ``exec``: a test that sends the program SIGINT to play Ctrl+C would then see
    it run to its end. An isolated interpreter resets the signal and execs `argv`."""
    reset = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    return [sys.executable, "-I", "-c", reset + "os.execv(sys.argv[1], sys.argv[1:])", *argv]


def require_tool(found: str | None, what: str, install: str) -> str:
    """The path of a program a test drives for real (`found`, None when it is missing).

    Missing, the test is skipped by name -- except under CI, where `.ci/run` installs it first:
    there a missing tool is a failure, so that CI never passes a check it did not run.
    """
    if found is not None:
        return found
    message = f"{what} is not installed; install it with `{install}`"
    if in_ci():
        pytest.fail(f"{message} (CI is set, and CI runs every test)", pytrace=False)
    pytest.skip(message)


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


@pytest.fixture
def tmux_installed() -> str:
    """The tmux binary, for tests of the real program in a real terminal (see `require_tool`)."""
    return require_tool(shutil.which("tmux"), "tmux", "apt-get install tmux")
