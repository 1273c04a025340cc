"""The recap card: shown after a lesson's last step (issue 15).

The things to remember (``[scenario] recap``), the links for further reading (``see``), the
learner's prediction score, and the next lesson in course order (`simulator.scenario.course`).
Every line comes from a file someone else wrote, so each goes through `tui.render.safe` and is
drawn with markup off. The card dismisses with what the learner chose: ``"next"`` (n),
``"menu"`` (m), or None (Escape or Enter: back to the lesson's last step).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from simulator.scenario.course import Ending
from tui.render.safe import safe_text


def recap_lines(end: Ending, score: tuple[int, int]) -> list[str]:
    """The card's text, one entry per line (made safe). O(lines)."""
    lines: list[str] = []
    if end.recap:
        lines.append("Remember")
        lines += [f"  • {safe_text(line)}" for line in end.recap]
    right, asked = score
    if asked:
        lines += ["", f"You predicted {right} of {asked} right."]
    if end.see:
        lines += ["", "Read more"]
        lines += [f"  • {safe_text(title)}: {safe_text(url)}" for title, url in end.see]
    return lines


def keys_line(end: Ending) -> str:
    """What the card's keys do: ``n: next lesson — <title>`` first, when there is one."""
    keys = ["Esc: back to the last step", "m: lesson menu"]
    if end.next is not None:
        keys.insert(0, f"n: next lesson — {safe_text(end.next.title)}")
    return " · ".join(keys)


class RecapScreen(ModalScreen[str | None]):
    """The lesson's end (see the module docstring)."""

    DEFAULT_CLASSES = "dialog"

    DEFAULT_CSS = """
    RecapScreen.dialog > Vertical {
        width: 80%;
        max-width: 100;
        height: auto;
        max-height: 90%;
    }
    RecapScreen #recap-body {
        height: auto;
        max-height: 20;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "choose('next')", "Next lesson", id="recap-next"),
        Binding("m", "choose('menu')", "Lessons", id="recap-menu"),
        Binding("escape,enter", "choose('')", "Close", id="recap-close"),
    ]

    def __init__(self, title: str, end: Ending, score: tuple[int, int]) -> None:
        super().__init__()
        self.lesson_title = title
        self.end = end
        self.score = score

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"The end of: {safe_text(self.lesson_title)}", id="title", markup=False)
            with VerticalScroll(id="recap-body"):
                yield Static("\n".join(recap_lines(self.end, self.score)), markup=False)
            yield Label(keys_line(self.end), id="hint", markup=False)

    def action_choose(self, choice: str) -> None:
        if choice == "next" and self.end.next is None:
            self.notify("This is the last lesson of the course.", timeout=3)
            return
        self.dismiss(choice or None)
