"""One scenario step as people read it: the call, both kernels' answers, the verdict, the
narration, the question, and (optionally) a picture of the model afterwards.

Every text that comes from the scenario file goes through `tui.render.safe`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Span, Text

from simulator.scenario.calls import Outcome, show, show_value
from simulator.scenario.runner import StepRecord
from tui.render.lines import Line, wrap_plain
from tui.render.model_state import ModelStateView
from tui.render.safe import safe_markdown, safe_text
from tui.verdicts import VERDICTS

#: Errors CPython raises itself, checking arguments before it makes any syscall (select's
#: ``FD_SETSIZE`` check, a timeout out of range): no kernel answered them.
CPYTHON_ERRORS = frozenset({"ValueError", "TypeError", "OverflowError", "KeyError"})
CPYTHON_SAYS = "raised by CPython's argument checks, before any syscall"


#: ValueErrors that are the kernel's answer, not CPython's check: ``resource.setrlimit`` makes
#: the syscall and reports its EINVAL (soft above hard) and EPERM (hard raised without
#: privilege) with these messages (CPython's ``resource_setrlimit_impl``; strace shows the
#: ``prlimit64`` call failing).
KERNEL_VALUE_ERRORS = frozenset(
    {"current limit exceeds maximum limit", "not allowed to raise maximum limit"}
)


def cpython_refused(outcome: Outcome | None) -> bool:
    """Whether `outcome` is CPython refusing the arguments (no kernel was asked)."""
    return (
        outcome is not None
        and outcome.error in CPYTHON_ERRORS
        and outcome.message not in KERNEL_VALUE_ERRORS
    )


#: The answer of a kernel that did not run the step (a `Line` is never changed: one serves).
_NOT_RUN = Line("(not run)", "dim")


def _outcome(outcome: Outcome | None) -> Line:
    if outcome is None:
        return _NOT_RUN
    if outcome.error is not None:
        # ``Text(error, style="magenta")``, then the message and CPython's note appended dim.
        plain = safe_text(outcome.error)
        spans = []
        for extra in (
            f"  {safe_text(outcome.message)}" if outcome.message else "",
            f"  ({CPYTHON_SAYS})" if cpython_refused(outcome) else "",
        ):
            if extra:
                spans.append((len(plain), len(plain) + len(extra), "dim"))
                plain += extra
        return Line(plain, "magenta", tuple(spans))
    return Line(safe_text(show(outcome)))


def _outcome_plain(outcome: Outcome | None) -> str:
    """`_outcome`'s characters, without making its `Line`."""
    if outcome is None:
        return "(not run)"
    if outcome.error is not None:
        plain = safe_text(outcome.error)
        if outcome.message:
            plain += f"  {safe_text(outcome.message)}"
        if cpython_refused(outcome):
            plain += f"  ({CPYTHON_SAYS})"
        return plain
    return safe_text(show(outcome))


def _results(rows: list[tuple[str, Line]], width: int) -> RenderableType:
    """The labelled answers, labels right-aligned: a grid, or its lines when every row fits
    on one (the same characters, which ``--headless`` prints without laying out a table)."""
    label_width = max(len(label) for label, _ in rows)
    room = width - label_width - 2
    if all(_one_line(value.plain, room) for _, value in rows):
        return Group(*(_row(label.rjust(label_width), value) for label, value in rows))
    results = Table.grid(padding=(0, 2))
    results.add_column(justify="right", style="dim")
    results.add_column()
    for label, value in rows:
        results.add_row(label, value.__rich__())
    return results


def _one_line(plain: str, width: int) -> bool:
    if "\n" in plain:
        return False
    return len(plain) <= width if plain.isascii() else cell_len(plain) <= width


