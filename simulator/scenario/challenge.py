"""Challenges: a goal, authored in TOML, that the lines typed in the sandbox must reach.

A challenge file holds ``[challenge]`` (title, the goal in words, a hint shown after a failed
try, optionally ``par`` and ``max_calls``) and ``[[need]]`` tables, every one of which must
hold. A need is a condition over the calls the learner made and what the *real* kernel
answered (the model's answer only where the real kernel did not run the line)::

    [[need]]
    do = "epoll_wait"            # the call
    args = { timeout_ms = 0 }    # optional: these arguments (flags: at least these bits)
    answer = { reports = ["IN"] }  # optional: "ok", "empty", "some", { error = "EEXIST" },
                                 #   or { reports = [...] } (an event with these bits)
    at_least = 2                 # how many such calls (default 1); at_most = N caps it
    same_fd = true               # ...all reporting one same descriptor
    after = 1                    # ...made after the first call that met need 1

`check` judges a session's records in O(records x needs); the score is the number of calls
used. `load_challenge` checks a file in three layers like a scenario (TOML, shape, then what
needs the whole file) and reports a goal that no session could reach -- a call that cannot give
that answer, a bit epoll never reports, counts that contradict each other or exceed
``max_calls`` -- as a `ScenarioError` with the line of the need.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from simulator.scenario import vocabulary
from simulator.scenario.calls import Outcome
from simulator.scenario.format import CALLS, MAX_STEPS, Events, Text, Title, _Table
from simulator.scenario.library import challenges_dir
from simulator.scenario.loader import Problem, ScenarioError, SourceMap, read_text
from simulator.scenario.runner import StepRecord
from simulator.syscalls import ArgKind, ResultKind

#: Bits epoll and poll take as flags but never report: a goal asking for them is impossible.
NEVER_REPORTED = ("ET", "ONESHOT", "EXCLUSIVE", "WAKEUP")
_LISTS = (ResultKind.EVENTS, ResultKind.SELECT, ResultKind.KEVENTS)


class ErrorAnswer(_Table):
    """The call failed with this error (an errno name, or an exception class name)."""

    error: Annotated[str, Field(max_length=40)]

    @field_validator("error")
    @classmethod
    def _known(cls, value: str) -> str:
        return vocabulary.error_name(value)


class ReportsAnswer(_Table):
    """An events result with an entry that has at least these bits (for the descriptor of
    that name, if `fd` is given: the name it is shown by)."""

    reports: Events
    fd: Annotated[str, Field(max_length=32)] | None = None


_ANSWER_HINT = 'expected "ok", "empty", "some", { error = "EEXIST" } or { reports = ["IN"] }'


def _check_answer(value: object) -> str | ErrorAnswer | ReportsAnswer:
    """One validator for the union, so a bad answer gets one message (see `format.AsNames`)."""
    if value in ("ok", "empty", "some"):
        assert isinstance(value, str)
        return value
    if isinstance(value, dict) and "error" in value:
        return ErrorAnswer.model_validate(value)
    if isinstance(value, dict) and "reports" in value:
        return ReportsAnswer.model_validate(value)
    raise ValueError(f"{_ANSWER_HINT}, got {value!r}")


Answer = Annotated[
    Literal["ok", "empty", "some"] | ErrorAnswer | ReportsAnswer,
    PlainValidator(_check_answer),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["ok", "empty", "some"]},
                {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "reports": {"type": "array", "items": {"type": "string"}},
                        "fd": {"type": "string"},
                    },
                    "required": ["reports"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_STEPS)]


class Need(_Table):
    """One condition (see the module docstring)."""

    do: str
    args: dict[str, Any] = Field(default_factory=dict)
    answer: Answer | None = None
    at_least: Count = 1
    at_most: Count | None = None
    same_fd: StrictBool = False
    after: Annotated[StrictInt, Field(ge=1)] | None = None

    @field_validator("do")
    @classmethod
    def _a_call(cls, value: str) -> str:
        if value not in CALLS:
            raise ValueError(f"unknown call {value!r}; known calls: {', '.join(CALLS)}")
        return value


class ChallengeMeta(_Table):
    """``[challenge]``: what to reach, in words."""

    title: Title
    goal: Text
    hint: Text
    par: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)] | None = Field(
        default=None, description="how many calls a neat solution uses"
    )
    max_calls: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)] | None = Field(
        default=None, description="a solution may use at most this many calls"
    )
    chapter: Annotated[StrictInt, Field(ge=1, le=12)] | None = Field(
        default=None,
        description="the chapter of the course it practises (simulator.scenario.course)",
    )
    order: Annotated[StrictInt, Field(ge=1, le=99)] | None = Field(
        default=None, description="its place among that chapter's challenges (1 first)"
    )


class Challenge(_Table):
    """A whole challenge file."""

    challenge: ChallengeMeta
    needs: Annotated[list[Need], Field(min_length=1, max_length=32)] = Field(alias="need")


@dataclass(frozen=True)
class Judgement:
    """How a session fares against a challenge."""

    solved: bool
    calls: int  #: the score: calls used (lines that ran)
    unmet: tuple[str, ...]  #: each need not met, in words
    judge: str  #: "the real kernel", or "the model" when the real kernel ran none of them


def challenge_schema() -> dict[str, Any]:
    """The JSON Schema of challenge files (``muxlab schema --challenge``)."""
    return Challenge.model_json_schema(by_alias=True)


def shipped_challenges() -> dict[str, Path]:
    """The shipped challenges by name (file stem), sorted."""
    folder = challenges_dir()
    return {} if folder is None else {p.stem: p for p in sorted(folder.glob("*.toml"))}


def find_challenge(name: str) -> Path:
    """A shipped challenge's file by name, else `name` as a path; `ScenarioError` if neither."""
    shipped = shipped_challenges()
    if name in shipped:
        return shipped[name]
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    known = ", ".join(shipped) or "none"
    raise ScenarioError(name, [Problem(f"no such challenge; the shipped ones: {known}")])


