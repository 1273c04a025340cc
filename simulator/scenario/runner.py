"""The lockstep runner: one scenario, two kernels, a verdict per step, and time travel.

`Runner` executes each step on the model and on the live kernel, translates both answers back
into the scenario's names, and yields a `StepRecord` with the verdict:

* **agree** -- both kernels answered the same (and every ``expect`` held);
* **diverge** -- they answered differently; `StepRecord.diff` says how. The real kernel is the
  judge: a divergence is a bug in the model (or a platform difference worth a lesson);
* **expect_failed** -- they agree, but not with what the scenario expected (or no ``choices``
  entry matches the real result);
* **model_only** -- only the model ran: a ``model_only`` step, a mechanism the platform lacks
  (the live kernel raises ``OSError(ENOSYS)``: kqueue on Linux, epoll on macOS), a descriptor
  that exists only in the model, or a run without a live kernel. Never counted as agreement.

Time travel follows rr and Redux DevTools: only the live kernel's answers are recorded (they are
the only non-deterministic input); the model is checkpointed with `copy.deepcopy`, and `seek`
restores the nearest checkpoint at or before the target and re-runs the model forward, replaying
recorded live answers. Going back never touches a socket. Step 0's checkpoint is no copy: the
factory makes it, then the model that runs (copying a model leaves its objects' attributes in
dicts, and each of its calls ~17 % slower: see `Runner.__init__`).

When to checkpoint is a trade: a copy costs about 63 µs per open descriptor (plus ~1 ms for an
empty model) while a step costs ~20 µs, so copying every 16 steps made a scenario that opens
descriptors quadratic (500 socket pairs in one epoll: 90 % of the run was copies). By default a
checkpoint is taken once `STEPS_PER_COPY_UNIT` steps per descriptor the model holds (plus
`_BASE_UNITS` for the rest of it) have run since the last one: the copies then cost a bounded
share of the run (about a quarter at worst), and going back re-runs at most that many steps, which
cost no more than the copy they saved. `checkpoint_every` instead fixes the interval (tests use
it to exercise many restores). Checkpoints are bounded: when there are more than
`max_checkpoints`, every other one is dropped and the interval doubles.

A scenario that keeps opening descriptors therefore keeps only the checkpoint at step 0, and
that is the cheapest rewind there is: a copy of the model costs more than re-running the steps
that built it (measured, CPU time: the state after 500 pairs in one epoll copies in 82 ms, while
re-running its 1,000 steps takes 60 ms; after 5,000 socketpairs, 576 ms against 406 ms), so
restoring a checkpoint taken late in the growth would be slower than starting again. What keeps
rewinding fast is that the re-run is lean: `seek` runs steps that have a record on the model side
only (with their recorded live answers) and keeps their records, which a deterministic model
would only make again.

Each step is prepared once, every step in one pass when the runner is made (`_Plan`: the call
as text, `calls.CallPlan`, the fields every run reads), because reading a validated step's
fields costs more than the model call. There is one step path, `advance`: without a live
side (no live kernel, no recording) a step at the frontier skips the live side's work -- there
is nothing to ask, resolve, compare or note for later -- and records share one snapshot of the
live names, which never change. A record's trace is what the model kept of it
(`ModelKernel.trace_frame`), made into events when first read.
"""

from __future__ import annotations

import copy
import errno
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from types import TracebackType
from typing import Any, cast

from simulator import syscalls, uapi
from simulator.observe import Cost, Observable, Traced, TraceEvent
from simulator.scenario import calls, threadsteps
from simulator.scenario.calls import Bindings, Json, Outcome
from simulator.scenario.collector import ForwardRun
from simulator.scenario.format import ResultKind, Scenario, StepBase
from simulator.scenario.recording import Recording, RecordingError, scenario_hash, this_platform

ModelFactory = Callable[..., uapi.Kernel]
#: Called with ``nofile``/``nofile_hard`` when ``[model]`` sets them (LiveKernel's parameters).
LiveFactory = Callable[..., uapi.Kernel]

_ENOSYS = errno.errorcode[errno.ENOSYS]
#: Calls that move the fd table (after one runs on the model alone, fd numbers may differ).
_FD_TABLE_CALLS = frozenset(name for name, call in syscalls.CALLS.items() if call.changes_fd_table)

#: Steps run between two automatic checkpoints per unit of model size (one open descriptor).
STEPS_PER_COPY_UNIT = 12
#: Size units of a model with no descriptors (its clock, NIC, tracer, tables): about as much
#: to copy as 18 descriptors.
_BASE_UNITS = 18
#: Steps after which the model's size is read again while no checkpoint is due.
_RECHECK = 16


class Verdict(StrEnum):
    """How a step came out; see the module docstring."""

    AGREE = "agree"
    DIVERGE = "diverge"
    EXPECT_FAILED = "expect_failed"
    MODEL_ONLY = "model_only"


