"""A scenario that could not be loaded or started: the validation report, in the app."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.render.safe import safe_text


class LoadErrorScreen(ModalScreen[None]):
    """Shows the loader's report (file, line, step, field, message) until dismissed."""

    DEFAULT_CLASSES = "dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="error-close"),
    ]

    def __init__(self, title: str, report: str) -> None:
        super().__init__()
        self.title_text = title
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.title_text), id="title", markup=False)
            with VerticalScroll():
                yield Static(safe_text(self.report, multiline=True), id="report", markup=False)
            yield Label("Enter or Esc to close", id="hint")

    def action_close(self) -> None:
        self.dismiss(None)
