"""The sandbox: calls typed one line at a time, run on both kernels in lockstep.

A `Sandbox` is a scenario written as it runs. Each line is read by
`simulator.scenario.callsyntax` (Python call syntax over the scenario vocabulary), becomes one
step, and runs through the lockstep `Runner` exactly as a lesson's step does: the same
argument resolution, the same verdicts, the same checkpoints, so a line can be rewound
(`seek`) like any step. Typing a line after rewinding starts a new branch: the lines after
the position are dropped, and since the real kernel cannot go back, a fresh live kernel
replays the lines kept (a real rerun, O(lines kept)) before the new one runs.

`enter` also takes the sandbox's commands, ``help``, ``save FILE`` and, with a challenge
(`simulator.scenario.challenge`), ``check``; `scenario_text` is
the session as a scenario file (each line a step, with the real kernel's answer as its
``expect``), which ``muxlab check`` accepts. Nothing typed raises: a line that cannot run gives
an `Answer` whose `message` says why, and the session goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator import syscalls
from simulator.scenario import calls
from simulator.scenario.calls import Json, Outcome
from simulator.scenario.callsyntax import LineError, ParsedLine, parse_line
from simulator.scenario.challenge import Challenge, Judgement, check, report
from simulator.scenario.controls import printable
from simulator.scenario.format import Meta, ModelParams, Scenario
from simulator.scenario.runner import (
    LiveFactory,
    ModelFactory,
    Runner,
    ScenarioRunError,
    StepRecord,
    Verdict,
    default_live_factory,
    default_model_factory,
)
from simulator.syscalls import ResultKind

#: The first line of every file `save` writes: only such a file is ever overwritten.
HEADER = "# A muxlab sandbox session (muxlab sandbox; run it with: muxlab check FILE)"
#: What a line that could not run reports as its verdict.
INVALID = "invalid"
#: What a command (``help``, ``save``) reports as its verdict.
COMMAND = "command"

_UNNAMED = re.compile(r"fd([0-9]+)")
#: Calls whose count a ``save`` does not pin in ``expect``: how much a TCP ``fill`` takes
#: depends on buffer autotuning, so a rerun may differ while both kernels still agree.
_UNPINNED = frozenset({"fill"})


@dataclass(frozen=True)
class Answer:
    """What one line gave: a step's record, or a message (why it could not run, or a reply)."""

    text: str  #: the line as typed (printable)
    record: StepRecord | None = None
    message: str | None = None
    column: int | None = None  #: where in the line the problem is (1-based)
    is_command: bool = False

    @property
    def verdict(self) -> str:
        """``agree``, ``diverge``, ``model_only`` (the runner's), ``invalid`` or ``command``."""
        if self.record is not None:
            return self.record.verdict.value
        return COMMAND if self.is_command else INVALID

    @property
    def model_text(self) -> str | None:
        """The model's answer in the learner's names (``[(a, IN)]``), or None."""
        if self.record is None:
            return None
        return show_outcome(self.record.step.call.result, self.record.model)

    @property
    def live_text(self) -> str | None:
        """The real kernel's answer in the learner's names, or None (it did not run)."""
        if self.record is None or self.record.live is None:
            return None
        return show_outcome(self.record.step.call.result, self.record.live)

    def to_json(self) -> dict[str, Json]:
        """One line of ``muxlab sandbox --headless --json``."""
        record = self.record
        return {
            "call": self.text,
            "verdict": self.verdict,
            "model": None if record is None else record.model.to_json(),
            "live": None if record is None or record.live is None else record.live.to_json(),
            "model_text": self.model_text,
            "live_text": self.live_text,
            "diff": None if record is None else record.diff,
            "note": None if record is None else record.note,
            "message": self.message,
            "column": self.column,
        }


