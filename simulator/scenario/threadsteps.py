"""Steps made by threads: a step's ``thread``, run with `Kernel.start`, read with `Kernel.join`.

A step that names a thread (``thread = "t1"``) runs its call on that thread, which is spawned
the first time a step names it (threads are numbered in order of first appearance, so both
kernels give each name the same id). If the call finishes at once the step's outcome is its
result, as on thread 0. If it sleeps, the step's outcome is `ASLEEP` (a pseudo-error, like
`calls.UNBOUND`), and after every later step the runner joins each thread that has finished
since (`collect`): its result -- bound to the sleeping step's ``as`` names, checked against
its ``expect`` -- belongs to the step that ended the sleep.

Where Linux does not say which of several equal threads wins, the steps that started them say
``equal = true``, and their results are compared as a multiset (`same`): how many finished,
with what.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from simulator import uapi
from simulator.scenario import calls
from simulator.scenario.calls import Bindings, Outcome
from simulator.scenario.format import ResultKind, StepBase
from simulator.syscalls import ANSWER_EXCEPTIONS

ASLEEP = "ASLEEP"
"""Outcome name of a thread's step whose call sleeps (it has no result yet)."""


def thread_ids(steps: Iterable[StepBase]) -> dict[str, int]:
    """Each thread name -> its id (1, 2, ... in order of first appearance). O(steps)."""
    ids: dict[str, int] = {}
    for step in steps:
        if step.thread is not None and step.thread not in ids:
            ids[step.thread] = len(ids) + 1
    return ids


@dataclass
class Threads:
    """One kernel's threads during a run (copied with the runner's state): how many it has
    spawned, and which named threads sleep in the call of which step."""

    spawned: int = 0
    asleep: dict[str, int] = field(default_factory=dict)  #: name -> index of its step

    def ensure(self, kernel: uapi.Kernel | None, tid: int) -> None:
        """Spawn threads on `kernel` up to `tid` (None: it spawned them before, on a run that
        is now replayed from its recording)."""
        while self.spawned < tid:
            if kernel is not None:
                kernel.spawn_thread()
            self.spawned += 1


def issue(
    kernel: uapi.Kernel, step: StepBase, bindings: Bindings, tid: int
) -> tuple[Outcome, bool]:
    """Run `step` on thread `tid` of `kernel`: its outcome, and whether the thread sleeps."""
    assert step.thread is not None
    try:
        arguments = calls.kernel_arguments(step, bindings)
    except calls.UnboundName as exc:
        return Outcome(error=calls.UNBOUND, message=f"{exc.name!r} has no fd here"), False
    try:
        finished = kernel.start(tid, step.call.name, *arguments.values())
    except ChildProcessError:
        raise
    except ANSWER_EXCEPTIONS as exc:
        return _error(exc), False
    if not finished:
        return Outcome(error=ASLEEP, message=f"{step.thread} sleeps in {step.call.name}"), True
    return join(kernel, step, bindings, tid), False


def join(kernel: uapi.Kernel, step: StepBase, bindings: Bindings, tid: int) -> Outcome:
    """The finished call of `step` on thread `tid`, in names (binding its ``as``)."""
    try:
        value = kernel.join(tid)
    except ChildProcessError:
        raise
    except ANSWER_EXCEPTIONS as exc:
        return _error(exc)
    return calls.outcome_of(step.call, step.names, calls.raw_of(step.call, value), bindings)


def collect(
    kernel: uapi.Kernel,
    threads: Threads,
    steps: tuple[StepBase, ...],
    ids: Mapping[str, int],
    bindings: Bindings,
) -> dict[str, Outcome]:
    """Join every thread that was asleep and has finished now: name -> its outcome."""
    woken: dict[str, Outcome] = {}
    for name, index in list(threads.asleep.items()):
        if kernel.thread_state(ids[name])[0] == "finished":
            woken[name] = join(kernel, steps[index], bindings, ids[name])
            del threads.asleep[name]
    return woken


def replayed(
    recorded: Mapping[str, dict[str, calls.Json]],
    threads: Threads,
    steps: tuple[StepBase, ...],
    bindings: Bindings,
) -> dict[str, Outcome]:
    """`collect` from a recording: the recorded results, re-bound like a live join."""
    woken: dict[str, Outcome] = {}
    for name, entry in recorded.items():
        index = threads.asleep.pop(name)
        woken[name] = calls.replay(steps[index], entry, bindings)
    return woken


def same(
    model: Mapping[str, Outcome],
    live: Mapping[str, Outcome],
    steps: tuple[StepBase, ...],
    started: Mapping[str, int],
    compare_fds: bool,
) -> bool:
    """Whether both kernels woke the same threads with the same results. Threads whose step
    says ``equal`` are compared as a multiset (per call), the others by name."""

    def split(woken: Mapping[str, Outcome]) -> tuple[dict[str, Outcome], list[str]]:
        named = {n: o for n, o in woken.items() if not steps[started[n]].equal}
        anonymous = sorted(
            f"{steps[started[n]].call.name}: {_anonymous(o, steps[started[n]])}"
            for n, o in woken.items()
            if steps[started[n]].equal
        )
        return named, anonymous

    (m_named, m_anon), (l_named, l_anon) = split(model), split(live)
    if m_anon != l_anon or m_named.keys() != l_named.keys():
        return False
    return all(
        calls.same(m_named[n], l_named[n], steps[started[n]].call.result, compare_fds)
        for n in m_named
    )


def _anonymous(outcome: Outcome, step: StepBase) -> str:
    """An equal thread's outcome without what tells the threads apart: a new descriptor is
    named by the winner's own ``as`` and numbered by the slot it reserved, so only "a new
    descriptor" is compared."""
    if outcome.ok and step.call.result in (ResultKind.FD, ResultKind.PAIR):
        return "new descriptor(s)"
    return calls.show(outcome)


def pairs(
    model: Mapping[str, Outcome], live: Mapping[str, Outcome] | None
) -> tuple[tuple[str, Outcome, Outcome | None], ...]:
    """``(name, model outcome, live outcome)`` per thread either kernel woke, by name; a thread
    one kernel did not wake shows `ASLEEP` there (None: the live kernel was not asked)."""
    if not model and not live:
        return ()  # most steps: no thread woke
    still = Outcome(error=ASLEEP, message="still asleep")
    names = sorted({*model, *(live or {})})
    return tuple(
        (n, model.get(n, still), None if live is None else live.get(n, still)) for n in names
    )


def describe(model: Mapping[str, Outcome], live: Mapping[str, Outcome]) -> str:
    """The threads each kernel woke, for a diverging step."""

    def listed(woken: Mapping[str, Outcome]) -> str:
        return ", ".join(f"{n} {calls.show(o)}" for n, o in sorted(woken.items())) or "none"

    return f"threads finished: model {listed(model)}; live {listed(live)}"


def _error(exc: BaseException) -> Outcome:
    from simulator.scenario import vocabulary

    return Outcome(error=vocabulary.exception_name(exc), message=str(exc) or type(exc).__name__)
