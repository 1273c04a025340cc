"""A one-line dialog: jump to step N, or open a scenario file by path."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Label


class AskValueScreen(ModalScreen[str | None]):
    """Ask for one value; dismisses with the text entered, or None on Escape."""

    DEFAULT_CSS = """
    AskValueScreen {
        align: center middle;
    }
    AskValueScreen > Vertical {
        width: 70%;
        max-width: 80;
        height: auto;
        border: thick $accent;
        background: $panel;
        padding: 1 2;
    }
    AskValueScreen #hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="ask-cancel")]

    def __init__(
        self, title: str, *, placeholder: str = "", hint: str = "", step_limit: int | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.hint = hint
        self.step_limit = step_limit

    def compose(self) -> ComposeResult:
        validators = (
            [Integer(minimum=0, maximum=self.step_limit)] if self.step_limit is not None else []
        )
        with Vertical():
            yield Label(self.title_text, id="title", markup=False)
            yield Input(placeholder=self.placeholder, validators=validators, id="value")
            yield Label(self.hint, id="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            self.notify(
                "; ".join(event.validation_result.failure_descriptions),
                severity="warning",
                markup=False,
            )
            return
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
