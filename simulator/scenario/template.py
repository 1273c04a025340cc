"""Knobs: a scenario's ``[params]`` and the small template language that uses them.

A file may declare parameters, each an integer range or a choice among names::

    [params.N]
    about = "descriptors watched"
    min = 10
    max = 10000
    step = 2          # N is even (optional, default 1)
    default = 52

    [params.MODE]
    choices = ["LT", "ET"]
    default = "LT"

and use them, before the file is checked, through four forms (there is no ``eval``: expressions
are integers, parameter names and ``+ - * /`` with parentheses, ``/`` rounding down):

* ``{expr}`` inside any string (``say = "Pair {i} of {N/2}"``); a string that is only ``{expr}``
  becomes the value itself, so ``maxevents = "{N}"`` is an integer. ``{{`` and ``}}`` are literal
  braces. Templates apply only in a file that declares ``[params]`` or uses ``repeat``.
* ``repeat = "expr"`` on a step: the step is written once per ``i`` from 1 to the count.
* ``if = "expr OP expr"`` on a step (``OP``: ``== != < <= > >=``): the step is kept only when the
  condition holds (with ``repeat``: asked for each ``i``); a choice's names may be compared bare
  (``MODE == ET``).
* ``{ repeat = "expr", each = [...] }`` where a list is expected: the ``each`` items written once
  per ``i``, concatenated (``rlist = { repeat = "N", each = ["s{i}"] }``).

`expand` turns such a document into a plain one (what `simulator.scenario.format` checks), with
each resulting step's index in the written file, so errors still point at the right line. The cost
is linear in the size of the expanded document, which is bounded: at most `MAX_STEPS` steps, lists
at most `MAX_LIST` long, numbers within 64 bits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, StrictInt, ValidationError, model_validator

from simulator.scenario.format import MAX_LIST, MAX_STEPS, Text, _Table

MAX_PARAMS = 16
_LIMIT = 1 << 63  #: numbers in expressions stay within 64 bits
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,31}"
Value = int | str


class Param(_Table):
    """One ``[params.NAME]`` table: an integer range (``min``, ``max``, ``step``) or ``choices``."""

    about: Text | None = Field(None, description="what the knob changes (shown in the app)")
    min: Annotated[StrictInt, Field(ge=-_LIMIT, le=_LIMIT)] | None = None
    max: Annotated[StrictInt, Field(ge=-_LIMIT, le=_LIMIT)] | None = None
    step: Annotated[StrictInt, Field(ge=1, le=_LIMIT)] = 1
    choices: (
        Annotated[
            list[Annotated[str, Field(pattern=f"^{_NAME}$")]], Field(min_length=2, max_length=16)
        ]
        | None
    ) = None
    default: StrictInt | Annotated[str, Field(max_length=32)]

    @model_validator(mode="after")
    def _consistent(self) -> Param:
        if self.choices is not None:
            if self.min is not None or self.max is not None:
                raise ValueError("a parameter has either choices or min and max, not both")
            if self.default not in self.choices:
                raise ValueError(f"default {self.default!r} is not one of {self.choices}")
            return self
        if self.min is None or self.max is None:
            raise ValueError("an integer parameter needs min and max (or give choices)")
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        problem = self.refuse(self.default)
        if problem:
            raise ValueError(f"default: {problem}")
        return self

    def describe(self) -> str:
        """``10..10000 (step 2)`` or ``LT | ET``."""
        if self.choices is not None:
            return " | ".join(self.choices)
        by = f" (step {self.step})" if self.step != 1 else ""
        return f"{self.min}..{self.max}{by}"

    def refuse(self, value: Value) -> str | None:
        """Why `value` is not allowed, or None."""
        if self.choices is not None:
            return None if value in self.choices else f"{value!r} is not one of {self.describe()}"
        if not isinstance(value, int):
            return f"{value!r} is not an integer"
        assert self.min is not None and self.max is not None
        if not self.min <= value <= self.max or (value - self.min) % self.step:
            return f"{value} is out of range: {self.describe()}"
        return None

    def parse(self, text: str) -> Value:
        """A value typed on the command line or in the app; raises ValueError with the range."""
        text = text.strip()
        value: Value = text
        if self.choices is None:
            try:
                value = int(text.replace("_", "").replace(",", ""))
            except ValueError:
                raise ValueError(
                    f"{text!r} is not an integer; allowed: {self.describe()}"
                ) from None
        problem = self.refuse(value)
        if problem:
            raise ValueError(problem)
        return value

    def neighbour(self, value: Value, direction: int) -> Value:
        """The next allowed value up (`direction` > 0) or down, staying at the ends.

        Integers move by about a quarter of an order of magnitude (10, 20, 50, 100, ...) on the
        ``step`` grid, so a range of 10 to 10,000 is crossed in a dozen presses."""
        if self.choices is not None:
            i = self.choices.index(str(value)) + (1 if direction > 0 else -1)
            return self.choices[max(0, min(len(self.choices) - 1, i))]
        assert self.min is not None and self.max is not None and isinstance(value, int)
        ladder = sorted(
            {self.min, self.max}
            | {
                m * 10**e
                for e in range(len(str(abs(self.max))) + 1)
                for m in (1, 2, 5)
                if self.min <= m * 10**e <= self.max and (m * 10**e - self.min) % self.step == 0
            }
        )
        later = [v for v in ladder if (v > value if direction > 0 else v < value)]
        if not later:
            return value
        return later[0] if direction > 0 else later[-1]


class TemplateError(Exception):
    """A template that cannot be expanded; `loc` is the path of the value in the document."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


