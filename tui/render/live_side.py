"""The real kernel's side of one step: the call as issued, its answer, the verdict, and the
real interest list from ``/proc/<pid>/fdinfo/<epfd>`` next to the model's.

`LiveSide` is built from a `StepRecord` and plain data the app collected (the live kernel's
status, its fd numbers, the fdinfo snapshot read right after the step, and the model's
registrations), so it is detached from both kernels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from simulator.scenario import StepRecord
from simulator.scenario.calls import Outcome, show
from simulator.uapi import event_names
from tui.render.safe import Neutralised, safe_text
from tui.render.step import CPYTHON_SAYS, cpython_refused
from tui.verdicts import VERDICTS

#: At most this many fdinfo lines are drawn (the rest are counted).
MAX_FDINFO = 24


def _mask(mask: int) -> str:
    return "|".join(event_names(mask)) or "0"


def issued(call: str, arguments: Mapping[str, Any] | None) -> str:
    """The call with numbers, as the live kernel received it: ``epoll_ctl(4, 1, 3, 0x1)``."""
    if arguments is None:
        return f"{call}(...)  (a name it uses has no fd on the live side)"
    parts = []
    for key, value in arguments.items():
        if key in ("events",) and isinstance(value, int):
            parts.append(f"{key}={value:#x}")
        elif key == "fds" and isinstance(value, list):
            parts.append("fds=[" + ", ".join(f"({fd}, {ev:#x})" for fd, ev in value) + "]")
        elif key == "changes" and isinstance(value, list):
            parts.append(f"changes=[{len(value)} kevents]")
        else:
            parts.append(f"{key}={value}")
    return f"{call}({', '.join(parts)})"


def outcome_text(outcome: Outcome | None) -> Text:
    if outcome is None:
        return Text("(not run on the live kernel)", style="dim")
    if outcome.error is not None:
        text = Text(safe_text(outcome.error), style="bold magenta")
        if outcome.message:
            text.append(f"  {safe_text(outcome.message)}", style="dim")
        if cpython_refused(outcome):
            text.append(f"\n{CPYTHON_SAYS}", style="yellow")
        return text
    text = Text(safe_text(show(outcome)), style="bold")
    raw = outcome.raw
    if isinstance(raw, int | list) and not _nested(raw) and str(raw) != show(outcome):
        text.append(f"  (fd {raw})", style="dim")
    return text


def _nested(value: object) -> bool:
    return isinstance(value, list) and any(isinstance(v, list | dict) for v in value)


@dataclass(frozen=True)
class LiveSide:
    """Everything the right panel shows for one position of the scenario."""

    header: Text
    record: StepRecord | None
    arguments: Mapping[str, Any] | None = None
    fdinfo: Mapping[str, Sequence[Mapping[str, int]] | str] | None = None
    model_items: Mapping[str, Sequence[tuple[int, int]]] = field(default_factory=dict)
    names: Mapping[int, str] = field(default_factory=dict)
    banner: Text | None = None  #: e.g. the outcome of the user's prediction
    threads: RenderableType | None = None  #: the real threads (`tui.render.threads`)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # The header and the banner are built by the app, from the live kernel's words and the
        # scenario's choices: they go through the net too.
        yield Neutralised(self.header)
        r = self.record
        if self.banner is not None:
            yield Text("")
            yield Neutralised(self.banner)
        if r is None:
            yield Text("\nNo step has run yet. Step forward (→) to issue the first call.", "dim")
            return
        yield Text("")
        yield Text(f"step {r.number}: the call as issued", style="dim")
        name = r.step.call.name
        call = issued(name, self.arguments) if r.live is not None else r.call
        yield Text(safe_text(call), style="bold")
        yield Text("")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", justify="right", no_wrap=True)
        grid.add_column()
        grid.add_row("real", outcome_text(r.live))
        grid.add_row("model", outcome_text(r.model))
        look = VERDICTS[r.verdict]
        grid.add_row("verdict", Text(look.badge, style=look.badge_style))
        yield grid
        parts: list[RenderableType] = []
        if r.diff:
            parts.append(Text(safe_text(r.diff, multiline=True), style="red"))
        for failure in r.expect_failures:
            parts.append(Text(safe_text(f"expectation failed: {failure}", multiline=True), "red"))
        if r.note:
            parts.append(Text(safe_text(r.note, multiline=True), style="yellow"))
        if parts:
            yield Text("")
            yield Group(*parts)
        if self.threads is not None:
            yield Text("")
            yield self.threads
        if self.fdinfo:
            for ep_name, entries in self.fdinfo.items():
                yield Text("")
                yield from self._fdinfo(ep_name, entries)

    def _fdinfo(self, ep_name: str, entries: Sequence[Mapping[str, int]] | str) -> RenderResult:
        model = self.model_items.get(ep_name, ()) if self.model_items else None
        yield FdinfoView(ep_name, entries, model, self.names)


@dataclass(frozen=True)
class FdinfoView:
    """One epoll's real interest list, as ``/proc/<pid>/fdinfo/<epfd>`` gave it (or why it
    could not be read), each entry marked ``= model`` or ``≠ model`` when `model` (the model's
    (fd, events) registrations) is given. At most `MAX_FDINFO` entries are drawn."""

    ep_name: str
    entries: Sequence[Mapping[str, int]] | str
    model: Sequence[tuple[int, int]] | None = None
    names: Mapping[int, str] = field(default_factory=dict)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        ep_name, entries = self.ep_name, self.entries
        yield Text(f"/proc/<pid>/fdinfo of {ep_name}: the real interest list", style="bold")
        if isinstance(entries, str):
            yield Text(safe_text(entries, multiline=True), style="dim")
            return
        model = set(self.model or ())
        real = {(e["tfd"], e["events"]) for e in entries}
        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="dim")
        for column in ("tfd", "events", "data", "ino", ""):
            table.add_column(column, no_wrap=True)
        for entry in list(entries)[:MAX_FDINFO]:
            key = (entry["tfd"], entry["events"])
            same = key in model if self.model is not None else None
            name = self.names.get(entry["tfd"])
            table.add_row(
                f"{name}:{entry['tfd']}" if name else str(entry["tfd"]),
                _mask(entry["events"]),
                str(entry["data"]),
                str(entry["ino"]),
                Text(
                    "" if same is None else "= model" if same else "≠ model",
                    style="green" if same else "red",
                ),
            )
        if not entries:
            yield Text("(empty)", style="dim")
        else:
            yield table
            if len(entries) > 1:
                yield Text(
                    "In the real tree's order: it is keyed by the struct file's address (then "
                    "fd), the model's by its own file ids, so the two lists may be in different "
                    "orders; '= model' compares each entry, not the order.",
                    style="dim",
                )
        if len(entries) > MAX_FDINFO:
            yield Text(f"… {len(entries) - MAX_FDINFO:,} more", style="dim")
        missing = sorted(model - real)
        if missing and self.model is not None:
            shown = ", ".join(f"{fd} {_mask(ev)}" for fd, ev in missing[:6])
            yield Text(f"only in the model: {shown}", style="red")
