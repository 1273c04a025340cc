"""The lesson text a scenario names (``[scenario] lesson``): its Markdown, in a dialog.

A lesson file is untrusted text: `Narration` shows it through `tui.render.safe`."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

from tui.render.safe import safe_text
from tui.widgets.narration import Narration


class LessonTextScreen(ModalScreen[None]):
    """Scrollable Markdown; Escape (or t) closes it."""

    DEFAULT_CLASSES = "dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t", "close", "Close", id="lesson-close"),
    ]

    def __init__(self, title: str, markdown: str) -> None:
        super().__init__()
        self.title_text = title
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.title_text), id="title", markup=False)
            with VerticalScroll():
                yield Narration(id="lesson")
            yield Label("↑/↓ to scroll · Esc to close", id="hint")

    def on_mount(self) -> None:
        self.query_one(Narration).markdown = self.markdown
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
