"""A `Frame`: everything the player screen shows at one position, captured from the session.

The player builds a frame after every move (on the UI thread, while no worker touches the
runner) and hands it down to its widgets: "attributes down". Every picture in a frame is
detached from the model (`tui.render`'s ``capture``/``of`` constructors copy what they draw
from the model's snapshot API, `simulator.observe.Observable`), except `Frame.kernel`, which
the line-API views (the fd table) read lazily for the rows on screen; they stop reading it
while a worker runs (see `tui.widgets.lines.LinesView.frozen`).

Capturing costs O(what is drawn), never O(registered descriptors): the tree keeps its top
levels, the ready list its head, the wait queues only the scenario's named files.

The animation of a step shows states the model really passed through: while the step runs, a
`MicroRecorder` (the model tracer's observer) captures every picture the model views draw --
tree, ready list, wait queues, NIC lane, fd table, cost so far, virtual time -- at a sample of
its micro-steps (`MicroFrame`), and `Frame.at` puts one of them in place of the final
pictures. All panels of an animation frame therefore come from one instant of the model, and
agree with each other as the model's own structures do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from rich.console import Group, RenderableType
from rich.text import Text

from simulator import syscalls
from simulator.observe import EpollSnapshot, Key, Observable, Threaded, Traced, TraceEvent
from simulator.scenario import Bindings, StepRecord
from simulator.scenario.format import StepBase
from simulator.uapi import Kernel
from tui.predict import real_outcome
from tui.render.cost_meter import CostMeter
from tui.render.fd_rows import FdRows
from tui.render.live_side import LiveSide
from tui.render.model_state import KqueueView, shown_epoll_of
from tui.render.nic_lane import NicLane
from tui.render.poll_sets import PollArray, SelectBitmaps
from tui.render.rbtree_art import TreeShape
from tui.render.ready_chain import ReadyChain, fd_label
from tui.render.rings import PortView, RingsView
from tui.render.threads import (
    ProcThreadsPicture,
    ThreadsPicture,
    sleepers_files,
    step_threads,
)
from tui.render.wait_queues import WaitQueuesPicture
from tui.session import LiveStatus, PlaySession, Prediction, Source

MECHANISMS = syscalls.MECHANISMS
#: Whose panels a lesson shows when its steps call no multiplexer at all (chapter 1's
#: blocking and non-blocking I/O): none of the interest tree, ready list or call arrays, which
#: would only say that nothing exists. What `mechanism_of` answers for such a lesson.
NO_MECHANISM = "none"


class Model(Observable, Traced, Protocol):
    """What the pictures read: a kernel with the snapshot API that traces its calls."""


#: A step's animation keeps between this many and twice as many micro-step captures.
MICRO_FRAMES = 48


@dataclass(frozen=True)
class MicroFrame:
    """The model's pictures at one micro-step, captured while the step ran."""

    ep_title: str
    ep_label: str
    shape: TreeShape | None
    chain: ReadyChain | None
    queues: WaitQueuesPicture
    nic: NicLane
    fds: FdRows
    cost: CostMeter
    clock_ns: int
    calls: RenderableType | None  #: the kqueue's knotes, for a kqueue step
    threads: ThreadsPicture | None = None  #: the threads and CPUs, if the scenario has threads


@dataclass(frozen=True)
class Frame:
    """The screen's content at `position` (see the module docstring)."""

    position: int
    total: int
    title: str
    mechanism: str  #: whose panels this position shows (`step_mechanism`)
    record: StepRecord | None
    kernel: Observable | None
    names: Bindings
    ep_title: str = ""
    ep_label: str = ""  #: the model's name for the epoll (``epoll4``), as trace events say it
    shape: TreeShape | None = None
    path: tuple[Key, ...] = ()
    path_text: str = ""
    chain: ReadyChain | None = None
    queues: WaitQueuesPicture | None = None
    nic: NicLane | None = None
    calls: RenderableType | None = None  #: poll array, select bitmaps or kqueue knotes
    cost: CostMeter = field(default_factory=CostMeter)
    live: LiveSide | None = None
    status: LiveStatus | None = None
    clock_ns: int = 0
    prediction: Prediction | None = None
    fds: FdRows | None = None  #: a captured fd table (micro-steps); None: read `kernel`
    threads: ThreadsPicture | None = None  #: the threads and CPUs (a scenario with threads)
    micro: Mapping[int, MicroFrame] = field(default_factory=dict)
    """Captures of the step's micro-steps, by index in `trace` (empty: nothing to animate)."""

    @property
    def trace(self) -> Sequence[TraceEvent]:
        return self.record.trace if self.record is not None else ()

    def at(self, micro: int | None) -> Frame:
        """This frame as it was at micro-step `micro` (itself when that was not captured)."""
        state = self.micro.get(micro) if micro is not None else None
        if state is None:
            return self
        return replace(
            self,
            ep_title=state.ep_title,
            ep_label=state.ep_label,
            shape=state.shape,
            path=(),
            path_text="",
            chain=state.chain,
            queues=state.queues,
            nic=state.nic,
            cost=state.cost,
            clock_ns=state.clock_ns,
            fds=state.fds,
            calls=state.calls if state.calls is not None else self.calls,
            threads=state.threads if state.threads is not None else self.threads,
            micro={},
        )


