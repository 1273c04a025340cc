"""One scenario being played in the app: the lockstep runner plus what only the app needs.

`PlaySession` wraps `simulator.scenario.Runner` and adds:

* the live kernel it started (to show its pid, notice when its child dies, and read the real
  interest list from ``/proc/<pid>/fdinfo/<epfd>`` right after each step it ran);
* a fallback when the live kernel is lost (its child died, or it refused the scenario): the
  answers it gave so far become a `Recording` and a new runner replays them, so the model goes
  on alone from that step and the app says why;
* the user's predictions and score;
* a head start for the live kernel: its child process is started in a thread as the session
  is made (`prestart`), so it comes up while the player draws its first frame, and the first
  step finds it running (the runner would otherwise start it at the first step).

It knows nothing of Textual. `seek` may block on the live kernel (a real ``epoll_wait`` with a
timeout), so the app runs it in a thread worker when `needs_live` says so, and reads nothing
from the session until the worker is done: the session itself takes no locks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from simulator import uapi
from simulator.observe import HasFdinfo, HasPid, HasProcThreads, ProcThreads, TraceEvent, Watchable
from simulator.scenario import Bindings, Recording, Runner, ScenarioRunError, StepRecord, Verdict
from simulator.scenario.format import Scenario
from simulator.scenario.recording import this_platform
from simulator.scenario.runner import LiveFactory, ModelFactory, default_live_factory
from simulator.scenario.runner import default_model_factory as _default_model_factory
from simulator.scenario.threadsteps import thread_ids

#: The real interest list of each epoll (by scenario name) after one step, as ``fdinfo``
#: returned it -- or the reason it could not be read.
FdinfoSnapshot = dict[str, list[dict[str, int]] | str]
#: Called with the model just before the last step of a move runs; returns the observer its
#: model calls at each micro-step of that step (see `simulator.observe.Watchable.observe`).
StepWatch = Callable[[uapi.Kernel], Callable[[TraceEvent], None] | None]


class Source(StrEnum):
    """Where the right-hand side's answers come from."""

    LIVE = "live kernel"
    RECORDING = "recording"
    MODEL = "model only"


@dataclass(frozen=True)
class LiveStatus:
    """What the right panel says about the real kernel."""

    source: Source
    pid: int | None = None
    alive: bool = False
    lost: str | None = None  #: why the live kernel stopped answering
    lost_at: int | None = None  #: index of the first step the model ran alone
    platform: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """The user's pick at one step, and whether the real kernel agreed."""

    index: int
    chosen: int | None  #: None: the user skipped the question
    answer: int | None  #: the choice the real result matches (None: none of them)
    choices: tuple[str, ...]

    @property
    def right(self) -> bool:
        return self.chosen is not None and self.chosen == self.answer


