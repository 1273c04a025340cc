"""The muxlab app: the lesson menu, and the player of one scenario at a time.

`make_app` builds the app without running it (tests drive it with ``App.run_test``; the CLI
calls ``.run()``). The app owns the saved progress and opens scenarios: a file that does not
load, a recording that does not fit, or a run that cannot start is shown in the app, with the
loader's report, never as a traceback. Quitting (``q`` or Ctrl+C) closes the player's session
first, which ends the live kernel's child process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from simulator.scenario.library import shipped_dir
from tui.commands import MuxlabCommands, binding_commands
from tui.progress import ProgressStore, lesson_key
from tui.screens.ask_value import AskValueScreen
from tui.screens.load_error import LoadErrorScreen
from tui.screens.menu import LessonMenuScreen

if TYPE_CHECKING:
    from simulator.scenario import Recording
    from simulator.scenario.runner import LiveFactory, ModelFactory
    from tui.screens.player import Opener, PlayerScreen
    from tui.session import PlaySession


_DIALOGS = (LoadErrorScreen, AskValueScreen)


def _player_screen() -> type[PlayerScreen] | None:
    """The player's class once a scenario has been opened, else None (no player can exist).

    The player, the session, the scenario models and the runner are imported when the first
    scenario opens (`MuxlabApp.open_scenario`), not when the app starts: the lesson menu
    draws without them."""
    module = sys.modules.get("tui.screens.player")
    player: type[PlayerScreen] | None = getattr(module, "PlayerScreen", None)
    return player


@dataclass
class AppOptions:
    """How the app was asked to start (the CLI's options; tests set more of them)."""

    scenario: Path | None = None  #: play this file at start (else: the lesson menu only)
    live: bool = True  #: run the real kernel beside the model
    replay: Path | None = None  #: replay this recording instead of the live kernel
    recording: Recording | None = None  #: ...or this one (tests)
    record: Path | None = None  #: save the live answers here when the player closes
    animate: bool = True  #: animate micro-steps (off for tests and snapshots)
    predict: bool = False  #: start with predict mode on
    served: bool = False  #: run by `muxlab serve`: `o` opens files inside `open_dir` only
    open_dir: Path | None = None  #: ...this folder (when served and None, `o` is off)
    data_dir: Path | None = None  #: where progress is saved (default: `tui.progress.data_dir`)
    lessons_dir: Path | None = None  #: the lesson catalogue (default: the shipped scenarios)
    model_factory: ModelFactory | None = None  #: default: `runner.default_model_factory`
    live_factory: LiveFactory | None = None  #: default: `runner.default_live_factory`
    sandbox: bool = False  #: open the sandbox at start (`muxlab sandbox`)
    challenge: str | None = None  #: ...with this challenge (a shipped name or a file)
    params: dict[str, str] | None = None  #: the knobs of `scenario` (``--param N=100``)


class MuxlabApp(App[int]):
    """See the module docstring."""

    CSS_PATH = "app.tcss"
    TITLE = "muxlab"
    COMMANDS = App.COMMANDS | {MuxlabCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit-interrupt"),
    ]

    def __init__(self, options: AppOptions) -> None:
        super().__init__()
        self.options = options
        self.progress = ProgressStore(options.data_dir)
        if not options.animate:
            self.animation_level = "none"

    def on_key(self, event: events.Key) -> None:
        """While a value dialog is open, a key that bubbles up to the app goes to the dialog
        (`AskValueScreen.take`). This handler runs before Textual's own (its bindings), and
        the dialog's `prevent_default` keeps those from running for the keys it takes."""
        screen = self.screen
        if isinstance(screen, AskValueScreen):
            screen.take(event)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, then the keys of `screen` (see `tui.commands`)."""
        yield from super().get_system_commands(screen)
        yield from binding_commands(self, screen)

    def get_default_screen(self) -> Screen[Any]:
        """The lesson menu, composed with the app (pushed after it, it would cost the first
        frame a blank screen and a refresh); with a scenario to play, a blank screen, under the
        player (`on_mount`; the menu is made when the player closes, `_close_players`)."""
        if self.options.scenario is None:
            return self._menu()
        return super().get_default_screen()

    def on_mount(self) -> None:
        options = self.options
        if options.scenario is None:
            if options.sandbox:
                self.open_sandbox(options.challenge)
            return
        # The player draws its frame first, then loads the scenario (`PlayerScreen`): one that
        # cannot be played ends in its report over the menu (`on_player_screen_open_failed`).
        from tui.lessons import glance_title

        path = options.scenario
        opener = self._opener(
            path, replay=options.replay, recording=options.recording, params=options.params
        )
        self.push_screen(self._player(opener, path, title=glance_title(path) or path.name))

    def on_ready(self) -> None:
        """The app runs (its first frame is shown): a player waiting to open draws its frame,
        then opens (`PlayerScreen.open_after_frame`)."""
        player = _player_screen()
        screen = self.screen
        if player is not None and isinstance(screen, player) and not screen.opened:
            screen.open_after_frame()

    def on_player_screen_open_failed(self, message: PlayerScreen.OpenFailed) -> None:
        """The scenario the app started with cannot be played: its report, over the menu."""
        if self.screen is message.player:
            self.pop_screen()
        self.push_screen(self._menu())
        self.push_screen(LoadErrorScreen(message.error.title, message.error.report))

    def _menu(self) -> LessonMenuScreen:
        return LessonMenuScreen(self.progress, self.options.lessons_dir)

    # --- opening scenarios ---------------------------------------------------------------

    def open_scenario(
        self,
        path: Path,
        *,
        replay: Path | None = None,
        recording: Recording | None = None,
        params: Mapping[str, str] | None = None,
    ) -> bool:
        """Load `path` (its knobs set by `params`) and play it; on failure show why (in the app)
        and return False."""
        screen = self._player_for(path, replay=replay, recording=recording, params=params)
        if isinstance(screen, LoadErrorScreen):
            self.push_screen(screen)
            return False
        self._close_players()
        self.push_screen(screen)
        return True

    def _player_for(
        self,
        path: Path,
        *,
        replay: Path | None,
        recording: Recording | None,
        params: Mapping[str, str] | None = None,
    ) -> PlayerScreen | LoadErrorScreen:
        """A player of `path`, or the report of why it cannot be played."""
        from tui.screens.player import OpenError

        opener = self._opener(path, replay=replay, recording=recording, params=params)
        try:
            session = opener()
        except OpenError as exc:
            return LoadErrorScreen(exc.title, exc.report)
        return self._player(session, path)

    def _opener(
        self,
        path: Path,
        *,
        replay: Path | None,
        recording: Recording | None,
        params: Mapping[str, str] | None = None,
    ) -> Opener:
        """What loads `path` (its knobs set by `params`) and makes its session (starting the
        live kernel's child in a thread), or raises `OpenError` with the report of why it
        cannot be played. Nothing is imported or read until it is called."""

        def open_session() -> PlaySession:
            from simulator.scenario import (
                Recording,
                RecordingError,
                ScenarioError,
                ScenarioRunError,
                load_scenario,
            )
            from simulator.scenario.runner import default_live_factory, default_model_factory
            from tui.screens.player import OpenError
            from tui.session import PlaySession

            options, given = self.options, recording
            try:
                scenario = load_scenario(path, params)
                if replay is not None:
                    given = Recording.load(replay)
                return PlaySession(
                    scenario,
                    path,
                    live=options.live,
                    recording=given,
                    model_factory=options.model_factory or default_model_factory,
                    live_factory=options.live_factory or default_live_factory,
                    prestart=True,
                )
            except ScenarioError as exc:
                raise OpenError(f"{path} cannot be played", exc.report()) from exc
            except (RecordingError, ScenarioRunError) as exc:
                raise OpenError(f"{path} cannot be played", str(exc)) from exc

        return open_session

    def _player(
        self, session: PlaySession | Opener, path: Path, *, title: str = ""
    ) -> PlayerScreen:
        from tui.screens.player import PlayerScreen

        options = self.options
        key = lesson_key(path, options.lessons_dir or shipped_dir())
        return PlayerScreen(
            session,
            title=title,
            animate=options.animate,
            progress=self.progress,
            lesson_key=key,
            predict_mode=options.predict,
            course_dir=options.lessons_dir,  # where "next lesson" looks (issue 15)
        )

    # --- the sandbox (issue 14) -----------------------------------------------------------

    def open_sandbox(self, challenge: str | None = None) -> bool:
        """Open the sandbox: the player over the lines the learner types, with `challenge`'s
        goal (a shipped challenge's name or a file) if given; a challenge that does not load is
        shown in the app, and False returned."""
        from simulator.scenario.challenge import find_challenge, load_challenge
        from simulator.scenario.loader import ScenarioError
        from simulator.scenario.runner import default_live_factory, default_model_factory
        from tui.sandbox_session import SandboxSession
        from tui.screens.sandbox import SandboxScreen

        options = self.options
        goal = None
        if challenge is not None:
            try:
                path = find_challenge(challenge)
                goal = load_challenge(path)
            except ScenarioError as exc:
                self.push_screen(LoadErrorScreen(f"{challenge} cannot be played", exc.report()))
                return False
            challenge = path.stem
        session = SandboxSession(
            live=options.live,
            model_factory=options.model_factory or default_model_factory,
            live_factory=options.live_factory or default_live_factory,
            prestart=True,
            challenge=goal,
        )
        self._close_players()
        self.push_screen(
            SandboxScreen(
                session,
                animate=options.animate,
                can_save=not options.served,
                progress=self.progress,
                challenge_key=challenge,
            )
        )
        return True

    def on_lesson_menu_screen_challenge_requested(
        self, message: LessonMenuScreen.ChallengeRequested
    ) -> None:
        self.open_sandbox(message.name)

    def action_sandbox(self) -> None:
        """Open the sandbox (closing the scenario being played)."""
        self.open_sandbox()

    def on_lesson_menu_screen_play_requested(self, message: LessonMenuScreen.PlayRequested) -> None:
        self.open_scenario(message.path)

    def _close_players(self) -> None:
        """Pop every player screen (each closes its session as it unmounts), down to the
        lesson menu (made now if the app started with a player)."""
        player = _player_screen()
        closable = _DIALOGS if player is None else (player, *_DIALOGS)
        while isinstance(self.screen, closable):
            screen = self.screen
            if player is not None and isinstance(screen, player):
                self._finish(screen.loaded_session)
            self.pop_screen()
        if not isinstance(self.screen, LessonMenuScreen):  # the app started with a player
            self.push_screen(self._menu())

    def _finish(self, session: PlaySession | None) -> None:
        """Save the recording if asked, then end the live kernel (None: a player still
        opening, with neither)."""
        if session is None:
            return
        record = self.options.record
        from tui.session import Source

        if record is not None and session.source is Source.LIVE and session.frontier:
            try:
                session.recording().save(record)
            except OSError as exc:
                self.notify(
                    f"cannot write the recording {record}: {exc.strerror}",
                    severity="error",
                    markup=False,
                )
        session.close()

    # --- actions -------------------------------------------------------------------------

    def action_open_scenario(self) -> None:
        """Ask for a scenario file and play it. Under `muxlab serve` (`options.served`) anyone
        with the page types here, so only files inside `options.open_dir` can be opened, and
        none without it."""
        options = self.options
        root = options.open_dir.resolve() if options.open_dir is not None else None
        if options.served and root is None:
            self.notify(
                "Opening files is off in the browser: `muxlab serve --open-dir DIR` allows "
                "the scenario files of one folder",
                severity="warning",
                markup=False,
            )
            return

        def open_path(value: str | None) -> None:
            if not value:
                return
            if root is None:
                self.open_scenario(Path(value).expanduser())
                return
            path = (root / value).resolve()  # symbolic links too: where the file really is
            if not path.is_relative_to(root):
                self.notify(
                    f"Only files inside the served folder ({root.name}/) can be opened here",
                    severity="warning",
                    markup=False,
                )
                return
            self.open_scenario(path)

        if root is None:
            placeholder, where = "scenarios/et-stall.toml", "a TOML scenario"
        else:
            placeholder, where = "et-stall.toml", f"a TOML scenario inside {root.name}/"
        self.push_screen(
            AskValueScreen(
                "Open a scenario file",
                placeholder=placeholder,
                hint=f"{where} (see docs/scenario-format.md) · Esc cancels",
            ),
            open_path,
        )

    def action_open_lab(self) -> None:
        """The Lab screen (`tui.screens.lab`): the lab's experiments, plotted as they run."""
        from tui.screens.lab import LabScreen

        self.push_screen(LabScreen())

    def action_lesson_menu(self) -> None:
        """Back to the lesson menu (closing the scenario being played)."""
        self._close_players()

    async def action_quit(self) -> None:
        """Close every session (ending live children), then exit."""
        player = _player_screen()
        for screen in self.screen_stack:
            if player is not None and isinstance(screen, player):
                self._finish(screen.loaded_session)
        self.exit(0)


def make_app(
    scenario: Path | str | None = None,
    *,
    live: bool = True,
    replay: Path | str | None = None,
    recording: Recording | None = None,
    record: Path | str | None = None,
    animate: bool = True,
    predict: bool = False,
    served: bool = False,
    open_dir: Path | str | None = None,
    data_dir: Path | str | None = None,
    lessons_dir: Path | str | None = None,
    model_factory: ModelFactory | None = None,
    live_factory: LiveFactory | None = None,
    sandbox: bool = False,
    challenge: str | None = None,
    params: dict[str, str] | None = None,
) -> MuxlabApp:
    """Build the app without running it: the lesson menu, and `scenario` playing if given."""

    def path(value: Path | str | None) -> Path | None:
        return Path(value) if value is not None else None

    return MuxlabApp(
        AppOptions(
            scenario=path(scenario),
            live=live,
            replay=path(replay),
            recording=recording,
            record=path(record),
            animate=animate,
            predict=predict,
            served=served,
            open_dir=path(open_dir),
            data_dir=path(data_dir),
            lessons_dir=path(lessons_dir),
            model_factory=model_factory,
            live_factory=live_factory,
            sandbox=sandbox,
            challenge=challenge,
            params=params,
        )
    )


__all__ = ["AppOptions", "MuxlabApp", "make_app"]
