"""The predict dialog: a question about the step that just ran, asked before its result shows.

Below the player's smallest size the dialog gives way to the same "terminal too small" message
and nothing in it acts, until the terminal is large enough again.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.predict import Question
from tui.render.safe import safe_markdown, safe_text

_MAX_NUMBERED = 8
"""Choices past this many can be picked with Enter only (there are eight number bindings)."""


class PredictScreen(ModalScreen[int | None]):
    """Pick one choice (Enter or its number); Escape skips the question. Dismisses with the
    index picked, or None."""

    DEFAULT_CLASSES = "dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "skip", "Skip the question", id="predict-skip"),
        Binding("1", "pick(0)", "1", show=False, id="predict-1"),
        Binding("2", "pick(1)", "2", show=False, id="predict-2"),
        Binding("3", "pick(2)", "3", show=False, id="predict-3"),
        Binding("4", "pick(3)", "4", show=False, id="predict-4"),
        Binding("5", "pick(4)", "5", show=False, id="predict-5"),
        Binding("6", "pick(5)", "6", show=False, id="predict-6"),
        Binding("7", "pick(6)", "7", show=False, id="predict-7"),
        Binding("8", "pick(7)", "8", show=False, id="predict-8"),
    ]

    def __init__(
        self, question: Question, *, min_size: tuple[int, int] = (0, 0), title: str = ""
    ) -> None:
        """`title`: the dialog's heading (default: "Predict step N", N from the question)."""
        super().__init__()
        self.question = question
        self.title_text = title or f"Predict step {question.index + 1}"
        self.min_size = min_size
        """Below this (width, height) the dialog asks for a larger terminal instead."""

    def compose(self) -> ComposeResult:
        q = self.question
        with Vertical():
            yield Label(self.title_text, id="title")
            yield Static(safe_markdown(q.prompt), id="question")
            yield OptionList(
                *(
                    Option(Text(f"{i + 1}) {safe_text(text)}"), id=str(i))
                    for i, text in enumerate(q.choices)
                ),
                id="choices",
            )
            n = min(len(q.choices), _MAX_NUMBERED)
            keys = "Enter or 1" if n == 1 else f"Enter or 1-{n}"
            yield Label(f"{keys} to answer · Esc to skip · {q.judge} judges", id="hint")
        yield Static(id="too-small", classes="too-small", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._update_size_class()

    def on_resize(self) -> None:
        self._update_size_class()

    def _update_size_class(self) -> None:
        width, height = self.app.size
        tiny = width < self.min_size[0] or height < self.min_size[1]
        if tiny != self.has_class("-tiny"):
            self.set_class(tiny, "-tiny")
            self.refresh_bindings()
        if tiny:
            self.query_one("#too-small", Static).update(
                f"muxlab needs a terminal of at least {self.min_size[0]}x{self.min_size[1]} "
                f"to ask this question;\nthis one is {width}x{height}.\n\n"
                f"Please enlarge it to {self.min_size[0]}x{self.min_size[1]} or more (q quits)."
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Behind the "terminal too small" message the dialog's keys do nothing."""
        return not self.has_class("-tiny")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if not self.has_class("-tiny"):
            self.dismiss(event.option_index)

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.question.choices):
            self.dismiss(index)

    def action_skip(self) -> None:
        self.dismiss(None)
