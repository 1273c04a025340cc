"""One line of Python call syntax -> one scenario step, read with `ast` (never evaluated).

The sandbox's language is the scenario vocabulary written as Python calls::

    a, b = socketpair()
    ep = epoll_create()
    epoll_ctl(ep, ADD, a, IN | ET)
    send(b, 5)
    epoll_wait(ep, 8, 0)

A line is one call, alone or bound with ``=`` (one name for a call that returns a descriptor,
two for a pair). Arguments go by position or keyword, in the call table's order and names
(`simulator.syscalls.CALLS`), so a call added to the table is in the language at once. What a
value may be follows its argument's kind:

* a descriptor: a name bound by an earlier line, or a number;
* flags: names joined by ``|``, as scenario files write them (``IN | ET``, ``ADD``) or as C does
  (``EPOLLIN | EPOLLET``, ``EPOLL_CTL_ADD``, ``POLLIN``, ``EV_ADD``, ``EVFILT_READ``), or a number;
* a list of descriptors (select): ``[a, b]``; a poll list: ``[(a, IN), (b, OUT)]``; a kevent
  changelist: ``[(a, READ, ADD | CLEAR)]`` or ``[KEvent(ident=a, filter=READ, flags=ADD)]``;
* counts and timeouts: numbers (``-5``, ``0.5``); ``None`` is an endless wait.

`parse_line` returns the step as a scenario file writes it (``{"do": ..., "args": ..., "as":
...}``), checked against the step's pydantic model, or raises `LineError`: one line of text that
names the column, with every character from the input made printable. Nothing typed can make it
evaluate code, allocate without bound (lines are capped at `MAX_LINE`) or raise anything else.
The cost is linear in the line's length.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from simulator import syscalls, uapi
from simulator.scenario import vocabulary
from simulator.scenario.controls import control_index, describe_character, printable
from simulator.scenario.format import STEP_MODELS, StepBase
from simulator.syscalls import REQUIRED, ArgKind, Family, ResultKind

#: The longest line read (characters): room for a poll list of a hundred descriptors.
MAX_LINE = 4000

#: The C prefixes accepted before a scenario name, per name table.
_C_PREFIXES: dict[Family, tuple[str, ...]] = {
    Family.EPOLL_EVENTS: ("EPOLL", "POLL"),
    Family.EPOLL_OP: ("EPOLL_CTL_",),
    Family.SHUTDOWN_HOW: (),
}
_KQ_FILTER_PREFIXES = ("EVFILT_",)
_KQ_FLAG_PREFIXES = ("EV_",)
_KEVENT_FIELDS = ("ident", "filter", "flags", "fflags", "data", "udata")
#: The calls a line may make: a scenario step's (the thread calls are not steps).
_STEP_CALLS = {name: call for name, call in syscalls.CALLS.items() if call.scenario}
_SQE_OP_PREFIXES = ("IORING_OP_",)
_SQE_FLAG_PREFIXES = ("IOSQE_",)
#: `uapi.Sqe`'s fields, in its order (so ``Sqe(RECV, a, 5)`` reads as the dataclass does).
_SQE_FIELDS = ("op", "fd", "nbytes", "events", "user_data", "timeout_ms", "flags")


class LineError(ValueError):
    """A line that cannot be run. `column` is 1-based (None: the whole line); `str()` is the
    one-line message, control characters escaped."""

    def __init__(self, message: str, column: int | None = None) -> None:
        self.message = printable(message)
        self.column = column
        where = f"column {column}: " if column is not None else ""
        super().__init__(where + self.message)


@dataclass(frozen=True)
class ParsedLine:
    """A line read: the step as a scenario file writes it, and as the runner takes it."""

    text: str  #: the line as typed (stripped; known free of control characters)
    document: dict[str, Any]  #: ``{"do": ..., "args": {...}, "as": ...}`` (TOML-ready)
    step: StepBase


def parse_line(line: str, bound: Collection[str] = ()) -> ParsedLine:
    """Read one line of call syntax; `bound` holds the descriptor names earlier lines bound.

    Raises `LineError` for anything that is not one valid call of the vocabulary.
    """
    text = line.strip()
    if len(text) > MAX_LINE:
        raise LineError(f"the line is {len(text)} characters long; at most {MAX_LINE}")
    bad = control_index(text, multiline=True)
    if bad is None and "\n" in text:
        bad = text.index("\n")
    if bad is not None:
        raise LineError(f"{describe_character(text[bad])} cannot be typed here", bad + 1)
    tree = _parse(text)
    if not tree.body:
        raise LineError("expected a call, like send(b, 5) or ep = epoll_create()")
    if len(tree.body) != 1:
        column = _column(text, tree.body[1]) if len(tree.body) > 1 else None
        raise LineError("one call per line", column)
    try:
        return _Reader(text, bound).statement(tree.body[0])
    except RecursionError:  # the net under the reader's walks (each is iterative or shallow)
        raise LineError("the line is nested too deeply") from None


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text, mode="exec")
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").removeprefix("invalid syntax. ")
        column = exc.offset if exc.lineno in (None, 1) else None
        raise LineError(_python_words(message), column) from None
    except (RecursionError, MemoryError):
        raise LineError("the line is nested too deeply") from None
    except ValueError as exc:  # e.g. the integer-digits limit
        raise LineError(str(exc)) from None


def _python_words(message: str) -> str:
    """CPython's syntax messages, made a little plainer for the sandbox's language."""
    if message.startswith("Perhaps you forgot a comma"):
        return "a comma is missing between two arguments"
    return message


def _column(text: str, node: ast.AST) -> int:
    """The 1-based character column of `node` (`ast` counts UTF-8 bytes)."""
    offset: int = getattr(node, "col_offset", 0)
    return len(text.encode("utf-8")[:offset].decode("utf-8", "replace")) + 1


def _known(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


class _Reader:
    """Turns the nodes of one line into scenario values, raising `LineError` at the node."""

    def __init__(self, text: str, bound: Collection[str]) -> None:
        self.text = text
        self.bound = bound

    def fail(self, node: ast.AST, message: str) -> LineError:
        return LineError(message, _column(self.text, node))

    def source(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        return segment if len(segment) <= 40 else segment[:37] + "..."

    # --- the statement -----------------------------------------------------------------------
    def statement(self, node: ast.stmt) -> ParsedLine:
        names: list[ast.Name] = []
        if isinstance(node, ast.Expr):
            value = node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            names = self.targets(node.targets[0])
            value = node.value
        else:
            raise self.fail(node, "expected one call, like send(b, 5) or ep = epoll_create()")
        if not isinstance(value, ast.Call):
            raise self.fail(value, f"expected a call, like send(b, 5); got {self.source(value)}")
        call = self.call_of(value)
        document: dict[str, Any] = {"do": call.name}
        given = self.arguments(call, value)
        columns = {name: _column(self.text, node) for name, node in given}
        by_name = {a.name: a for a in call.args}
        document["args"] = {name: self.value(by_name[name], node) for name, node in given}
        if names:
            document["as"] = self.binding(call, names, node)
        try:
            step = STEP_MODELS[call.name].model_validate(document)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = [str(part) for part in error["loc"]]
            column = None
            if loc[:1] == ["as"]:
                column = _column(self.text, names[0])
            elif len(loc) >= 2 and loc[0] == "args":
                column = columns.get(loc[1])
            field = loc[1] if len(loc) >= 2 and loc[0] == "args" else loc[0]
            raise LineError(f"{field}: {_reworded(error['msg'])}", column) from None
        return ParsedLine(self.text, document, step)

    def targets(self, target: ast.expr) -> list[ast.Name]:
        elements = target.elts if isinstance(target, ast.Tuple) else [target]
        names = [e for e in elements if isinstance(e, ast.Name)]
        if len(names) != len(elements) or not 1 <= len(names) <= 2:
            raise self.fail(target, "bind one name (ep = ...) or two (a, b = socketpair())")
        return names

    def binding(self, call: syscalls.Syscall, names: list[ast.Name], node: ast.AST) -> Any:
        if call.result is ResultKind.PAIR and len(names) == 2:
            return [n.id for n in names]
        if call.result is ResultKind.FD and len(names) == 1:
            return names[0].id
        if call.result is ResultKind.PAIR:
            raise self.fail(node, f"{call.name} returns two descriptors: a, b = {call.name}()")
        if call.result is ResultKind.FD:
            raise self.fail(node, f"{call.name} returns one descriptor: name = {call.name}(...)")
        raise self.fail(node, f"{call.name} returns no descriptor to name; write the call alone")

    def call_of(self, node: ast.Call) -> syscalls.Syscall:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, f"{self.source(node.func)} is not a call's name")
        name = node.func.id
        call = _STEP_CALLS.get(name)
        if call is None:
            raise self.fail(node.func, f"unknown call {name}{_known(name, _STEP_CALLS)}")
        return call

    def arguments(self, call: syscalls.Syscall, node: ast.Call) -> list[tuple[str, ast.expr]]:
        """The arguments given, by parameter name, in the order written."""
        given: list[tuple[str, ast.expr]] = []
        params = [a.name for a in call.args]
        signature = f"{call.name}({', '.join(params)})"
        for i, value in enumerate(node.args):
            if isinstance(value, ast.Starred):
                raise self.fail(value, "no * unpacking: write each argument")
            if i >= len(params):
                takes = f"at most {len(params)}" if params else "no"
                raise self.fail(value, f"{call.name} takes {takes} arguments: {signature}")
            given.append((params[i], value))
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail(keyword, "no ** unpacking: write each argument")
            if keyword.arg not in params:
                hint = _known(keyword.arg, params)
                raise self.fail(keyword, f"unknown argument {keyword.arg}{hint}: {signature}")
            if any(name == keyword.arg for name, _ in given):
                raise self.fail(keyword, f"argument {keyword.arg} is given twice")
            given.append((keyword.arg, keyword.value))
        names = {name for name, _ in given}
        for arg in call.args:
            if arg.name not in names and arg.step_default is REQUIRED:
                end = ast.Constant(None)
                end.col_offset = max(getattr(node, "end_col_offset", 1) - 1, 0)
                raise self.fail(end, f"{call.name} needs {arg.name}: {signature}")
        return given

    # --- values, by the argument's kind -------------------------------------------------------
    def value(self, arg: syscalls.Arg, node: ast.expr) -> Any:
        kind = arg.kind
        if kind in (ArgKind.FD, ArgKind.SOCKET, ArgKind.HANDLE):
            return self.fd(node)
        if kind is ArgKind.FLAGS:
            assert arg.family is not None
            table = vocabulary.FAMILIES[arg.family]
            prefixes = _C_PREFIXES[arg.family]
            if arg.family is Family.EPOLL_EVENTS:
                return self.mask(node, table, prefixes, "event")
            return self.one_name(node, table, prefixes, arg.family.value)
        if kind is ArgKind.FD_LIST:
            return [self.fd(e) for e in self.elements(node, "a list of descriptors, like [a, b]")]
        if kind is ArgKind.POLL_LIST:
            return [self.poll_entry(e) for e in self.elements(node, "a list like [(a, IN)]")]
        if kind is ArgKind.KEVENT_CHANGES:
            hint = "a list like [(a, READ, ADD)]"
            return [self.kevent(e) for e in self.elements(node, hint)]
        if kind is ArgKind.SQE_LIST:
            hint = "a list like [Sqe(RECV, a, 5, user_data=1)]"
            return [self.sqe(e) for e in self.elements(node, hint)]
        if kind is ArgKind.BOOL:
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            raise self.fail(node, f"expected True or False, got {self.source(node)}")
        if kind is ArgKind.TIMEOUT:
            assert arg.timeout is not None
            if isinstance(node, ast.Constant) and node.value is None:
                return "forever" if arg.timeout.in_seconds else -1
            return self.number(node, floats=True)
        return self.number(node)

    def fd(self, node: ast.expr) -> str | int:
        if isinstance(node, ast.Name):
            if node.id not in self.bound:
                so_far = ", ".join(dict.fromkeys(self.bound)) or "none yet"
                raise self.fail(node, f"unknown descriptor name {node.id}; bound so far: {so_far}")
            return node.id
        if self.is_number(node):
            number = self.number(node)
            assert isinstance(number, int)
            return number
        raise self.fail(
            node, f"expected a descriptor (a bound name or a number), got {self.source(node)}"
        )

    def is_number(self, node: ast.expr) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            node = node.operand
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        )

    def number(self, node: ast.expr, *, floats: bool = False) -> int | float:
        if not self.is_number(node):
            want = "a number" if floats else "a whole number"
            raise self.fail(node, f"expected {want}, got {self.source(node)}")
        sign = -1 if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else 1
        inner = node.operand if isinstance(node, ast.UnaryOp) else node
        assert isinstance(inner, ast.Constant)
        value = inner.value
        assert isinstance(value, int | float)
        if isinstance(value, float) and not floats:
            raise self.fail(node, f"expected a whole number, got {self.source(node)}")
        result: int | float = sign * value
        return result

    def elements(self, node: ast.expr, hint: str) -> list[ast.expr]:
        if not isinstance(node, ast.List | ast.Tuple):
            raise self.fail(node, f"expected {hint}, got {self.source(node)}")
        return list(node.elts)

    def flag_names(self, node: ast.expr) -> list[ast.expr]:
        """The operands of ``x | y | z``, left to right. Iterative: a line of 4,000 characters
        can nest a thousand ``|``, deeper than Python's recursion limit."""
        operands: list[ast.expr] = []
        pending = [node]
        while pending:
            current = pending.pop()
            if isinstance(current, ast.BinOp):
                if not isinstance(current.op, ast.BitOr):
                    raise self.fail(current, "combine flags with | only")
                pending += [current.right, current.left]
            else:
                operands.append(current)
        return operands

    def flag(
        self, node: ast.expr, table: dict[str, int], prefixes: tuple[str, ...], kind: str
    ) -> str | int:
        if self.is_number(node):
            number = self.number(node)
            assert isinstance(number, int)  # `number` refuses floats unless asked for them
            return number
        if not isinstance(node, ast.Name):
            raise self.fail(node, f"expected a {kind} name, got {self.source(node)}")
        name = node.id
        if name in table:
            return name
        for prefix in prefixes:
            if name.startswith(prefix) and name[len(prefix) :] in table:
                return name[len(prefix) :]
        spelled = [*table, *(p + n for p in prefixes[:1] for n in table)]
        raise self.fail(
            node, f"unknown {kind} {name}{_known(name, spelled)}; known: {', '.join(table)}"
        )

    def mask(
        self, node: ast.expr, table: dict[str, int], prefixes: tuple[str, ...], kind: str
    ) -> list[str] | int:
        parts = [self.flag(part, table, prefixes, kind) for part in self.flag_names(node)]
        if all(isinstance(p, str) for p in parts):
            return [str(p) for p in dict.fromkeys(parts)]
        mask = 0
        for part in parts:
            mask |= table[part] if isinstance(part, str) else part
        return mask

    def one_name(
        self, node: ast.expr, table: dict[str, int], prefixes: tuple[str, ...], kind: str
    ) -> str | int:
        if isinstance(node, ast.BinOp):
            raise self.fail(node, f"one {kind} ({', '.join(table)}), not a combination")
        return self.flag(node, table, prefixes, kind)

    def poll_entry(self, node: ast.expr) -> list[Any]:
        if not isinstance(node, ast.Tuple | ast.List) or len(node.elts) != 2:
            raise self.fail(node, f"expected (descriptor, events), got {self.source(node)}")
        fd, events = node.elts
        prefixes = _C_PREFIXES[Family.EPOLL_EVENTS]
        return [self.fd(fd), self.mask(events, uapi.EPOLL_EVENT_NAMES, prefixes, "event")]

    def kevent(self, node: ast.expr) -> dict[str, Any]:
        given: list[tuple[str, ast.expr]] = []
        if isinstance(node, ast.Tuple | ast.List):
            given = list(zip(_KEVENT_FIELDS, node.elts, strict=False))
            extra = node.elts[len(_KEVENT_FIELDS) :]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and (node.func.id == "KEvent")
        ):
            given = list(zip(_KEVENT_FIELDS, node.args, strict=False))
            extra = node.args[len(_KEVENT_FIELDS) :]
            for keyword in node.keywords:
                if keyword.arg not in _KEVENT_FIELDS:
                    raise self.fail(keyword, f"a KEvent has {', '.join(_KEVENT_FIELDS)}")
                given.append((keyword.arg, keyword.value))
        else:
            raise self.fail(node, f"expected (ident, filter, flags), got {self.source(node)}")
        if extra:
            raise self.fail(extra[0], f"a KEvent has at most six fields: {_KEVENT_FIELDS}")
        change: dict[str, Any] = {}
        for field, value in given:
            if field in change:
                raise self.fail(value, f"{field} is given twice")
            if field == "ident":
                change[field] = self.fd(value)
            elif field == "filter":
                table = uapi.KQ_FILTER_NAMES
                change[field] = self.one_name(value, table, _KQ_FILTER_PREFIXES, "kqueue filter")
            elif field == "flags":
                table = uapi.KQ_FLAG_NAMES
                change[field] = self.mask(value, table, _KQ_FLAG_PREFIXES, "kqueue flag")
            else:
                change[field] = self.number(value)
        if "ident" not in change:
            raise self.fail(node, "a KEvent needs its ident")
        return change

    def sqe(self, node: ast.expr) -> dict[str, Any]:
        """``Sqe(op, fd, nbytes, events, user_data, timeout_ms, flags)``, by position or keyword,
        as `uapi.Sqe` takes them; only ``op`` is required."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise self.fail(node, f"expected Sqe(op, fd, ...), got {self.source(node)}")
        if node.func.id != "Sqe":
            raise self.fail(node.func, f"expected Sqe(op, fd, ...), got {node.func.id}(...)")
        given = list(zip(_SQE_FIELDS, node.args, strict=False))
        if len(node.args) > len(_SQE_FIELDS):
            extra = node.args[len(_SQE_FIELDS)]
            raise self.fail(extra, f"an Sqe has at most seven fields: {_SQE_FIELDS}")
        for keyword in node.keywords:
            if keyword.arg not in _SQE_FIELDS:
                raise self.fail(keyword, f"an Sqe has {', '.join(_SQE_FIELDS)}")
            given.append((keyword.arg, keyword.value))
        entry: dict[str, Any] = {}
        for field, value in given:
            if field in entry:
                raise self.fail(value, f"{field} is given twice")
            if field == "op":
                op = self.one_name(value, uapi.IORING_OPS, _SQE_OP_PREFIXES, "io_uring op")
                if not isinstance(op, str):
                    raise self.fail(value, f"name the op: {', '.join(uapi.IORING_OPS)}")
                entry[field] = op
            elif field == "fd":
                entry[field] = self.fd(value)
            elif field == "events":
                prefixes = _C_PREFIXES[Family.EPOLL_EVENTS]
                entry[field] = self.mask(value, uapi.EPOLL_EVENT_NAMES, prefixes, "event")
            elif field == "flags":
                table = uapi.IOSQE_FLAG_NAMES
                entry[field] = self.mask(value, table, _SQE_FLAG_PREFIXES, "IOSQE flag")
            else:
                entry[field] = self.number(value)
        if "op" not in entry:
            raise self.fail(node, f"an Sqe needs its op: {', '.join(uapi.IORING_OPS)}")
        return entry


def _reworded(message: str) -> str:
    """pydantic's words for a bad value, as the loader says them (lower case, no prefix)."""
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
