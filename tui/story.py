"""The player's words around the pictures: the narration of a position, the banner that judges
a prediction, the model panel's subtitle. Plain functions of a `Frame` and a `PlaySession`
(no Textual); text from the scenario file is made safe where it is shown (`Narration` renders
Markdown safely; the banner goes through `safe_text` here)."""

from __future__ import annotations

from rich.text import Text

from simulator.scenario import Verdict
from simulator.scenario.calls import show_value
from tui.frame import Frame
from tui.predict import judge_of
from tui.render.safe import safe_text
from tui.render.step import cpython_refused
from tui.session import PlaySession


def narration(frame: Frame, session: PlaySession) -> str:
    """Markdown: the scenario's summary at the start, else the step's story and question."""
    record = frame.record
    if record is None:
        summary = (session.scenario.scenario.summary or "").strip()
        return (
            f"## {frame.title}\n\n{summary}\n\n"
            "*Press → to take the first step, space to play, Ctrl+P for every command.*"
        )
    text = f"**Step {record.number}/{frame.total}** · `{record.call}`\n\n"
    text += (record.say or "").strip()
    step = record.step
    if step.ask:
        real = judge_of(record) == "the real kernel"
        whose = "the real kernel's" if real else "the model's (model-only step)"
        text += f"\n\n> **Q:** {step.ask}"
        for i, choice in enumerate(step.choices or ()):
            mark = f"  ✓ *{whose} answer*" if i == record.answer else ""
            text += f"\n>\n> {i + 1}. `{show_value(choice)}`{mark}"
    return text


def prediction_banner(session: PlaySession) -> Text | None:
    """How the user's prediction of the step just shown fared (None: nothing was asked)."""
    prediction = session.predictions.get(session.position - 1)
    if prediction is None:
        return None
    if prediction.chosen is None:
        return Text("You skipped this question.", style="dim")
    picked = safe_text(prediction.choices[prediction.chosen])
    if prediction.right:
        return Text(f"✓ You predicted right: {picked}", style="bold white on dark_green")
    truth = (
        safe_text(prediction.choices[prediction.answer])
        if prediction.answer is not None
        else "none of the choices"
    )
    record = session.record()
    if record is None or record.verdict is Verdict.MODEL_ONLY:
        judge = "the model (no live kernel here)"
    elif cpython_refused(record.live):
        judge = "CPython (its argument check, before any syscall)"
    else:
        judge = "the real kernel"
    return Text(f"✗ You picked {picked}; {judge} answered {truth}", style="bold white on red3")


def model_subtitle(frame: Frame) -> str:
    """``virtual time 12.5 µs · 7 calls``."""
    calls = frame.kernel.calls if frame.kernel is not None else 0
    return f"virtual time {frame.clock_ns / 1000:.1f} µs · {calls} calls"


__all__ = ["model_subtitle", "narration", "prediction_banner"]
