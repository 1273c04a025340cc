"""Who runs where: the process's threads on the model's CPUs, and the real ones from /proc.

`ThreadsPicture` is one row per thread of the model (`simulator.observe.Threaded`): running on
CPU n, runnable (woken, not yet run), sleeping in a call on a wait queue -- named as the wait
queues picture names it, where the sleeper's entry ``thread N in CALL`` is drawn -- idle, or
finished with its result; and the CPUs' context-switch count. `ProcThreadsPicture` is the real
side: each real thread of the live child as ``/proc/<pid>/task/<tid>/`` reports it.

A wake-up is drawn from the step's trace (`thread.wake` / `thread.sleep` events, whose `count`
is the thread): during the animation the thread being switched to and every runnable one are
lit; at rest, each thread whose call the step ended shows its result (`step_threads`, from the
runner's record), and one that woke but sleeps again (it found nothing: the herd) says so.
Thread 0 is drawn in the heading and idle threads share a line; `compact` shortens the rows.
Captures are detached from the model and cost O(threads), at most 65 (`sleepers_files` looks
at the scenario's named descriptors once, and only while a thread sleeps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text

from simulator.observe import Observable, ProcThreads, ThreadsSnapshot, TraceEvent, TraceKind
from simulator.scenario import StepRecord
from simulator.scenario.calls import Bindings, show
from simulator.scenario.format import StepBase
from tui.render.safe import safe_text
from tui.render.wait_queues import fd_name

LIT = Style(color="black", bgcolor="yellow", bold=True)
_STATE_STYLE = {
    "running": "bold green",
    "runnable": "bold yellow",
    "sleeping": "cyan",
    "finished": "magenta",
    "idle": "dim",
}
#: What ``/proc/<pid>/task/<tid>/stat``'s state letters mean (proc(5)).
PROC_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk sleep",
    "T": "stopped",
    "t": "traced",
    "Z": "zombie",
    "X": "dead",
    "I": "idle",
}
_SWITCH_EVENTS = frozenset({TraceKind.THREAD_WAKE, TraceKind.THREAD_SLEEP})
#: A call's answer longer than this is shortened with "…" (two lines of the panel at most).
#: Wide enough for a completion port's packet with its status (``GetQueuedCompletionStatus →
#: [{bytes=0, key=7, overlapped=70, status=ERROR_...}]``): the panel wraps the line rather than
#: losing which packet a thread took.
_OUTCOME_WIDTH = 150


@dataclass(frozen=True, slots=True)
class ThreadRow:
    """One thread as drawn: `where` is the wait queue it sleeps on, named as the wait queues
    picture names a file's queue (``a:3 unix1.wq``), else None."""

    tid: int
    state: str
    call: str | None
    where: str | None
    cpu: int | None
    outcome: str | None