def _printed_as_is(text: str, room: int) -> bool:
    """Whether `LineWriter` prints `text` on one line of `room` cells as it is: no control
    character (no tab, no newline) and no more cells. O(len(text))."""
    if not text.isprintable():  # (every control character is unprintable)
        return False
    if text.isascii():
        return len(text) <= room
    # No character takes more than two cells: counting the others twice is an upper bound,
    # in C ("… 9,998 other rows", each step: `cell_len` walks it character by character).
    wide = len(text) - len(text.encode("ascii", "ignore"))
    return len(text) + wide <= room or cell_len(text) <= room


def _all_printed_as_is(lines: list[str], room: int) -> bool:
    """`_printed_as_is` of each of `lines`, checked on them all at once when they are
    printable and their length bounds their cells (C loops, not a Python call a line)."""
    text = "".join(lines)
    if not text.isprintable():
        return False
    longest = max(map(len, lines), default=0)
    # (No character takes more than two cells: each non-ASCII one counted twice bounds them.)
    wide = 0 if text.isascii() else len(text) - len(text.encode("ascii", "ignore"))
    return longest + wide <= room or all(_printed_as_is(line, room) for line in lines)


def _wrapped(lines: list[str], room: int) -> list[str] | None:
    """`lines` as the writer prints them in `room` cells: each that does not fit as is
    wrapped by rich (`tui.render.lines.wrap_plain`); None if one is not plainly wrappable."""
    out: list[str] = []
    for line in lines:
        if _printed_as_is(line, room):
            out.append(line)
            continue
        wrapped = wrap_plain(line, room)
        if wrapped is None:
            return None
        out += wrapped
    return out


def _row(label: str, value: Line) -> Line:
    """``Text.assemble((label, "dim"), "  ", value)`` as a `Line` (a step makes several)."""
    offset = len(label) + 2
    spans = [(0, len(label), "dim")]
    if value.style:
        spans.append((offset, offset + len(value.plain), value.style))
    spans.extend((start + offset, end + offset, style) for start, end, style in value.spans)
    return Line(label + "  " + value.plain, "", tuple(spans))


