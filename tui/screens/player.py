"""The player: the model on the left, the real kernel on the right, the story below.

The screen is the layout and the hands of three objects: the `PlaySession` (the lockstep run),
its `Navigator` (`tui.navigation`: where to go, the queue while a live call runs, autoplay and
the predict flow, all Textual-free) and an `Animation` (`tui.animation`). The screen pushes a
`Frame` of the session down to its widgets after every move ("attributes down"); the status
line and the timeline are bound (`data_bind`) to the screen's reactives, which mirror the
navigator's state. A move that needs the live kernel runs in a thread worker (a real call may
block, e.g. ``epoll_wait`` with a timeout); meanwhile the line-API views are frozen (they must
not read the model the worker is changing).

After a single step forward the step's micro-steps (its trace) are animated: every model view
draws the state the model was in at that micro-step (captured while the step ran, see
`tui.frame.MicroRecorder`) and lights what it touches. The animation can be skipped, runs at a
user-set speed, and always ends on the exact final state. At a step with a question (``ask``,
or any wait in predict mode) the step runs, the old frame stays on screen, and the predict
dialog opens; the answer is judged by the real kernel and the step is revealed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Concatenate, ParamSpec

from textual import work
from textual.app import ComposeResult
from textual.compose import compose
from textual.message import Message
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Static

from simulator.scenario.course import ending
from simulator.scenario.library import LessonError, lesson_path, read_lesson
from simulator.scenario.program import ProgramError, load_program, step_lines
from tui.animation import Animation
from tui.commands import PaletteBinding
from tui.heap import HeapPolicy
from tui.progress import ProgressStore
from tui.render.safe import safe_text
from tui.screens.ask_value import AskValueScreen
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.recap import RecapScreen
from tui.widgets.footer import Footer
from tui.widgets.narration import Narration
from tui.widgets.panel import Panel
from tui.widgets.steady import Column, Row, ScrollColumn

if TYPE_CHECKING:
    from textual.binding import BindingType

    from simulator.observe import TraceEvent
    from simulator.scenario import Verdict
    from tui.frame import Frame, MicroRecorder
    from tui.navigation import Navigator
    from tui.predict import Question
    from tui.session import PlaySession, StepWatch
    from tui.widgets.picture import PictureView

# The modules below `tui.frame` (the session, the runner, the scenario format and pydantic, the
# views) are imported where they are used, which is only once the player is open: a player
# given an `Opener` draws its first frame without them (see `PlayerScreen`).

#: Animation speeds the user steps through with + and -.
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
DEFAULT_SPEED = SPEEDS.index(1.0)
#: Seconds per micro-step at 1x, and the pause between steps while playing.
TICK_S = 0.35
STEP_PAUSE_S = 1.2
#: Below this the layout turns compact; below `TINY` the screen asks for a larger terminal.
COMPACT = (110, 34)
TINY = (64, 20)


class OpenError(Exception):
    """Why a scenario cannot be played: the dialog's title and the loader's report."""

    def __init__(self, title: str, report: str) -> None:
        super().__init__(title)
        self.title = title
        self.report = report


#: Makes the session of a player that opens after its first frame; raises `OpenError`.
Opener = Callable[[], "PlaySession"]

_P = ParamSpec("_P")


def _when_open(
    action: Callable[Concatenate[PlayerScreen, _P], None],
) -> Callable[Concatenate[PlayerScreen, _P], None]:
    """A player action that needs the lesson: asked for while the player opens (a key pressed
    before it has loaded), it runs once the player is open, in the order asked."""

    @functools.wraps(action)
    def run(self: PlayerScreen, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        if not self.opened:
            self._held.append(functools.partial(action, self, *args, **kwargs))
            return
        action(self, *args, **kwargs)

    return run


class PlayerScreen(Screen[None]):
    """Plays one `PlaySession` (see the module docstring). Implements `tui.navigation.Stage`.

    Given an `Opener` instead of a session (``muxlab play FILE``), the player opens in two
    moves: its first frame is its frame alone -- the lesson's `title`, the empty panels, the
    keys -- drawn without loading the scenario or importing the modules that play it; right
    after that frame, the opener loads and checks the scenario and makes the session (which
    starts the live kernel's child), and the panels are composed and drawn. A scenario that
    cannot be played posts `OpenFailed` with the loader's report (the app shows it). Keys
    pressed meanwhile are held and run once the player is open (`opened`); reading `session`
    before then loads it at once. The opening starts when `open_after_frame` is called."""

    class OpenFailed(Message):
        """The opener refused the scenario (`OpenError`): the player is to be replaced by
        the report."""

        def __init__(self, player: PlayerScreen, error: OpenError) -> None:
            super().__init__()
            self.player = player
            self.error = error

    #: The keys; each is also a command of the palette (`title`, with `tooltip` as its help).
    BINDINGS: ClassVar[list[BindingType]] = [
        PaletteBinding(
            "right,l",
            "step_forward",
            "Step",
            title="Step forward",
            tooltip="run the next step (→)",
            id="step-forward",
        ),
        PaletteBinding(
            "left,h",
            "step_back",
            "Back",
            title="Step back",
            tooltip="rewind one step; no socket is touched (←)",
            id="step-back",
        ),
        PaletteBinding(
            "space",
            "toggle_play",
            "Play/Pause",
            title="Play / pause",
            tooltip="advance by itself (space)",
            id="play-pause",
        ),
        PaletteBinding(
            "s",
            "skip_animation",
            "Skip anim",
            title="Skip the animation",
            tooltip="show the final state now (s)",
            id="skip-animation",
        ),
        PaletteBinding(
            "plus,equals_sign",
            "faster",
            "Faster",
            title="Faster",
            tooltip="animation speed up (+)",
            id="speed-up",
        ),
        PaletteBinding(
            "minus",
            "slower",
            "Slower",
            title="Slower",
            tooltip="animation speed down (-)",
            id="speed-down",
        ),
        PaletteBinding(
            "home",
            "jump_start",
            "Start",
            title="Jump to the start",
            tooltip="before the first step (Home)",
            id="jump-start",
        ),
        PaletteBinding(
            "end",
            "jump_end",
            "End",
            title="Jump to the end",
            tooltip="after the last step (End)",
            id="jump-end",
        ),
        PaletteBinding(
            "j",
            "jump_to",
            "Jump to",
            title="Jump to step…",
            tooltip="type a step number (j)",
            id="jump-to",
        ),
        PaletteBinding(
            "p",
            "toggle_predict",
            "Predict",
            title="Toggle predict mode",
            tooltip="predict every wait (p)",
            id="predict-mode",
        ),
        PaletteBinding(
            "t",
            "lesson_text",
            "Lesson",
            title="Lesson text",
            tooltip="the Markdown lesson beside it (t)",
            id="lesson-text",
        ),
        PaletteBinding(
            "o",
            "app.open_scenario",
            "Open",
            title="Open a scenario file…",
            tooltip="play any scenario (o)",
            id="open-scenario",
        ),
        # --- knobs and presenter mode (issue 14) ---
        PaletteBinding(
            "right_square_bracket",
            "knob(1)",
            "Knob +",
            title="Knob up",
            tooltip="the scenario's parameter to its next value; re-runs both kernels (])",
            id="knob-up",
            show=False,  # in the palette and docs/tui.md; the footer keeps q Quit
        ),
        PaletteBinding(
            "left_square_bracket",
            "knob(-1)",
            "Knob -",
            title="Knob down",
            tooltip="the scenario's parameter to its previous value; re-runs both kernels ([)",
            id="knob-down",
            show=False,  # in the palette and docs/tui.md; the footer keeps q Quit
        ),
        PaletteBinding(
            "k",
            "knob_form",
            "Knobs",
            title="Set the knobs…",
            tooltip="type the scenario's parameters (N=1000); re-runs both kernels (k)",
            id="knob-form",
        ),
        PaletteBinding(
            "f",
            "presenter",
            "Present",
            title="Presenter mode",
            tooltip="hide the chrome, enlarge the pictures and the narration (f)",
            id="presenter",
            show=False,  # in the palette and docs/tui.md; the footer keeps q Quit
        ),
        PaletteBinding(
            "m",
            "app.lesson_menu",
            "Lessons",
            title="Lesson menu",
            tooltip="all lessons and your progress (m)",
            id="lesson-menu",
        ),
    ]

    speed_index: reactive[int] = reactive(DEFAULT_SPEED, init=False)
    """Index into `SPEEDS`."""
    # What the status line and the timeline show (bound to them; mirrors of the navigator's
    # state and the session's, set by `state_changed`).
    position: var[int] = var(0)
    """Steps run."""
    total: var[int] = var(0)
    """Steps in the scenario."""
    playing: var[bool] = var(False)
    """Whether steps advance by themselves."""
    speed: var[float] = var(SPEEDS[DEFAULT_SPEED])
    """The animation speed factor, `SPEEDS[speed_index]`."""
    predict_mode: var[bool] = var(False)
    """Whether every wait (epoll_wait, poll, select, kevent) asks for a prediction."""
    score: var[tuple[int, int]] = var((0, 0))
    """(right, asked) over the questions answered."""
    waiting: var[str] = var("")
    """What a live call running in a worker waits for, or empty."""
    counts: var[str] = var("")
    """The verdicts up to the position, counted, as text."""
    verdicts: var[tuple[Verdict, ...]] = var(())
    """The verdicts of the steps run so far (without the one whose question is open)."""

    def __init__(
        self,
        session: PlaySession | Opener,
        *,
        title: str = "",
        animate: bool = True,
        progress: ProgressStore | None = None,
        lesson_key: str | None = None,
        predict_mode: bool = False,
        course_dir: Path | None = None,
    ) -> None:
        if callable(session):
            super().__init__()
        else:
            from tui.frame import mechanism_class, step_mechanism

            # The panels are chosen before the first styling (a class added at the first draw
            # would style every widget a second time).
            super().__init__(classes=mechanism_class(step_mechanism(session)))
        self._session: PlaySession | None = None
        self._opener: Opener | None = None
        self.opened = False  #: whether the panels are composed and show the session
        self._unmounted = False  # unmounted: an opening still due is dropped
        self._held: list[Callable[[], None]] = []  # actions asked for while opening
        self._opening_title = title
        self.animate_steps = animate
        self.progress = progress
        self.lesson_key = lesson_key
        self.frame: Frame | None = None
        self.navigator: Navigator
        self.animation = Animation(self.set_interval, self._show_micro, self._animation_done)
        self.course_dir = course_dir  #: where the next lesson is looked for (None: shipped)
        self._recap_due = False  # the last step was just reached: the recap card follows
        self._play_timer: Timer | None = None
        self._recorder: MicroRecorder | None = None  # captures the step being run
        self._heap = HeapPolicy()  # keeps the collector off the model while repainting
        self._narrated = False  # whether the first frame's narration has been asked for
        self._views: tuple[PictureView, ...] = ()  # see `_model_views`
        self._predict_at_start = predict_mode
        self.set_reactive(PlayerScreen.predict_mode, predict_mode)
        if callable(session):
            self._opener = session
        else:
            self._take_session(session)
            self.opened = True

    @property
    def session(self) -> PlaySession:
        """The session played (read while the player opens, it is loaded at once; raises
        `OpenError` for a scenario that cannot be played)."""
        if self._session is None:
            self._load()
        assert self._session is not None
        return self._session

    @property
    def loaded_session(self) -> PlaySession | None:
        """The session, or None while the player opens (nothing to close yet)."""
        return self._session

    def _take_session(self, session: PlaySession) -> None:
        from tui.frame import mechanism_class, step_mechanism
        from tui.navigation import Navigator

        self.add_class(mechanism_class(step_mechanism(session)))
        self._session = session
        self.navigator = Navigator(session, self, predict_mode=self._predict_at_start)

    def _load(self) -> None:
        """Make the session with the opener (once; after a failure reported by `_open`, an
        `OpenError` saying so)."""
        opener, self._opener = self._opener, None
        if opener is None:
            raise OpenError("nothing to play", "the scenario could not be played")
        try:
            self._take_session(opener())
        except OpenError:
            self._opener = opener
            raise

    async def _open(self) -> None:
        """After the first frame: load the session, compose the panels, show the start, then
        run the keys held meanwhile."""
        if self._unmounted or self.opened:
            return
        if self._session is None:
            try:
                self._load()
            except OpenError as error:
                self._opener = None
                self.post_message(self.OpenFailed(self, error))
                return
        # The empty panels give way to the real ones (the header and footer stay).
        await self.query_children("#main, #story").remove()
        if self._gone():
            return
        await self.mount_all(compose(self, self._panels()), before="#too-small")
        if self._gone():
            return
        self.opened = True
        self._auto_focus()
        # The first frame (the empty panels) is shown: the narration fills its pane with the
        # panels, in one layout, rather than one refresh after them (`draw`).
        self._narrated = True
        self._show_session()
        self.refresh_bindings()  # the knobs' keys, now that the scenario is known
        held, self._held = self._held, []
        for action in held:
            action()

    def _gone(self) -> bool:
        """Whether the player was closed (another file opened, back to the menu) while it
        opened: popped off the stack at once, unmounted a little later."""
        return self._unmounted or self not in self.app.screen_stack

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self._panels() if self.opened else self._empty_panels()
        yield Static(id="too-small", classes="too-small", markup=False)
        yield Footer()

    @staticmethod
    def _empty_panels() -> ComposeResult:
        """The first frame of a player that opens (see the class): the panels, empty."""
        with Row(id="main"):
            yield Panel(id="model", classes="panel")
            yield Column(id="live", classes="panel")  # nothing to focus yet
        with Column(id="story"):
            yield Static("Loading the lesson…", id="opening", markup=False)

    def _panels(self) -> ComposeResult:
        from tui.widgets.calls_view import CallsView
        from tui.widgets.cost_view import CostView
        from tui.widgets.fd_table import FdTable
        from tui.widgets.interest_tree import InterestTree
        from tui.widgets.live_panel import LivePanel
        from tui.widgets.nic_lane import NicLaneView
        from tui.widgets.program_view import ProgramView
        from tui.widgets.ready_list import ReadyList
        from tui.widgets.status_bar import StatusBar
        from tui.widgets.threads_view import ThreadsView
        from tui.widgets.timeline import Timeline
        from tui.widgets.trace_list import TraceList
        from tui.widgets.wait_queues import WaitQueues

        with Row(id="main"):
            with Panel(id="model", classes="panel"):
                with Row(id="model-top"):
                    yield InterestTree(id="tree")
                    yield CallsView(id="calls")
                    with Column(id="model-side"):
                        yield ReadyList(id="ready")
                        yield WaitQueues(id="queues")
                yield ThreadsView(id="threads")
                yield NicLaneView(id="nic")
                with Row(id="model-bottom"):
                    yield FdTable(id="fds")
                    with Column(id="work"):
                        yield CostView(id="cost")
                        yield TraceList(id="trace")
            with ScrollColumn(id="live", classes="panel"):
                yield LivePanel(id="live-panel")
        with Column(id="story"):
            with Row(id="story-top"):
                with ScrollColumn(id="narration-box"):
                    yield Narration(id="narration")
                yield ProgramView(id="program")  # shown only with a program (`-program`)
            yield StatusBar(id="status").data_bind(
                PlayerScreen.position,
                PlayerScreen.total,
                PlayerScreen.playing,
                PlayerScreen.speed,
                PlayerScreen.score,
                PlayerScreen.counts,
                predict=PlayerScreen.predict_mode,
                busy=PlayerScreen.waiting,
            )
            yield Timeline(id="timeline").data_bind(
                PlayerScreen.total, PlayerScreen.position, PlayerScreen.verdicts
            )

    def on_mount(self) -> None:
        if self.opened:
            self._show_session()
            return
        self.title = safe_text(self._opening_title)
        self.query_one("#model").border_title = "Kernel model"
        self.query_one("#live").border_title = "Real kernel"
        self._update_size_classes()

    def open_after_frame(self) -> None:
        """Draw this frame, then open the player (see the class). The app calls it once it
        runs (`MuxlabApp.on_ready`): a frame drawn while Textual starts is held back, so an
        opening started from `on_mount` would delay the first frame shown by all of it."""
        self.call_later(self._draw_then_open)  # in this screen's context (its data bindings)

    def _draw_then_open(self) -> None:
        self.refresh()
        self.call_after_refresh(self._open)

    def _auto_focus(self) -> None:
        """Focus what the screen focuses when it is shown (`AUTO_FOCUS`, Textual's rule): the
        panels it focuses were composed after it was shown."""
        auto_focus = self.app.AUTO_FOCUS if self.AUTO_FOCUS is None else self.AUTO_FOCUS
        if not (auto_focus and self.app.app_focus) or self.focused is not None:
            return
        for widget in self.query(auto_focus):
            if widget.focusable:
                self.set_focus(widget)
                return

    def _show_session(self) -> None:
        """The session's titles, panels and start (once the panels are composed)."""
        from tui.frame import NO_MECHANISM, mechanism_of

        session = self.session
        self.title = safe_text(session.title)
        mechanism = mechanism_of(session)
        about = "no multiplexer" if mechanism == NO_MECHANISM else mechanism
        self.sub_title = f"{about} · model vs {session.source}"
        values = session.scenario.values
        if values:  # the knobs' settings, so the learner sees what this run is
            settings = ", ".join(f"{name} = {value}" for name, value in values.items())
            self.sub_title += f" · {safe_text(settings)}"
        self.query_one("#model").border_title = "Kernel model"
        self.query_one("#live").border_title = "Real kernel"
        self.query_one("#threads").border_title = "Threads and CPUs"
        self.set_class(session.threaded, "-threads")  # the threads panel shows
        self._load_program()
        self._update_size_classes()
        self.set_interval(1.0, self._check_live)
        self.draw(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Behind the "terminal too small" message no player key acts (q still quits); the
        knobs are there only for a scenario that declares ``[params]``."""
        if not self.opened:  # held until the player is open (`_when_open`)
            return not self.has_class("-tiny")
        if action.split("(")[0] in ("knob", "knob_form") and not self.session.scenario.params:
            return False
        return not self.has_class("-tiny")

    def on_resize(self) -> None:
        self._update_size_classes()

    def _update_size_classes(self) -> None:
        width, height = self.app.size
        tiny = width < TINY[0] or height < TINY[1]
        if tiny != self.has_class("-tiny"):
            self.set_class(tiny, "-tiny")
            self.refresh_bindings()
        compact = not tiny and (width < COMPACT[0] or height < COMPACT[1])
        self.set_class(compact, "-compact")
        if self.opened:
            from tui.widgets.threads_view import ThreadsView

            self.query_one(ThreadsView).compact = compact
        if tiny:
            self.query_one("#too-small", Static).update(
                f"muxlab needs a terminal of at least {TINY[0]}x{TINY[1]} to play a scenario;\n"
                f"this one is {width}x{height}.\n\n"
                f"Please enlarge it to {TINY[0]}x{TINY[1]} or more (q quits)."
            )

    # --- the navigator's stage (see `tui.navigation.Stage`) ------------------------------

    @property
    def busy(self) -> bool:
        """Whether a live call runs in a worker."""
        return self.navigator.busy

    @property
    def animating(self) -> bool:
        return self.animation.running

    @_when_open
    def go(self, target: int, *, single: bool = False) -> None:
        """Move to `target` steps; `single` marks one step forward (animated, may ask)."""
        self.navigator.go(target, single=single)

    @_when_open
    def jump_to(self, step: int) -> None:
        """Go to `step` (0: the start); playing stops."""
        self.navigator.jump_to(step)

    def step_recorder(self) -> StepWatch | None:
        from tui.frame import MicroRecorder

        self._recorder = MicroRecorder(self.session) if self._animates() else None
        return self._recorder

    def draw(self, *, animate: bool) -> None:
        """Capture a frame of the session and push it down to every widget."""
        from tui.frame import build_frame
        from tui.story import prediction_banner
        from tui.widgets.live_panel import LivePanel
        from tui.widgets.trace_list import TraceList

        session = self.session
        recorder, self._recorder = self._recorder, None
        frame = build_frame(
            session, recorder=recorder, prediction_banner=prediction_banner(self.session)
        )
        self.frame = frame
        self._show_panels_of(frame.mechanism)
        self.query_one(LivePanel).frame = frame
        self._mark_program()
        trace = self.query_one(TraceList)
        trace.set_reactive(TraceList.micro, None)
        trace.frame = frame
        self._show_micro(None)
        if self._narrated:
            self._narrate()
        else:
            # The first frame: the narration is Markdown, whose renderer is imported on first
            # use (`safe_markdown`, ~40 ms), so it fills its pane one refresh after the panels.
            self._narrated = True
            self.call_after_refresh(self._narrate)
        self.state_changed()
        self._save_progress()
        self._heap.settle(session.position)  # the collector leaves this position's objects be
        # Stepping (or playing) into the last step ends the lesson: the recap card, once the
        # step's animation is over. A jump to the end does not (it skips the lesson).
        self._recap_due = animate and session.total > 0 and session.position == session.total
        if animate and self._animates() and frame.micro:
            self.animation.start(frame.micro, self._tick_s())
        if self._recap_due and not self.animating:
            self.call_after_refresh(self._show_recap)

    def _animation_done(self) -> None:
        self.navigator.animation_done()
        if self._recap_due:
            self._show_recap()

    def _show_recap(self) -> None:
        """The recap card (`tui.screens.recap`), if the lesson is at its end, nothing covers
        the player, and there is something to show (a recap, links or a next lesson)."""
        if not self._recap_due or self.app.screen is not self or self.has_class("-tiny"):
            return
        self._recap_due = False
        session = self.session
        meta = session.scenario.scenario
        links = [(link.title, link.url) for link in meta.see]
        end = ending(session.path, meta.recap, links, self.course_dir)
        if end.empty:
            return
        self.navigator.playing = False
        self.state_changed()
        following = end.next

        def chosen(choice: str | None) -> None:
            if choice == "menu":
                self.app.call_later(self.app.run_action, "app.lesson_menu")
            elif choice == "next" and following is not None:
                open_scenario = getattr(self.app, "open_scenario")  # noqa: B009 -- MuxlabApp's
                self.app.call_later(open_scenario, following.path)

        self.app.push_screen(RecapScreen(session.title, end, session.score()), chosen)

    def _load_program(self) -> None:
        """Show the program the scenario's steps come from, if it names one
        (`simulator.scenario.program`); the panel stays hidden otherwise."""
        from tui.widgets.program_view import ProgramView

        name, path = self.session.scenario.scenario.program, self.session.path
        if name is None or path is None:
            return
        try:
            program = load_program(path, name)
        except ProgramError as exc:  # changed since the scenario was checked
            self.notify(safe_text(str(exc)), severity="error", markup=False)
            return
        self.query_one(ProgramView).load(name, program.text)
        self.add_class("-program")

    def _mark_program(self) -> None:
        """Mark the lines of the step last run (none before the first step)."""
        if not self.has_class("-program"):
            return
        from tui.widgets.program_view import ProgramView

        session = self.session
        step = session.scenario.steps[session.position - 1] if session.position else None
        self.query_one(ProgramView).marked = tuple(step_lines(step.line if step else None))

    def _narrate(self) -> None:
        """The narration of the frame on screen (also when called a refresh late)."""
        from tui.story import narration

        if self.frame is not None:
            self.query_one(Narration).markdown = narration(self.frame, self.session)

    def end_animation(self) -> None:
        self.animation.stop()

    def seek_in_background(self, target: int, watch: StepWatch | None) -> None:
        self._seek_in_worker(target, watch)

    @work(thread=True, exclusive=True, group="runner", exit_on_error=False)
    def _seek_in_worker(self, target: int, watch: StepWatch | None) -> None:
        try:
            self.session.seek(target, watch=watch)
        except Exception as exc:
            self.app.call_from_thread(self.navigator.background_done, exc)
        else:
            self.app.call_from_thread(self.navigator.background_done, None)

    def ask(self, question: Question) -> None:
        from tui.screens.predict import PredictScreen

        self._freeze()
        self.app.push_screen(PredictScreen(question, min_size=TINY), self.navigator.answer)

    def report_failure(self, error: Exception) -> None:
        self.notify(
            safe_text(f"{type(error).__name__}: {error}", multiline=True),
            title="The run could not go on",
            severity="error",
            markup=False,
        )

    def schedule_next(self) -> None:
        self.cancel_next()
        self._play_timer = self.set_timer(
            STEP_PAUSE_S / SPEEDS[self.speed_index], self.navigator.play_next
        )

    def cancel_next(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def tell(self, message: str, seconds: float) -> None:
        self.notify(message, timeout=seconds)

    def state_changed(self) -> None:
        """Mirror the navigator's and the session's state into the reactives the status line
        and the timeline are bound to."""
        from tui.verdicts import counts_text

        navigator, session = self.navigator, self.session
        if navigator.busy:
            self._freeze()
        counts, verdicts = navigator.verdicts_shown()
        self.position = session.position
        self.total = session.total
        self.playing = navigator.playing
        self.predict_mode = navigator.predict_mode
        self.score = session.score()
        self.waiting = navigator.waiting
        self.counts = counts_text(counts)
        self.verdicts = verdicts

    # --- showing a position --------------------------------------------------------------

    def _model_views(self) -> tuple[PictureView, ...]:
        """The small model views (queried once: the screen's widgets never change, and a
        query at every frame of an animation was a measurable part of its cost)."""
        from tui.widgets.picture import PictureView

        if not self._views:
            self._views = tuple(self.query(PictureView).exclude("#live-panel"))
        return self._views

    def _show_panels_of(self, mechanism: str) -> None:
        """Show the panels of the mechanism the step uses (see `step_mechanism`)."""
        from tui.frame import MECHANISMS, NO_MECHANISM, mechanism_class

        wanted = mechanism_class(mechanism)
        for name in (*MECHANISMS, NO_MECHANISM):
            other = mechanism_class(name)
            if other != wanted and self.has_class(other):
                self.remove_class(other)
        self.add_class(wanted)

    def _animates(self) -> bool:
        return self.animate_steps and self.app.animation_level != "none"

    def _freeze(self) -> None:
        """Stop the views that read the model lazily (the fd table) from reading it."""
        from tui.widgets.fd_table import FdTable

        self.query_one(FdTable).frozen = True

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

    # --- animation -----------------------------------------------------------------------

    def _tick_s(self) -> float:
        return TICK_S / SPEEDS[self.speed_index]

    def _show_micro(self, micro: int | None) -> None:
        """Show micro-step `micro` of the step (None: the final state)."""
        from tui.story import model_subtitle
        from tui.widgets.fd_table import FdTable
        from tui.widgets.interest_tree import InterestTree
        from tui.widgets.picture import PictureView
        from tui.widgets.trace_list import TraceList

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
        trace = self.query_one(TraceList)
        if micro is not None or trace.micro is not None:  # `draw` has just reset it otherwise
            trace.micro = micro
        self.query_one("#model", Panel).set_subtitle(model_subtitle(shown))

    def watch_speed_index(self, index: int) -> None:
        self.speed = SPEEDS[index]
        self.animation.retime(self._tick_s())

    # --- the live kernel -----------------------------------------------------------------

    def _check_live(self) -> None:
        """Notice a live child that died between steps (the next step falls back anyway)."""
        from tui.frame import build_frame
        from tui.session import Source
        from tui.story import prediction_banner
        from tui.widgets.live_panel import LivePanel

        if self.busy or self.frame is None or self.session.source is not Source.LIVE:
            return
        before = self.frame.status
        now = self.session.status()
        if before is not None and (before.alive, before.lost) != (now.alive, now.lost):
            self.frame = build_frame(
                self.session, prediction_banner=prediction_banner(self.session)
            )
            self.query_one(LivePanel).frame = self.frame

    def on_unmount(self) -> None:
        self._unmounted = True
        if self._session is not None:
            self._session.close()
        self._heap.release()

    # --- actions -------------------------------------------------------------------------

    @_when_open
    def action_step_forward(self) -> None:
        """Run (or replay) the next step, animated."""
        self.navigator.step_forward()

    @_when_open
    def action_step_back(self) -> None:
        """Go back one step: the model re-runs from a checkpoint; no socket is touched."""
        self.navigator.step_back()

    @_when_open
    def action_jump_start(self) -> None:
        self.navigator.jump_to(0)

    @_when_open
    def action_jump_end(self) -> None:
        self.navigator.jump_to(self.session.total)

    @_when_open
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

    @_when_open
    def action_toggle_play(self) -> None:
        self.navigator.toggle_play()

    @_when_open
    def action_skip_animation(self) -> None:
        self.animation.finish()

    @_when_open
    def action_faster(self) -> None:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)

    @_when_open
    def action_slower(self) -> None:
        self.speed_index = max(self.speed_index - 1, 0)

    @_when_open
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

    @_when_open
    def action_toggle_predict(self) -> None:
        self.navigator.toggle_predict()
        self.notify(
            "Predict mode on: every wait asks you first."
            if self.navigator.predict_mode
            else "Predict mode off: only the scenario's own questions are asked.",
            timeout=3,
        )

    # --- knobs (issue 14): a [params] value changed, the lesson re-run on both kernels --------

    @_when_open
    def action_knob(self, direction: int) -> None:
        """Move the first parameter one notch (`Param.neighbour`) and re-run the lesson."""
        params = self.session.scenario.params
        if not params:
            return
        name, param = next(iter(params.items()))
        current = self.session.scenario.values[name]
        value = param.neighbour(current, direction)
        if value == current:
            end = "largest" if direction > 0 else "smallest"
            self.notify(f"{name} is already at its {end} value ({param.describe()}).", timeout=3)
            return
        self.rerun({name: str(value)})

    @_when_open
    def action_knob_form(self) -> None:
        """Ask for ``NAME=VALUE`` pairs (one parameter: just its value), then re-run."""
        scenario = self.session.scenario
        if not scenario.params:
            return
        only = next(iter(scenario.params)) if len(scenario.params) == 1 else None
        ranges = " · ".join(f"{n}: {p.describe()}" for n, p in scenario.params.items())
        current = " ".join(f"{n}={v}" for n, v in scenario.values.items())

        def submit(text: str | None) -> None:
            if text is None or not text.strip():
                return
            given: dict[str, str] = {}
            for word in text.split():
                name, sep, value = word.partition("=")
                if not sep and only is not None:
                    name, value = only, word
                given[name.strip()] = value.strip()
            self.rerun(given)

        self.app.push_screen(
            AskValueScreen(
                f"Knobs ({ranges})",
                value=str(scenario.values[only]) if only else current,
                hint="the lesson re-runs on both kernels · Esc cancels",
            ),
            submit,
        )

    def rerun(self, given: dict[str, str]) -> None:
        """Play this scenario again with the parameters in `given` changed (the others keep
        their values); a value outside its range is refused with the range, and the lesson
        stays as it was."""
        from simulator.scenario import ScenarioError, load_scenario

        path = self.session.path
        if path is None:
            return
        params = {name: str(value) for name, value in self.session.scenario.values.items()}
        params.update(given)
        try:
            load_scenario(path, params)  # check first: a refused value keeps this player
        except ScenarioError as exc:
            lines = exc.report().splitlines()
            message = lines[0].split(": ", 1)[-1] if lines else "refused"
            self.notify(safe_text(message), severity="error", markup=False, timeout=6)
            return
        open_scenario = getattr(self.app, "open_scenario")  # noqa: B009 -- MuxlabApp's
        open_scenario(path, params=params)

    # --- presenter mode (issue 14): for projectors -------------------------------------------

    @_when_open
    def action_presenter(self) -> None:
        """Hide the chrome (header, footer, status line, timeline, trace, fd table), give the
        pictures the room, and set the narration large; `f` again restores the player."""
        self.toggle_class("-presenter")
        presenting = self.has_class("-presenter")
        for chrome in self.query("Header, Footer"):
            chrome.display = not presenting
        if presenting:
            self.notify("Presenter mode: f to leave.", timeout=2)
