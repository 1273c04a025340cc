"""Reading scenario files: TOML in, a checked `Scenario` out, or one readable `ScenarioError`.

Checking runs in three layers, and every problem found is reported with the file, the line (when
it can be recovered), the step number and the field:

1. the file itself: exists, is a regular file, at most `MAX_FILE_BYTES`, UTF-8, valid TOML
   (`tomllib` gives the line and column of syntax errors);
2. shape, by the pydantic models of `simulator.scenario.format`;
3. what needs the whole file: every fd name is bound by an earlier ``as`` before it is used,
   ``as`` fits what the call returns, ``expect`` and ``choices`` are written like the call's
   result, and (for a file on disk) the ``lesson`` text exists, beside the file or among the
   shipped lessons, and is safe to show.

pydantic knows the *path* of a bad value (``step -> 3 -> args -> events``) but not its line, so
`SourceMap` finds the line by scanning for the ``[[step]]`` headers and then the keys inside the
step's block.
"""

from __future__ import annotations

import difflib
import errno
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Union

import tomli
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from simulator.scenario import vocabulary
from simulator.scenario.format import (
    CALLS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_STEPS,
    STEP_MODELS,
    Events,
    FdRef,
    Int32,
    KqFilter,
    KqFlags,
    Meta,
    ModelParams,
    ResultKind,
    Scenario,
    StepBase,
    printable,
)
from simulator.scenario.library import LessonError, lesson_path, lessons_dir, read_lesson
from simulator.scenario.program import ProgramError, load_program, step_lines
from simulator.scenario.template import Expanded, TemplateError, expand, uses_templates
from simulator.syscalls import ArgKind
from simulator.threads import MAX_THREADS