class PlaySession:
    """A scenario in play. `live` starts a live kernel (unless a `recording` is given)."""

    #: Whether the steps grow as the session runs (the sandbox), so those still to come are
    #: unknown (see `tui.frame.mechanism_of`).
    growing: ClassVar[bool] = False

    def __init__(
        self,
        scenario: Scenario,
        path: Path | None = None,
        *,
        live: bool = True,
        recording: Recording | None = None,
        model_factory: ModelFactory = _default_model_factory,
        live_factory: LiveFactory = default_live_factory,
        prestart: bool = False,
    ) -> None:
        self.scenario = scenario
        self.path = path
        self.title = scenario.scenario.title
        self.mechanism = scenario.scenario.mechanism
        self._model_factory = model_factory
        self._live_factory = live_factory
        self.live_kernel: uapi.Kernel | None = None
        self._prestarted: Future[uapi.Kernel] | None = None
        self._lost: str | None = None
        self._lost_at: int | None = None
        self._fdinfo: dict[int, FdinfoSnapshot] = {}
        self._proc_threads: dict[int, ProcThreads] = {}
        self.predictions: dict[int, Prediction] = {}
        self.furthest = 0
        if recording is not None:
            self.source = Source.RECORDING
            self._platform = dict(recording.platform)
        elif live:
            self.source = Source.LIVE
            self._platform = {}
        else:
            self.source = Source.MODEL
            self._platform = {}
        self.runner = Runner(
            scenario,
            model_factory,
            self._start_live if self.source is Source.LIVE else None,
            recording,
        )
        #: The scenario's thread names by thread number (`threadsteps.thread_ids`).
        self.thread_names = {tid: name for name, tid in thread_ids(scenario.steps).items()}
        self._epoll_names = tuple(
            name
            for step in scenario.steps
            if step.call.name == "epoll_create"
            for name in step.names
        )
        if prestart and self.source is Source.LIVE:
            self._prestart()

    # --- reading -------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Number of steps in the scenario."""
        return len(self.runner.steps)

    @property
    def position(self) -> int:
        """Steps run so far (0: before the first)."""
        return self.runner.position

    @property
    def frontier(self) -> int:
        """How many steps have ever run (the live kernel is only asked beyond this)."""
        return len(self.runner.records)

    @property
    def model(self) -> uapi.Kernel:
        """The model at `position`."""
        return self.runner.model

    @property
    def names(self) -> Bindings:
        """The model's names at `position`."""
        return self.runner.bindings

    def record(self, position: int | None = None) -> StepRecord | None:
        """The record of the step that led to `position` (default: the current one)."""
        position = self.position if position is None else position
        records = self.runner.records
        return records[position - 1] if 0 < position <= len(records) else None

    @property
    def records(self) -> tuple[StepRecord, ...]:
        return self.runner.records

    def fdinfo(self, position: int | None = None) -> FdinfoSnapshot | None:
        """The real interest lists read right after the step that led to `position`."""
        position = self.position if position is None else position
        return self._fdinfo.get(position - 1)

    @property
    def threaded(self) -> bool:
        """Whether the scenario makes calls on threads of its own (the threads panel shows)."""
        return bool(self.thread_names)

    def proc_threads(self, position: int | None = None) -> ProcThreads | None:
        """The live child's threads as /proc showed them right after the step that led to
        `position` (None: not read, e.g. replayed from a recording or no thread in use)."""
        position = self.position if position is None else position
        return self._proc_threads.get(position - 1)

    def live_names(self, position: int | None = None) -> Bindings:
        """The live kernel's names after `position` steps, as the runner recorded them."""
        record = self.record(position)
        return Bindings() if record is None else record.live_names

    def status(self) -> LiveStatus:
        """The live kernel as the right panel shows it."""
        kernel = self.live_kernel
        process = kernel if isinstance(kernel, HasPid) else None
        pid = process.pid if process is not None else None
        alive = process is not None and process.alive and self._lost is None
        return LiveStatus(self.source, pid, alive, self._lost, self._lost_at, dict(self._platform))

    def needs_live(self, target: int) -> bool:
        """Whether moving to `target` asks the live kernel (and so may block)."""
        return self.source is Source.LIVE and self._lost is None and target > self.frontier

    def score(self) -> tuple[int, int]:
        """(right, asked) over the questions the user answered."""
        answered = [p for p in self.predictions.values() if p.chosen is not None]
        return sum(p.right for p in answered), len(answered)

    def counts(self) -> dict[Verdict, int]:
        """Verdicts of the steps up to `position`."""
        counts = dict.fromkeys(Verdict, 0)
        for record in self.runner.records[: self.position]:
            counts[record.verdict] += 1
        return counts

    # --- moving --------------------------------------------------------------------------

    def seek(
        self,
        target: int,
        on_step: Callable[[int], None] | None = None,
        watch: StepWatch | None = None,
    ) -> None:
        """Move to `target` (clamped to the scenario). May block on the live kernel.

        Steps past the frontier run one by one, each followed by a read of the real interest
        lists; a live kernel that breaks is dropped (see `lost`) and the model goes on alone.
        `on_step(position)` is called after each step run forward. `watch` observes the
        micro-steps of the step that ends at `target` (see `StepWatch`).
        """
        target = max(0, min(target, self.total))
        if watch is None or target == 0:
            self._seek(target, on_step)
            return
        self._seek(target - 1, on_step)
        model = self.model if isinstance(self.model, Watchable) else None
        observer = watch(self.model)
        if model is not None:
            model.observe(observer)
        try:
            self._seek(target, on_step)
        finally:
            if model is not None:
                model.observe(None)

    def _seek(self, target: int, on_step: Callable[[int], None] | None) -> None:
        if target <= self.frontier:
            self.runner.seek(target)
        else:
            self.runner.seek(self.frontier)
            while self.position < target:
                fresh = self.position == self.frontier
                try:
                    record = self.runner.advance()
                except ScenarioRunError as exc:
                    self._lose_live(str(exc))
                    continue
                if fresh and record.live is not None and self._lost is None:
                    self._read_fdinfo(record)
                    self._read_proc_threads(record)
                if on_step is not None:
                    on_step(self.position)
        self.furthest = max(self.furthest, self.position)

    def predict(self, prediction: Prediction) -> None:
        """Keep the user's answer to the question at `prediction.index`."""
        self.predictions[prediction.index] = prediction

    def recording(self) -> Recording:
        """The live answers so far (to save with ``--record``)."""
        return self.runner.recording()

    def close(self) -> None:
        """End the live kernel's child process, if any. Idempotent."""
        started, self._prestarted = self._prestarted, None
        if started is not None:
            _close_when_started(started)
        self.runner.close()
        kernel = self.live_kernel
        if kernel is not None:
            kernel.close_all()

    # --- the live side -------------------------------------------------------------------

    def _live_limits(self) -> dict[str, Any]:
        """What the runner gives the live factory (see `Runner`): the descriptor limits."""
        limits = self.scenario.model.kwargs()
        return {k: v for k, v in limits.items() if k in ("nofile", "nofile_hard")}

    def _prestart(self) -> None:
        """Start the live kernel in a thread; `_start_live` takes it (or its exception)."""
        started: Future[uapi.Kernel] = Future()
        limits = self._live_limits()

        def start() -> None:
            try:
                kernel = self._live_factory(**limits)
            except BaseException as exc:  # given to the runner at the first step
                started.set_exception(exc)
                return
            self.live_kernel = kernel  # the player shows its pid before the first step
            started.set_result(kernel)

        self._prestarted = started
        threading.Thread(target=start, name="muxlab-live-start", daemon=True).start()

    def _start_live(self, **limits: Any) -> uapi.Kernel:
        started, self._prestarted = self._prestarted, None
        if started is not None and limits == self._live_limits():
            kernel = started.result()
        else:
            if started is not None:  # asked with other limits: not the kernel we started
                _close_when_started(started)
            kernel = self._live_factory(**limits)
        self.live_kernel = kernel
        self._platform = this_platform()
        return kernel

    def _read_fdinfo(self, record: StepRecord) -> None:
        kernel = self.live_kernel
        if not isinstance(kernel, HasFdinfo) or not self._epoll_names:
            return
        read = kernel.fdinfo
        snapshot: FdinfoSnapshot = {}
        for name in self._epoll_names:
            fd = record.live_names.fds.get(name)
            if fd is None:
                continue
            try:
                snapshot[name] = read(fd)
            except (OSError, ValueError) as exc:
                snapshot[name] = str(exc) or type(exc).__name__
        self._fdinfo[record.index] = snapshot

    def _read_proc_threads(self, record: StepRecord) -> None:
        kernel = self.live_kernel
        if isinstance(kernel, HasProcThreads) and self.threaded:
            snapshot = kernel.proc_threads()
            if snapshot is not None:
                self._proc_threads[record.index] = snapshot

    def _lose_live(self, why: str) -> None:
        """Replace the runner by one that replays what the live kernel answered so far."""
        position = self.position
        recording = self.runner.recording()
        self.runner.close()
        if self.live_kernel is not None:
            self.live_kernel.close_all()
        self._lost = why
        self._lost_at = len(recording.live)
        self.runner = Runner(self.scenario, self._model_factory, None, recording)
        self.runner.seek(position)


def _close_when_started(started: Future[uapi.Kernel]) -> None:
    """Close the kernel a prestart thread makes, now or when it is up, without waiting."""

    def close(done: Future[uapi.Kernel]) -> None:
        if done.exception() is None:
            done.result().close_all()

    started.add_done_callback(close)


__all__ = [
    "FdinfoSnapshot",
    "LiveStatus",
    "PlaySession",
    "Prediction",
    "Source",
    "StepWatch",
]
