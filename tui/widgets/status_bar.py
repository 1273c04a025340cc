"""One line under the narration: step counter, playback, speed, predict mode, score."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    """``step 7/13 · ▶ playing 2x · predict on · score 2/3 · 6 agree 1 model only``."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    position: reactive[int] = reactive(0)
    """Steps run."""
    total: reactive[int] = reactive(0)
    """Steps in the scenario."""
    playing: reactive[bool] = reactive(False)
    """Whether playback is on."""
    speed: reactive[float] = reactive(1.0)
    """Animation speed factor."""
    predict: reactive[bool] = reactive(False)
    """Whether predict mode is on."""
    score: reactive[tuple[int, int]] = reactive((0, 0))
    """(right, asked)."""
    busy: reactive[str] = reactive("")
    """What the player waits for (a live call), or empty."""
    counts: reactive[str] = reactive("")
    """Verdict counts as text."""

    def render(self) -> Text:
        text = Text()
        text.append(f"step {self.position}/{self.total}", style="bold")
        text.append("  ·  ")
        text.append(
            "▶ playing" if self.playing else "⏸ paused", style="green" if self.playing else ""
        )
        text.append(f" {self.speed:g}x")
        text.append("  ·  predict ")
        text.append("on" if self.predict else "off", style="bold cyan" if self.predict else "dim")
        right, asked = self.score
        if asked:
            text.append(f"  ·  score {right}/{asked}", style="bold")
        if self.counts:
            text.append(f"  ·  {self.counts}", style="dim")
        if self.busy:
            text.append(f"  ·  {self.busy}", style="bold yellow")
        return text