@dataclass
class Expanded:
    """A plain document, where each of its steps came from, and the parameters' values."""

    document: dict[str, Any]
    origin: list[int] = field(default_factory=list)
    values: dict[str, Value] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)


def uses_templates(document: Mapping[str, Any]) -> bool:
    """Whether the document declares ``[params]`` or repeats or filters a step."""
    steps = document.get("step")
    stepped = isinstance(steps, list) and any(
        isinstance(s, dict) and ("repeat" in s or "if" in s) for s in steps
    )
    return "params" in document or stepped


def declarations(document: Mapping[str, Any]) -> dict[str, Param]:
    """The checked ``[params]`` tables; raises TemplateError at the first bad one."""
    raw = document.get("params", {})
    if not isinstance(raw, dict):
        raise TemplateError("[params] is a table of parameters: [params.N] min = ...", ("params",))
    if len(raw) > MAX_PARAMS:
        raise TemplateError(f"at most {MAX_PARAMS} parameters", ("params",))
    params: dict[str, Param] = {}
    for name, table in raw.items():
        if not re.fullmatch(_NAME, name):
            raise TemplateError(f"parameter name {name!r} is not a plain name", ("params", name))
        try:
            params[name] = Param.model_validate(table)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            raise TemplateError(
                f"[params.{name}]{' ' + where if where else ''}: {msg}", ("params", name)
            ) from None
    return params


def resolve(params: Mapping[str, Param], overrides: Mapping[str, str]) -> dict[str, Value]:
    """Each parameter's value: the override typed by the user, or the default. Raises
    TemplateError naming the parameter and its range."""
    for name in overrides:
        if name not in params:
            known = ", ".join(params) or "none"
            raise TemplateError(f"unknown parameter {name!r}; this scenario declares: {known}")
    values: dict[str, Value] = {}
    for name, param in params.items():
        if name in overrides:
            try:
                values[name] = param.parse(overrides[name])
            except ValueError as exc:
                raise TemplateError(f"parameter {name}: {exc}") from None
        else:
            values[name] = param.default
    return values


def expand(document: dict[str, Any], overrides: Mapping[str, str] | None = None) -> Expanded:
    """The plain document `document` stands for, with `overrides` (``{"N": "100"}``) applied."""
    params = declarations(document)
    values = resolve(params, overrides or {})
    words = {c for p in params.values() for c in (p.choices or ())}
    out: dict[str, Any] = {}
    origin: list[int] = []
    for key, value in document.items():
        if key == "params":
            continue
        if key != "step" or not isinstance(value, list):
            out[key] = _fill(value, values, words, (key,))
            continue
        steps: list[Any] = []
        for index, step in enumerate(value):
            for filled in _steps(step, values, words, ("step", index)):
                if len(steps) >= MAX_STEPS:
                    raise TemplateError(
                        f"the template makes more than {MAX_STEPS} steps", ("step", index)
                    )
                steps.append(filled)
                origin.append(index)
        out[key] = steps
    return Expanded(out, origin, values, params)


