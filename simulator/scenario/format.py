"""The scenario file format: pydantic models of a TOML document, one per table.

A scenario is ``[scenario]`` (metadata), an optional ``[model]`` (keyword arguments of
``ModelKernel``), then ``[[step]]`` tables. Each step names a `simulator.uapi.Kernel` method in
``do`` and its keyword arguments in ``args``, with descriptors given by the names earlier steps
bound with ``as`` and bit masks given by name. The models here check *shape* (types, known keys,
known flag names, sane sizes); `simulator.scenario.loader` adds what needs the whole file
(names bound before use, ``expect`` matching the call's result, line numbers in errors).

Everything a user can write is bounded (`MAX_*`), so a hostile or mistyped file cannot make a run
allocate gigabytes or sleep for hours. ``muxlab schema`` prints `Scenario`'s JSON Schema.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from simulator import syscalls, uapi
from simulator.scenario import vocabulary
from simulator.scenario.controls import control_index as control_index
from simulator.scenario.controls import describe_character as describe_character
from simulator.scenario.controls import printable as printable
from simulator.syscalls import REQUIRED, ArgKind, Family, Syscall
from simulator.syscalls import ResultKind as ResultKind

# --- caps -----------------------------------------------------------------------------------
MAX_FILE_BYTES = 1 << 20  #: a scenario file larger than this is refused unread
MAX_STEPS = 20_000  #: after a template is expanded (room for 10,000 epoll_ctl and their sockets)
MAX_NBYTES = 64 << 20  #: send/recv sizes
MAX_TIMEOUT_MS = 10_000  #: a step may block (really, on the live kernel) at most this long
MAX_LIST = 16_384  #: entries in a poll/select/kevent list (room for 10,000 watched by a template)
MAX_EVENTS = 1 << 16  #: maxevents / max_events (the live kernel allocates this many slots)
MAX_TEXT = 20_000  #: characters of narration or a question
MAX_DEPTH = 16  #: nesting of arrays and tables in a value (``expect``, ``choices``)
MAX_NOFILE = 1 << 20
MAX_BUFFER = 64 << 20  #: socket buffer sizes in [model]
INT32 = (-(1 << 31), (1 << 31) - 1)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_UNNAMED = re.compile(r"fd[0-9]+")


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """What in `text` cannot be shown as it is (its first control character, located), or None.

    >>> control_character("title\\x1b]0;pwned\\x07")
    'an escape (U+001B) at character 6'
    >>> control_character("two\\nlines", multiline=True) is None
    True
    """
    index = control_index(text, multiline=multiline)
    if index is None:
        return None
    return f"{describe_character(text[index])} at character {index + 1}"


def _one_line(value: str) -> str:
    bad = control_character(value)
    if bad is not None:
        raise ValueError(f"must be one line of plain text, found {bad}")
    return value


def _multi_line(value: str) -> str:
    bad = control_character(value, multiline=True)
    if bad is not None:
        raise ValueError(f"may hold newlines and tabs but no other control characters, found {bad}")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a name (a string), got {_show(value)}")
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a usable name: use letters, digits and '_', "
            "not starting with a digit, at most 32 characters"
        )
    if _UNNAMED.fullmatch(value):
        raise ValueError(f"{value!r} is reserved: 'fd<N>' is how unnamed descriptors are shown")
    return value


def _check_fd(value: object) -> str | int:
    if _is_int(value):
        assert isinstance(value, int)
        if not INT32[0] <= value <= INT32[1]:
            raise ValueError(f"fd number {value} is outside the C int range")
        return value
    if isinstance(value, str):
        return _check_name(value)
    raise ValueError(f"expected an fd name (a string) or number, got {_show(value)}")


def _check_mask(value: object, table: dict[str, int], kind: str, bits: int) -> list[str] | int:
    if _is_int(value):
        assert isinstance(value, int)
        if not 0 <= value < (1 << bits):
            raise ValueError(f"{value} does not fit an unsigned {bits}-bit mask")
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if len(value) > len(table):
            raise ValueError(f"{len(value)} names; there are only {len(table)} {kind}s")
        vocabulary.mask_of(value, table, kind)
        return list(value)
    raise ValueError(f"expected a list of {kind}s or an integer, got {_show(value)}")


def _check_events(value: object) -> list[str] | int:
    return _check_mask(value, uapi.EPOLL_EVENT_NAMES, "event name", 32)


def _check_kq_flags(value: object) -> list[str] | int:
    return _check_mask(value, uapi.KQ_FLAG_NAMES, "kqueue flag", 16)


def _one_of(table: dict[str, int], kind: str) -> Any:
    def check(value: object) -> str | int:
        if _is_int(value):
            assert isinstance(value, int)
            if not INT32[0] <= value <= INT32[1]:
                raise ValueError(f"{value} is outside the C int range")
            return value
        if isinstance(value, str):
            vocabulary.lookup(value, table, kind)
            return value
        names = ", ".join(table)
        raise ValueError(f"expected a {kind} ({names}) or an integer, got {_show(value)}")

    return check


def _check_timeout_s(value: object) -> float | None:
    if value == "forever":
        return None
    if (_is_int(value) or isinstance(value, float)) and not isinstance(value, bool):
        assert isinstance(value, int | float)
        if not math.isfinite(value):
            # nan compares false with everything (it would slip past the cap) and inf is not
            # JSON; an endless wait has its own spelling.
            raise ValueError(f'{value} is not a number of seconds; write "forever" to wait forever')
        if value > MAX_TIMEOUT_MS / 1000:
            raise ValueError(f"{value} s is beyond the cap of {MAX_TIMEOUT_MS / 1000:g} s per step")
        return float(value)
    raise ValueError(f'expected seconds (a number) or "forever", got {_show(value)}')


def _show(value: object) -> str:
    kind = {bool: "a boolean", str: "a string", int: "an integer", float: "a number"}.get(
        type(value), "a list" if isinstance(value, list) else "a table"
    )
    text = repr(value)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


#: A thread's name in a scenario (``thread = "t1"``).
ThreadName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")]

#: A descriptor: a name bound by an earlier step's ``as``, or a raw fd number.
FdRef = Annotated[
    str | int,
    PlainValidator(_check_fd),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
]
#: epoll/poll events: ``["IN", "ET"]`` (names from `uapi.EPOLL_EVENT_NAMES`) or an integer.
Events = Annotated[
    list[str] | int,
    PlainValidator(_check_events),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"enum": list(uapi.EPOLL_EVENT_NAMES)}},
                {"type": "integer", "minimum": 0},
            ]
        }
    ),
]
KqFlags = Annotated[
    list[str] | int,
    PlainValidator(_check_kq_flags),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"enum": list(uapi.KQ_FLAG_NAMES)}},
                {"type": "integer", "minimum": 0},
            ]
        }
    ),
]
Op = Annotated[
    str | int,
    PlainValidator(_one_of(vocabulary.EPOLL_OPS, "epoll_ctl op")),
    WithJsonSchema({"anyOf": [{"enum": list(vocabulary.EPOLL_OPS)}, {"type": "integer"}]}),
]
How = Annotated[
    str | int,
    PlainValidator(_one_of(vocabulary.SHUTDOWN_HOWS, "shutdown mode")),
    WithJsonSchema({"anyOf": [{"enum": list(vocabulary.SHUTDOWN_HOWS)}, {"type": "integer"}]}),
]
KqFilter = Annotated[
    str | int,
    PlainValidator(_one_of(uapi.KQ_FILTER_NAMES, "kqueue filter")),
    WithJsonSchema({"anyOf": [{"enum": list(uapi.KQ_FILTER_NAMES)}, {"type": "integer"}]}),
]
#: Seconds for select/kevent; ``"forever"`` is an infinite wait (None in the protocol).
TimeoutS = Annotated[
    float | None,
    PlainValidator(_check_timeout_s),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "maximum": MAX_TIMEOUT_MS / 1000}, {"const": "forever"}]}
    ),
]
#: Milliseconds for epoll_wait/poll; negative is an infinite wait, as in C.
TimeoutMs = Annotated[StrictInt, Field(ge=INT32[0], le=MAX_TIMEOUT_MS)]
NBytes = Annotated[StrictInt, Field(ge=0, le=MAX_NBYTES)]
MaxEvents = Annotated[StrictInt, Field(ge=INT32[0], le=MAX_EVENTS)]
Int32 = Annotated[StrictInt, Field(ge=INT32[0], le=INT32[1])]


class _Table(BaseModel):
    """Every table refuses keys it does not know: a typo must not be silently ignored."""

    # defer_build: a model's validator is built when it first validates, not at import, so a
    # program pays only for the calls its scenarios use (see `load_steps`).
    model_config = ConfigDict(
        extra="forbid", frozen=True, protected_namespaces=(), defer_build=True
    )


class KEventChange(_Table):
    """One entry of a kevent changelist (``struct kevent``); ``ident`` is an fd for READ/WRITE."""

    ident: FdRef
    filter: KqFilter = "READ"
    flags: KqFlags = ["ADD"]
    fflags: Annotated[StrictInt, Field(ge=0, le=(1 << 32) - 1)] = 0
    data: Int32 = 0
    udata: Int32 = 0


# --- io_uring: submission entries ---------------------------------------------------------
def _check_sqe_flags(value: object) -> list[str] | int:
    return _check_mask(value, uapi.IOSQE_FLAG_NAMES, "IOSQE flag", 8)


def _check_sqe_op(value: object) -> str:
    if isinstance(value, str) and value in uapi.IORING_OPS:
        return value
    names = ", ".join(uapi.IORING_OPS)
    raise ValueError(f"expected an io_uring op ({names}), got {_show(value)}")


SqeOp = Annotated[
    str,
    PlainValidator(_check_sqe_op),
    WithJsonSchema({"enum": list(uapi.IORING_OPS)}),
]
SqeFlags = Annotated[
    list[str] | int,
    PlainValidator(_check_sqe_flags),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"enum": list(uapi.IOSQE_FLAG_NAMES)}},
                {"type": "integer", "minimum": 0},
            ]
        }
    ),
]


class SqeEntry(_Table):
    """One io_uring submission (``uapi.Sqe``): ``fd`` names a descriptor for RECV, SEND,
    ACCEPT, POLL_ADD and CLOSE; ``user_data`` is POLL_REMOVE's and ASYNC_CANCEL's target."""

    op: SqeOp
    fd: FdRef | None = None
    nbytes: NBytes = 0
    events: Events = 0
    user_data: Annotated[StrictInt, Field(ge=0, le=(1 << 63) - 1)] = 0
    timeout_ms: Annotated[StrictInt, Field(ge=0, le=MAX_TIMEOUT_MS)] = 0
    flags: SqeFlags = 0


# --- arguments: one model per call, derived from the call table (`simulator.syscalls`) -----
#: How a scenario writes an argument of each kind (types, caps, names).
_ARG_TYPES: dict[ArgKind, Any] = {
    ArgKind.FD: FdRef,
    ArgKind.SOCKET: FdRef,
    ArgKind.FD_LIST: Annotated[list[FdRef], Field(max_length=MAX_LIST)],
    ArgKind.POLL_LIST: Annotated[list[tuple[FdRef, Events]], Field(max_length=MAX_LIST)],
    ArgKind.KEVENT_CHANGES: Annotated[list[KEventChange], Field(max_length=MAX_LIST)],
    ArgKind.BYTES: NBytes,
    ArgKind.BACKLOG: Annotated[StrictInt, Field(ge=0, le=4096)],
    ArgKind.NOFILE: Annotated[StrictInt, Field(ge=0, le=MAX_NOFILE)],
    ArgKind.MAX_EVENTS: MaxEvents,
    ArgKind.SQE_LIST: Annotated[list[SqeEntry], Field(max_length=MAX_LIST)],
    ArgKind.ENTRIES: Annotated[StrictInt, Field(ge=0, le=(1 << 32) - 1)],
    ArgKind.COMPLETIONS: Annotated[StrictInt, Field(ge=0, le=MAX_LIST)],
    ArgKind.BOOL: StrictBool,
    # IOCP (model only): a handle is an fd name or number (-1: none); keys and tags numbers
    ArgKind.HANDLE: FdRef,
    ArgKind.KEY: Annotated[StrictInt, Field(ge=0, le=(1 << 63) - 1)],
}
_FLAG_TYPES: dict[Family, Any] = {
    Family.EPOLL_EVENTS: Events,
    Family.EPOLL_OP: Op,
    Family.SHUTDOWN_HOW: How,
}


def _arg_type(arg: syscalls.Arg) -> Any:
    if arg.kind is ArgKind.FLAGS:
        assert arg.family is not None
        return _FLAG_TYPES[arg.family]
    if arg.kind is ArgKind.TIMEOUT:
        assert arg.timeout is not None
        return TimeoutS if arg.timeout.in_seconds else TimeoutMs
    return _ARG_TYPES[arg.kind]


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _args_model(call: Syscall) -> type[_Table]:
    """The ``args`` table of `call`: its arguments, typed and capped, with scenario defaults."""
    fields: dict[str, Any] = {}
    for arg in call.args:
        default = arg.step_default
        if default is REQUIRED:
            fields[arg.name] = (_arg_type(arg), ...)
        else:
            fields[arg.name] = (_arg_type(arg), [] if default == () else default)
    model: type[_Table] = create_model(
        f"{_camel(call.name)}Args",
        __base__=_Table,
        __doc__=f"The arguments of ``{call.name}``." if call.args else "No arguments.",
        **fields,
    )
    return model


@dataclass(frozen=True)
class CallSpec:
    """One `Kernel` method as scenarios see it: its call-table entry and its ``args`` model."""

    syscall: Syscall
    args: type[_Table]

    @property
    def name(self) -> str:
        return self.syscall.name

    @property
    def result(self) -> ResultKind:
        return self.syscall.result

    @property
    def summary(self) -> str:
        return self.syscall.summary

    @property
    def binds(self) -> bool:
        """Whether ``as`` can name what it returns."""
        return self.syscall.binds


CALLS: dict[str, CallSpec] = {
    name: CallSpec(call, _args_model(call))
    for name, call in syscalls.CALLS.items()
    if call.scenario  # the thread calls are not steps (a step names its thread instead)
}

_EXPECT_SCHEMA: dict[str, Any] = {
    "description": (
        'The expected result, written like the result: an fd name, a count, "ok", '
        '[["fd", ["IN"]]] for epoll_wait/poll, [[r], [w], [x]] for select, a list of kevent '
        'tables; or { error = "EEXIST" } (an errno name or '
        + ", ".join(vocabulary.EXCEPTION_NAMES)
        + ")."
    ),
    "anyOf": [
        {
            "type": "object",
            "properties": {"error": {"type": "string"}},
            "required": ["error"],
            "additionalProperties": False,
        },
        {"type": "string"},
        {"type": "integer"},
        {"type": "array"},
    ],
}
Expectation = Annotated[Any, WithJsonSchema(_EXPECT_SCHEMA)]
#: Narration and questions: Markdown, newlines and tabs allowed, no other control characters.
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_multi_line)]
#: Titles, tags, paths: one line, no control characters at all.
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
Tag = Annotated[str, Field(max_length=40), AfterValidator(_one_line)]
LessonPath = Annotated[str, Field(max_length=300), AfterValidator(_one_line)]
#: One thing to remember (a lesson's recap card): one line, short enough to read at a glance.
RecapLine = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_one_line)]
# The program beside the kernel (simulator.scenario.program): line numbers of a step's source.
ProgramLine = Annotated[StrictInt, Field(ge=1, le=1_000_000)]
ProgramLines = Union[  # noqa: UP007 -- pydantic reads the union
    ProgramLine, Annotated[list[ProgramLine], Field(min_length=1, max_length=16)]
]


#: A usable name that is not ``fd<N>``: `_check_name`'s two checks in one match.
_USABLE = re.compile(r"(?!fd[0-9]+\Z)[A-Za-z_][A-Za-z0-9_]{0,31}")


def _check_as(value: object) -> str | list[str]:
    # The common value in one match a name (every step of a long file has one); anything else
    # goes through the checks that word the message.
    if type(value) is list and len(value) == 2:
        first, second = value
        if (
            type(first) is str
            and type(second) is str
            and first != second
            and _USABLE.fullmatch(first)
            and _USABLE.fullmatch(second)
        ):
            return [first, second]
    elif type(value) is str and _USABLE.fullmatch(value):
        return value
    if isinstance(value, list):
        if len(value) != 2:
            raise ValueError(f"expected one name or a list of two, got {len(value)} names")
        names = [_check_name(v) for v in value]
        if names[0] == names[1]:
            raise ValueError(f"the two names must differ, got {names!r}")
        return names
    if isinstance(value, str):
        return _check_name(value)
    raise ValueError(f'expected a name ("ep") or two (["a", "b"]), got {_show(value)}')


#: ``as``: one name, or two different names for a pair. One validator, so a bad value gets
#: one message (a union would report each alternative's complaint).
AsNames = Annotated[
    str | list[str],
    PlainValidator(_check_as),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"},
                {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            ]
        }
    ),
]


class StepBase(_Table):
    """What every step may carry besides ``do`` and ``args``."""

    model_config = ConfigDict(populate_by_name=True)

    as_: AsNames | None = Field(
        None, alias="as", description="name(s) for the returned descriptor(s)"
    )
    say: Text | None = Field(default=None, description="narration (Markdown)")
    expect: Expectation | None = None
    ask: Text | None = Field(
        default=None, description="a question to predict before the result shows"
    )
    choices: Annotated[list[Expectation], Field(min_length=2, max_length=8)] | None = Field(
        None, description="possible answers, written like `expect`; the real result decides"
    )
    model_only: StrictBool = Field(default=False, description="run on the model only")
    # threads (docs/scenario-format.md, "Threads")
    thread: ThreadName | None = Field(
        default=None,
        description=(
            "the thread that makes the call (spawned the first time a step names it); a call "
            "that sleeps leaves it asleep, and its result shows after the step that ends it"
        ),
    )
    equal: StrictBool = Field(
        default=False,
        description=(
            "with `thread`: one of several threads making the same call, of which Linux does "
            "not say which wins; their results are compared as a set"
        ),
    )
    # the program beside the kernel (docs/scenario-format.md, "The program")
    line: ProgramLines | None = Field(
        default=None,
        description="the line (or lines, 1-based) of `[scenario] program` this step comes from",
    )

    @property
    def call(self) -> CallSpec:
        """The `Kernel` method this step calls."""
        return CALLS[getattr(self, "do")]  # noqa: B009 -- `do` is declared by each subclass

    @property
    def arguments(self) -> _Table:
        """The validated ``args`` table."""
        args: _Table = getattr(self, "args")  # noqa: B009 -- declared by each subclass
        return args

    @property
    def names(self) -> list[str]:
        """The names ``as`` binds, in order."""
        if self.as_ is None:
            return []
        return [self.as_] if isinstance(self.as_, str) else list(self.as_)


def _step_model(spec: CallSpec) -> type[StepBase]:
    camel = "".join(part.title() for part in spec.name.split("_"))
    required = any(f.is_required() for f in spec.args.model_fields.values())
    args_field: Any = (spec.args, ...) if required else (spec.args, spec.args.model_construct())
    model: type[StepBase] = create_model(
        f"{camel}Step",
        __base__=StepBase,
        __doc__=f"``{spec.name}``: {spec.summary}.",
        do=(Literal[spec.name], ...),  # type: ignore[arg-type]
        args=args_field,
    )
    return model


STEP_MODELS: dict[str, type[StepBase]] = {name: _step_model(spec) for name, spec in CALLS.items()}

if TYPE_CHECKING:
    Step = StepBase
else:
    #: Any step: the union of the per-call models, told apart by ``do``.
    Step = Annotated[Union[tuple(STEP_MODELS.values())], Field(discriminator="do")]  # noqa: UP007


def _https(value: str) -> str:
    if not value.startswith("https://") or any(c.isspace() for c in value):
        raise ValueError("a link is an https:// address without spaces")
    return value


class Link(_Table):
    """One entry of ``[scenario] see``: a man page or a file of the kernel's source."""

    title: Title
    url: Annotated[str, Field(max_length=500), AfterValidator(_one_line), AfterValidator(_https)]