class MicroRecorder:
    """Captures a `MicroFrame` at micro-steps of the next step a `PlaySession.seek` runs.

    Give it as ``seek(..., watch=recorder)``: the session calls it with the model just before
    the step runs, and it returns the observer the model's tracer calls at each micro-step.
    To stay O(what is drawn) on a trace of a million micro-steps it keeps every `stride`-th
    one, doubling the stride (and dropping every other capture) whenever it holds more than
    twice `limit`. A capture that fails is kept in `error` and ends the recording; it never
    reaches the model's call.
    """

    def __init__(self, session: PlaySession, limit: int = MICRO_FRAMES) -> None:
        self._session = session
        self._limit = limit
        self._kernel: Model | None = None
        self._names = Bindings()
        self._step: StepBase | None = None
        self.index: int | None = None  #: the step recorded
        self.stride = 1
        self.frames: dict[int, MicroFrame] = {}
        self.error: Exception | None = None

    def __call__(self, model: Kernel) -> Callable[[TraceEvent], None] | None:
        if not isinstance(model, Observable) or not isinstance(model, Traced):
            return None
        session = self._session
        self._kernel = model
        self._names = session.names  # the names before the step; new ones are bound after it
        self.index = session.position
        self._step = session.runner.steps[self.index]
        self.stride = 1
        self.frames = {}
        self.error = None
        return self._observe

    def _observe(self, event: TraceEvent) -> None:
        kernel = self._kernel
        assert kernel is not None
        micro = len(kernel.trace) - 1
        if micro == 0:
            self.frames = {}  # a call frame began: what came before is not this step's trace
        if self.error is not None or micro % self.stride:
            return
        try:
            self.frames[micro] = self._capture(kernel)
        except Exception as exc:  # a bug of ours: show the step without animation
            self.error = exc
            self.frames = {}
            return
        if len(self.frames) > 2 * self._limit:
            self.stride *= 2
            self.frames = {i: f for i, f in self.frames.items() if i % self.stride == 0}

    def _capture(self, kernel: Model) -> MicroFrame:
        session = self._session
        names = self._names
        ep_title = ep_label = ""
        shape = chain = None
        ep = None
        shown = _shown_epoll(kernel, names, self._step, _epoll_names(session))
        if shown is not None:
            ep_title, _, ep = shown
            ep_label = ep.label
            shape = _tree_shape(ep, names)
            chain = ReadyChain.capture(ep, names)
        calls = None
        step = self._step
        assert step is not None
        mechanism = syscalls.mechanism_of_call(step.call.name) or step_mechanism(session)
        if mechanism == "kqueue":
            calls = _kqueue_picture(kernel, names, session)
        elif mechanism == "io_uring":
            calls = _rings_picture(kernel, names, session)
        elif mechanism == "iocp":  # model only: Windows
            calls = _ports_picture(kernel, names, session)
        queues = WaitQueuesPicture.capture(kernel, names, ep, first=_slept_on(session, kernel))
        return MicroFrame(
            ep_title=ep_title,
            ep_label=ep_label,
            shape=shape,
            chain=chain,
            queues=queues,
            nic=NicLane.capture(kernel, proactor=mechanism == "io_uring"),
            fds=FdRows.capture(kernel, names),
            cost=CostMeter.of(kernel.last_cost.as_dict()),
            clock_ns=kernel.now_ns,
            calls=calls,
            threads=_threads_picture(session, kernel, names),
        )

    def frames_for(self, record: StepRecord | None) -> dict[int, MicroFrame]:
        """The captures, if they are of `record`'s step and match its trace."""
        if record is None or record.index != self.index or self.error is not None:
            return {}
        if not self.frames or max(self.frames) >= len(record.trace):
            return {}
        return self.frames


