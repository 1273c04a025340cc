"""The work of the last call, by category (`simulator.observe.Cost`), as small bars."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: Short names, so the eight counters fit in two rows.
SHORT = {
    "copy_in": "copy in",
    "fd_scan": "fd scan",
    "tree_compare": "tree cmp",
    "list_op": "list op",
    "callback": "callback",
    "wakeup": "wake-up",
    "copy_out": "copy out",
    "context_switch": "ctx sw",
}


@dataclass(frozen=True)
class CostMeter:
    """Detached: category -> count for one call (empty when the step made no call)."""

    counts: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, cost: dict[str, int] | None) -> CostMeter:
        return cls(tuple((cost or {}).items()))

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def lines(self, width: int) -> list[Text]:
        """``total work 162 · fd scan 156 · copy in 3 · copy out 3``: the total, then every
        non-zero counter, in lines of at most `width` cells broken between counters (for a
        narrow panel)."""
        parts = [Text.assemble(("total work ", "dim"), (f"{self.total:,}", "bold"))]
        parts += [Text(f"{SHORT.get(name, name)} {n:,}") for name, n in self.counts if n]
        lines = [parts[0]]
        for part in parts[1:]:
            if lines[-1].cell_len + 3 + part.cell_len <= width:
                lines[-1] = Text.assemble(lines[-1], (" · ", "grey62"), part)
            else:
                lines.append(part)
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.counts:
            yield Text("no call yet", style="dim")
            return
        top = max((n for _, n in self.counts), default=0) or 1
        table = Table.grid(padding=(0, 1))
        half = (len(self.counts) + 1) // 2
        for _ in range(2):
            table.add_column(justify="right", style="dim", no_wrap=True)
            table.add_column(no_wrap=True)
        for left, right in zip(self.counts[:half], (*self.counts[half:], ("", 0)), strict=False):
            cells: list[Text] = []
            for name, n in (left, right):
                if not name:
                    cells += [Text(""), Text("")]
                    continue
                bar = "▇" * max(1 if n else 0, round(6 * n / top))
                cells += [
                    Text(SHORT.get(name, name)),
                    Text.assemble((bar, "cyan"), (f" {n:,}", "bold" if n else "dim")),
                ]
            table.add_row(*cells)
        wide = options.update_width(1000)
        if Measurement.get(console, wide, table).maximum > options.max_width:
            # Too narrow for the bars: the non-zero counters, a few per line.
            yield from self.lines(options.max_width)
            return
        yield table
        yield Text.assemble(("total work ", "dim"), (f"{self.total:,}", "bold"))
