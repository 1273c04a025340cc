"""The sandbox: the player, with an input line where each call typed becomes the next step.

Everything a lesson's step does, a typed line does: both kernels answer (the real one in a
worker), the model's micro-steps are animated, the verdict joins the timeline, and ← / Home
rewind (Esc leaves the input line for the player's keys, and comes back to it). Under the
input, the step's answers in the learner's names (``model: [(a, IN)]  real: [(a, IN)]``), or
why a line could not run, with the cursor put at the column at fault. ↑/↓ recall earlier
lines, → takes the greyed completion. ``help`` shows every call; ``save FILE`` writes the
session as a scenario (off in the browser, where anyone with the page types).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from simulator.scenario.callsyntax import LineError
from simulator.scenario.challenge import report, solved
from simulator.scenario.sandbox import Answer, help_text
from tui.commands import PaletteBinding
from tui.progress import ProgressStore
from tui.render.safe import safe_text
from tui.sandbox_session import SandboxSession
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.player import PlayerScreen
from tui.widgets.call_input import CallInput
from tui.widgets.narration import Narration


class SandboxScreen(PlayerScreen):
    """Plays a `SandboxSession` (see the module docstring)."""

    DEFAULT_CSS = """
    SandboxScreen #sandbox-bar {
        height: auto;
    }
    SandboxScreen #sandbox-answer {
        height: auto;
        padding: 0 1;
    }
    SandboxScreen #sandbox-answer.-problem {
        color: $warning;
    }
    SandboxScreen.-tiny #sandbox-bar {
        display: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *PlayerScreen.BINDINGS,
        PaletteBinding(
            "escape",
            "toggle_input",
            "Type/keys",
            title="Type a call / use the player's keys",
            tooltip="move between the input line and the player's keys (Esc)",
            id="sandbox-toggle-input",
        ),
        PaletteBinding(
            "pageup",
            "step_back",
            "Back",
            title="Step back (from the input line)",
            tooltip="rewind one line; no socket is touched (PgUp)",
            show=False,
            id="sandbox-step-back",
        ),
        PaletteBinding(
            "pagedown",
            "step_forward",
            "Forward",
            title="Step forward (from the input line)",
            tooltip="run again the next line already typed (PgDn)",
            show=False,
            id="sandbox-step-forward",
        ),
    ]

    AUTO_FOCUS = "#sandbox-input"

    def __init__(
        self,
        session: SandboxSession,
        *,
        animate: bool = True,
        can_save: bool = True,
        progress: ProgressStore | None = None,
        challenge_key: str | None = None,
    ) -> None:
        super().__init__(session, animate=animate)
        self.sandbox_session = session
        self.can_save = can_save
        self.challenge_progress = progress
        self.challenge_key = challenge_key
        self._announced: int | None = None  #: the score last announced as solved

    def compose(self) -> ComposeResult:
        yield from super().compose()
        with Vertical(id="sandbox-bar"):
            yield Static(id="sandbox-answer", markup=False)
            yield CallInput(self.sandbox_session.sandbox.bound_names, id="sandbox-input")

    # --- showing ---------------------------------------------------------------------------

    def draw(self, *, animate: bool) -> None:
        super().draw(animate=animate)
        session = self.sandbox_session
        record = session.record()
        meta = session.scenario.scenario
        if record is None:
            self.query_one(Narration).markdown = f"## {meta.title}\n\n{meta.summary}"
            self._show("", problem=False)
            return
        self._judge()
        line = session.sandbox.lines[record.index].text
        answer = Answer(line, record=record)
        real = answer.live_text if answer.live_text is not None else "(not run)"
        verdict = record.verdict.value.replace("_", " ")
        self._show(
            f"{line}  →  model: {answer.model_text}   real: {real}   {verdict}", problem=False
        )

    def _judge(self) -> None:
        """With a challenge: announce a solve (once per score) and keep the best score."""
        sandbox = self.sandbox_session.sandbox
        challenge = sandbox.challenge
        if challenge is None:
            return
        judgement = sandbox.judge()
        if not solved(challenge, judgement) or judgement.calls == self._announced:
            return
        self._announced = judgement.calls
        message = report(challenge, judgement)
        if self.challenge_progress is not None and self.challenge_key is not None:
            best = self.challenge_progress.solved(self.challenge_key, judgement.calls)
            message += f" Your best: {best} calls."
        self.notify(message, title="Challenge solved", timeout=8, markup=False)

    def _show(self, text: str, *, problem: bool) -> None:
        answer = self.query_one("#sandbox-answer", Static)
        answer.update(safe_text(text))
        answer.set_class(problem, "-problem")

    # --- typing ------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        box = self.query_one(CallInput)
        line = event.value.strip()
        if not line or line.startswith("#"):
            return
        if self.busy or self.navigator.question is not None:
            self._show("The real kernel is still answering the last line; a moment.", problem=True)
            return
        box.remember(line)
        if box.refused is not None:
            column, character = box.refused
            self._show(f"column {column}: {character} cannot be typed here", problem=True)
            box.cursor_position = column - 1
            return
        word, _, rest = line.partition(" ")
        if line == "help":
            box.value = ""
            self.app.push_screen(LessonTextScreen("Sandbox: the calls", f"```\n{help_text()}\n```"))
            return
        challenge = self.sandbox_session.sandbox.challenge
        if line == "check" and challenge is not None:
            box.value = ""
            judgement = self.sandbox_session.sandbox.judge()
            self._show(report(challenge, judgement), problem=not solved(challenge, judgement))
            return
        if word == "save" and "(" not in line:
            box.value = ""
            self._save(rest.strip())
            return
        try:
            parsed = self.sandbox_session.read(line)
        except LineError as exc:
            self._show(str(exc), problem=True)
            if exc.column is not None:
                box.cursor_position = exc.column - 1
            return
        box.value = ""
        self.go(self.sandbox_session.add(parsed), single=True)

    def _save(self, target: str) -> None:
        if not self.can_save:
            self._show("Saving is off in the browser: the files are the server's.", problem=True)
            return
        if not target:
            self._show("save needs a file name: save FILE.toml", problem=True)
            return
        try:
            message = self.sandbox_session.sandbox.save(Path(target).expanduser())
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._show(f"cannot save: {reason}", problem=True)
            return
        self._show(f"{message} (check it with: muxlab check {target})", problem=False)

    def action_toggle_input(self) -> None:
        """Move between the input line and the player's keys."""
        box = self.query_one(CallInput)
        if box.has_focus:
            self.set_focus(None)
        else:
            box.focus()