def _steps(
    step: Any, values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...]
) -> Iterator[Any]:
    if not isinstance(step, dict):
        yield step
        return
    body = {k: v for k, v in step.items() if k not in ("repeat", "if")}
    condition = step.get("if")
    if condition is not None and not isinstance(condition, str):
        raise TemplateError('`if` is a condition in a string: if = "N > 1000"', (*loc, "if"))

    def kept(here: Mapping[str, Value]) -> bool:
        return condition is None or _condition(condition, here, words, (*loc, "if"))

    if "repeat" not in step:
        if kept(values):
            yield _fill(body, values, words, loc)
        return
    count = _count(step["repeat"], values, words, (*loc, "repeat"), MAX_STEPS)
    for i in range(1, count + 1):
        here = {**values, "i": i}
        if kept(here):  # with `repeat`, `if` is asked for each i: if = "i != 3"
            yield _fill(body, here, words, loc)


def _count(
    raw: Any, values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...], cap: int
) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TemplateError('`repeat` is a count: repeat = "N / 2" or repeat = 3', loc)
    count = raw if isinstance(raw, int) else _evaluate(raw, values, words, loc)
    if not isinstance(count, int) or not 0 <= count <= cap:
        raise TemplateError(f"repeat count {count!r} is not between 0 and {cap}", loc)
    return count