def load_challenge(path: Path) -> Challenge:
    """Read and check a challenge file; `ScenarioError` for anything wrong, impossible goals
    included."""
    text = read_text(path, kind="challenge file")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [Problem(f"TOML syntax error: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(path, [Problem("values are nested too deeply")]) from None
    # The source map finds [[step]] blocks: a need is located the same way.
    source = SourceMap(text.replace("[[need]]", "[[step]]"))
    try:
        challenge = Challenge.model_validate(document)
    except ValidationError as exc:
        raise ScenarioError(path, [_problem(error, source) for error in exc.errors()]) from None
    problems = impossible(challenge, source)
    if problems:
        raise ScenarioError(path, problems)
    return challenge


def _problem(error: Any, source: SourceMap) -> Problem:
    """One of pydantic's errors, located and worded as the scenario loader words them."""
    loc = [part for part in error["loc"] if not str(part).startswith(("literal[", "function-"))]
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    if len(loc) >= 2 and loc[0] == "need" and isinstance(loc[1], int):
        rest = [str(part) for part in loc[2:] if isinstance(part, str)]
        line = source.line_of(["step", loc[1], *rest[:1]])
        where = f"need {loc[1] + 1}" + (f", {'.'.join(rest)}" if rest else "")
        return Problem(f"{where}: {message}", line=line)
    field = ".".join(str(part) for part in loc)
    return Problem(message, line=source.line_of([str(p) for p in loc[:2]]), field=field or None)


def impossible(challenge: Challenge, source: SourceMap | None = None) -> list[Problem]:
    """Why no session could meet `challenge` (empty: it can be met, as far as we can tell)."""
    problems: list[Problem] = []

    def report(index: int, field: str, message: str) -> None:
        line = source.line_of(["step", index, field]) if source is not None else None
        problems.append(Problem(f"need {index + 1}, {field}: {message}", line=line))

    needs = challenge.needs
    for i, need in enumerate(needs):
        call = CALLS[need.do].syscall
        kind = call.result
        params = {a.name: a for a in call.args}
        for key, value in need.args.items():
            if key not in params:
                report(
                    i, "args", f"{need.do} has no argument {key!r}; it takes: {', '.join(params)}"
                )
            elif params[key].kind is ArgKind.FLAGS:
                try:
                    _flags(params[key], value)
                except (vocabulary.VocabularyError, TypeError) as exc:
                    report(i, "args", str(exc))
        answer = need.answer
        if (isinstance(answer, ReportsAnswer) or need.same_fd) and kind is not ResultKind.EVENTS:
            report(i, "answer", f"{need.do} returns no events: it can report nothing")
        if isinstance(answer, ReportsAnswer):
            bits = answer.reports if isinstance(answer.reports, list) else []
            for bit in bits:
                if bit in NEVER_REPORTED:
                    report(i, "answer", f"{bit} is a flag one sets; no kernel ever reports it")
        if answer in ("empty", "some") and kind not in (*_LISTS, ResultKind.COUNT):
            report(i, "answer", f"{need.do} returns no list or count to be {answer}")
        if answer == "empty" and kind is ResultKind.COUNT and need.do == "send":
            report(i, "answer", "a send that succeeds accepts at least one byte")
        if need.at_most is not None and need.at_most < need.at_least:
            report(i, "at_most", f"at_most = {need.at_most} is below at_least = {need.at_least}")
        if need.after is not None and not need.after <= i:
            earlier = f"an earlier need (1 to {i})" if i else "an earlier need; the first has none"
            report(i, "after", f"after = {need.after} must name {earlier}")
    if problems:
        return problems
    for i, need in enumerate(needs):
        for j, other in enumerate(needs):
            if i != j and _narrower(need, other) and need.at_least > (other.at_most or MAX_STEPS):
                report(
                    i,
                    "at_least",
                    f"needs {need.at_least} such calls, but need {j + 1} allows at most "
                    f"{other.at_most} calls that include them",
                )
    limit = challenge.challenge.max_calls
    if limit is not None:
        least = max(_chain(needs, i) for i in range(len(needs)))
        if least > limit:
            problems.append(
                Problem(
                    f"the needs take at least {least} calls, more than max_calls = {limit}",
                    line=source.line_of(["challenge", "max_calls"]) if source else None,
                    field="[challenge] max_calls",
                )
            )
    return problems


def _chain(needs: list[Need], i: int) -> int:
    """The fewest calls need `i` and the needs it comes after take."""
    need = needs[i]
    before = _chain(needs, need.after - 1) if need.after is not None else 0
    return before + need.at_least


def _narrower(need: Need, other: Need) -> bool:
    """Whether every call that meets `need` also counts for `other` (same call, `other`'s
    filters a part of `need`'s)."""
    if need.do != other.do or other.same_fd or other.after not in (None, need.after):
        return False
    if any(need.args.get(key) != value for key, value in other.args.items()):
        return False
    if other.answer is None:
        return True
    if other.answer == "ok":
        return need.answer is not None and not isinstance(need.answer, ErrorAnswer)
    return need.answer == other.answer


def _flags(arg: Any, value: Any) -> int:
    assert arg.family is not None
    table = vocabulary.FAMILIES[arg.family]
    if isinstance(value, list):
        return vocabulary.mask_of(value, table, arg.family.value)
    if isinstance(value, str | int) and not isinstance(value, bool):
        return vocabulary.lookup(value, table, arg.family.value)
    raise TypeError(f"expected flag names or a number, got {value!r}")


# --- judging ----------------------------------------------------------------------------------
def _real(record: StepRecord) -> tuple[Outcome, bool]:
    """The answer a challenge is judged on, and whether it is the real kernel's."""
    live = record.live
    if live is not None and live.error != "ENOSYS":
        return live, True
    return record.model, False


def _args_match(need: Need, record: StepRecord) -> bool:
    params = {a.name: a for a in record.step.call.syscall.args}
    given = record.step.arguments
    for key, want in need.args.items():
        value = getattr(given, key)
        if params[key].kind is ArgKind.FLAGS:
            mask = _flags(params[key], want)
            if _flags(params[key], value) & mask != mask or (mask == 0 and value):
                return False
        elif value != want:
            return False
    return True


def _reporting(outcome: Outcome, bits: list[str] | int) -> set[str]:
    """The descriptors an events result reports with at least `bits`."""
    mask = vocabulary.events_mask(bits)
    return {fd for fd, names in outcome.result if vocabulary.events_mask(names) & mask == mask}


def _answer_match(need: Need, outcome: Outcome, kind: ResultKind) -> set[str] | None:
    """None when `outcome` does not fit the need's answer; else the descriptors it reports
    (for `same_fd`: every one of them when the answer names no bits)."""
    answer = need.answer
    reported: set[str] = set()
    if kind is ResultKind.EVENTS and outcome.ok:
        reported = {fd for fd, _ in outcome.result}
    if answer is None:
        return reported
    if isinstance(answer, ErrorAnswer):
        return reported if outcome.error == answer.error else None
    if not outcome.ok:
        return None
    result = outcome.result
    if isinstance(answer, ReportsAnswer):
        found = _reporting(outcome, answer.reports)
        if answer.fd is not None:
            found &= {answer.fd}
        return found or None
    if answer == "ok":
        return reported
    full = any(result) if kind is ResultKind.SELECT else bool(result)
    return reported if full == (answer == "some") else None


def check(challenge: Challenge, records: tuple[StepRecord, ...] | list[StepRecord]) -> Judgement:
    """Judge the records of a session's lines (in order) against every need."""
    unmet: list[str] = []
    firsts: list[int | None] = []
    real_count = 0
    for record in records:
        real_count += _real(record)[1]
    for need in challenge.needs:
        start = -1
        if need.after is not None:
            first = firsts[need.after - 1]
            start = first if first is not None else len(records)
        matched: list[tuple[int, set[str]]] = []
        for record in records:
            if record.index <= start or record.step.call.name != need.do:
                continue
            if not _args_match(need, record):
                continue
            outcome, _ = _real(record)
            fds = _answer_match(need, outcome, record.step.call.result)
            if fds is not None:
                matched.append((record.index, fds))
        firsts.append(matched[0][0] if matched else None)
        count = len(matched)
        if need.same_fd and matched:
            tally: dict[str, int] = {}
            for _, fds in matched:
                for fd in fds:
                    tally[fd] = tally.get(fd, 0) + 1
            count = max(tally.values(), default=0)
        if count < need.at_least or (need.at_most is not None and count > need.at_most):
            unmet.append(describe(need, count))
    judge = "the real kernel" if real_count or not records else "the model"
    return Judgement(not unmet, len(records), tuple(unmet), judge)


def report(challenge: Challenge, judgement: Judgement) -> str:
    """What a try says: solved, with the score, or what is missing and the hint."""
    meta = challenge.challenge
    if judgement.solved:
        par = f" (par {meta.par})" if meta.par is not None else ""
        over = meta.max_calls is not None and judgement.calls > meta.max_calls
        if over:
            return f"Every need is met, but in {judgement.calls} calls; at most {meta.max_calls}."
        return f"Solved in {judgement.calls} calls{par}, judged on {judgement.judge}'s answers."
    missing = "; ".join(judgement.unmet)
    return f"Not yet: {missing}.\nHint: {' '.join(meta.hint.split())}"


def solved(challenge: Challenge, judgement: Judgement) -> bool:
    """Whether a judgement counts as solving the challenge (``max_calls`` included)."""
    limit = challenge.challenge.max_calls
    return judgement.solved and (limit is None or judgement.calls <= limit)


def describe(need: Need, count: int | None = None) -> str:
    """A need in words: ``at least 2 epoll_wait reporting IN on one same descriptor``."""
    if need.at_most is not None and need.at_most == need.at_least:
        amount = f"exactly {need.at_least}"
    elif need.at_most is not None:
        amount = (
            f"{need.at_least} to {need.at_most}" if need.at_least else f"at most {need.at_most}"
        )
    else:
        amount = f"at least {need.at_least}"
    text = f"{amount} {'successful ' if need.answer == 'ok' else ''}{need.do}"
    if need.args:
        text += "(" + ", ".join(f"{k}={_show(v)}" for k, v in need.args.items()) + ")"
    answer = need.answer
    if isinstance(answer, ErrorAnswer):
        text += f" failing with {answer.error}"
    elif isinstance(answer, ReportsAnswer):
        text += f" reporting {_show(answer.reports)}"
        if answer.fd is not None:
            text += f" for {answer.fd}"
    elif answer in ("empty", "some"):
        text += " returning nothing" if answer == "empty" else " returning something"
    if need.same_fd:
        text += " on one same descriptor"
    if need.after is not None:
        text += f" after need {need.after}"
    if count is not None:
        text += f" (you have {count})"
    return text


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return str(value)


__all__ = [
    "Challenge",
    "Judgement",
    "Need",
    "challenge_schema",
    "check",
    "describe",
    "find_challenge",
    "impossible",
    "load_challenge",
    "report",
    "shipped_challenges",
    "solved",
]
