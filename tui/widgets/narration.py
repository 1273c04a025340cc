"""The step's narration: the scenario's Markdown, rendered with rich (synchronously, so the
text on screen always belongs to the step shown -- the same renderer ``--headless`` uses).

The text comes from files (scenarios, lessons), so it is shown through `safe_markdown`: no
escape sequence in it reaches the terminal."""

from __future__ import annotations

from textual.reactive import reactive

from tui.render.safe import Neutralised, safe_markdown
from tui.widgets.measured import MeasuredStatic


class Narration(MeasuredStatic):
    """Markdown text; set `markdown` to change it."""

    DEFAULT_CSS = """
    Narration {
        height: auto;
    }
    """

    markdown: reactive[str] = reactive("", init=False)
    """The Markdown source shown."""

    def watch_markdown(self, text: str) -> None:
        # `Neutralised` keeps the drawing `show` measures for the repaint that follows (the
        # Markdown is safe already; it is the net under it as under every picture).
        self.show(Neutralised(safe_markdown(text)))