_TEMPLATE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def _fill(
    value: Any, values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...]
) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{([^{}]*)\}", value)
        if whole:
            return _evaluate(whole.group(1), values, words, loc)
        if "{" not in value and "}" not in value:
            return value

        def one(m: re.Match[str]) -> str:
            if m.group(0) in ("{{", "}}"):
                return m.group(0)[0]
            return str(_evaluate(m.group(1), values, words, loc))

        filled = _TEMPLATE.sub(one, value)
        stray = _TEMPLATE.sub("", value)
        if "{" in stray or "}" in stray:
            raise TemplateError("an unmatched brace (write {{ or }} for a literal one)", loc)
        return filled
    if isinstance(value, list):
        return [_fill(v, values, words, (*loc, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if set(value) == {"repeat", "each"}:
            return _generate(value, values, words, loc)
        return {k: _fill(v, values, words, (*loc, k)) for k, v in value.items()}
    return value


def _generate(
    table: dict[str, Any], values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...]
) -> list[Any]:
    each = table["each"]
    if not isinstance(each, list) or not each:
        raise TemplateError('`each` is a non-empty list: { repeat = "N", each = ["s{i}"] }', loc)
    count = _count(table["repeat"], values, words, (*loc, "repeat"), MAX_LIST // len(each))
    out: list[Any] = []
    for i in range(1, count + 1):
        out += _fill(each, {**values, "i": i}, words, (*loc, "each"))
    return out


# --- expressions ---------------------------------------------------------------------------------
_TOKEN = re.compile(rf"\s*(?:(\d+)|({_NAME})|(==|!=|<=|>=|[-+*/()<>]))")
_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _tokens(text: str, loc: tuple[str | int, ...]) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TemplateError(
                f"cannot read {text!r} at column {pos + 1}: an expression is numbers, "
                "parameter names, + - * / and ( )",
                loc,
            )
        out.append(m.group(m.lastindex or 0))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over ``sum := product (+|- product)*``, ``product := atom (*|/ atom)*``,
    ``atom := INT | NAME | -atom | ( sum )``. Parentheses nest at most 16 deep."""

    def __init__(
        self, text: str, values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...]
    ) -> None:
        self.text, self.values, self.words, self.loc = text, values, words, loc
        self.tokens = _tokens(text, loc)
        self.pos = 0
        self.depth = 0

    def fail(self, message: str) -> TemplateError:
        return TemplateError(f"in {self.text!r}: {message}", self.loc)

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.fail("the expression ends too early")
        self.pos += 1
        return token

    def done(self) -> None:
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")

    def sum(self) -> Value:
        left = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.product()
            left = self.arith(left, op, right)
        return left

    def product(self) -> Value:
        left = self.atom()
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.atom()
            left = self.arith(left, op, right)
        return left

    def atom(self) -> Value:
        token = self.take()
        if token == "-":
            return self.arith(0, "-", self.atom())
        if token == "(":
            self.depth += 1
            if self.depth > 16:
                raise self.fail("parentheses nested too deeply")
            value = self.sum()
            if self.take() != ")":
                raise self.fail("a '(' is not closed")
            self.depth -= 1
            return value
        if token.isdigit():
            return self.check(int(token))
        if re.fullmatch(_NAME, token):
            if token in self.values:
                return self.values[token]
            if token in self.words:
                return token
            known = ", ".join(self.values) or "none"
            raise self.fail(f"unknown parameter {token!r}; known here: {known}")
        raise self.fail(f"unexpected {token!r}")

    def arith(self, left: Value, op: str, right: Value) -> int:
        if not isinstance(left, int) or not isinstance(right, int):
            name = left if isinstance(left, str) else right
            raise self.fail(f"{op} works on numbers, not on the name {name!r}")
        if op == "/" and right == 0:
            raise self.fail("division by zero")
        value = {"+": left + right, "-": left - right, "*": left * right}.get(op)
        return self.check(left // right if value is None else value)

    def check(self, value: int) -> int:
        if abs(value) >= _LIMIT:
            raise self.fail("the number is too large")
        return value


def _evaluate(
    text: str, values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...]
) -> Value:
    parser = _Parser(text, values, words, loc)
    value = parser.sum()
    parser.done()
    return value


def _condition(
    text: str, values: Mapping[str, Value], words: set[str], loc: tuple[str | int, ...]
) -> bool:
    parser = _Parser(text, values, words, loc)
    left = parser.sum()
    op = parser.take() if parser.peek() in _COMPARE else None
    if op is None:
        raise parser.fail("a condition compares two values: N > 1000, MODE == ET")
    right = parser.sum()
    parser.done()
    if isinstance(left, int) != isinstance(right, int) and op not in ("==", "!="):
        raise parser.fail(f"{op} compares two numbers")
    if isinstance(left, str) and isinstance(right, str) and op not in ("==", "!="):
        raise parser.fail(f"{op} compares numbers; names are compared with == or !=")
    return bool(_COMPARE[op](left, right))


# --- the JSON Schema ------------------------------------------------------------------------------
_GENERATED = {
    "type": "object",
    "description": "a generated list: the `each` items written once per i from 1 to `repeat`",
    "properties": {
        "repeat": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
        "each": {"type": "array", "minItems": 1},
    },
    "required": ["repeat", "each"],
    "additionalProperties": False,
}


def extend_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (the plain format's) with the template forms: ``[params]``, a step's ``repeat``
    and ``if``, a generated list wherever a list is expected, and ``{expr}`` strings wherever a
    number is expected (a template is expanded before the plain format is checked)."""
    defs = schema.setdefault("$defs", {})
    defs["Param"] = Param.model_json_schema()
    defs["GeneratedList"] = _GENERATED
    schema["properties"]["params"] = {
        "type": "object",
        "description": "knobs: parameters used by {expr} templates, repeat and if",
        "maxProperties": MAX_PARAMS,
        "propertyNames": {"pattern": f"^{_NAME}$"},
        "additionalProperties": {"$ref": "#/$defs/Param"},
    }
    template = {"type": "string", "pattern": r"^\{[^{}]*\}$"}
    for name, definition in defs.items():
        props = definition.get("properties", {})
        if name.endswith("Step"):
            props["repeat"] = {
                "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
                "description": "write this step once per i from 1 to the count",
            }
            props["if"] = {"type": "string", "description": "keep this step only if it holds"}
        if name.endswith("Args") or name == "ModelParams":
            for key, prop in list(props.items()):
                kinds = {prop.get("type")} | {p.get("type") for p in prop.get("anyOf", [])}
                extra = []
                if "array" in kinds:
                    extra.append({"$ref": "#/$defs/GeneratedList"})
                if "integer" in kinds or "number" in kinds:
                    extra.append(template)
                if extra:
                    props[key] = {"anyOf": [prop, *extra]}
    return schema