class StepView:
    """A `StepRecord` drawn for a terminal, a log or a screen reader (plain words, no colour
    needed to understand it)."""

    def __init__(
        self,
        record: StepRecord,
        total: int,
        state: RenderableType | None = None,
        code: Sequence[tuple[int, str]] = (),
    ) -> None:
        self.record = record
        self.total = total
        self.state = state
        self.code = code  #: the program lines the step comes from (`simulator.scenario.program`)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.record
        look = VERDICTS[r.verdict]
        # ``Text("step n/N: ").append_text(Text(headline, style))``, made as one `Text`.
        head = f"step {r.number}/{self.total}: "
        title = Text(head + look.headline)
        if look.style:
            title.spans = [Span(len(head), len(title.plain), look.style)]
        yield Rule(title, align="left")
        yield Line(safe_text(r.call), "bold")
        for number, source in self.code:  # the program's text comes from a file: made safe
            yield Line(f"  line {number:>3} | {safe_text(source.expandtabs(4))}", "cyan")
        rows = [("model", _outcome(r.model)), ("live", _outcome(r.live))]
        if r.step.expect is not None:
            rows.append(("expect", Line(safe_text(show_value(r.step.expect)))))
        if r.cost is not None and r.cost.total:
            parts = ", ".join(f"{k} {v}" for k, v in r.cost.as_dict().items() if v)
            rows.append(("cost", Line(f"{r.cost.total} ({parts})")))
        if r.note:
            rows.append(("note", Line(safe_text(r.note, multiline=True))))
        yield Padding(_results(rows, options.max_width - 2), (0, 0, 0, 2))
        if r.diff:
            yield Padding(Text(safe_text(r.diff, multiline=True), style="red"), (0, 0, 0, 2))
        for failure in r.expect_failures:
            yield Padding(
                Text(safe_text(f"expectation failed: {failure}", multiline=True), style="red"),
                (0, 0, 0, 2),
            )
        if r.step.ask and r.step.choices:
            yield Padding(self._question(), (0, 0, 0, 2))
        if r.say:
            yield Padding(safe_markdown(r.say), (1, 0, 0, 2))
        if self.state is not None:
            yield Padding(self.state, (1, 0, 0, 2))
        yield Line("")

    def plain(self, width: int, ascii_only: bool = False) -> str | None:
        """This step as `tui.render.lines.LineWriter` prints it without colour, made by string
        operations in one pass (the walk over its renderables made ~300 Python calls a step,
        most of the time of a long ``--headless`` run), or None -- then the writer draws it --
        for a step with anything else than the common parts (program lines, a difference,
        failed expectations, a question, narration; a picture other than a `ModelStateView`
        whose `ModelStateView.plain_lines` it can have) or with a line the writer would wrap
        or neutralise. The same characters: ``tests/test_headless_lines.py``. O(lines).
        """
        r = self.record
        if self.code or r.diff or r.expect_failures or r.say or (r.step.ask and r.step.choices):
            return None
        picture = None
        if self.state is not None:
            if type(self.state) is not ModelStateView:
                return None
            # (Padded by 2: `__rich_console__`; the picture is drawn in what is left.)
            picture = self.state.plain_lines(width - 2)
            if picture is None:
                return None
        # The rule (`LineWriter._rule`): the title, a space, the rule's characters to the edge.
        title = f"step {r.number}/{self.total}: {VERDICTS[r.verdict].headline}"
        call = safe_text(r.call)
        # The answers (`_results`, when each fits on one line; `_row`), indented by 2.
        labels = ["model", "live"]
        values = [_outcome_plain(r.model), _outcome_plain(r.live)]
        if r.step.expect is not None:
            labels.append("expect")
            values.append(safe_text(show_value(r.step.expect)))
        cost = r.cost
        if cost is not None and cost.total:
            parts = ", ".join(f"{k} {v}" for k, v in cost.as_dict().items() if v)
            labels.append("cost")
            values.append(f"{cost.total} ({parts})")
        if r.note:
            labels.append("note")
            values.append(safe_text(r.note, multiline=True))
        label_width = max(map(len, labels))
        room = width - 2 - label_width - 2  # (the narrowest room of all the lines)
        calls = [call]
        # Everything printable and within the narrowest room: the common step, one check.
        if not _all_printed_as_is([title, call, *values, *(picture or ())], room):
            if not _printed_as_is(title, width - 2):
                return None
            if not _printed_as_is(call, width):
                wrapped = wrap_plain(call, width)  # (as rich wraps it)
                if wrapped is None:
                    return None
                calls = wrapped
            if not all(_printed_as_is(value, room) for value in values):
                return None  # (a grid, or a line to wrap or to neutralise)
            if picture is not None and not _all_printed_as_is(picture, width - 2):
                picture = _wrapped(picture, width - 2)  # (as rich wraps what is too long)
                if picture is None:
                    return None
        used = len(title) if title.isascii() else cell_len(title)
        lines = [(title + " " + ("-" if ascii_only else "─") * (width - used - 1)).rstrip(" ")]
        lines += [line.rstrip(" ") for line in calls]
        lines += [
            ("  " + label.rjust(label_width) + "  " + value).rstrip(" ")
            for label, value in zip(labels, values, strict=True)
        ]
        if picture is not None:
            lines.append("")  # the picture's padding: a blank line, then indented by 2
            lines += [("  " + row).rstrip(" ") for row in picture]
        lines.append("")
        return "\n".join(lines) + "\n"

    def _question(self) -> RenderableType:
        r = self.record
        lines = [Text(safe_text(f"Q: {r.step.ask}", multiline=True), style="bold")]
        for i, choice in enumerate(r.step.choices or ()):
            line = Text(f"  {i + 1}) {safe_text(show_value(choice))}")
            if i == r.answer:
                line.append("   <- the answer", style="green")
            lines.append(line)
        return Group(*lines)