#: A step's verdict, how the kernels differ, the expectations that failed, which of
#: ``choices`` the real result is, and the threads it woke (`StepRecord`'s fields of those names).
_Judgement = tuple[
    Verdict,
    str | None,
    tuple[str, ...],
    int | None,
    tuple[tuple[str, Outcome, Outcome | None], ...],
]
#: The judgement of a step only the model answered, with nothing to check and no thread to wake.
_MODEL_ONLY: _Judgement = (Verdict.MODEL_ONLY, None, (), None, ())


class ScenarioRunError(Exception):
    """A run that cannot go on: a kernel would not start, refused the scenario's set-up, or the
    live engine broke. Reported for this scenario only; other scenarios still run."""


@dataclass(slots=True)
class StepRecord:
    """Everything that happened at one step, for the TUI, ``--headless`` and ``--json``.

    Read only, by convention (a frozen dataclass's ``__init__`` cost 5x a plain one's: more
    than the model call of a ``socketpair``, and a run makes one a step)."""

    index: int  #: 0-based position in the scenario
    step: StepBase  #: the step as written
    call: str  #: the call as text: ``epoll_ctl(epfd=ep, op=ADD, fd=a, events=IN|ET)``
    model: Outcome
    live: Outcome | None  #: None when the live kernel did not run this step
    verdict: Verdict
    diff: str | None = None  #: how the kernels differ (diverge only)
    expect_failures: tuple[str, ...] = ()
    answer: int | None = None  #: which of ``choices`` the real result is
    note: str | None = None  #: why a step is model only, or what went oddly
    #: The model's micro-steps for this call (made when first read: see `Tracer.frame`).
    trace: Sequence[TraceEvent] = ()
    #: The model's work for this call, by category in `Cost`'s order (`cost` as numbers: a
    #: copy, which the model's own `Cost` goes on counting after the call, read in C).
    costs: tuple[int, ...] | None = None
    say: str | None = None
    #: What the live kernel was sent: the call's arguments in numbers, as JSON (KEvents as
    #: tables); None when it was sent nothing (it did not run the step, or a name had no fd).
    #: For a replayed step, what it was sent when the answer was recorded.
    sent: dict[str, Json] | None = None
    #: Threads asleep before this step that finished during it: (name, model outcome, live
    #: outcome or None), each the result of the step that put the thread to sleep.
    woken: tuple[tuple[str, Outcome, Outcome | None], ...] = ()
    #: The live kernel's names after this step (what its ``as`` bound on the live side, and
    #: every name bound before): a copy, to read, never to change.
    live_names: Bindings = field(default_factory=Bindings)

    @property
    def number(self) -> int:
        """1-based step number, as a reader counts."""
        return self.index + 1

    @property
    def cost(self) -> Cost | None:
        """The model's work for this call (a new `Cost` at each read), or None: the model does
        not count it, or the call returned before doing any."""
        return None if self.costs is None else Cost(*self.costs)

    def to_json(self) -> dict[str, Json]:
        """A JSON-ready dict (one line of ``muxlab play --json``)."""
        return {
            "index": self.index,
            "step": self.step.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            | {"do": self.step.call.name},
            "call": self.call,
            "model": self.model.to_json(),
            "live": None if self.live is None else self.live.to_json(),
            "verdict": self.verdict.value,
            "diff": self.diff,
            "expect_failures": list(self.expect_failures),
            "answer": self.answer,
            "note": self.note,
            "say": self.say,
            "cost": None if self.costs is None else Cost(*self.costs).as_dict(),
            "sent": self.sent,
            "live_names": dict(self.live_names.fds),
            **(
                {
                    "woken": [
                        [n, m.to_json(), None if lv is None else lv.to_json()]
                        for n, m, lv in self.woken
                    ]
                }
                if self.woken
                else {}
            ),
            "trace": [
                {
                    "seq": e.seq,
                    "time_ns": e.time_ns,
                    "kind": str(e.kind),
                    "where": e.where,
                    "detail": e.detail,
                }
                for e in self.trace
            ],
        }


def render_call(step: StepBase) -> str:
    """The call as a reader writes it, names kept: ``send(fd=b, nbytes=5)``."""
    return _call_text(step.thread, step.call.name, vars(step.arguments))


def _call_text(thread: str | None, name: str, args: dict[str, Any]) -> str:
    """`render_call` of a step by `thread` calling `name` with the `args` written."""
    on = f"{thread}: " if thread is not None else ""
    if not args:
        return f"{on}{name}()"
    parts = ", ".join(f"{arg}={_render_arg(arg, value)}" for arg, value in args.items())
    return f"{on}{name}({parts})"


def _render_arg(name: str, value: Any) -> str:
    if name == "events" or name == "flags":
        return "|".join(value) or "0" if isinstance(value, list) else str(value)
    if name == "fds":
        inner = ", ".join(f"{fd}:{_render_arg('events', ev)}" for fd, ev in value)
        return f"[{inner}]"
    if name == "changes":
        return "[" + ", ".join(_render_change(c) for c in value) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if value is None:
        return "forever"
    return str(value)