def _threads_picture(
    session: PlaySession, kernel: Observable, names: Bindings
) -> ThreadsPicture | None:
    """The model's threads, if the scenario has threads (`PlaySession.threaded`)."""
    if not session.threaded or not isinstance(kernel, Threaded):
        return None
    snapshot = kernel.threads()
    files = sleepers_files(kernel, snapshot, names)
    return ThreadsPicture.capture(snapshot, files, session.thread_names)


def _slept_on(session: PlaySession, kernel: Observable) -> frozenset[str]:
    """The labels of the files threads sleep on (their queues are drawn first)."""
    if not session.threaded or not isinstance(kernel, Threaded):
        return frozenset()
    return frozenset(t.sleeps_on.partition(".")[0] for t in kernel.threads().threads if t.sleeps_on)


def _tree_shape(ep: EpollSnapshot, names: Bindings) -> TreeShape:
    """The interest tree; the ready dot marks the items on ``rdllist`` itself (not those an
    ``epoll_wait`` has moved to its private batch), as the ready list picture shows them."""
    return TreeShape.capture(ep, lambda fd: fd_label(fd, names))


def mechanism_of(session: PlaySession) -> str:
    """The mechanism a scenario is about: its ``mechanism`` if a step calls it, else the
    first multiplexer its steps create or call, else `NO_MECHANISM`. A sandbox, whose steps
    grow as the learner types (`PlaySession.growing`), is about its ``mechanism`` or epoll
    until a call says otherwise. O(steps) at worst, stopping at the first step that decides."""
    calls = (syscalls.mechanism_of_call(step.call.name) for step in session.scenario.steps)
    used = (mechanism for mechanism in calls if mechanism is not None)
    declared = session.mechanism
    if session.growing:
        return declared or next(used, "epoll")
    first = next(used, None)
    if first is None:
        return NO_MECHANISM
    if declared is not None and (first == declared or declared in used):
        return declared
    return first


def step_mechanism(session: PlaySession, position: int | None = None) -> str:
    """The mechanism whose panels a position shows: that of the last multiplexer call up to
    it (a lesson that compares select, poll and epoll shows each one's structures at its own
    steps), else the scenario's (`mechanism_of`)."""
    position = session.position if position is None else position
    for record in reversed(session.records[:position]):
        mechanism = syscalls.mechanism_of_call(record.step.call.name)
        if mechanism is not None:
            return mechanism
    return mechanism_of(session)


def _shown_epoll(
    kernel: Observable, names: Bindings, step: StepBase | None, epoll_names: list[str]
) -> tuple[str, int, EpollSnapshot] | None:
    """The epoll the current step uses, else the most recently created one still open:
    (``name:fd``, fd, its snapshot)."""
    wanted: list[str] = []
    if step is not None:
        ref = getattr(step.arguments, "epfd", None)
        if isinstance(ref, str):
            wanted.append(ref)
    wanted += reversed(epoll_names)
    return shown_epoll_of(kernel, names, wanted)


def shown_interest(session: PlaySession, limit: int = 16) -> list[tuple[int, int]]:
    """The first registrations (fd, events) of the epoll the player shows at the session's
    position (see `_shown_epoll`)."""
    model = session.model
    if not isinstance(model, Observable):
        return []
    record = session.record()
    step = record.step if record is not None else None
    shown = _shown_epoll(model, session.names, step, _epoll_names(session))
    return model.interest_list(shown[1], limit) if shown is not None else []


def _epoll_names(session: PlaySession) -> list[str]:
    return [n for s in session.scenario.steps if s.call.name == "epoll_create" for n in s.names]