class BoundNames(Collection[str]):
    """The names bound before a position, as a read-only collection of the sandbox's map of
    names to the line that first bound them."""

    def __init__(self, first: dict[str, int], position: int) -> None:
        self._first = first
        self._position = position

    def __contains__(self, name: object) -> bool:
        index = self._first.get(name) if isinstance(name, str) else None
        return index is not None and index < self._position

    def __iter__(self) -> Iterator[str]:
        return (name for name, index in self._first.items() if index < self._position)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def show_outcome(kind: ResultKind, outcome: Outcome) -> str:
    """An outcome as Python would print it, with the learner's names: ``[(a, IN|RDNORM)]``,
    ``(a, b)``, ``None``; an error as ``EEXIST: [Errno 17] File exists``. O(size of result)."""
    if outcome.error is not None:
        return f"{outcome.error}: {outcome.message}" if outcome.message else outcome.error
    result = outcome.result
    if kind is ResultKind.NONE:
        return "None"
    if kind is ResultKind.PAIR:
        return f"({result[0]}, {result[1]})"
    if kind is ResultKind.EVENTS:
        return "[" + ", ".join(f"({fd}, {'|'.join(ev) or '0'})" for fd, ev in result) + "]"
    if kind is ResultKind.SELECT:
        return "(" + ", ".join("[" + ", ".join(fds) + "]" for fds in result) + ")"
    if kind is ResultKind.KEVENTS:
        shown = []
        for ev in result:
            fields = [f"ident={ev['ident']}", f"filter={ev['filter']}"]
            fields.append(f"flags={'|'.join(ev['flags']) or '0'}")
            fields += [f"{k}={ev[k]}" for k in ("fflags", "data", "udata") if ev[k]]
            shown.append(f"KEvent({', '.join(fields)})")
        return "[" + ", ".join(shown) + "]"
    if kind is ResultKind.PACKETS:  # IOCP (model only): OVERLAPPED_ENTRYs
        entries = []
        for packet in result:
            fields = [f"{k}={packet[k]}" for k in ("bytes", "key", "overlapped")]
            if packet["status"] != "ERROR_SUCCESS":
                fields.append(f"status={packet['status']}")
            entries.append(f"OVERLAPPED_ENTRY({', '.join(fields)})")
        return "[" + ", ".join(entries) + "]"
    return str(result)


def help_text() -> str:
    """The language in a few lines: every call of the table with its arguments, the flags."""
    from simulator.scenario.vocabulary import FAMILIES

    lines = ["One call per line, names bound with =, e.g.  a, b = socketpair()", "Calls:"]
    for call in syscalls.CALLS.values():
        params = ", ".join(
            a.name if a.step_default is syscalls.REQUIRED else f"{a.name}={a.step_default!r}"
            for a in call.args
        )
        lines.append(f"  {call.name}({params}): {call.summary}")
    for family, table in FAMILIES.items():
        lines.append(f"{family.value}: {' | '.join(table)}")
    lines.append("C names work too (EPOLLIN, EPOLL_CTL_ADD); None waits forever.")
    lines.append("Commands: help, save FILE (the session as a scenario for muxlab check),")
    lines.append("  check (with a challenge: is the goal reached? a hint if not)")
    return "\n".join(lines)