def _render_change(change: Any) -> str:
    flags = _render_arg("flags", change.flags)
    extra = "".join(
        f", {k}={getattr(change, k)}" for k in ("fflags", "data", "udata") if getattr(change, k)
    )
    return f"{{{change.ident} {change.filter} {flags}{extra}}}"


def default_model_factory(**params: Any) -> uapi.Kernel:
    """``ModelKernel(**params)``, imported when first needed."""
    from simulator.kernel import ModelKernel  # type: ignore[attr-defined,unused-ignore]

    kernel: uapi.Kernel = ModelKernel(**params)
    return kernel


def default_live_factory(**limits: int) -> uapi.Kernel:
    """``LiveKernel(**limits)``, imported when first needed."""
    from simulator.live import LiveKernel  # type: ignore[attr-defined,unused-ignore]

    kernel: uapi.Kernel = LiveKernel(**limits)
    return kernel


@dataclass(slots=True)
class _State:
    """What the model side needs to go on from step `position` (checkpointed by deepcopy)."""

    position: int
    model: uapi.Kernel
    model_names: Bindings = field(default_factory=Bindings)
    live_names: Bindings = field(default_factory=Bindings)
    model_only_names: set[str] = field(default_factory=set)
    fds_comparable: bool = True
    model_threads: threadsteps.Threads = field(default_factory=threadsteps.Threads)
    live_threads: threadsteps.Threads = field(default_factory=threadsteps.Threads)


class _Plan:
    """What running one step needs that no run changes, read from the step once (a validated
    step's fields cost more to read than a model call to make): the call as text,
    `calls.CallPlan`, and the step's fields that every run of it reads."""

    __slots__ = (
        "call",
        "checks",
        "moves_fd_table",
        "no_live_note",
        "say",
        "step",
        "text",
        "thread",
    )

    def __init__(self, step: StepBase) -> None:
        # Made for every step when a runner is made: each field of the step read once.
        self.step = step
        self.call = call = calls.CallPlan(step)
        self.thread = thread = step.thread
        self.text = _call_text(thread, call.method, call.written)  # `render_call`
        self.moves_fd_table = call.method in _FD_TABLE_CALLS
        self.say = step.say
        #: Whether the step has an ``expect`` or ``choices`` to check.
        self.checks = step.expect is not None or bool(step.choices)
        #: The note of a step no live kernel answers because there is none (`advance`).
        self.no_live_note = "a model_only step" if step.model_only else "no live kernel"