class Meta(_Table):
    """``[scenario]``: what the scenario is about."""

    title: Title
    summary: Text | None = None
    mechanism: syscalls.Mechanism | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    lesson: LessonPath | None = Field(
        None, description="path of a Markdown text shown beside the scenario"
    )
    program: LessonPath | None = Field(
        default=None,
        description=(
            "path (beside the scenario) of the user-space program its steps come from, "
            "shown with the current step's `line` marked"
        ),
    )

    chapter: Annotated[StrictInt, Field(ge=1, le=12)] | None = Field(
        default=None,
        description="the chapter of the course this lesson belongs to (simulator.scenario.course)",
    )
    order: Annotated[StrictInt, Field(ge=1, le=99)] | None = Field(
        default=None, description="the lesson's place within its chapter (1 first)"
    )
    recap: Annotated[list[RecapLine], Field(max_length=5)] = Field(
        default=[],
        description="the things to remember, shown on the card at the end of the lesson",
    )
    see: Annotated[list[Link], Field(max_length=8)] = Field(
        default=[],
        description="further reading: the man page, the kernel source",
    )

    @field_validator("lesson", "program")
    @classmethod
    def _relative_markdown(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError(
                f"a {info.field_name} is a relative path inside the project, without '..'"
            )
        return value


Count = Annotated[StrictInt, Field(ge=0, le=MAX_NOFILE)]
Buffer = Annotated[StrictInt, Field(ge=256, le=MAX_BUFFER)]


class ModelParams(_Table):
    """``[model]``: keyword arguments of ``ModelKernel``.

    Only these parameters, typed and capped; any other key is an error (a test checks that
    ``ModelKernel`` takes every one of them).
    """

    nofile: Count | None = Field(
        default=None, description="soft RLIMIT_NOFILE (also set on the live side)"
    )
    nofile_hard: Annotated[StrictInt, Field(ge=1, le=MAX_NOFILE)] | None = Field(
        default=None, description="hard RLIMIT_NOFILE"
    )
    file_max: Annotated[StrictInt, Field(ge=1, le=MAX_NOFILE)] | None = Field(
        default=None, description="system-wide open-file limit (ENFILE)"
    )
    unix_sndbuf: Buffer | None = Field(default=None, description="AF_UNIX SO_SNDBUF in bytes")
    tcp_sndbuf: Buffer | None = Field(default=None, description="TCP SO_SNDBUF in bytes")
    tcp_rcvbuf: Buffer | None = Field(default=None, description="TCP SO_RCVBUF in bytes")
    nic_latency_ns: Annotated[StrictInt, Field(ge=0, le=10**10)] | None = None
    max_user_watches: Annotated[StrictInt, Field(ge=1, le=INT32[1])] | None = None
    trace: StrictBool | None = Field(
        default=None, description="record the model's micro-steps (default true)"
    )
    cpus: Annotated[StrictInt, Field(ge=1, le=64)] | None = Field(
        default=None, description="simulated CPUs the threads run on (default 2)"
    )

    @model_validator(mode="after")
    def _soft_within_hard(self) -> ModelParams:
        soft, hard = self.nofile, self.nofile_hard
        if soft is not None and hard is not None and soft > hard:
            raise ValueError(f"nofile ({soft}) exceeds nofile_hard ({hard})")
        return self

    def kwargs(self) -> dict[str, Any]:
        """The parameters that were set, ready for ``ModelKernel(**kwargs)``."""
        return self.model_dump(exclude_none=True)


class Scenario(_Table):
    """A whole scenario file."""

    model_config = ConfigDict(
        populate_by_name=True,
        title="muxlab scenario",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    scenario: Meta
    model: ModelParams = ModelParams.model_construct()
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)] = Field(alias="step")

    # --- knobs (issue 14): set by the loader from ``[params]`` (see `template`), not read here --
    _params: dict[str, Any] = PrivateAttr(default_factory=dict)
    _values: dict[str, int | str] = PrivateAttr(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """The declared parameters (`template.Param` by name); empty for a plain scenario."""
        return self._params

    @property
    def values(self) -> dict[str, int | str]:
        """The value each parameter had when this scenario was expanded."""
        return self._values


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the format (what ``muxlab schema`` prints), with the template forms
    of `simulator.scenario.template` (``[params]``, a step's ``repeat`` and ``if``)."""
    from simulator.scenario.template import extend_schema

    return extend_schema(Scenario.model_json_schema(by_alias=True))