@dataclass(frozen=True)
class ThreadsPicture:
    """The model's threads and CPUs (see the module docstring)."""

    rows: tuple[ThreadRow, ...]
    cpus: int
    context_switches: int
    lit: frozenset[int] = frozenset()  #: threads lit (the one a micro-step switches to)
    woken: frozenset[int] = frozenset()
    """At rest: the threads the step woke and ran (a thread it started is not among them)."""
    results: Mapping[int, str] = field(default_factory=dict)
    """At rest: the threads whose call ended during the step, with the call and its result
    (the runner has joined them: the model shows them idle again)."""
    names: Mapping[int, str] = field(default_factory=dict)
    """The scenario's names of threads, by number."""
    compact: bool = False
    """Shorter rows for a small terminal: names without numbers, queues without labels."""

    @classmethod
    def capture(
        cls,
        snapshot: ThreadsSnapshot,
        files: Mapping[str, str] | None = None,
        names: Mapping[int, str] | None = None,
    ) -> ThreadsPicture:
        """Rows from the model's snapshot. `files` gives the scenario's name of a file by its
        model label (``unix1`` -> ``a:3``: see `sleepers_files`); `names` the threads'."""
        files = files or {}
        rows = []
        for thread in snapshot.threads:
            where = None
            if thread.sleeps_on is not None:
                # a socket's sleepers report its queue (``unix1.wq``), an epoll's the
                # instance (``epoll5``), whose queue of sleepers is ``epoll5.wq``, an
                # io_uring's its completion queue's (``io_uring5.cq_wait``)
                label, _, queue = thread.sleeps_on.partition(".")
                queue = f"{label}.{queue or 'wq'}"
                where = f"{files[label]} {queue}" if label in files else thread.sleeps_on
            rows.append(
                ThreadRow(thread.tid, thread.state, thread.call, where, thread.cpu, thread.outcome)
            )
        return cls(tuple(rows), snapshot.cpus, snapshot.context_switches, names=names or {})

    def during(self, event: TraceEvent | None) -> ThreadsPicture:
        """This picture at a micro-step: the thread `event` switches lit, with the runnable."""
        lit = {row.tid for row in self.rows if row.state == "runnable"}
        if event is not None and event.kind in _SWITCH_EVENTS and event.count is not None:
            lit.add(event.count)
        return replace(self, lit=frozenset(lit), woken=frozenset(), results={})

    def after(
        self,
        trace: Iterable[TraceEvent],
        started: int | None = None,
        results: Mapping[int, str] | None = None,
    ) -> ThreadsPicture:
        """This picture at rest after a step whose micro-steps were `trace`, in which thread
        `started` (if any) began its call: every other thread the step switched to was woken
        (O(trace)). `results` are the calls that ended during the step (see `results`)."""
        woken = {
            event.count
            for event in trace
            if event.kind is TraceKind.THREAD_WAKE and event.count not in (None, started)
        }
        return replace(
            self,
            lit=frozenset(),
            woken=frozenset(t for t in woken if t is not None),
            results=dict(results or {}),
        )

    def label(self, tid: int) -> str:
        name = self.names.get(tid)
        if name and self.compact:
            return safe_text(name)
        return f"{safe_text(name)} (thread {tid})" if name else f"thread {tid}"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Thread 0 goes in the heading and the idle threads share one line, so that the
        # threads that wait or work get the rows (a small terminal shows few).
        head = Text(f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}", style="bold")
        switches = "switches" if self.compact else "context switches"
        head.append(f" · {self.context_switches} {switches}", style="bold")
        idle = []
        rows = []
        for row in self.rows:
            if row.tid == 0 and row.state == "running":
                if not self.compact:
                    head.append(f" · thread 0 makes the steps on cpu{row.cpu}", style="dim")
            elif row.state == "idle" and row.tid not in self.results and row.tid not in self.lit:
                idle.append(self.label(row.tid))
            else:
                rows.append(self._line(row))
        yield head
        yield from rows
        if idle:
            yield Text("idle: " + ", ".join(idle), style="dim")

    def _line(self, row: ThreadRow) -> Text:
        line = Text(self.label(row.tid), style=LIT if row.tid in self.lit else "bold")
        line.append("  ")
        state = row.state
        result = self.results.get(row.tid)
        if result is not None and state == "idle":
            pass  # joined by the runner: its result says it all
        elif state in ("running", "runnable"):
            line.append(state, style=_STATE_STYLE[state])
            line.append(f" in {row.call}" if row.call else "")
            if state == "running" and row.cpu is not None:
                line.append(f" on cpu{row.cpu}")
            if state == "runnable":
                line.append(" (woken)", style="yellow")
        elif state == "sleeping":
            line.append("sleeping", style=_STATE_STYLE[state])
            line.append(f" in {row.call}" if row.call else "")
            if row.where:
                line.append(" on ", style="grey62")
                line.append(row.where.split(" ")[0] if self.compact else row.where)
        elif state == "finished":
            line.append("finished", style=_STATE_STYLE[state])
            line.append(f" {row.call}" if row.call else "")
            line.append(" → ", style="grey62")
            line.append(safe_text(_shortened(row.outcome or "")), style="bold")
        else:
            line.append(state, style=_STATE_STYLE.get(state, ""))
        if result is not None:
            line.append("✓ woke: " if state == "idle" else "  ✓ woke: ", style="green")
            line.append(safe_text(_shortened(result)), style="bold")
        elif row.tid in self.woken:
            if state == "sleeping":
                again = (
                    "woke, sleeps again" if self.compact else "woke, found nothing, sleeps again"
                )
                line.append(f"  ↺ {again}", style="yellow")
            else:
                line.append("  ✓ woken by this step", style="green")
        return line