def build_frame(
    session: PlaySession,
    *,
    recorder: MicroRecorder | None = None,
    prediction_banner: Text | None = None,
) -> Frame:
    """Capture the session at its position, with the micro-steps `recorder` captured while
    the step that led here ran (if it did)."""
    position = session.position
    record = session.record()
    model = session.model
    kernel = model if isinstance(model, Observable) else None
    names = session.names.copy()
    mechanism = step_mechanism(session, position)
    epoll_names = _epoll_names(session)

    ep_title = ""
    shape = None
    path: tuple[Key, ...] = ()
    path_text = ""
    chain = queues = nic = None
    ep = None
    epfd = -1
    if kernel is not None:
        step = record.step if record is not None else None
        shown = _shown_epoll(kernel, names, step, epoll_names)
        if shown is not None:
            ep_title, epfd, ep = shown
            shape = _tree_shape(ep, names)
            chain = ReadyChain.capture(ep, names)
            path, path_text = _lookup_path(kernel, epfd, record, names)
        queues = WaitQueuesPicture.capture(kernel, names, ep, first=_slept_on(session, kernel))
        nic = NicLane.capture(kernel, proactor=mechanism == "io_uring")

    calls: RenderableType | None = None
    last_call = _last_multiplexer_call(session, position)
    if last_call is not None:
        call_names = names
        outcome = real_outcome(last_call)
        if last_call.step.call.name == "poll":
            calls = PollArray.of(last_call, call_names, outcome)
        elif last_call.step.call.name == "select":
            calls = SelectBitmaps.of(last_call, call_names, outcome)
    if mechanism == "kqueue" and kernel is not None:
        calls = _kqueue_picture(kernel, names, session)
    elif mechanism == "io_uring" and kernel is not None:
        calls = _rings_picture(kernel, names, session)
    elif mechanism == "iocp" and kernel is not None:  # model only: Windows
        calls = _ports_picture(kernel, names, session)

    threads = _threads_picture(session, kernel, names) if kernel is not None else None
    if threads is not None and record is not None:
        started, results = step_threads(record, session.runner.steps, session.thread_names)
        threads = threads.after(record.trace, started, results)

    status = session.status()
    live = _live_side(session, record, status, names, ep_title, epfd, ep, prediction_banner)
    return Frame(
        position=position,
        total=session.total,
        title=session.title,
        mechanism=mechanism,
        record=record,
        kernel=kernel,
        names=names,
        ep_title=ep_title,
        ep_label=ep.label if ep is not None else "",
        shape=shape,
        path=path,
        path_text=path_text,
        chain=chain,
        queues=queues,
        nic=nic,
        calls=calls,
        cost=CostMeter.of(record.cost.as_dict() if record and record.cost else None),
        live=live,
        status=status,
        clock_ns=kernel.now_ns if kernel is not None else 0,
        prediction=session.predictions.get(position - 1),
        micro=recorder.frames_for(record) if recorder is not None else {},
        threads=threads,
    )


def _lookup_path(
    kernel: Observable, epfd: int, record: StepRecord | None, names: Bindings
) -> tuple[tuple[Key, ...], str]:
    """The descent an ``epoll_ctl`` step's key makes in the tree (O(log n))."""
    if record is None or record.step.call.name != "epoll_ctl":
        return (), ""
    ref = getattr(record.step.arguments, "fd", None)
    fd = names.fds.get(ref) if isinstance(ref, str) else ref if isinstance(ref, int) else None
    file = kernel.file_at(fd) if fd is not None else None
    if fd is None or file is None:
        return (), ""
    key = (file.file_id, fd)
    keys = kernel.lookup_path(epfd, fd)
    steps = []
    for i, node_key in enumerate(keys):
        label = fd_label(node_key[1], names)
        if node_key == key:
            steps.append(f"{label} ✓")
        else:
            steps.append(label + (" ←" if key < node_key else " →"))
        if i > 12:
            steps.append(f"… {len(keys) - i - 1} more")
            break
    found = bool(keys) and keys[-1] == key
    text = f"lookup {fd_label(fd, names)} key {key}: " + "  ".join(steps)
    if not found:
        text += "  (not in the tree)"
    return keys, text


def _last_multiplexer_call(session: PlaySession, position: int) -> StepRecord | None:
    records = session.records[:position]
    for record in reversed(records):
        if record.step.call.name in ("poll", "select", "kevent"):
            return record
    return None


def _instances(
    names: Bindings,
    session: PlaySession,
    call: str,
    draw: Callable[[int, str], RenderableType | None],
) -> list[RenderableType]:
    """What `draw(fd, name)` makes of every descriptor the scenario's `call` steps name (each
    name once) that is open in the model; `draw` gives None for one that is not (yet) such an
    instance."""
    made = (n for s in session.scenario.steps if s.call.name == call for n in s.names)
    parts: list[RenderableType] = []
    for name in dict.fromkeys(made):
        fd = names.fds.get(name)
        part = draw(fd, name) if fd is not None else None
        if part is not None:
            parts.append(part)
    return parts


