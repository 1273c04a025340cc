"""What poll(2) and select(2) copy in and scan on every call.

`PollArray` is the ``struct pollfd`` array of one poll call: each entry's fd, requested events
and returned ``revents``. `SelectBitmaps` is select's three ``fd_set`` bitmaps, which are
value-result arguments: each set is drawn twice, as passed in and as the kernel wrote it back,
up to ``nfds``. When CPython refuses the arguments (a descriptor beyond ``FD_SETSIZE``) no
syscall is made, and the picture says so instead of showing a kernel scan. Both are built
from the step's record (its arguments and the real result in names), so they are detached from
the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from simulator.scenario import Bindings, StepRecord
from simulator.scenario.calls import Outcome
from tui.predict import real_outcome
from tui.render.step import cpython_refused

ASKED = Style(color="bright_white", bgcolor="grey35", bold=True)
READY = Style(color="black", bgcolor="green3", bold=True)
FOCUS = Style(color="black", bgcolor="yellow", bold=True)


def _events(value: object) -> str:
    if isinstance(value, list):
        return "|".join(str(v) for v in value) or "0"
    return str(value)


@dataclass(frozen=True)
class PollArray:
    """One poll call: (fd label, fd number, events, revents) per entry."""

    call: str
    entries: tuple[tuple[str, int | None, str, str], ...]
    outcome: str
    focus: int | None = None

    @classmethod
    def of(cls, record: StepRecord, names: Bindings, outcome: Outcome) -> PollArray:
        results: dict[str, str] = {}
        if outcome.ok and isinstance(outcome.result, list):
            for fd, events in outcome.result:
                results[str(fd)] = _events(events)
        entries = []
        for ref, events in getattr(record.step.arguments, "fds", []):
            number = ref if isinstance(ref, int) else names.fds.get(ref)
            label = str(ref) if isinstance(ref, str) else names.name(ref)
            entries.append((str(ref), number, _events(events), results.get(label, "")))
        text = outcome.error if outcome.error else f"{len(results)} ready"
        return cls(record.call, tuple(entries), text)

    def with_focus(self, fd: int | None) -> PollArray:
        return PollArray(self.call, self.entries, self.outcome, fd)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text.assemble(("struct pollfd[] ", "bold"), (self.call, "dim"))
        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="dim")
        for column in ("#", "fd", "events", "revents"):
            table.add_column(column, no_wrap=True)
        for i, (label, number, events, revents) in enumerate(self.entries):
            fd = label if number is None else f"{label}:{number}" if label != str(number) else label
            style = FOCUS if number is not None and number == self.focus else ""
            table.add_row(
                str(i),
                Text(fd, style=style),
                events,
                Text(revents or "0", style=READY if revents else "dim"),
            )
        yield table
        yield Text(f"result: {self.outcome}", style="dim")


@dataclass(frozen=True)
class SelectBitmaps:
    """One select call: per set, the fds asked for and the fds returned, and nfds."""

    call: str
    sets: tuple[tuple[str, frozenset[int], frozenset[int]], ...]
    nfds: int
    outcome: str
    focus: int | None = None
    refused: bool = False  #: CPython refused the arguments: no syscall was made

    @classmethod
    def of(cls, record: StepRecord, names: Bindings, outcome: Outcome) -> SelectBitmaps:
        args = record.step.arguments
        returned: list[list[object]] = [[], [], []]
        if outcome.ok and isinstance(outcome.raw, list):
            returned = [list(s) for s in outcome.raw]
        sets = []
        top = -1
        for i, name in enumerate(("readfds", "writefds", "exceptfds")):
            asked = set()
            for ref in getattr(args, ("rlist", "wlist", "xlist")[i], []):
                number = ref if isinstance(ref, int) else names.fds.get(ref)
                if number is not None:
                    asked.add(number)
            got = {int(fd) for fd in returned[i] if isinstance(fd, int)}
            top = max([top, *asked, *got])
            sets.append((name, frozenset(asked), frozenset(got)))
        text = outcome.error if outcome.error else "returned"
        return cls(record.call, tuple(sets), top + 1, text, refused=cpython_refused(outcome))

    def with_focus(self, fd: int | None) -> SelectBitmaps:
        return SelectBitmaps(self.call, self.sets, self.nfds, self.outcome, fd, self.refused)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text.assemble(("fd_set bitmaps ", "bold"), (self.call, "dim"))
        room = max(8, options.max_width - 11)
        shown = min(self.nfds, room)
        ruler = Text(" " * 10)
        for fd in range(shown):
            ruler.append(str(fd % 10) if fd % 10 else str(fd // 10 % 10), style="dim")
        yield ruler
        for name, asked, got in self.sets:
            passed = Text(f"{name:<10}")
            back = Text(f"{'  ↳ out':<10}", style="dim")
            for fd in range(shown):
                passed.append(
                    "■" if fd in asked else "·",
                    style=(FOCUS if fd == self.focus else ASKED) if fd in asked else "grey42",
                )
                if not self.refused:
                    back.append("■" if fd in got else "·", style=READY if fd in got else "grey42")
            if self.refused:
                back.append("(nothing: the call never reached the kernel)", style="dim")
            yield passed
            yield back
        more = f" (bits {shown}..{self.nfds - 1} not drawn)" if self.nfds > shown else ""
        if self.refused:
            yield Text(
                f"CPython refused these lists ({self.outcome}) before calling select(2): "
                f"no bitmap was copied in and the kernel scanned nothing{more}",
                style="yellow",
            )
            return
        yield Text(
            f"in: the sets passed; out: what select(2) wrote back over them. nfds = {self.nfds}: "
            f"the kernel copies in and scans {self.nfds} bits per set{more}; result: "
            f"{self.outcome}",
            style="dim",
        )


def call_arrays(record: StepRecord, names: Bindings) -> PollArray | SelectBitmaps | None:
    """The arrays of `record`'s step if it is a poll or a select (with the judge's answer, as
    the player draws them), else None. O(the call's descriptors)."""
    name = record.step.call.name
    if name == "poll":
        return PollArray.of(record, names, real_outcome(record))
    if name == "select":
        return SelectBitmaps.of(record, names, real_outcome(record))
    return None
