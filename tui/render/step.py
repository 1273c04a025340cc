"""One scenario step as people read it: the call, both kernels' answers, the verdict, the
narration, the question, and (optionally) a picture of the model afterwards."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from simulator.scenario.calls import Outcome, show, show_value
from simulator.scenario.runner import StepRecord, Verdict

VERDICT_STYLES = {
    Verdict.AGREE: "green",
    Verdict.DIVERGE: "bold red",
    Verdict.EXPECT_FAILED: "red",
    Verdict.MODEL_ONLY: "yellow",
}
VERDICT_TEXT = {
    Verdict.AGREE: "agree",
    Verdict.DIVERGE: "DIVERGE",
    Verdict.EXPECT_FAILED: "EXPECTATION FAILED",
    Verdict.MODEL_ONLY: "model only",
}


def _outcome(outcome: Outcome | None) -> Text:
    if outcome is None:
        return Text("(not run)", style="dim")
    if outcome.error is not None:
        text = Text(outcome.error, style="magenta")
        if outcome.message:
            text.append(f"  {outcome.message}", style="dim")
        return text
    return Text(show(outcome))


class StepView:
    """A `StepRecord` drawn for a terminal, a log or a screen reader (plain words, no colour
    needed to understand it)."""

    def __init__(self, record: StepRecord, total: int, state: RenderableType | None = None) -> None:
        self.record = record
        self.total = total
        self.state = state

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.record
        verdict = Text(VERDICT_TEXT[r.verdict], style=VERDICT_STYLES[r.verdict])
        yield Rule(Text(f"step {r.number}/{self.total}: ").append_text(verdict), align="left")
        yield Text(r.call, style="bold")
        results = Table.grid(padding=(0, 2))
        results.add_column(justify="right", style="dim")
        results.add_column()
        results.add_row("model", _outcome(r.model))
        results.add_row("live", _outcome(r.live))
        if r.step.expect is not None:
            results.add_row("expect", Text(show_value(r.step.expect)))
        if r.cost is not None and r.cost.total:
            parts = ", ".join(f"{k} {v}" for k, v in r.cost.as_dict().items() if v)
            results.add_row("cost", Text(f"{r.cost.total} ({parts})"))
        if r.note:
            results.add_row("note", Text(r.note))
        yield Padding(results, (0, 0, 0, 2))
        if r.diff:
            yield Padding(Text(r.diff, style="red"), (0, 0, 0, 2))
        for failure in r.expect_failures:
            yield Padding(Text(f"expectation failed: {failure}", style="red"), (0, 0, 0, 2))
        if r.step.ask and r.step.choices:
            yield Padding(self._question(), (0, 0, 0, 2))
        if r.say:
            yield Padding(Markdown(r.say), (1, 0, 0, 2))
        if self.state is not None:
            yield Padding(self.state, (1, 0, 0, 2))
        yield Text("")

    def _question(self) -> RenderableType:
        r = self.record
        lines = [Text(f"Q: {r.step.ask}", style="bold")]
        for i, choice in enumerate(r.step.choices or ()):
            line = Text(f"  {i + 1}) {show_value(choice)}")
            if i == r.answer:
                line.append("   <- the answer", style="green")
            lines.append(line)
        return Group(*lines)