def _kqueue_picture(kernel: Observable, names: Bindings, session: PlaySession) -> RenderableType:
    def draw(fd: int, name: str) -> RenderableType | None:
        kq = kernel.kqueue_at(fd)
        return None if kq is None else KqueueView(kq, names, f"{name}:{fd} knotes")

    parts = _instances(names, session, "kqueue", draw)
    return Group(*parts) if parts else Text("no kqueue open in the model yet", style="dim")


def _rings_picture(kernel: Observable, names: Bindings, session: PlaySession) -> RenderableType:
    """Every io_uring the scenario sets up that is open in the model: its rings."""

    def draw(fd: int, name: str) -> RenderableType | None:
        ring = kernel.io_uring_at(fd)
        return None if ring is None else RingsView(ring, names, f"{name}:{fd}")

    parts = _instances(names, session, "io_uring_setup", draw)
    return Group(*parts) if parts else Text("no io_uring open in the model yet", style="dim")


def _ports_picture(kernel: Observable, names: Bindings, session: PlaySession) -> RenderableType:
    """Every completion port the scenario creates that is open in the model (model only)."""

    def draw(fd: int, name: str) -> RenderableType | None:
        port = kernel.iocp_at(fd)
        return None if port is None else PortView(port, names, f"{name}:{fd}")

    parts = _instances(names, session, "CreateIoCompletionPort", draw)
    if not parts:
        return Text("no completion port in the model yet (IOCP: model only, Windows)", style="dim")
    return Group(*parts)


def _live_side(
    session: PlaySession,
    record: StepRecord | None,
    status: LiveStatus,
    names: Bindings,
    ep_title: str,
    epfd: int,
    ep: EpollSnapshot | None,
    banner: Text | None,
) -> LiveSide:
    header = _live_header(status, session.position)
    live_names = session.live_names()
    arguments = record.sent if record is not None and record.live is not None else None
    fdinfo = session.fdinfo()
    model_items: dict[str, list[tuple[int, int]]] = {}
    model = session.model
    if fdinfo and ep is not None and ep.size <= 4096 and isinstance(model, Observable):
        for ep_name in fdinfo:
            fd = names.fds.get(ep_name)
            if fd is not None and ep_title.startswith(f"{ep_name}:"):
                model_items[ep_name] = model.interest_list(epfd, 4096)
    proc = session.proc_threads()
    threads = ProcThreadsPicture(proc, session.thread_names) if proc is not None else None
    return LiveSide(
        header, record, arguments, fdinfo, model_items, dict(live_names.names), banner, threads
    )


def _live_header(status: LiveStatus, position: int) -> Text:
    system = status.platform.get("system", "")
    release = status.platform.get("release", "")
    where = f"{system} {release}".strip()
    text = Text()
    if status.source is Source.LIVE and status.lost is None:
        text.append("live kernel", style="bold")
        if where:
            text.append(f" · {where}")
        if status.pid is None:
            text.append(" · starts at the first step", style="dim")
        elif status.alive:
            text.append(f" · child pid {status.pid}", style="green")
        else:
            text.append(f" · child pid {status.pid} is GONE", style="bold red")
    elif status.source is Source.LIVE:
        text.append("live kernel LOST", style="bold white on red")
        text.append(f"\n{status.lost}", style="red")
        at = status.lost_at if status.lost_at is not None else position
        text.append(f"\nThe model goes on alone from step {at + 1}.", style="yellow")
    elif status.source is Source.RECORDING:
        text.append("recording", style="bold")
        if where:
            text.append(f" of {where}")
        text.append(" · replayed, no real syscalls", style="dim")
    else:
        text.append("model only", style="bold yellow")
        text.append(" · no live kernel (--no-live)", style="dim")
    return text


def mechanism_class(mechanism: str) -> str:
    """The CSS class the player screen carries for a mechanism."""
    known = mechanism in MECHANISMS or mechanism == NO_MECHANISM
    return f"-mech-{mechanism if known else 'epoll'}"


__all__ = [
    "NO_MECHANISM",
    "Frame",
    "MicroFrame",
    "MicroRecorder",
    "build_frame",
    "mechanism_class",
    "mechanism_of",
    "shown_interest",
    "step_mechanism",
]
