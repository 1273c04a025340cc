"""Recordings: the live kernel's answers to one scenario, saved so a run can be replayed later.

Only what is not deterministic is recorded (the real kernel's answers, rr-style); the model is
re-run. A recording holds raw numbers and errno *names*, never errno numbers, so a Linux
recording replays on macOS and the reverse. It is tied to the scenario by `scenario_hash`, a
digest of what the steps *do* (calls, arguments, names, model parameters) and not of their
narration, so rewording a lesson keeps its recordings valid while changing a call does not.

A recording is a file like a scenario, so it is checked like one: capped in size, JSON without
``NaN``, nesting bounded, every field typed, and each step's answer written the way that
step's call answers (`Recording.check`). A bad one gives one `RecordingError` naming the file
and the place (``run.json: live[3] (step 4, epoll_wait): raw[0][1]: ...``).
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from simulator.scenario.format import (
    INT32,
    MAX_DEPTH,
    MAX_EVENTS,
    MAX_LIST,
    MAX_STEPS,
    ResultKind,
    Scenario,
    StepBase,
    Title,
    printable,
)
from simulator.scenario.loader import ScenarioError, deepest, read_text

FORMAT = "muxlab-recording"
VERSION = 1
MAX_RECORDING_BYTES = 16 << 20  #: a recording larger than this is refused unread


class RecordingError(Exception):
    """A recording that cannot be used (unreadable, malformed, or for another scenario).

    `str()` is the message, with control characters escaped."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the executable content of a scenario (not its metadata or narration)."""
    content = {
        "model": scenario.model.kwargs(),
        "steps": [
            {
                "do": step.call.name,
                "args": step.arguments.model_dump(mode="json"),
                "as": step.as_,
                "model_only": step.model_only,
            }
            for step in scenario.steps
        ],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def this_platform() -> dict[str, str]:
    """Where a live run happens: OS, release, machine, Python."""
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


_Word = Annotated[str, Field(max_length=200, pattern=r"^[ -~]*$")]


class _RecordingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    format: Literal["muxlab-recording"]
    version: Literal[1]
    scenario_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    title: Title
    platform: Annotated[dict[_Word, _Word], Field(max_length=16)]
    live: Annotated[list[dict[str, Any] | None], Field(max_length=MAX_STEPS)]


# What a live answer looks like in a recording: an error by name, or the raw result of the
# step's call (numbers only, sized like the calls that produce them).
class _RecordedError(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    error: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    message: Annotated[str, Field(max_length=2000, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")] | None = (
        None
    )


_Fd = Annotated[StrictInt, Field(ge=0, le=INT32[1])]
_Mask = Annotated[StrictInt, Field(ge=0, le=(1 << 32) - 1)]
_Int64 = Annotated[StrictInt, Field(ge=-(1 << 63), le=(1 << 63) - 1)]


class _RawKEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    ident: Annotated[StrictInt, Field(ge=0, le=(1 << 64) - 1)]
    filter: Annotated[StrictInt, Field(ge=-(1 << 15), le=(1 << 15) - 1)]
    flags: Annotated[StrictInt, Field(ge=0, le=(1 << 16) - 1)]
    fflags: _Mask
    data: _Int64
    udata: _Int64


class _RawCqe(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    user_data: Annotated[StrictInt, Field(ge=0, le=(1 << 64) - 1)]
    res: Annotated[StrictInt, Field(ge=-(1 << 31), le=(1 << 31) - 1)]
    flags: _Mask


class _RawPacket(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    bytes: Annotated[StrictInt, Field(ge=0, le=(1 << 32) - 1)]
    key: _Int64
    overlapped: _Int64
    status: _Mask


#: The type of each kind of raw result; its validator is built when first needed (`_raw`):
#: building them all at import cost ``play`` ~20 ms before its first frame.
_RAW_TYPES: dict[ResultKind, Any] = {
    ResultKind.NONE: None,
    ResultKind.COUNT: Annotated[StrictInt, Field(ge=0, le=(1 << 63) - 1)],
    ResultKind.FD: _Fd,
    ResultKind.PAIR: tuple[_Fd, _Fd],
    ResultKind.EVENTS: Annotated[
        list[tuple[_Fd, _Mask]], Field(max_length=max(MAX_EVENTS, MAX_LIST))
    ],
    ResultKind.SELECT: tuple[
        Annotated[list[_Fd], Field(max_length=MAX_LIST)],
        Annotated[list[_Fd], Field(max_length=MAX_LIST)],
        Annotated[list[_Fd], Field(max_length=MAX_LIST)],
    ],
    ResultKind.KEVENTS: Annotated[list[_RawKEvent], Field(max_length=MAX_EVENTS)],
    ResultKind.CQES: Annotated[list[_RawCqe], Field(max_length=MAX_EVENTS)],
    ResultKind.PACKETS: Annotated[list[_RawPacket], Field(max_length=MAX_EVENTS)],
}


@cache
def _raw(kind: ResultKind) -> TypeAdapter[Any]:
    """The validator of a raw result of `kind`, built once."""
    return TypeAdapter(_RAW_TYPES[kind])


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    """pydantic's first complaint as ``place: message``, in the recording's own terms."""
    first = exc.errors()[0]
    where = prefix
    for part in first["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "missing"
    elif first["type"] == "string_pattern_mismatch":
        msg = "not a valid value here (a name, plain text without control characters)"
    msg = msg.removeprefix("Value error, ")
    return f"{where or 'top level'}: {msg[0].lower()}{msg[1:]}"


@dataclass(frozen=True)
class Recording:
    """The live outcomes of a run, one per step (None where the live kernel did not run)."""

    scenario_hash: str
    title: str
    live: tuple[dict[str, Any] | None, ...]
    platform: dict[str, str] = field(default_factory=this_platform)
    source: str | None = field(default=None, compare=False)  #: the file it was loaded from

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "scenario_hash": self.scenario_hash,
            "title": self.title,
            "platform": dict(self.platform),
            "live": list(self.live),
        }

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> Recording:
        """A recording from its JSON document; `source` names it in messages."""
        where = f"{source}: " if source else ""
        try:
            doc = _RecordingFile.model_validate(data)
        except ValidationError as exc:
            raise RecordingError(f"{where}not a muxlab recording ({_first_error(exc)})") from None
        return cls(doc.scenario_hash, doc.title, tuple(doc.live), doc.platform, source)

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_json(), indent=1, allow_nan=False)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read and shape-check a recording file (`check` then matches it to a scenario)."""
        try:
            text = read_text(Path(path), cap=MAX_RECORDING_BYTES, kind="recording")
        except ScenarioError as exc:
            raise RecordingError(str(exc)) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise RecordingError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
        except RecursionError:
            raise RecordingError(f"{path}: values are nested too deeply") from None
        except ValueError as exc:  # NaN/Infinity, or an integer of more than 4300 digits
            reason = "a number has thousands of digits" if "digits" in str(exc) else str(exc)
            raise RecordingError(f"{path}: not a muxlab recording: {reason}") from None
        if deepest(data, MAX_DEPTH) is not None:
            raise RecordingError(f"{path}: values are nested too deeply") from None
        return cls.from_json(data, str(path))

    def check(self, scenario: Scenario) -> None:
        """Raise `RecordingError` unless this recording was made for `scenario` and every
        answer in it is written the way its step's call answers."""
        where = f"{self.source}: " if self.source else ""
        if self.scenario_hash != scenario_hash(scenario):
            raise RecordingError(
                f"{where}the recording of {self.title!r} was made for a different version of the "
                "scenario (its steps changed since); record it again"
            )
        if len(self.live) > len(scenario.steps):
            raise RecordingError(f"{where}the recording has more steps than the scenario")
        last_step_of: dict[str, StepBase] = {}  # each thread's latest step (what a join reads)
        for index, (entry, step) in enumerate(zip(self.live, scenario.steps, strict=False)):
            if entry is not None:
                place = f"{where}live[{index}] (step {index + 1}, {step.call.name}): "
                woken = entry.get("woken", {})
                answer = {k: v for k, v in entry.items() if k != "woken"}
                if not isinstance(woken, dict) or any(n not in last_step_of for n in woken):
                    raise RecordingError(place + "woken: expected { thread: answer, ... }")
                _check_answer(place, answer, step)
                for name, joined in woken.items():
                    if not isinstance(joined, dict):
                        raise RecordingError(place + f"woken.{name}: expected an answer")
                    _check_answer(f"{place}woken.{name}: ", joined, last_step_of[name])
            if step.thread is not None:
                last_step_of[step.thread] = step


def _check_answer(place: str, entry: dict[str, Any], step: StepBase) -> None:
    """RecordingError unless `entry` is written the way `step`'s call answers."""
    if "error" not in entry and set(entry) != {"raw"}:
        raise RecordingError(place + 'expected { "raw": ... } or { "error": ... }')
    try:
        if "error" in entry:
            _RecordedError.model_validate(entry)
        else:
            _raw(step.call.result).validate_python(entry["raw"])
    except ValidationError as exc:
        prefix = "" if "error" in entry else "raw"
        raise RecordingError(place + _first_error(exc, prefix)) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a kernel answers")