def sleepers_files(model: Observable, snapshot: ThreadsSnapshot, names: Bindings) -> dict[str, str]:
    """The scenario's names (``a:3``) of the files threads sleep on, by model label: one look
    at each named descriptor, and none while no thread sleeps (O(names) then)."""
    wanted = {t.sleeps_on.partition(".")[0] for t in snapshot.threads if t.sleeps_on}
    found: dict[str, str] = {}
    if not wanted:
        return found
    for fd in sorted(names.names):
        file = model.file_at(fd)
        if file is not None and file.label in wanted and file.label not in found:
            found[file.label] = fd_name(fd, names)
    return found


def step_threads(
    record: StepRecord, steps: Sequence[StepBase], thread_names: Mapping[int, str]
) -> tuple[int | None, dict[int, str]]:
    """The thread `record`'s step started (if it names one), and each thread whose call
    ended during the step, with the call and the model's result (the runner joined them
    after the step: the model shows them idle), for `ThreadsPicture.after`. O(steps back to
    each such thread's call)."""
    ids = {name: tid for tid, name in thread_names.items()}
    step = record.step
    started = ids.get(step.thread) if step.thread is not None else None
    results: dict[int, str] = {}
    for name, model, _live in record.woken:
        back = range(record.index - 1, -1, -1)  # no copy of the steps before it
        began = next((steps[i] for i in back if steps[i].thread == name), None)
        call = began.call.name if began is not None else "call"
        results[ids[name]] = f"{call} → {show(model)}"
    return started, results


def _shortened(text: str) -> str:
    return text if len(text) <= _OUTCOME_WIDTH else text[: _OUTCOME_WIDTH - 1] + "…"


@dataclass(frozen=True)
class ProcThreadsPicture:
    """The live child as /proc reported it after the step: its threads, memory, and each
    thread that `start` made, with its state, the syscall it sleeps in and its switches."""

    proc: ProcThreads
    names: Mapping[int, str] = field(default_factory=dict)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        proc = self.proc
        yield Text("real threads (/proc/<pid>/task)", style="bold")
        yield Text(
            f"{proc.process_threads} in the process · VmSize {proc.vm_size_kib:,} KiB · "
            f"VmRSS {proc.vm_rss_kib:,} KiB",
            style="dim",
        )
        if not proc.threads:
            yield Text("none in a call (a finished call's thread has ended)", style="dim")
        for thread in proc.threads:
            name = self.names.get(thread.tid)
            label = f"{safe_text(name)} (thread {thread.tid})" if name else f"thread {thread.tid}"
            line = Text(label, style="bold")
            line.append(f"  tid {thread.os_tid}  ", style="dim")
            line.append(f"{thread.state} ", style="bold")
            line.append(PROC_STATES.get(thread.state, "?"))
            if thread.syscall:
                line.append(f" in {thread.syscall}")
            line.append(f" · {thread.switches} switches", style="dim")
            yield line


__all__ = [
    "PROC_STATES",
    "ProcThreadsPicture",
    "ThreadRow",
    "ThreadsPicture",
    "sleepers_files",
    "step_threads",
]
