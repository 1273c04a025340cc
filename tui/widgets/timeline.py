"""The scenario's timeline: one cell per step, coloured by verdict, the position marked.

With more steps than cells, each cell stands for a run of steps and takes the colour of the
worst verdict in it (`VerdictLook.rank`: diverge > expectation failed > model only > agree), so
a divergence is never hidden by the summary. The colours are the verdicts' (`tui.verdicts`).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from simulator.scenario import Verdict
from tui.verdicts import VERDICTS

GLYPH = "▇"


class Timeline(Widget):
    """Two lines: the cells, and a caret under the current position."""

    DEFAULT_CSS = """
    Timeline {
        height: 2;
        padding: 0 1;
    }
    """

    verdicts: reactive[tuple[Verdict, ...]] = reactive((), always_update=True)
    """Verdicts of the steps run so far (ever, not just up to the position)."""
    total: reactive[int] = reactive(0)
    """Steps in the scenario."""
    position: reactive[int] = reactive(0)
    """Steps run (0: before the first)."""

    def render(self) -> Text:
        width = max(1, self.size.width)
        total = max(1, self.total)
        cells = min(width, total)
        per = total / cells
        line = Text()
        caret = Text()
        for cell in range(cells):
            first = int(cell * per)
            last = max(first + 1, int((cell + 1) * per))
            shown: Sequence[Verdict] = self.verdicts[first:last]
            if shown:
                glyph, style = GLYPH, VERDICTS[max(shown, key=lambda v: VERDICTS[v].rank)].cell
            else:
                glyph, style = "▁", "grey42"
            current = self.position > 0 and first <= self.position - 1 < last
            line.append(glyph, style=style + (" reverse" if current else ""))
            caret.append("▲" if current else " ", style="bold")
        if self.position == 0:
            caret = Text("▲ start", style="bold")
        return Text.assemble(line, "\n", caret)
