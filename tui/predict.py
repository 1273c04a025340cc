"""Predict mode: the question asked before a step's result is revealed, and its choices.

A step with ``ask`` and ``choices`` brings its own question; the runner already knows which
choice the real result is (`StepRecord.answer`). With predict mode on, every ``epoll_wait``,
``poll``, ``select`` and ``kevent`` step gets a question too, with choices made up here: the
real result plus the model's own near-misses: what the same call answered last time (the answer
of someone who expects level-triggered behaviour from an edge-triggered item, or forgets what
changed since), nothing ready, every descriptor ready, the ready ones in fd order instead of
readiness order, one event too few. No error is made up (an EAGAIN for a wait that cannot
return one teaches nothing). The real kernel is always the judge: the right choice is the one
equal to its answer -- the model's, for a model-only step (kqueue on Linux), and the question
says which (`Question.judge`).

Everything here is deterministic, so the same step asks the same question in the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from simulator import syscalls
from simulator.scenario import StepRecord, Verdict
from simulator.scenario.calls import Outcome, show_value
from simulator.scenario.format import ResultKind

#: Calls predict mode asks about even without an ``ask`` in the scenario: those that can wait.
PREDICTABLE = syscalls.WAITING_CALLS
MAX_CHOICES = 4

Json = object


@dataclass(frozen=True)
class Question:
    """What the predict dialog shows."""

    index: int  #: the step's index
    prompt: str
    choices: tuple[str, ...]
    answer: int | None  #: which choice the real result is (None: none of them)
    written: bool  #: the scenario's own question (not made up by predict mode)
    judge: str = "the real kernel"  #: whose answer decides (the model's for a model-only step)


def real_outcome(record: StepRecord) -> Outcome:
    """The judge's answer: the live kernel's, or the model's for a model-only step."""
    if record.verdict is Verdict.MODEL_ONLY or record.live is None:
        return record.model
    return record.live


def judge_of(record: StepRecord) -> str:
    """Whose answer decides `record`'s question."""
    if record.verdict is Verdict.MODEL_ONLY or record.live is None:
        return "the model (model-only step)"
    return "the real kernel"


def previous_result(records: Sequence[StepRecord], record: StepRecord) -> Json | None:
    """What the last earlier call of the same kind on the same instance (``epfd``, ``kq``, or
    the same ``poll``/``select`` arguments) answered, or None."""
    name = record.step.call.name

    def target(r: StepRecord) -> object:
        args = r.step.arguments
        if name in ("epoll_wait", "kevent"):
            return getattr(args, "epfd", None) or getattr(args, "kq", None)
        return args.model_dump()

    for earlier in reversed(records[: record.index]):
        if earlier.step.call.name == name and target(earlier) == target(record):
            return _value(real_outcome(earlier))
    return None


def question_for(
    record: StepRecord,
    *,
    predict_mode: bool,
    interest: list[tuple[str, list[str]]] | None = None,
    previous: Json | None = None,
) -> Question | None:
    """The question for `record`'s step, or None if it gets none.

    `interest` is what the step could report (an epoll's registrations as (name, events)),
    used to make up the "everything is ready" choice; `previous` is what the same call
    answered last time (`previous_result`), the first near-miss offered.
    """
    step = record.step
    if step.ask and step.choices:
        return Question(
            record.index,
            step.ask,
            tuple(show_value(c) for c in step.choices),
            record.answer,
            written=True,
            judge=judge_of(record),
        )
    if not (predict_mode and step.call.name in PREDICTABLE):
        return None
    real = real_outcome(record)
    truth = _value(real)
    near = [previous] if previous is not None else []
    candidates = [truth, *near, *_mistakes(record, real, interest or [])]
    unique: dict[str, Json] = {}
    for value in candidates:
        unique.setdefault(show_value(value), value)
    texts = list(unique)[:MAX_CHOICES]
    if show_value(truth) not in texts:  # pragma: no cover - the truth is always first
        texts[-1] = show_value(truth)
    texts.sort(key=lambda t: hashlib.sha256(f"{record.index}:{t}".encode()).hexdigest())
    prompt = step.ask or f"What will {record.call} return?"
    return Question(
        record.index,
        prompt,
        tuple(texts),
        texts.index(show_value(truth)),
        written=False,
        judge=judge_of(record),
    )


def _value(outcome: Outcome) -> Json:
    if outcome.error is not None:
        return {"error": outcome.error}
    return outcome.result


def _mistakes(
    record: StepRecord, real: Outcome, interest: list[tuple[str, list[str]]]
) -> list[Json]:
    kind = record.step.call.result
    args = record.step.arguments
    out: list[Json] = []
    if kind is ResultKind.EVENTS:
        got = list(real.result) if real.ok and isinstance(real.result, list) else []
        out.append([])
        if len(got) > 1:
            raw = real.raw if isinstance(real.raw, list) else []
            order = sorted(range(len(got)), key=lambda i: raw[i][0] if i < len(raw) else i)
            out.append([got[i] for i in order])
            out.append(got[:1])
        for i, (fd, events) in enumerate(got):
            if len(events) > 1:
                out.append([*got[:i], [fd, events[:1]], *got[i + 1 :]])
                break
        requested: list[tuple[str, list[str]]] = []
        if record.step.call.name == "poll":
            for ref, events in getattr(args, "fds", []):
                names = events if isinstance(events, list) else []
                requested.append((str(ref), [n for n in names if n in ("IN", "OUT", "PRI")]))
        else:
            requested = [(n, [e for e in ev if e in ("IN", "OUT")]) for n, ev in interest]
        everything = [[n, ev] for n, ev in requested if ev]
        if everything:
            out.append(everything)
        if not real.ok:
            out.append([])
    elif kind is ResultKind.SELECT:
        rlist = [str(f) for f in getattr(args, "rlist", [])]
        wlist = [str(f) for f in getattr(args, "wlist", [])]
        xlist = [str(f) for f in getattr(args, "xlist", [])]
        out += [[rlist, wlist, xlist], [[], [], []], [rlist, [], []], [[], wlist, []]]
    else:
        out.append([])
    return out


__all__ = [
    "PREDICTABLE",
    "Question",
    "judge_of",
    "previous_result",
    "question_for",
    "real_outcome",
]
