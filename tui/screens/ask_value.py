"""A one-line dialog: jump to step N, or open a scenario file by path."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Label


class AskValueScreen(ModalScreen[str | None]):
    """Ask for one value; dismisses with the text entered, or None on Escape.

    `value` prefills the input, all selected, so the first character typed replaces it. Keys
    typed right after the key that opened the dialog (`j`, `7`, Enter in one burst from tmux)
    were already on their way to the screen below; the app hands Enter, Backspace and
    printable keys that bubble up to it to this dialog (`take`), which re-posts them to itself
    as `Typed` messages, so they land in the input in order, rather than being lost or --
    Enter -- submitting the old value before the `7`."""

    DEFAULT_CLASSES = "dialog"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="ask-cancel")]

    def __init__(
        self,
        title: str,
        *,
        value: str = "",
        placeholder: str = "",
        hint: str = "",
        step_limit: int | None = None,
    ) -> None:
        super().__init__()
        self.initial_value = value
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
            yield Input(
                self.initial_value,
                placeholder=self.placeholder,
                validators=validators,
                select_on_focus=False,
                id="value",
            )
            yield Label(self.hint, id="hint", markup=False)

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.select_all()
        field.focus()

    class Typed(Message):
        """A key for this dialog that did not reach its input (see `take`)."""

        def __init__(self, key: str, character: str | None) -> None:
            super().__init__()
            self.key = key
            self.character = character

    @staticmethod
    def takes(event: events.Key) -> bool:
        """Whether `on_ask_value_screen_typed` handles this key."""
        return event.key in ("enter", "backspace") or (
            event.is_printable and event.character is not None
        )

    def take(self, event: events.Key) -> None:
        """Queue `event` for the input if it is a key the dialog takes (`takes`), after those
        before it: the app gives the dialog every key that bubbles up to it while the dialog
        is open, before any binding sees it (bindings would run out of order)."""
        if self.takes(event):
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(event.key, event.character))

    async def on_ask_value_screen_typed(self, message: Typed) -> None:
        message.stop()
        field = self.query_one(Input)
        if message.key == "enter":
            await field.action_submit()
        elif message.key == "backspace":
            field.action_delete_left()
        elif message.character is not None:
            start, end = sorted(field.selection)
            field.replace(message.character, start, end)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            self.notify(
                "; ".join(event.validation_result.failure_descriptions),
                severity="warning",
                markup=False,
            )
            return
        if not self.is_active:  # already dismissed (an Enter typed twice in a burst)
            return
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