_MAX_REPORTED = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, located as precisely as we can."""

    message: str
    line: int | None = None
    step: int | None = None  #: 1-based, as a reader counts
    call: str | None = None
    field: str | None = None

    def render(self, path: str) -> str:
        """``path:line: step N (call), field F: message``."""
        where = f"{path}:{self.line}" if self.line else path
        parts = []
        if self.step is not None:
            parts.append(f"step {self.step}" + (f" ({self.call})" if self.call else ""))
        if self.field:
            parts.append(f"field {self.field}")
        context = ", ".join(parts)
        return f"{where}: {context}: {self.message}" if context else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario file that cannot be used; `str()` is the whole report, ready to print."""

    def __init__(self, path: str | Path, problems: Sequence[Problem]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        super().__init__(self.report())

    def report(self) -> str:
        """Every problem on its own line (at most 20, then a count of the rest), with control
        characters escaped: a file name or a quoted value must not drive the terminal."""
        lines = [p.render(self.path) for p in self.problems[:_MAX_REPORTED]]
        if len(self.problems) > _MAX_REPORTED:
            lines.append(f"{self.path}: ... and {len(self.problems) - _MAX_REPORTED} more problems")
        return "\n".join(printable(line) for line in lines)


class SourceMap:
    """Finds the line of a value from its path in the document, by scanning the text."""

    _STEP = re.compile(r"\s*\[\[\s*step\s*\]\]")
    _TABLE = re.compile(r"\s*\[\s*([A-Za-z_]+)\s*\]")

    def __init__(self, text: str) -> None:
        # Scanned on the first look-up: a file without problems never needs its lines.
        self._text = text

    @cached_property
    def lines(self) -> list[str]:
        """The text's lines."""
        return self._text.splitlines()

    @cached_property
    def steps(self) -> list[int]:
        """0-based line of each ``[[step]]`` header, in order."""
        return [n for n, line in enumerate(self.lines) if self._STEP.match(line)]

    @cached_property
    def tables(self) -> dict[str, int]:
        """0-based line of each ``[table]`` header, by name (the first one)."""
        tables: dict[str, int] = {}
        for n, line in enumerate(self.lines):
            m = self._TABLE.match(line)
            if m and not line.lstrip().startswith("[["):
                tables.setdefault(m.group(1), n)
        return tables

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the value at `loc` (a pydantic-style path), or the nearest enclosing
        table's header line, or None."""
        if not loc:
            return None
        head, rest = loc[0], list(loc[1:])
        if head == "step" and rest and isinstance(rest[0], int):
            index = int(rest.pop(0))
            if index >= len(self.steps):
                return None
            start = self.steps[index]
            later = [n for n in self.steps if n > start]
            later += [n for n in self.tables.values() if n > start]
            end = min(later, default=len(self.lines))
        elif isinstance(head, str) and head in self.tables:
            start = self.tables[head]
            later = [n for n in [*self.tables.values(), *self.steps] if n > start]
            end = min(later, default=len(self.lines))
        else:
            return self._find_key(str(head), 0, len(self.lines))
        line = start
        for key in rest:
            if not isinstance(key, str):
                continue
            found = self._find_key(key, line, end)
            if found is None:
                break
            line = found - 1
        return line + 1

    def _find_key(self, key: str, start: int, end: int) -> int | None:
        quoted = re.escape(key)
        assign = re.compile(rf"""(^|[{{,\s])["']?{quoted}["']?\s*=""")
        header = re.compile(rf"\s*\[\[?\s*[A-Za-z_.]*\b{quoted}\s*\]")
        for n in range(start, end):
            text = self.lines[n].split("#", 1)[0] if "#" in self.lines[n] else self.lines[n]
            if assign.search(text) or header.match(text):
                return n + 1
        return None


def read_text(path: Path, *, cap: int = MAX_FILE_BYTES, kind: str = "scenario file") -> str:
    """The file's text, or a `ScenarioError` saying plainly why it cannot be read.

    At most `cap` bytes of UTF-8 (a leading byte-order mark, which some editors write, is
    dropped); no NUL. `kind` names the file in messages ("scenario file", "recording").
    """

    def fail(message: str) -> ScenarioError:
        return ScenarioError(path, [Problem(message)])

    try:
        info = path.stat()  # follows symlinks: the checks below are about the target
    except FileNotFoundError:
        broken = path.is_symlink()
        raise fail("is a symbolic link to a missing file" if broken else "no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise fail("is a symbolic link loop (it never reaches a file)") from None
        raise fail(f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail(f"is a directory, not a {kind}")
    if not stat.S_ISREG(info.st_mode):
        raise fail("is not a regular file")
    if info.st_size > cap:
        raise fail(f"is {info.st_size} bytes; a {kind} is capped at {cap} bytes")
    try:
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise fail(f"is larger than the cap of {cap} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "is it a binary file?"
        ) from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise fail(f"contains a NUL byte at offset {text.index(chr(0))}; is it a binary file?")
    return text


def load_scenario(path: str | Path, params: Mapping[str, str] | None = None) -> Scenario:
    """Read and check one scenario file, its ``[params]`` set from `params` (``{"N": "100"}``;
    the rest keep their defaults). Raises `ScenarioError` (never anything else for bad input)."""
    path = Path(path)
    return parse_scenario(read_text(path), path, scenario_file=path, params=params)


def parse_scenario(
    text: str,
    path: str | Path = "<scenario>",
    *,
    scenario_file: Path | None = None,
    params: Mapping[str, str] | None = None,
) -> Scenario:
    """Check scenario `text`; `path` only names it in errors.

    `scenario_file` is where the text came from, if it is a file: a ``lesson`` is then looked up
    beside it (and among the shipped lessons) and a missing one is an error. Without it the
    ``lesson`` field is only checked for its form. A template (``[params]``, ``repeat``, ``if``:
    see `simulator.scenario.template`) is expanded first, with `params` overriding defaults.
    """
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise ScenarioError(path, [Problem("is empty; a scenario needs [scenario] and [[step]]")])
    document = _fast_document(text)
    source = SourceMap(text)
    if document is None:
        document = _document(text, path, source)
    expanded = _expand(document, params or {}, path, source)
    if expanded is not None:
        document = expanded.document
    try:
        scenario = validate_document(document)
    except ValidationError as exc:
        raise ScenarioError(path, _shape_problems(exc, document, source)) from None
    problems = check_steps(scenario, source)
    if scenario_file is not None:
        problems += check_lesson(scenario, scenario_file, source)
    problems += check_program(scenario, scenario_file, source)
    if problems:
        raise ScenarioError(path, problems)
    if expanded is not None:
        scenario._params = dict(expanded.params)
        scenario._values = dict(expanded.values)
    return scenario


def _fast_document(text: str) -> dict[str, Any] | None:
    """The TOML document, parsed by tomli (compiled: ~3x tomllib), or None if anything is
    wrong with it -- a syntax error, too deep a nesting -- for `_document` to report exactly as
    it always has. tomli 2.2 is the code tomllib was made from (TOML 1.0): the two accept the
    same files."""
    try:
        document = tomli.loads(text)
    except (tomli.TOMLDecodeError, RecursionError):
        return None
    return document if deepest(document) is None else None


def _document(text: str, path: str | Path, source: SourceMap) -> dict[str, Any]:
    """The TOML document parsed by the standard library, or its one located problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise ScenarioError(path, [Problem(f"TOML syntax error: {exc}", line=line)]) from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively: a few hundred levels of
        # `[` exhaust the stack before any limit of ours can look at the document.
        raise ScenarioError(path, [_too_deep(None)]) from None
    deep = deepest(document)
    if deep is not None:
        raise ScenarioError(path, [_too_deep(source.line_of(deep))]) from None
    return document


def validate_document(document: dict[str, Any]) -> Scenario:
    """`Scenario.model_validate(document)`, paying only for the calls the document uses.

    The whole `Scenario` model holds the union of every call's step model (~50 models to build,
    which a program that opens one scenario need not wait for). A well-formed document is
    checked table by table instead: ``[scenario]`` by `Meta`, ``[model]`` by `ModelParams`, each
    step by the model of its ``do`` (the same model the union would pick), each built on first
    use. Anything unusual -- a problem in any part, a ``do`` that names no call, a key the fast
    path does not know -- is validated again by the whole model, so the errors (their paths
    and messages) are exactly the whole model's. O(steps); raises `ValidationError`.
    """
    try:
        return _validate_by_parts(document)
    except (ValidationError, _Unusual):
        return Scenario.model_validate(document)


class _Unusual(Exception):
    """The document is not of the shape `_validate_by_parts` checks: ask the whole model."""


def _validate_by_parts(document: dict[str, Any]) -> Scenario:
    if not {"scenario", "step"} <= document.keys() <= {"scenario", "model", "step"}:
        raise _Unusual
    raw_steps = document["step"]
    if type(raw_steps) is not list or not 1 <= len(raw_steps) <= MAX_STEPS:
        raise _Unusual
    meta = Meta.model_validate(document["scenario"])
    fields_set = {"scenario", "steps"}
    params = ModelParams.model_construct()
    if "model" in document:
        params = ModelParams.model_validate(document["model"])
        fields_set.add("model")
    try:
        calls = frozenset([raw["do"] for raw in raw_steps])
    except (TypeError, KeyError):  # (a step that is not a table, or has no ``do``)
        raise _Unusual from None
    if not calls <= CALLS.keys():  # (a ``do`` naming no call, or not a string)
        raise _Unusual
    steps = _steps_validator(calls).validate_python(raw_steps)
    return Scenario.model_construct(fields_set, scenario=meta, model=params, steps=steps)


@lru_cache(maxsize=32)
def _steps_validator(calls: frozenset[str]) -> TypeAdapter[list[StepBase]]:
    """A ``[[step]]`` array of steps that call `calls`, validated in one pydantic-core call:
    the list of their step models, told apart by ``do`` as the whole model tells them (a loop
    validating one step at a time cost ~3 us a step in Python calls). Built once per set of
    calls (a few ms). Errors are the whole model's still: a failure here is validated again by
    it (`validate_document`).

    Each step model is built first (`model_rebuild`, once: they are `defer_build`): the adapter
    then takes its schema as built instead of generating it again inside the union -- which
    made every new set of calls cost ~15 ms (the 30 sets of the shipped scenarios: 0.44 s of
    CPU, now 0.09 s with each model built once)."""
    models = tuple(STEP_MODELS[call] for call in sorted(calls))
    for model in models:
        model.model_rebuild()  # (nothing to do once built)
    item: Any = (
        models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="do")]  # noqa: UP007
    )
    return TypeAdapter(list[item])


# --- knobs: a template expanded before anything else is checked (issue 14) ----------------------
def _expand(
    document: dict[str, Any], params: Mapping[str, str], path: str | Path, source: SourceMap
) -> Expanded | None:
    """The expanded template, with `source` remapped so that each generated step points at the
    ``[[step]]`` it came from; None for a plain scenario (and then `params` must be empty)."""
    if not uses_templates(document):
        if params:
            names = ", ".join(params)
            message = f"--param {names}: this scenario declares no [params]"
            raise ScenarioError(path, [Problem(message)])
        return None
    try:
        expanded = expand(document, params)
    except TemplateError as exc:
        line = _template_line(source, exc.loc)
        raise ScenarioError(path, [Problem(exc.message, line=line)]) from None
    written = source.steps
    if all(i < len(written) for i in expanded.origin):
        source.steps = [written[i] for i in expanded.origin]
    return expanded


def _template_line(source: SourceMap, loc: Sequence[str | int]) -> int | None:
    if len(loc) >= 2 and loc[0] == "params":
        header = re.compile(rf"\s*\[\s*params\s*\.\s*{re.escape(str(loc[1]))}\s*\]")
        for n, line in enumerate(source.lines):
            if header.match(line):
                return n + 1
    return source.line_of(list(loc))


def deepest(document: Any, limit: int = MAX_DEPTH) -> list[str | int] | None:
    """The path of the first value nested more than `limit` arrays or tables below the top
    level tables (``[scenario]``, each ``[[step]]``), or None. Iterative: the depth it checks is
    what recursive code further on (pydantic, our own walks) would choke on.

    A first walk only measures (no paths made: a well-formed file of 10,000 steps pays a third
    of what the second costs); the path is looked for when something is too deep."""
    if not _deeper_than(document, limit + 2):
        return None
    stack: list[tuple[list[str | int], Any]] = [([], document)]
    while stack:
        path, value = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(child, dict | list):
                here = [*path, key]
                # ["step", 3, "expect", ...]: the first two levels are the file's own tables.
                if len(here) - 2 > limit:
                    return here
                stack.append((here, child))
    return None


def _deeper_than(document: Any, levels: int) -> bool:
    """Whether a value sits more than `levels` dicts or lists below `document` (`deepest`'s
    measure: its paths' lengths). O(values)."""
    stack: list[tuple[int, Any]] = [(0, document)]
    containers = (dict, list)
    while stack:
        depth, value = stack.pop()
        depth += 1
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, containers):
                if depth > levels:
                    return True
                stack.append((depth, child))
    return False


def _too_deep(line: int | None) -> Problem:
    return Problem(
        f"values are nested too deeply (at most {MAX_DEPTH} levels of [ ] and {{ }})", line
    )


# --- layer 2: pydantic's errors, reworded ------------------------------------------------------
def _shape_problems(exc: ValidationError, document: Any, source: SourceMap) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        step = call = None
        if len(loc) >= 2 and loc[0] == "step" and isinstance(loc[1], int):
            step = loc[1] + 1
            if error["type"].startswith("union_tag") and len(loc) == 2:
                loc.append("do")
            raw = _get(document, ["step", loc[1]])
            tag = raw.get("do") if isinstance(raw, dict) else None
            call = tag if isinstance(tag, str) and tag in CALLS else None
            # The discriminated union puts the tag into the path: step.3.epoll_ctl.args.fd
            if len(loc) >= 3 and call is not None and loc[2] == call:
                del loc[2]
        field = _field_path(loc[2:] if step is not None else loc)
        message = _reword(error, call)
        if step is None and field and loc[0] in ("scenario", "model"):
            field = f"[{loc[0]}] {_field_path(loc[1:])}" if len(loc) > 1 else f"[{loc[0]}]"
        problems.append(
            Problem(message, line=source.line_of(loc), step=step, call=call, field=field or None)
        )
    return problems


def _reword(error: Any, call: str | None) -> str:
    kind: str = error["type"]
    msg: str = error["msg"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        loc = error["loc"]
        if call and len(loc) >= 4 and loc[3] == "args":
            takes = ", ".join(CALLS[call].args.model_fields) or "no arguments"
            return f"unknown argument {key!r}; {call} takes: {takes}"
        if len(loc) == 2 and loc[0] == "model":
            known = list(ModelParams.model_fields)
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown model parameter {key!r}{hint}; known: {', '.join(known)}"
        return f"unknown key {key!r}"
    if kind == "missing":
        return f"missing required field {error['loc'][-1]!r}"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        close = difflib.get_close_matches(tag, list(CALLS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown call do = {tag!r}{hint}; known calls: {', '.join(CALLS)}"
    if kind == "union_tag_not_found":
        return "missing `do` (the name of the Kernel method to call)"
    if kind == "model_type" or kind == "dict_type":
        return f"expected a table, got {type(error['input']).__name__}"
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    return msg[0].lower() + msg[1:] if msg else kind


def _field_path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Keys come from the user's file: quote anything that is not a plain identifier.
        key = str(part) if str(part).isidentifier() else repr(part)
        out += f".{key}" if out else key
    return out


def _get(document: Any, path: Sequence[str | int]) -> Any:
    for key in path:
        try:
            document = document[key]
        except (KeyError, IndexError, TypeError):
            return None
    return document


# --- layer 3: what needs the whole file --------------------------------------------------------
def check_lesson(scenario: Scenario, scenario_file: Path, source: SourceMap) -> list[Problem]:
    """``[scenario] lesson`` names a Markdown file that exists and can be shown (see
    `lesson_path` and `read_lesson`: inside its folder, capped, plain text)."""
    lesson = scenario.scenario.lesson
    if lesson is None:
        return []
    line = source.line_of(["scenario", "lesson"])
    try:
        found = lesson_path(scenario_file, lesson)
        if found is not None:
            read_lesson(found)
            return []
    except LessonError as exc:
        return [Problem(str(exc), line, field="[scenario] lesson")]
    places = [f"beside the scenario ({Path(scenario_file).parent})"]
    shipped = lessons_dir()
    places.append(f"in the shipped lessons ({shipped})" if shipped else "(no shipped lessons)")
    message = f"lesson file {lesson!r} not found; looked {' and '.join(places)}"
    return [Problem(message, line, field="[scenario] lesson")]


def check_program(
    scenario: Scenario, scenario_file: Path | None, source: SourceMap
) -> list[Problem]:
    """``[scenario] program`` names a file beside the scenario that can be shown (see
    `simulator.scenario.program`), and every step's ``line`` is a line of it. A ``line``
    without a program is an error; without `scenario_file` the lines are only checked for
    their form. O(program size + steps).
    """
    name = scenario.scenario.program
    lined = [(i, step) for i, step in enumerate(scenario.steps) if step.line is not None]
    if name is None:
        return [
            Problem(
                "a step names a program line, but [scenario] has no `program`",
                source.line_of(["step", i, "line"]),
                step=i + 1,
                call=step.call.name,
                field="line",
            )
            for i, step in lined[:1]
        ]
    if scenario_file is None:
        return []
    try:
        program = load_program(scenario_file, name)
    except ProgramError as exc:
        return [
            Problem(str(exc), source.line_of(["scenario", "program"]), field="[scenario] program")
        ]
    count = len(program.lines)
    problems = []
    for i, step in lined:
        outside = [n for n in step_lines(step.line) if n > count]
        if outside:
            problems.append(
                Problem(
                    f"line {outside[0]} is past the end of program {name!r} ({count} lines)",
                    source.line_of(["step", i, "line"]),
                    step=i + 1,
                    call=step.call.name,
                    field="line",
                )
            )
    return problems


class _KEventExpect(BaseModel):
    """An expected kevent: the fields given must match, the ones left out are not compared."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    ident: FdRef | None = None
    filter: KqFilter | None = None
    flags: KqFlags | None = None
    fflags: StrictInt | None = None
    data: Int32 | None = None
    udata: Int32 | None = None


class _CqeExpect(BaseModel):
    """An expected completion: the fields given must match, the ones left out are not compared."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    user_data: StrictInt | None = None
    res: StrictInt | None = None
    flags: StrictInt | None = None


class _PacketExpect(BaseModel):
    """An IOCP completion packet (model only): any subset of its fields."""

    model_config = ConfigDict(extra="forbid")
    bytes: StrictInt | None = None
    key: StrictInt | None = None
    overlapped: StrictInt | None = None
    status: str | None = None


class _ErrorExpect(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    error: str


@cache
def _result_shape(kind: ResultKind) -> TypeAdapter[Any]:
    """The shape of an expected result of `kind`; built on first use (each costs ms)."""
    shapes: dict[ResultKind, Any] = {
        ResultKind.NONE: Annotated[str, Field(pattern="^ok$")],
        ResultKind.COUNT: Annotated[StrictInt, Field(ge=0)],
        ResultKind.FD: FdRef,
        ResultKind.PAIR: tuple[FdRef, FdRef],
        ResultKind.EVENTS: list[tuple[FdRef, Events]],
        ResultKind.SELECT: tuple[list[FdRef], list[FdRef], list[FdRef]],
        ResultKind.KEVENTS: list[_KEventExpect],
        ResultKind.CQES: list[_CqeExpect],
        ResultKind.PACKETS: list[_PacketExpect],
    }
    return TypeAdapter(shapes[kind])


_SHAPE_HINTS: dict[ResultKind, str] = {
    ResultKind.NONE: '"ok"',
    ResultKind.COUNT: "a byte count",
    ResultKind.FD: "an fd name or number",
    ResultKind.PAIR: '["a", "b"]',
    ResultKind.EVENTS: '[["fd", ["IN", ...]], ...]',
    ResultKind.SELECT: "[[readable], [writable], [exceptional]]",
    ResultKind.KEVENTS: '[{ ident = "a", filter = "READ", ... }, ...]',
    ResultKind.CQES: "[{ user_data = 1, res = 5, flags = 0 }, ...]",
    ResultKind.PACKETS: '[{ bytes = 5, key = 7, overlapped = 1, status = "ERROR_SUCCESS" }]',
}


def expected_refs(kind: ResultKind, value: Any) -> list[tuple[str, Any]]:
    """The fd references inside an already shape-checked expected value, with their paths."""
    if isinstance(value, dict) and "error" in value:
        return []
    if kind is ResultKind.FD:
        return [("", value)]
    if kind is ResultKind.PAIR:
        return [(f"[{i}]", v) for i, v in enumerate(value)]
    if kind is ResultKind.EVENTS:
        return [(f"[{i}][0]", entry[0]) for i, entry in enumerate(value)]
    if kind is ResultKind.SELECT:
        return [(f"[{i}][{j}]", v) for i, fds in enumerate(value) for j, v in enumerate(fds)]
    if kind is ResultKind.KEVENTS:
        return [
            (f"[{i}].ident", ev["ident"])
            for i, ev in enumerate(value)
            if "ident" in ev and _fd_filter(ev.get("filter", "READ"))
        ]
    return []


def _fd_filter(value: str | int) -> bool:
    return value in ("READ", "WRITE", -1, -2)


def check_expected(kind: ResultKind, value: Any, field: str) -> list[tuple[str, str]]:
    """Shape problems of an ``expect`` or ``choices`` value as (field, message) pairs."""
    if isinstance(value, dict) and "error" in value:
        try:
            error = _ErrorExpect.model_validate(value)
            vocabulary.error_name(error.error)
        except ValidationError as exc:
            return [(f"{field}{_suffix(e['loc'])}", _reword(e, None)) for e in exc.errors()]
        except vocabulary.VocabularyError as exc:
            return [(f"{field}.error", str(exc))]
        return []
    if kind is ResultKind.NONE and value != "ok":
        return [(field, 'this call returns nothing: write "ok" or { error = "..." }')]
    try:
        _result_shape(kind).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = _reword(first, None)
        return [(f"{field}{_suffix(first['loc'])}", f"{message} (expected {_SHAPE_HINTS[kind]})")]
    return []


def _suffix(loc: Iterable[Any]) -> str:
    path = _field_path(list(loc))
    return path if not path or path.startswith("[") else f".{path}"


def argument_refs(step: StepBase) -> list[tuple[str, str | int]]:
    """Every fd reference in a step's arguments, with its field path."""
    refs: list[tuple[str, str | int]] = []
    for arg in step.call.syscall.args:
        value = getattr(step.arguments, arg.name)
        if arg.kind in (ArgKind.FD, ArgKind.SOCKET, ArgKind.HANDLE):
            refs.append((arg.name, value))
        elif arg.kind is ArgKind.POLL_LIST:
            refs += [(f"{arg.name}[{i}][0]", fd) for i, (fd, _) in enumerate(value)]
        elif arg.kind is ArgKind.FD_LIST:
            refs += [(f"{arg.name}[{i}]", fd) for i, fd in enumerate(value)]
        elif arg.kind is ArgKind.KEVENT_CHANGES:
            refs += [
                (f"{arg.name}[{i}].ident", change.ident)
                for i, change in enumerate(value)
                if _fd_filter(change.filter)
            ]
        elif arg.kind is ArgKind.SQE_LIST:
            refs += [
                (f"{arg.name}[{i}].fd", entry.fd)
                for i, entry in enumerate(value)
                if entry.fd is not None
            ]
    return refs


#: The argument kinds `argument_refs` reads descriptors from.
_REF_KINDS = frozenset(
    {
        ArgKind.FD,
        ArgKind.SOCKET,
        ArgKind.HANDLE,
        ArgKind.POLL_LIST,
        ArgKind.FD_LIST,
        ArgKind.KEVENT_CHANGES,
        ArgKind.SQE_LIST,
    }
)


def check_steps(scenario: Scenario, source: SourceMap) -> list[Problem]:
    """Names bound before use, ``as`` fitting the result, ``expect``/``choices`` shapes.

    Linear in the number of steps and references: the names bound so far are a dict (ordered
    like the steps that bound them, for the messages), never copied per step.
    """
    problems: list[Problem] = []
    bound: dict[str, None] = {}
    threads: list[str] = []

    def report(index: int, step: StepBase, field: str, message: str) -> None:
        keys = re.findall(r"[A-Za-z_]\w*", field)[:2]
        problems.append(
            Problem(
                message,
                line=source.line_of(["step", index, *keys]),
                step=index + 1,
                call=step.call.name,
                field=field,
            )
        )

    def unknown(name: str, known: Iterable[str]) -> str:
        so_far = ", ".join(dict.fromkeys(known)) or "none yet"
        return f"unknown fd name {name!r}; names bound before this step: {so_far}"

    # What each call's steps need checked, looked up once a call rather than once a step
    # (properties and a generator: ~1 us a step of a 10,000-step file).
    takes_refs: dict[str, bool] = {}
    takes_changes: dict[str, bool] = {}
    for name, spec in CALLS.items():
        kinds = {arg.kind for arg in spec.syscall.args}
        takes_refs[name] = not kinds.isdisjoint(_REF_KINDS)
        takes_changes[name] = ArgKind.KEVENT_CHANGES in kinds
    for index, step in enumerate(scenario.steps):
        spec = step.call
        if takes_refs[spec.name]:
            for field, ref in argument_refs(step):
                if isinstance(ref, str) and ref not in bound:
                    report(index, step, f"args.{field}", unknown(ref, bound))
        if takes_changes[spec.name]:
            for i, change in enumerate(getattr(step.arguments, "changes", ())):
                if not _fd_filter(change.filter) and isinstance(change.ident, str):
                    report(index, step, f"args.changes[{i}].ident", "a TIMER ident is a number")
        if step.as_ is not None:
            if not spec.binds:
                report(index, step, "as", f"{spec.name} returns no descriptor to name")
            elif spec.result is ResultKind.PAIR and isinstance(step.as_, str):
                report(index, step, "as", f'{spec.name} returns two descriptors: as = ["a", "b"]')
            elif spec.result is ResultKind.FD and not isinstance(step.as_, str):
                report(index, step, "as", f'{spec.name} returns one descriptor: as = "name"')
        names = step.names
        checks: list[tuple[str, Any]] = []
        if step.expect is not None:
            checks.append(("expect", step.expect))
        for i, choice in enumerate(step.choices or ()):
            checks.append((f"choices[{i}]", choice))
        for field, value in checks:
            shape = check_expected(spec.result, value, field)
            for where, message in shape:
                report(index, step, where, message)
            if not shape:
                for where, ref in expected_refs(spec.result, value):
                    if isinstance(ref, str) and ref not in bound and ref not in names:
                        report(index, step, f"{field}{where}", unknown(ref, [*bound, *names]))
        if (step.ask is None) != (step.choices is None):
            missing = "choices" if step.choices is None else "ask"
            report(index, step, missing, "`ask` and `choices` go together")
        if step.thread is not None and step.model_only:
            report(index, step, "thread", "a thread's step runs on both kernels (no model_only)")
        if step.thread is not None and step.ask is not None:
            report(index, step, "ask", "a thread's step cannot ask: its call may sleep")
        if step.equal and step.thread is None:
            report(index, step, "equal", "`equal` says something of a thread: give `thread`")
        if step.thread is not None and step.thread not in threads:
            threads.append(step.thread)
            if len(threads) > MAX_THREADS:
                report(index, step, "thread", f"a scenario has at most {MAX_THREADS} threads")
        for name in names:
            bound[name] = None
    return problems