class Runner:
    """Runs `scenario` on a model (and a live kernel, or a recording of one) in lockstep.

    ``model_factory(**scenario.model.kwargs())`` builds the model; ``live_factory()`` the live
    kernel (given ``nofile``/``nofile_hard`` when ``[model]`` sets them), started when the first
    step runs and closed by `close`. Give a `recording` instead
    of a live factory to replay a saved run. Iterating runs the remaining steps; `advance` runs
    one; `seek` moves to any position. Raises `ScenarioRunError` when a run cannot go on, and
    `RecordingError` for a recording of another scenario.
    """

    def __init__(
        self,
        scenario: Scenario,
        model_factory: ModelFactory = default_model_factory,
        live_factory: LiveFactory | None = None,
        recording: Recording | None = None,
        *,
        checkpoint_every: int | None = None,
        max_checkpoints: int = 32,
    ) -> None:
        if live_factory is not None and recording is not None:
            raise ValueError("give a live kernel factory or a recording, not both")
        if (checkpoint_every is not None and checkpoint_every < 1) or max_checkpoints < 2:
            raise ValueError("checkpoint_every must be >= 1 and max_checkpoints >= 2")
        if recording is not None:
            recording.check(scenario)
        self.scenario = scenario
        self.steps: tuple[StepBase, ...] = tuple(scenario.steps)
        # Every step prepared in one pass: a run reads nothing from the validated steps.
        self._plans: list[_Plan] = [_Plan(step) for step in self.steps]
        self._thread_ids = threadsteps.thread_ids(self.steps)
        #: The live threads that finished during the step being run (None: not asked).
        self._live_woken: dict[str, Outcome] | None = None
        self._live_factory = live_factory
        self._live: uapi.Kernel | None = None
        self._live_log: list[dict[str, Json] | None] = list(recording.live) if recording else []
        self._replaying = recording is not None
        #: Whether a live side exists (a live kernel, or a recording): when not, a step at
        #: the frontier skips the live side's work altogether (see `advance`).
        self._has_live_side = live_factory is not None or recording is not None
        self._platform = dict(recording.platform) if recording else this_platform()
        self._records: list[StepRecord] = []
        self._checkpoint_every = checkpoint_every
        #: Doubles each time checkpoints are thinned (the automatic interval's factor).
        self._spacing = 1
        self._max_checkpoints = max_checkpoints
        #: No automatic checkpoint is due before this position (see `_maybe_checkpoint`).
        self._not_before = 0
        try:
            # Step 0's checkpoint is a model of its own, made first (the factory's last model
            # is the one that runs), not a copy of the running one: `copy.deepcopy` reads each
            # object's ``__dict__``, which CPython 3.11 then keeps as a dict instead of its
            # inline attribute values, and every later call on a model copied so ran ~17 %
            # slower (issue 10, session 6). The model is deterministic: the two are equal.
            start = _State(0, model_factory(**scenario.model.kwargs()))
            model = model_factory(**scenario.model.kwargs())
        except Exception as exc:
            raise ScenarioRunError(
                f"the model would not start: {type(exc).__name__}: {exc}"
            ) from exc
        self._state = _State(0, model)
        # Protocol checks walk the protocol's members: once per run, not once per step.
        self._traced = isinstance(model, Traced)
        self._observable = isinstance(model, Observable)
        #: Whether the model keeps a call's trace unmade until read (`ModelKernel.trace_frame`).
        self._frames = callable(getattr(model, "trace_frame", None))
        self._records_view: tuple[StepRecord, ...] | None = None
        self._checkpoints: dict[int, _State] = {0: start}

    # --- public surface ---------------------------------------------------------------------
    @property
    def position(self) -> int:
        """How many steps have run (0 = before the first step)."""
        return self._state.position

    @property
    def done(self) -> bool:
        return self._state.position >= len(self.steps)

    @property
    def model(self) -> uapi.Kernel:
        """The model in its state at `position` (read its views for pictures)."""
        return self._state.model

    @property
    def bindings(self) -> Bindings:
        """The model's names at `position`."""
        return self._state.model_names

    @property
    def records(self) -> tuple[StepRecord, ...]:
        """Records of every step run so far, including any beyond `position` after a seek back."""
        if self._records_view is None:
            self._records_view = tuple(self._records)
        return self._records_view

    @property
    def checkpoints(self) -> tuple[int, ...]:
        """Positions that have a model checkpoint (for tests and the TUI's timeline)."""
        return tuple(sorted(self._checkpoints))

    def __iter__(self) -> Iterator[StepRecord]:
        """Run the remaining steps, the collector kept off what the run keeps alive
        (`collector.ForwardRun`: a step's cost does not grow with the steps before it)."""
        with ForwardRun() as heap:
            # (`done`, without its call; `append` may add steps between two)
            while self._state.position < len(self.steps):
                yield self.advance()
                heap.step()

    def seek(self, n: int) -> uapi.Kernel:
        """Move to the state after `n` steps (0 = the start) and return the model there.

        Backwards (and forwards over steps already run) only the model runs, from a checkpoint,
        with recorded live answers; the live kernel is asked only about steps never run before.
        """
        if not 0 <= n <= len(self.steps):
            raise IndexError(f"position {n} is outside 0..{len(self.steps)}")
        if n < self._state.position:
            start = max(p for p in self._checkpoints if p <= n)
            left = self._state
            self._state = copy.deepcopy(self._checkpoints[start])
            self._not_before = 0
            self._end_threads(left)
        while self._state.position < n:
            if self._state.position < len(self._records):
                self._rerun_step()
                self._maybe_checkpoint()
            else:
                self.advance()
        return self._state.model

    # --- a scenario written as it runs (the sandbox) -------------------------------------------
    def append(self, step: StepBase) -> None:
        """Add `step` after the last one, for `advance` to run: the sandbox's next line.

        `scenario` follows (so a `recording` is of the steps so far). The step must already be
        checked against the names earlier steps bind (`simulator.scenario.callsyntax` does).
        O(steps), the price of keeping `steps` a tuple.
        """
        self.steps = (*self.steps, step)
        self._plans.append(_Plan(step))
        if step.thread is not None:
            self._thread_ids = threadsteps.thread_ids(self.steps)
        self.scenario = self.scenario.model_copy(update={"steps": list(self.steps)})

    def recording(self) -> Recording:
        """The live answers so far, to save and replay without a live kernel."""
        return Recording(
            scenario_hash(self.scenario),
            self.scenario.scenario.title,
            tuple(self._live_log),
            dict(self._platform),
        )

    def close(self) -> None:
        """Release the live kernel (its child process) and the model's descriptors."""
        live, self._live = self._live, None
        if live is not None:
            live.close_all()
        self._end_threads(self._state)

    @staticmethod
    def _end_threads(state: _State) -> None:
        """End the model's threads still asleep in `state` (a model left behind by a seek, or
        at close): each holds a Python thread until its kernel ends it."""
        if state.model_threads.asleep:
            state.model.close_all()
            state.model_threads.asleep.clear()

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- one step ---------------------------------------------------------------------------
    def advance(self) -> StepRecord:
        """Run the next step; `IndexError` at the end. The one step path (see the module
        docstring): a step at the frontier without a live side makes the model call, binds
        its names, and makes its record, judged without the checks it cannot fail."""
        state = self._state
        index = state.position
        if index >= len(self.steps):  # (`done`, without its call)
            raise IndexError("the scenario has no more steps")
        plan = self._plans[index]
        step = plan.step

        # The live kernel goes first: if it breaks (ScenarioRunError), the model has not moved
        # and the runner is still consistent at this position.
        if self._has_live_side or index < len(self._live_log):
            live_outcome, note, sent = self._run_live(step, plan, index)
        else:
            # No live side, at the frontier (`check --no-live`, `play --no-live`): nothing to
            # ask, resolve or compare; what `_run_live` would conclude, without its work.
            self._live_log.append(None)
            live_outcome = sent = None
            note = plan.no_live_note

        model = state.model
        traced: Traced = model  # type: ignore[assignment]  # read only when `_traced`
        if self._traced:
            cost_before = traced.last_cost
        if plan.thread is None:  # `_run_model`, inline for the common step
            try:
                model_outcome = calls.issue(model, step, state.model_names, plan.call)[0]
            except Exception as exc:
                model_outcome, note = _model_bug(exc)
        else:
            model_outcome, model_note = self._run_model(step, plan)
            note = model_note or note
        trace: Sequence[TraceEvent] = ()
        costs = None
        # A call opens a new trace frame, with a new Cost whether it traces or not; if the
        # Cost did not change, the call returned before opening one and what is there belongs
        # to the previous step.
        if self._traced and (cost_now := traced.last_cost) is not cost_before:
            # A model that keeps a trace unmade until it is read (most never are); a ternary
            # would leave no room for the ignore (`trace_frame` is not in `Traced`).
            if self._frames:  # noqa: SIM108
                trace = model.trace_frame()  # type: ignore[attr-defined]
            else:
                trace = tuple(traced.trace)
            costs = _COST_FIELDS(cost_now)  # a copy (see `StepRecord.costs`)

        if live_outcome is None and not plan.checks and not state.model_threads.asleep:
            # Only the model answered, nothing was expected and no thread can wake: the
            # verdict, without the checks such a step cannot fail (`_judge`'s first case).
            judged = _MODEL_ONLY
            # What only the model did is read only to spare a live side: with none, no need.
            if self._has_live_side and model_outcome.error is None:
                self._model_only_did(plan)
        else:
            judged, note = self._judge(plan, model_outcome, live_outcome, note)
        verdict, diff, failures, answer, woken = judged
        state.position += 1
        record = StepRecord(
            index,
            step,
            plan.text,
            model_outcome,
            live_outcome,
            verdict,
            diff,
            failures,
            answer,
            note,
            trace,
            costs,
            plan.say,
            sent,
            woken,
            state.live_names.snapshot(),
        )
        records = self._records
        if index < len(records):
            records[index] = record
        else:
            records.append(record)
        self._records_view = None
        # (`_maybe_checkpoint` would return at once before `_not_before`: a call saved a step.)
        if self._checkpoint_every is not None or state.position >= self._not_before:
            self._maybe_checkpoint()
        return record

    def _judge(
        self, plan: _Plan, model_outcome: Outcome, live_outcome: Outcome | None, note: str | None
    ) -> tuple[_Judgement, str | None]:
        """The verdict of the step being run (its model side has run; threads it woke are
        joined here), and the step's `note`, with what those threads did."""
        state = self._state
        index = state.position
        step = plan.step
        model_woken: dict[str, Outcome] = {}
        if state.model_threads.asleep:
            model_woken = threadsteps.collect(
                state.model, state.model_threads, self.steps, self._thread_ids, state.model_names
            )
        live_woken = self._live_woken if live_outcome is not None else None
        started = (
            {n: self._started_at(n, index) for n in {*model_woken, *(live_woken or {})}}
            if model_woken or live_woken
            else {}
        )

        if live_outcome is None:
            model_only = True
            # What only the model did is read only to spare a live side: with none, no need.
            if self._has_live_side and model_outcome.error is None:
                self._model_only_did(plan)
        else:
            if live_outcome.error == _ENOSYS:
                both = model_outcome.error == _ENOSYS
                lacks = "neither kernel has" if both else "the live kernel lacks"
                note = note or f"{lacks} this mechanism here (ENOSYS)"
            model_only = self._note_model_only(plan, live_outcome, model_outcome)

        failures: list[str] = []
        answer = None
        if plan.checks:
            if model_outcome.error != threadsteps.ASLEEP:  # checked when the call ends
                failures += self._check_expect(step, "model", model_outcome, state.model_names)
            if (
                not model_only
                and live_outcome is not None
                and live_outcome.error != threadsteps.ASLEEP
            ):
                failures += self._check_expect(step, "live", live_outcome, state.live_names)
            real, real_names = (
                (model_outcome, state.model_names)
                if model_only
                else (live_outcome, state.live_names)
            )
            assert real is not None
            answer = self._answer(step, real, real_names, failures)
        if started:
            for name, woken in model_woken.items():
                began = self.steps[started[name]]
                failures += self._check_expect(began, f"{name} model", woken, state.model_names)
            for name, woken in (live_woken or {}).items():
                began = self.steps[started[name]]
                failures += self._check_expect(began, f"{name} live", woken, state.live_names)

        diff = None
        if model_only or live_outcome is None:
            verdict = Verdict.EXPECT_FAILED if failures else Verdict.MODEL_ONLY
        elif not calls.same(model_outcome, live_outcome, plan.call.kind, state.fds_comparable):
            verdict = Verdict.DIVERGE
            diff = describe_difference(model_outcome, live_outcome, plan.call.kind)
        elif not threadsteps.same(
            self._comparable(model_woken, started),
            self._comparable(live_woken or {}, started),
            self.steps,
            started,
            state.fds_comparable,
        ):
            verdict = Verdict.DIVERGE
            diff = threadsteps.describe(model_woken, live_woken or {})
        else:
            verdict = Verdict.AGREE
        if started:
            woke = threadsteps.describe(model_woken, live_woken or {})
            note = f"{note}; {woke}" if note else woke
        if failures and verdict is not Verdict.DIVERGE:
            verdict = Verdict.EXPECT_FAILED
        woken_pairs = threadsteps.pairs(model_woken, live_woken) if started else ()
        return (verdict, diff, tuple(failures), answer, woken_pairs), note

    def _comparable(self, woken: dict[str, Outcome], started: dict[str, int]) -> dict[str, Outcome]:
        """The threads of `woken` whose call the live kernel could make: a thread whose
        starting step was model only (IOCP, kqueue on Linux: ENOSYS there at once) finishes
        only in the model, which no live answer can confirm or contradict."""
        records = self._records
        return {
            name: outcome
            for name, outcome in woken.items()
            if not (
                started[name] < len(records)
                and records[started[name]].verdict is Verdict.MODEL_ONLY
            )
        }

    def _rerun_step(self) -> None:
        """Run a step that has a record again, the model side only, moving the state exactly
        as `advance` does. Its record stays: the model is deterministic and the live answer
        recorded, so a new one would say the same (rewinding re-runs many steps, and making
        their records cost several times their model calls)."""
        state = self._state
        index = state.position
        step = self.steps[index]
        plan = self._plans[index]
        live_outcome, _, _ = self._run_live(step, plan, index, want_sent=False)
        model_outcome, _ = self._run_model(step, plan)
        if state.model_threads.asleep:  # threads this step woke bind their names, as in a run
            threadsteps.collect(
                state.model, state.model_threads, self.steps, self._thread_ids, state.model_names
            )
        self._note_model_only(plan, live_outcome, model_outcome)
        state.position += 1

    def _note_model_only(
        self, plan: _Plan, live_outcome: Outcome | None, model_outcome: Outcome
    ) -> bool:
        """Whether only the model answered the step; if so, what it did that the live kernel
        did not is noted in the state."""
        model_only = live_outcome is None or live_outcome.error == _ENOSYS
        if model_only and self._has_live_side and model_outcome.error is None:
            self._model_only_did(plan)
        return model_only

    def _model_only_did(self, plan: _Plan) -> None:
        """Note what a step the model alone ran successfully did that the live kernel did not
        (read only to spare the live side: a run without one needs no note)."""
        if plan.call.names:
            self._state.model_only_names.update(plan.call.names)
        if plan.moves_fd_table:
            # The model's fd table moved and the live one did not: numbers may now differ.
            self._state.fds_comparable = False

    def _run_model(self, step: StepBase, plan: _Plan) -> tuple[Outcome, str | None]:
        state = self._state
        try:
            thread = plan.thread
            if thread is None:
                return calls.issue(state.model, step, state.model_names, plan.call)[0], None
            tid = self._thread_ids[thread]
            state.model_threads.ensure(state.model, tid)
            outcome, asleep = threadsteps.issue(state.model, step, state.model_names, tid)
            if asleep:
                state.model_threads.asleep[thread] = state.position
            return outcome, None
        except Exception as exc:
            return _model_bug(exc)

    def _run_live(
        self, step: StepBase, plan: _Plan, index: int, *, want_sent: bool = True
    ) -> tuple[Outcome | None, str | None, dict[str, Json] | None]:
        """The live answer (replayed if this step ran before, else asked of the live kernel),
        why there is none, and what the live kernel was sent (None: nothing, or a name had
        no fd there; or not `want_sent` for a replayed step)."""
        skip = self._live_skip_reason(step, plan)
        self._live_woken = None
        threads = self._state.live_threads
        if index < len(self._live_log):
            recorded = self._live_log[index]
            if recorded is None:
                return None, skip or "the live kernel did not run this step", None
            if step.thread is not None:
                threads.ensure(None, self._thread_ids[step.thread])
                if recorded.get("error") == threadsteps.ASLEEP:
                    threads.asleep[step.thread] = index
            woken = cast(dict[str, dict[str, Json]], recorded.get("woken", {}))
            self._live_woken = threadsteps.replayed(
                woken, threads, self.steps, self._state.live_names
            )
            try:
                sent = (
                    calls.sent_json(plan.call.resolve(self._state.live_names))
                    if want_sent
                    else None
                )
            except calls.UnboundName:
                sent = None
            replayed = calls.replay(step, recorded, self._state.live_names)
            return replayed, None, None if replayed.error == calls.UNBOUND else sent
        outcome = None
        sent = None
        if skip is None:
            live = self._live_kernel()
            if live is None and self._replaying:
                skip = "the recording ends before this step"
            elif live is None:
                skip = "no live kernel"
            else:
                self._check_grantable(step, index, live)
                try:
                    outcome, kwargs = self._invoke_live(live, step, plan, index)
                except Exception as exc:
                    raise ScenarioRunError(
                        f"the live kernel failed at step {index + 1} ({step.call.name}): "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                if kwargs is not None:
                    sent = calls.sent_json(kwargs)
        entry = None if outcome is None else outcome.to_recording()
        if entry is not None and self._live_woken:
            entry["woken"] = {n: o.to_recording() for n, o in self._live_woken.items()}
        self._live_log.append(entry)
        return outcome, skip, sent

    def _invoke_live(
        self, live: uapi.Kernel, step: StepBase, plan: _Plan, index: int
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """`step` on the live kernel (on its thread, if it names one) and what it was sent
        (None: a name had no fd there), then the live threads that finished meanwhile
        (`_live_woken`)."""
        names, threads = self._state.live_names, self._state.live_threads
        kwargs: dict[str, Any] | None
        if step.thread is None:
            outcome, kwargs = calls.issue(live, step, names, plan.call)
        else:
            try:  # the call's own arguments, which `start` passes on (as a replay shows them)
                kwargs = plan.call.resolve(names)
            except calls.UnboundName:
                kwargs = None
            tid = self._thread_ids[step.thread]
            threads.ensure(live, tid)
            outcome, asleep = threadsteps.issue(live, step, names, tid)
            if asleep:
                threads.asleep[step.thread] = index
        self._live_woken = threadsteps.collect(live, threads, self.steps, self._thread_ids, names)
        return outcome, kwargs

    def _live_skip_reason(self, step: StepBase, plan: _Plan) -> str | None:
        """Why the live kernel must not run `step`, or None."""
        if step.model_only:
            return "a model_only step"
        if self._live_factory is None and not self._replaying:
            return None  # no live kernel to ask: the names need no look (a `check --no-live`)
        only = [n for n in plan.call.refs if n in self._state.model_only_names]
        return f"{only[0]!r} exists only in the model" if only else None

    def _live_kernel(self) -> uapi.Kernel | None:
        if self._live is None and self._live_factory is not None:
            if self._live_log:
                # Only a fresh run (position 0 at the live frontier) may start the live kernel.
                raise ScenarioRunError("the live kernel cannot join a run that has started")
            # The descriptor limits are the one part of [model] the real kernel can share: both
            # kernels start with the same RLIMIT_NOFILE, so EMFILE comes at the same count.
            limits = self.scenario.model.kwargs()
            limits = {k: v for k, v in limits.items() if k in ("nofile", "nofile_hard")}
            try:
                live = self._live_factory(**limits)
            except Exception as exc:
                asked = "".join(f", [model] {k} = {v}" for k, v in limits.items())
                raise ScenarioRunError(
                    f"the live kernel would not start{asked}: {type(exc).__name__}: {exc}"
                ) from exc
            refused = _refused_limit(limits, getattr(live, "limits", None))
            if refused:
                live.close_all()
                raise ScenarioRunError(refused)
            self._live = live
        return self._live

    def _check_grantable(self, step: StepBase, index: int, live: uapi.Kernel) -> None:
        """Raise `ScenarioRunError` for a ``setrlimit_nofile`` the model grants and this machine
        cannot (its hard limit is lower than the model's): a set-up problem, not a divergence."""
        if step.call.name != "setrlimit_nofile":
            return
        soft = dict(step.arguments).get("soft")
        granted = getattr(live, "limits", None)
        model_hard = getattr(getattr(self._state.model, "fdt", None), "nofile_hard", None)
        if not (isinstance(soft, int) and granted and isinstance(model_hard, int)):
            return
        hard = int(granted[1])
        if hard < soft <= model_hard:
            raise ScenarioRunError(
                f"step {index + 1} (setrlimit_nofile): soft = {soft} is "
                + _more_than_granted(hard)
                + f", while the model's is {model_hard}; ask for at most {hard}, or set "
                f"[model] nofile_hard = {hard} so that the model refuses it too"
            )

    def _check_expect(
        self, step: StepBase, side: str, outcome: Outcome, names: Bindings
    ) -> list[str]:
        if step.expect is None:
            return []
        kind = step.call.result
        try:
            want = calls.expected(kind, step.expect, names)
        except calls.UnboundName as exc:
            return [f"{side}: expect names {exc.name!r}, which has no descriptor here"]
        if calls.satisfies(outcome, want, kind):
            return []
        return [f"{side}: expected {calls.show_value(want)}, got {_show_full(outcome)}"]

    def _answer(
        self, step: StepBase, real: Outcome, names: Bindings, failures: list[str]
    ) -> int | None:
        if not step.choices:
            return None
        kind = step.call.result
        for i, choice in enumerate(step.choices):
            try:
                if calls.satisfies(real, calls.expected(kind, choice, names), kind):
                    return i
            except calls.UnboundName:
                continue
        failures.append(f"no choice matches the real result {_show_full(real)}")
        return None

    def _started_at(self, thread: str, index: int) -> int:
        """The last step before `index` made by `thread`: the one it slept in (a thread woken
        during a step went to sleep at an earlier one)."""
        return max(i for i in range(index) if self.steps[i].thread == thread)

    def _maybe_checkpoint(self) -> None:
        position = self._state.position
        if position in self._checkpoints or self._state.model_threads.asleep:
            return  # a model whose threads sleep inside a call cannot be copied
        every = self._checkpoint_every
        if every is not None:
            if position % every:
                return
        else:
            if position < self._not_before:
                return
            last = max(filter(position.__gt__, self._checkpoints))  # (in C: a step in 16 asks)
            due = last + self._spacing * STEPS_PER_COPY_UNIT * self._model_units()
            if position < due:
                # Not due before `due` at the model's present size; a model that shrinks is
                # looked at again within `_RECHECK` steps (its size costs a snapshot to read).
                self._not_before = min(due, position + _RECHECK)
                return
        self._checkpoints[position] = copy.deepcopy(self._state)
        if len(self._checkpoints) > self._max_checkpoints:
            if every is not None:
                self._checkpoint_every = every = every * 2
                kept = {p for p in self._checkpoints if p % every == 0}
            else:
                self._spacing *= 2
                kept = set(sorted(self._checkpoints)[::2])
            self._checkpoints = {p: s for p, s in self._checkpoints.items() if p in kept}

    def _model_units(self) -> int:
        """What a copy of the model costs, in descriptors (see the module docstring). O(1)."""
        if not self._observable:
            return 1  # a stand-in model (tests): cheap to copy
        return _BASE_UNITS + cast(Observable, self._state.model).fd_table().open


def _model_bug(exc: Exception) -> tuple[Outcome, str]:
    """The outcome and note of a model that raised `exc`: not an answer the real kernel could
    give, so a bug in the model. Shown, and the run goes on."""
    name = type(exc).__name__
    note = f"the model raised {name}, which no real kernel raises here (a model bug)"
    return Outcome(error=name, message=str(exc)), note


def _more_than_granted(hard: int) -> str:
    return f"more than this machine grants: its hard RLIMIT_NOFILE (`ulimit -Hn`) is {hard}"


def _refused_limit(asked: dict[str, int], granted: Any) -> str | None:
    """Why the live kernel's RLIMIT_NOFILE (`granted`: LiveKernel.limits, soft and hard) is not
    what ``[model]`` `asked` for, or None. A kernel that does not report its limits (a stand-in
    in tests) is taken at its word."""
    if not granted:
        return None
    for key, got in (("nofile", int(granted[0])), ("nofile_hard", int(granted[1]))):
        want = asked.get(key)
        if want is not None and want > got:
            return (
                f"[model] {key} = {want} is {_more_than_granted(int(granted[1]))}; lower it "
                f"to at most {int(granted[1])}, or run with --no-live"
            )
    return None


#: A `Cost`'s counts, in its fields' order, read in C: a copy several times cheaper than a
#: new `Cost` (whose ``__init__`` sets eight fields one by one) or `copy.copy`.
_COST_FIELDS = attrgetter(*(f.name for f in fields(Cost)))


def _show_full(outcome: Outcome) -> str:
    if outcome.error is not None:
        return f"{outcome.error} ({outcome.message})" if outcome.message else outcome.error
    return calls.show(outcome)


def describe_difference(model: Outcome, live: Outcome, kind: ResultKind) -> str:
    """A readable account of how two outcomes differ, for a diverging step."""
    lines = [f"model: {_show_full(model)}", f"live:  {_show_full(live)}"]
    if model.ok and live.ok and kind is ResultKind.EVENTS:
        ours = {fd: ev for fd, ev in model.result}
        theirs = {fd: ev for fd, ev in live.result}
        for fd in theirs.keys() - ours.keys():
            lines.append(f"  {fd}: reported by the live kernel only ({'|'.join(theirs[fd])})")
        for fd in ours.keys() - theirs.keys():
            lines.append(f"  {fd}: reported by the model only ({'|'.join(ours[fd])})")
        for fd in ours.keys() & theirs.keys():
            if ours[fd] != theirs[fd]:
                extra = sorted(set(theirs[fd]) - set(ours[fd]))
                missing = sorted(set(ours[fd]) - set(theirs[fd]))
                detail = []
                if extra:
                    detail.append(f"live also has {'|'.join(extra)}")
                if missing:
                    detail.append(f"model also has {'|'.join(missing)}")
                lines.append(f"  {fd}: {'; '.join(detail)}")
        if ours == theirs:
            lines.append("  same events, different order")
    elif model.ok and live.ok and model.result == live.result and model.raw != live.raw:
        lines.append(f"  same names, different fd numbers: model {model.raw}, live {live.raw}")
    return "\n".join(lines)


__all__ = [
    "LiveFactory",
    "ModelFactory",
    "RecordingError",
    "Runner",
    "ScenarioRunError",
    "StepRecord",
    "Verdict",
    "default_live_factory",
    "default_model_factory",
    "describe_difference",
    "render_call",
]
