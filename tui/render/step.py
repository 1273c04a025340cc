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
from tui.render.lines import Line
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

    def _question(self) -> RenderableType:
        r = self.record
        lines = [Text(safe_text(f"Q: {r.step.ask}", multiline=True), style="bold")]
        for i, choice in enumerate(r.step.choices or ()):
            line = Text(f"  {i + 1}) {safe_text(show_value(choice))}")
            if i == r.answer:
                line.append("   <- the answer", style="green")
            lines.append(line)
        return Group(*lines)
