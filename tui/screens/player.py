"""The player: the model on the left, the real kernel on the right, the story below.

The screen owns the `PlaySession` and pushes a `Frame` down to its widgets after every move
("attributes down"). Moving (`go`) runs on the UI thread when only the model runs (replayed,
recorded or model-only steps: fast and deterministic), and in a thread worker when the live
kernel must answer (a real call may block, e.g. ``epoll_wait`` with a timeout). While a worker
runs the screen is *busy*: the line-API views are frozen (they must not read the model the
worker is changing), requests to move are remembered and carried out when it is done.

After a single step forward the step's micro-steps (its trace) are animated: a timer moves a
cursor through them, every model view draws the state the model was in at that micro-step
(captured while the step ran, see `tui.frame.MicroRecorder`) and lights what it touches. The
animation can be skipped, runs at a user-set speed, and always ends on the exact final state.
At a step with a question (``ask``, or any wait in predict mode) the step runs, the old frame
stays on screen, and the predict dialog opens; the answer is judged by the real kernel and the
step is revealed.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from simulator.scenario import Verdict
from simulator.scenario.calls import show_value
from simulator.scenario.library import LessonError, lesson_path, read_lesson
from simulator.uapi import event_names
from tui.frame import (
    MECHANISMS,
    Frame,
    MicroRecorder,
    build_frame,
    mechanism_class,
    mechanism_of,
    shown_interest,
)
from tui.predict import Question, judge_of, previous_result, question_for
from tui.progress import ProgressStore
from tui.render.safe import safe_text
from tui.render.step import cpython_refused
from tui.screens.ask_value import AskValueScreen
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.predict import PredictScreen
from tui.session import PlaySession, Prediction, Source
from tui.widgets.calls_view import CallsView
from tui.widgets.cost_view import CostView
from tui.widgets.fd_table import FdTable
from tui.widgets.interest_tree import InterestTree
from tui.widgets.live_panel import LivePanel
from tui.widgets.narration import Narration
from tui.widgets.nic_lane import NicLaneView
from tui.widgets.picture import PictureView
from tui.widgets.ready_list import ReadyList
from tui.widgets.status_bar import StatusBar
from tui.widgets.timeline import Timeline
from tui.widgets.trace_list import TraceList
from tui.widgets.wait_queues import WaitQueues

if TYPE_CHECKING:
    from simulator.observe import TraceEvent

#: Animation speeds the user steps through with + and -.
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
DEFAULT_SPEED = SPEEDS.index(1.0)
#: Seconds per micro-step at 1x, and the pause between steps while playing.
TICK_S = 0.35
STEP_PAUSE_S = 1.2
#: Below this the layout turns compact; below `TINY` the screen asks for a larger terminal.
COMPACT = (110, 34)
TINY = (64, 20)


class PlayerScreen(Screen[None]):
    """Plays one `PlaySession` (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,l", "step_forward", "Step", id="step-forward"),
        Binding("left,h", "step_back", "Back", id="step-back"),
        Binding("space", "toggle_play", "Play/Pause", id="play-pause"),
        Binding("s", "skip_animation", "Skip anim", id="skip-animation"),
        Binding("plus,equals_sign", "faster", "Faster", id="speed-up"),
        Binding("minus", "slower", "Slower", id="speed-down"),
        Binding("home", "jump_start", "Start", id="jump-start"),
        Binding("end", "jump_end", "End", id="jump-end"),
        Binding("j", "jump_to", "Jump to", id="jump-to"),
        Binding("p", "toggle_predict", "Predict", id="predict-mode"),
        Binding("t", "lesson_text", "Lesson", id="lesson-text"),
        Binding("o", "app.open_scenario", "Open", id="open-scenario"),
        Binding("m", "app.lesson_menu", "Lessons", id="lesson-menu"),
    ]

    speed_index: reactive[int] = reactive(DEFAULT_SPEED, init=False)
    """Index into `SPEEDS`."""
    playing: reactive[bool] = reactive(False, init=False)
    """Whether steps advance by themselves."""
    predict_mode: reactive[bool] = reactive(False, init=False)
    """Whether every wait (epoll_wait, poll, select, kevent) asks for a prediction."""

    def __init__(
        self,
        session: PlaySession,
        *,
        animate: bool = True,
        progress: ProgressStore | None = None,
        lesson_key: str | None = None,
        predict_mode: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.animate_steps = animate
        self.progress = progress
        self.lesson_key = lesson_key
        self.frame: Frame | None = None
        self.busy = False
        self._heading = 0  # where the running worker is taking the session
        self._pending_jump: int | None = None  # asked for while a worker ran
        self._queued_steps = 0  # single steps asked for while a worker ran
        self._anim_timer: Timer | None = None
        self._play_timer: Timer | None = None
        self._micro: int | None = None
        self._ticks: list[int] = []  # the captured micro-steps the animation shows, in order
        self._recorder: MicroRecorder | None = None  # captures the step being run
        self._question_open = False
        self._pending_question: int | None = None
        """The index of the step a predict question is open for (its verdict is hidden)."""
        self.set_reactive(PlayerScreen.predict_mode, predict_mode)

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="model", classes="panel"):
                with Horizontal(id="model-top"):
                    yield InterestTree(id="tree")
                    yield CallsView(id="calls")
                    with Vertical(id="model-side"):
                        yield ReadyList(id="ready")
                        yield WaitQueues(id="queues")
                yield NicLaneView(id="nic")
                with Horizontal(id="model-bottom"):
                    yield FdTable(id="fds")
                    with Vertical(id="work"):
                        yield CostView(id="cost")
                        yield TraceList(id="trace")
            with VerticalScroll(id="live", classes="panel"):
                yield LivePanel(id="live-panel")
        with Vertical(id="story"):
            with VerticalScroll(id="narration-box"):
                yield Narration(id="narration")
            yield StatusBar(id="status")
            yield Timeline(id="timeline")
        yield Static(id="too-small", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        session = self.session
        self.title = safe_text(session.title)
        self.sub_title = f"{mechanism_of(session)} · model vs {session.source}"
        self.query_one("#model").border_title = "Kernel model"
        self.query_one("#live").border_title = "Real kernel"
        self._update_size_classes()
        self.set_interval(1.0, self._check_live)
        self._show(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Behind the "terminal too small" message no player key acts (q still quits)."""
        return not self.has_class("-tiny")

    def on_resize(self) -> None:
        self._update_size_classes()

    def _update_size_classes(self) -> None:
        width, height = self.app.size
        tiny = width < TINY[0] or height < TINY[1]
        if tiny != self.has_class("-tiny"):
            self.set_class(tiny, "-tiny")
            self.refresh_bindings()
        self.set_class(not tiny and (width < COMPACT[0] or height < COMPACT[1]), "-compact")
        if tiny:
            self.query_one("#too-small", Static).update(
                f"muxlab needs a terminal of at least {TINY[0]}x{TINY[1]} to play a scenario;\n"
                f"this one is {width}x{height}.\n\n"
                f"Please enlarge it to {TINY[0]}x{TINY[1]} or more (q quits)."
            )

    # --- showing a position --------------------------------------------------------------

    @property
    def animating(self) -> bool:
        return self._anim_timer is not None

    def _model_views(self) -> list[PictureView]:
        return list(self.query(PictureView).exclude("#live-panel"))

    def _show(self, *, animate: bool) -> None:
        """Capture a frame of the session and push it down to every widget."""
        session = self.session
        recorder, self._recorder = self._recorder, None
        frame = build_frame(session, recorder=recorder, prediction_banner=self._banner())
        self.frame = frame
        self._show_panels_of(frame.mechanism)
        for view in self.query(PictureView):
            view.set_reactive(PictureView.event, None)
            view.frame = frame
        tree = self.query_one(InterestTree)
        tree.set_reactive(InterestTree.micro, None)
        tree.frame = frame
        trace = self.query_one(TraceList)
        trace.set_reactive(TraceList.micro, None)
        trace.frame = frame
        fds = self.query_one(FdTable)
        fds.set_reactive(FdTable.event, None)
        fds.frame = frame
        self.query_one("#model").border_subtitle = self._model_subtitle(frame)
        self.query_one(Narration).markdown = self._narration(frame)
        self._update_status()
        self._save_progress()
        if animate and self._animates() and frame.micro:
            self._start_animation()
        elif self.playing:
            self._schedule_next()

    def _show_panels_of(self, mechanism: str) -> None:
        """Show the panels of the mechanism the step uses (see `step_mechanism`)."""
        wanted = mechanism_class(mechanism)
        for name in MECHANISMS:
            other = mechanism_class(name)
            if other != wanted and self.has_class(other):
                self.remove_class(other)
        self.add_class(wanted)

    def _animates(self) -> bool:
        return self.animate_steps and self.app.animation_level != "none"

    def _model_subtitle(self, frame: Frame) -> str:
        calls = frame.kernel.calls if frame.kernel is not None else 0
        return f"virtual time {frame.clock_ns / 1000:.1f} µs · {calls} calls"

    def _update_status(self) -> None:
        session = self.session
        status = self.query_one(StatusBar)
        status.position = session.position
        status.total = session.total
        status.playing = self.playing
        status.speed = SPEEDS[self.speed_index]
        status.predict = self.predict_mode
        status.score = session.score()
        counts = session.counts()
        verdicts = tuple(record.verdict for record in session.records)
        pending = self._pending_question
        if pending is not None and pending < len(verdicts):
            # The step has run, but its verdict stays hidden until the question is answered.
            counts[verdicts[pending]] -= 1
            verdicts = verdicts[:pending]
        status.counts = ", ".join(
            f"{n} {label}"
            for verdict, label in (
                (Verdict.AGREE, "✓ agree"),
                (Verdict.DIVERGE, "✗ diverge"),
                (Verdict.EXPECT_FAILED, "! expectation failed"),
                (Verdict.MODEL_ONLY, "◌ model only"),
            )
            if (n := counts[verdict])
        )
        timeline = self.query_one(Timeline)
        timeline.total = session.total
        timeline.position = session.position
        timeline.verdicts = verdicts

    def _narration(self, frame: Frame) -> str:
        record = frame.record
        if record is None:
            summary = (self.session.scenario.scenario.summary or "").strip()
            return (
                f"## {frame.title}\n\n{summary}\n\n"
                "*Press → to take the first step, space to play, Ctrl+P for every command.*"
            )
        text = f"**Step {record.number}/{frame.total}** · `{record.call}`\n\n"
        text += (record.say or "").strip()
        step = record.step
        if step.ask:
            real = judge_of(record) == "the real kernel"
            whose = "the real kernel's" if real else "the model's (model-only step)"
            text += f"\n\n> **Q:** {step.ask}"
            for i, choice in enumerate(step.choices or ()):
                mark = f"  ✓ *{whose} answer*" if i == record.answer else ""
                text += f"\n>\n> {i + 1}. `{show_value(choice)}`{mark}"
        return text

    def _banner(self) -> Text | None:
        session = self.session
        prediction = session.predictions.get(session.position - 1)
        if prediction is None:
            return None
        if prediction.chosen is None:
            return Text("You skipped this question.", style="dim")
        picked = safe_text(prediction.choices[prediction.chosen])
        if prediction.right:
            return Text(f"✓ You predicted right: {picked}", style="bold white on dark_green")
        truth = (
            safe_text(prediction.choices[prediction.answer])
            if prediction.answer is not None
            else "none of the choices"
        )
        record = session.record()
        if record is None or record.verdict is Verdict.MODEL_ONLY:
            judge = "the model (no live kernel here)"
        elif cpython_refused(record.live):
            judge = "CPython (its argument check, before any syscall)"
        else:
            judge = "the real kernel"
        return Text(f"✗ You picked {picked}; {judge} answered {truth}", style="bold white on red3")

    def _save_progress(self) -> None:
        if self.progress is None or self.lesson_key is None:
            return
        right, asked = self.session.score()
        self.progress.update(
            self.lesson_key,
            furthest=self.session.furthest,
            steps=self.session.total,
            right=right,
            asked=asked,
        )

    # --- moving --------------------------------------------------------------------------

    def go(self, target: int, *, single: bool = False) -> None:
        """Move to `target` steps; `single` marks one step forward (animated, may ask)."""
        self._stop_animation()
        if self._question_open:
            return
        if self.busy:
            if single:
                self._queued_steps += 1
            else:
                self._pending_jump, self._queued_steps = target, 0
            return
        session = self.session
        target = max(0, min(target, session.total))
        recorder = self._recorder = MicroRecorder(session) if single and self._animates() else None
        if session.needs_live(target):
            self._heading = target
            self._set_busy(f"waiting for the live kernel (step {target})")
            self._seek_in_worker(target, single, recorder)
            return
        try:
            session.seek(target, watch=recorder)
        except Exception as exc:
            self._failed(exc)
            return
        self._arrived(single)

    def _base(self) -> int:
        """The position once the work asked for so far is done."""
        if self._pending_jump is not None:
            return self._pending_jump
        if self.busy:
            return self._heading + self._queued_steps
        return self.session.position

    @work(thread=True, exclusive=True, group="runner", exit_on_error=False)
    def _seek_in_worker(self, target: int, single: bool, recorder: MicroRecorder | None) -> None:
        try:
            self.session.seek(target, watch=recorder)
        except Exception as exc:
            self.app.call_from_thread(self._worker_done, single, exc)
        else:
            self.app.call_from_thread(self._worker_done, single, None)

    def _worker_done(self, single: bool, error: Exception | None) -> None:
        self._set_busy("")
        if error is not None:
            self._failed(error)
        else:
            self._arrived(single)
        jump, self._pending_jump = self._pending_jump, None
        queued, self._queued_steps = self._queued_steps, 0
        if jump is not None:
            self.go(jump)
            return
        while queued and not self.busy and not self._question_open:
            queued -= 1
            self.go(self.session.position + 1, single=True)
        if self.busy:
            self._queued_steps += queued

    def _set_busy(self, why: str) -> None:
        self.busy = bool(why)
        self.query_one(StatusBar).busy = why
        if why:
            self._freeze()

    def _freeze(self) -> None:
        """Stop the views that read the model lazily (the fd table) from reading it."""
        self.query_one(FdTable).frozen = True

    def _failed(self, error: Exception) -> None:
        self.playing = False
        self.notify(
            safe_text(f"{type(error).__name__}: {error}", multiline=True),
            title="The run could not go on",
            severity="error",
            markup=False,
        )
        self._show(animate=False)

    def _arrived(self, single: bool) -> None:
        session = self.session
        record = session.record()
        if single and record is not None and record.index not in session.predictions:
            question = question_for(
                record,
                predict_mode=self.predict_mode,
                interest=self._interest(),
                previous=previous_result(session.records, record),
            )
            if question is not None:
                self._ask(question)
                return
        self._show(animate=single)

    def _interest(self) -> list[tuple[str, list[str]]]:
        """The shown epoll's registrations (name, events), for made-up predict choices."""
        names = self.session.names
        return [
            (names.name(fd), event_names(events)) for fd, events in shown_interest(self.session)
        ]

    def _ask(self, question: Question) -> None:
        self.playing = False
        self._question_open = True
        self._pending_question = question.index
        self._freeze()
        self._update_status()
        self.app.push_screen(
            PredictScreen(question, min_size=TINY), partial(self._answered, question)
        )

    def _answered(self, question: Question, choice: int | None) -> None:
        self._question_open = False
        self._pending_question = None
        self.session.predict(Prediction(question.index, choice, question.answer, question.choices))
        self._show(animate=True)

    # --- animation -----------------------------------------------------------------------

    def _start_animation(self) -> None:
        frame = self.frame
        assert frame is not None
        self._ticks = sorted(frame.micro)
        self._set_micro(self._ticks[0])
        self._anim_timer = self.set_interval(self._tick_s(), self._tick)

    def _tick_s(self) -> float:
        return TICK_S / SPEEDS[self.speed_index]

    def _tick(self) -> None:
        if self.frame is None or self._micro is None or self._micro == self._ticks[-1]:
            self._finish_animation()
        else:
            self._set_micro(self._ticks[self._ticks.index(self._micro) + 1])

    def _set_micro(self, micro: int | None) -> None:
        """Show micro-step `micro` of the step (None: the final state)."""
        self._micro = micro
        frame = self.frame
        if frame is None:
            return
        event: TraceEvent | None = None
        if micro is not None and micro < len(frame.trace):
            event = frame.trace[micro]
        shown = frame.at(micro)
        for view in self._model_views():
            view.set_reactive(PictureView.event, event)
            view.frame = shown
        fds = self.query_one(FdTable)
        fds.set_reactive(FdTable.event, event)
        fds.frame = shown
        tree = self.query_one(InterestTree)
        tree.set_reactive(InterestTree.micro, micro)
        tree.frame = shown
        self.query_one(TraceList).micro = micro
        self.query_one("#model").border_subtitle = self._model_subtitle(shown)

    def _stop_animation(self) -> None:
        """End the animation now, on the exact final state."""
        if self._anim_timer is not None:
            self._anim_timer.stop()
            self._anim_timer = None
            self._set_micro(None)

    def _finish_animation(self) -> None:
        self._stop_animation()
        if self.playing:
            self._schedule_next()

    # --- playback ------------------------------------------------------------------------

    def _schedule_next(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
        self._play_timer = self.set_timer(STEP_PAUSE_S / SPEEDS[self.speed_index], self._play_step)

    def _play_step(self) -> None:
        self._play_timer = None
        if not self.playing or self.busy or self.animating or self._question_open:
            return
        if self.session.position >= self.session.total:
            self.playing = False
            self.notify("The end of the scenario.", timeout=3)
            return
        self.go(self.session.position + 1, single=True)

    def watch_playing(self, playing: bool) -> None:
        if not playing and self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        self._update_status()

    def watch_speed_index(self) -> None:
        if self._anim_timer is not None:
            self._anim_timer.stop()
            self._anim_timer = self.set_interval(self._tick_s(), self._tick)
        self._update_status()

    def watch_predict_mode(self) -> None:
        self._update_status()

    # --- the live kernel -----------------------------------------------------------------

    def _check_live(self) -> None:
        """Notice a live child that died between steps (the next step falls back anyway)."""
        if self.busy or self.frame is None or self.session.source is not Source.LIVE:
            return
        before = self.frame.status
        now = self.session.status()
        if before is not None and (before.alive, before.lost) != (now.alive, now.lost):
            self.frame = build_frame(self.session, prediction_banner=self._banner())
            self.query_one(LivePanel).frame = self.frame

    def on_unmount(self) -> None:
        self.session.close()

    # --- actions -------------------------------------------------------------------------

    def action_step_forward(self) -> None:
        """Run (or replay) the next step, animated."""
        if self._base() < self.session.total:
            self.go(self.session.position + 1, single=True)
        else:
            self.notify("This is the last step.", timeout=2)

    def action_step_back(self) -> None:
        """Go back one step: the model re-runs from a checkpoint; no socket is touched."""
        self.playing = False
        self.go(self._base() - 1)

    def action_jump_start(self) -> None:
        self.playing = False
        self.go(0)

    def action_jump_end(self) -> None:
        self.playing = False
        self.go(self.session.total)

    def action_jump_to(self) -> None:
        """Ask for a step number, then go there."""
        total = self.session.total

        def jump(value: str | None) -> None:
            if value is not None and value.isdigit():
                self.jump_to(int(value))

        self.app.push_screen(
            AskValueScreen(
                f"Jump to step (0-{total})",
                value=str(self.session.position),
                hint="0 is the start, before the first step · Esc cancels",
                step_limit=total,
            ),
            jump,
        )

    def jump_to(self, step: int) -> None:
        self.playing = False
        self.go(step)

    def action_toggle_play(self) -> None:
        if self.playing:
            self.playing = False
            return
        if self.session.position >= self.session.total:
            self.go(0)
        self.playing = True
        if not self.animating and not self.busy:
            self._schedule_next()

    def action_skip_animation(self) -> None:
        if self.animating:
            self._finish_animation()

    def action_faster(self) -> None:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)

    def action_slower(self) -> None:
        self.speed_index = max(self.speed_index - 1, 0)

    def action_lesson_text(self) -> None:
        """Show the Markdown lesson the scenario names, if it has one."""
        lesson = self.session.scenario.scenario.lesson
        path = self.session.path
        try:
            found = lesson_path(path, lesson) if lesson and path is not None else None
            if found is None:
                self.notify("This scenario has no lesson text.", timeout=3)
                return
            text = read_lesson(found)
        except LessonError as exc:
            self.notify(safe_text(str(exc)), severity="error", markup=False)
            return
        self.app.push_screen(LessonTextScreen(f"Lesson: {found.name}", text))

    def action_toggle_predict(self) -> None:
        self.predict_mode = not self.predict_mode
        self.notify(
            "Predict mode on: every wait asks you first."
            if self.predict_mode
            else "Predict mode off: only the scenario's own questions are asked.",
            timeout=3,
        )