class Sandbox:
    """Lines of call syntax run in lockstep on a model and (unless `live` is False) the real
    kernel. Use it as a context manager, or `close` it: it owns the live kernel's child."""

    def __init__(
        self,
        *,
        live: bool = True,
        title: str = "Sandbox session",
        model_factory: ModelFactory = default_model_factory,
        live_factory: LiveFactory = default_live_factory,
        challenge: Challenge | None = None,
    ) -> None:
        self.title = title
        self.challenge = challenge  #: the goal the ``check`` command judges, if any
        self._model_factory = model_factory
        self._live_factory: LiveFactory | None = live_factory if live else None
        self._lines: list[ParsedLine] = []  #: the lines of this branch, one step each
        #: Each name bound by a line of the branch -> the index of the first line binding it.
        self._first: dict[str, int] = {}
        self._runner: Runner | None = None
        self._broken = False  #: the runner stopped mid-way (the live kernel failed)

    # --- what has run -------------------------------------------------------------------------
    @property
    def lines(self) -> tuple[ParsedLine, ...]:
        return tuple(self._lines)

    @property
    def position(self) -> int:
        """How many lines have run (fewer than `lines` after a rewind)."""
        if self._runner is None or self._broken:
            return len(self._lines)
        return self._runner.position

    @property
    def runner(self) -> Runner | None:
        """The lockstep runner over the lines (None before the first line): the player's."""
        return self._runner

    @property
    def records(self) -> tuple[StepRecord, ...]:
        """The record of each line of this branch that has run."""
        if self._runner is None:
            return ()
        return self._runner.records[: len(self._lines)]

    def bound_names(self) -> BoundNames:
        """The names the lines before `position` bind (what the next line may use): O(1) to
        make and to test a name against, O(names) to list."""
        return BoundNames(self._first, self.position)

    # --- typing -------------------------------------------------------------------------------
    def enter(self, line: str) -> Answer | None:
        """Take one typed line: a command, a call, or nothing (blank or a ``#`` comment)."""
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        word, _, rest = text.partition(" ")
        if word == "help" and not rest:
            return Answer(text, message=help_text(), is_command=True)
        if word == "save" and "(" not in text:
            return self._save_command(text, rest.strip())
        if text == "check" and self.challenge is not None:
            return Answer(text, message=report(self.challenge, self.judge()), is_command=True)
        return self.run(text)

    def judge(self) -> Judgement:
        """The lines before `position` judged against the challenge (which must be set)."""
        assert self.challenge is not None
        return check(self.challenge, self.records[: self.position])

    def read(self, line: str) -> ParsedLine:
        """`line` read against the names bound before `position`; raises `LineError`."""
        return parse_line(line, self.bound_names())

    def add(self, parsed: ParsedLine) -> Runner:
        """Make `parsed` the line after `position`, not run yet, and return the runner that runs
        it (``runner.seek(len(lines))``). After a rewind the line starts a new branch: the
        lines after the position are dropped and a fresh runner (and live kernel) will run the
        lines kept again first."""
        kept = self.position
        if self._runner is None or self._broken or kept < len(self._lines):
            self._truncate(kept)
            self._lines.append(parsed)
            runner = self._new_runner(self._lines)
        else:
            self._lines.append(parsed)
            runner = self._runner
            runner.append(parsed.step)
        for name in parsed.step.names:
            self._first.setdefault(name, kept)
        return runner

    def _truncate(self, n: int) -> None:
        """Keep only the first `n` lines (and the names they bind). O(dropped lines + names)."""
        if n < len(self._lines):
            del self._lines[n:]
            self._first = {name: i for name, i in self._first.items() if i < n}

    def adopt(self, runner: Runner) -> None:
        """Go on with `runner`, a runner over the same lines (the app replaces its runner by
        one that replays the real answers when the live kernel is lost)."""
        self._runner = runner

    def run(self, line: str) -> Answer:
        """Run one line of call syntax after the lines before `position`."""
        try:
            parsed = self.read(line)
        except LineError as exc:
            return Answer(printable(line.strip()), message=exc.message, column=exc.column)
        runner = self.add(parsed)
        try:
            runner.seek(len(self._lines))
        except ScenarioRunError as exc:
            self._broken = True
            self._truncate(len(self._lines) - 1)
            return Answer(parsed.text, message=f"{printable(str(exc))}; the line did not run")
        return Answer(parsed.text, record=runner.records[len(self._lines) - 1])

    def run_all(self, lines: Iterator[str]) -> Iterator[Answer]:
        """`enter` each line, yielding the answers (blank lines and comments give none)."""
        for line in lines:
            answer = self.enter(line)
            if answer is not None:
                yield answer

    def seek(self, n: int) -> None:
        """Move to the state after `n` lines (0 = before the first), like the player's rewind:
        backwards only the model runs, from a checkpoint, with the recorded real answers."""
        if not 0 <= n <= len(self._lines):
            raise IndexError(f"position {n} is outside 0..{len(self._lines)}")
        if self._runner is None:
            return
        if self._broken:
            self._new_runner(self._lines)
        assert self._runner is not None
        self._runner.seek(n)

    def _new_runner(self, lines: list[ParsedLine]) -> Runner:
        """A fresh runner (and live kernel) over `lines`, none of them run yet."""
        self.close()
        scenario = Scenario.model_construct(
            scenario=Meta(title=self.title, lesson=None),
            model=ModelParams(),
            steps=[line.step for line in lines],
        )
        self._runner = Runner(scenario, self._model_factory, self._live_factory)
        self._broken = False
        return self._runner

    # --- saving ---------------------------------------------------------------------------------
    def scenario_text(self) -> str:
        """The lines of this branch as a scenario file: each a step, narrated by the line as
        typed, expecting what the real kernel answered (the model's where only it ran; nothing
        where the kernels disagreed or the answer is not reproducible). O(lines)."""
        out = [HEADER, "", "[scenario]", f"title = {_toml(self.title)}", 'tags = ["sandbox"]']
        records = self.records
        for i, line in enumerate(self._lines):
            document = dict(line.document)
            document["say"] = f"`{line.text}`"
            if not document["args"]:
                del document["args"]
            if i < len(records):
                pinned = _expectation(records[i])
                if pinned is not None:
                    document["expect"] = pinned
            out += ["", f"# {line.text}", "[[step]]"]
            out += [f"{key} = {_toml(document[key])}" for key in _KEY_ORDER if key in document]
        return "\n".join(out) + "\n"

    def save(self, path: Path) -> str:
        """Write `scenario_text` to `path`; returns what to tell the learner. Raises `OSError`
        or `ValueError` (with a message to show) when it must not or cannot be written."""
        if not self._lines:
            raise ValueError("nothing to save yet: type a call first")
        problem = cannot_save(path)
        if problem is not None:
            raise ValueError(problem)
        path.write_text(self.scenario_text(), encoding="utf-8")
        count = len(self._lines)
        return f"saved {count} step{'s' * (count != 1)} to {printable(str(path))}"

    def _save_command(self, text: str, target: str) -> Answer:
        if not target:
            return Answer(printable(text), message="save needs a file name: save FILE.toml")
        try:
            message = self.save(Path(target))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return Answer(printable(text), message=f"cannot save: {printable(reason)}")
        return Answer(printable(text), message=message, is_command=True)

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the live kernel (its child process)."""
        if self._runner is not None:
            self._runner.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_KEY_ORDER = ("do", "as", "args", "say", "expect")


def cannot_save(path: Path) -> str | None:
    """Why a session must not be saved to `path`, or None. Only a file `save` wrote before (it
    starts with `HEADER`) is ever overwritten. Checked before a run too, so none is wasted."""
    shown = printable(str(path))
    try:
        if path.is_dir():
            return f"{shown} is a folder; give a file name"
        if not path.parent.is_dir():
            return f"no such folder {printable(str(path.parent))}"
        if path.exists() or path.is_symlink():
            if not path.is_file():  # a FIFO or a device: reading it could block for ever
                return f"{shown} exists and is not a regular file; choose another name"
            with path.open("rb") as existing:
                first = existing.read(len(HEADER.encode()))
            if first != HEADER.encode():
                return f"{shown} exists and is not a saved sandbox session; choose another name"
    except OSError as exc:
        return f"{shown}: {exc.strerror or exc}"
    return None


def _expectation(record: StepRecord) -> Json | None:
    """What a saved step expects: the real answer, written as ``expect`` is, or None."""
    if record.verdict not in (Verdict.AGREE, Verdict.MODEL_ONLY):
        return None
    if record.step.call.name in _UNPINNED:
        return None
    real = record.live if record.live is not None and record.live.error != "ENOSYS" else None
    outcome = real or record.model
    if outcome.error is not None:
        return None if outcome.error == calls.UNBOUND else {"error": outcome.error}
    return _numbered(record.step.call.result, outcome.result)


def _numbered(kind: ResultKind, value: Json) -> Json:
    """A result in names with unnamed descriptors (``fd7``) as numbers, which ``expect``
    accepts (``fd7`` is not a name a file may use)."""

    def fd(ref: Json) -> Json:
        found = _UNNAMED.fullmatch(ref) if isinstance(ref, str) else None
        return int(found.group(1)) if found else ref

    if kind is ResultKind.FD:
        return fd(value)
    if kind is ResultKind.PAIR:
        return [fd(v) for v in value]
    if kind is ResultKind.EVENTS:
        return [[fd(f), ev] for f, ev in value]
    if kind is ResultKind.SELECT:
        return [[fd(f) for f in fds] for fds in value]
    if kind is ResultKind.KEVENTS:
        return [dict(ev, ident=fd(ev["ident"])) for ev in value]
    return value


def _toml(value: Any) -> str:
    """A TOML value (inline) for the JSON-like values a step holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are all TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
