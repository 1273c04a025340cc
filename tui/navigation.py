"""Where the player is going: the step queue, seeking, jumping, autoplay and the predict flow.

`Navigator` is the player's state machine, without Textual: it decides, and the screen that
shows it (a `Stage`) carries out -- draws a position, runs a live call in a worker, opens the
predict dialog, starts the pause between two played steps. It is driven by plain method calls
(`go`, `step_forward`, `toggle_play`, `answer`, ...), so its rules are tested without a pilot.

The rules:

- Moving runs on the caller's thread when only the model runs (replayed, recorded or model-only
  steps: fast and deterministic), and through `Stage.seek_in_background` when the live kernel
  must answer (a real call may block). Until `background_done`, the navigator is *busy*: a jump
  asked for meanwhile replaces what was queued, single steps are counted, and both are carried
  out, in order, when the live call is done.
- A single step forward (`single`) is animated and may ask a question: a step with ``ask``, or
  any wait in predict mode, that has not been answered yet. The step has run, but the old frame
  stays on screen and its verdict stays hidden (`verdicts_shown`) until `answer`.
- Playing advances one single step after each pause the stage schedules (`schedule_next`,
  then `play_next`), waits for the animation to end (`animation_done`), and stops at a
  question, at an error, on any jump, and at the end.
"""

from __future__ import annotations

from typing import Protocol

from simulator.scenario import Verdict
from simulator.uapi import event_names
from tui.frame import shown_interest
from tui.predict import Question, previous_result, question_for
from tui.session import PlaySession, Prediction, StepWatch


class Stage(Protocol):
    """What the navigator asks of the screen that shows it."""

    @property
    def animating(self) -> bool:
        """Whether a step's micro-steps are being animated."""
        ...

    def step_recorder(self) -> StepWatch | None:
        """A watch that captures the micro-steps of the single step about to run (or None when
        steps are not animated); the next `draw` animates them."""
        ...

    def draw(self, *, animate: bool) -> None:
        """Show the session's position (animating the step just run if `animate`)."""
        ...

    def end_animation(self) -> None:
        """End the animation now, on the exact final state."""
        ...

    def seek_in_background(self, target: int, watch: StepWatch | None) -> None:
        """Run ``session.seek(target, watch=watch)`` off the UI thread, then call
        `Navigator.background_done` on it with the exception raised, or None."""
        ...

    def ask(self, question: Question) -> None:
        """Open the predict dialog; its pick (or None) goes to `Navigator.answer`."""
        ...

    def report_failure(self, error: Exception) -> None:
        """Say that the run could not go on (the model's state stays as it is)."""
        ...

    def schedule_next(self) -> None:
        """After the pause between played steps, call `Navigator.play_next`."""
        ...

    def cancel_next(self) -> None:
        """Forget a scheduled `play_next`."""
        ...

    def tell(self, message: str, seconds: float) -> None:
        """A short notice for the user."""
        ...

    def state_changed(self) -> None:
        """Playing, predict mode, busy or the open question changed (the status line shows them)."""
        ...


def registrations(session: PlaySession) -> list[tuple[str, list[str]]]:
    """The shown epoll's registrations (name, events), for made-up predict choices."""
    names = session.names
    return [(names.name(fd), event_names(events)) for fd, events in shown_interest(session)]


class Navigator:
    """Moves a `PlaySession` for a `Stage` (see the module docstring)."""

    def __init__(self, session: PlaySession, stage: Stage, *, predict_mode: bool = False) -> None:
        self.session = session
        self.stage = stage
        self.predict_mode = predict_mode
        """Whether every wait (epoll_wait, poll, select, kevent) asks for a prediction."""
        self.waiting = ""
        """What a background seek waits for ("" when none runs)."""
        self.question: Question | None = None
        """The question open now (the step has run; its verdict is hidden until the answer)."""
        self._playing = False
        self._heading = 0  # where the background seek is taking the session
        self._heading_single = False  # ... and whether it is a single step forward
        self._pending_jump: int | None = None  # asked for while busy
        self._queued_steps = 0  # single steps asked for while busy

    # --- state ---------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a background seek (a live call) is running."""
        return bool(self.waiting)

    @property
    def playing(self) -> bool:
        """Whether steps advance by themselves."""
        return self._playing

    @playing.setter
    def playing(self, playing: bool) -> None:
        if playing == self._playing:
            return
        self._playing = playing
        if not playing:
            self.stage.cancel_next()
        self.stage.state_changed()

    def base(self) -> int:
        """The position once the moves asked for so far are done."""
        if self._pending_jump is not None:
            return self._pending_jump
        if self.busy:
            return self._heading + self._queued_steps
        return self.session.position

    def verdicts_shown(self) -> tuple[dict[Verdict, int], tuple[Verdict, ...]]:
        """The verdict counts up to the position, and the verdicts of every step run, without
        the verdict of the step whose question is open."""
        session = self.session
        counts = session.counts()
        verdicts = tuple(record.verdict for record in session.records)
        pending = self.question.index if self.question is not None else None
        if pending is not None and pending < len(verdicts):
            counts[verdicts[pending]] -= 1
            verdicts = verdicts[:pending]
        return counts, verdicts

    # --- moving --------------------------------------------------------------------------

    def go(self, target: int, *, single: bool = False) -> None:
        """Move to `target` steps; `single` marks one step forward (animated, may ask)."""
        self.stage.end_animation()
        if self.question is not None:
            return
        if self.busy:
            if single:
                self._queued_steps += 1
            else:
                self._pending_jump, self._queued_steps = target, 0
            return
        session = self.session
        target = max(0, min(target, session.total))
        watch = self.stage.step_recorder() if single else None
        if session.needs_live(target):
            self._heading, self._heading_single = target, single
            self.waiting = f"waiting for the live kernel (step {target})"
            self.stage.state_changed()
            self.stage.seek_in_background(target, watch)
            return
        try:
            session.seek(target, watch=watch)
        except Exception as exc:
            self._failed(exc)
            return
        self._arrived(single)

    def background_done(self, error: Exception | None) -> None:
        """The background seek ended (`error`: what it raised); carry out what was asked
        meanwhile."""
        self.waiting = ""
        self.stage.state_changed()
        if error is not None:
            self._failed(error)
        else:
            self._arrived(self._heading_single)
        jump, self._pending_jump = self._pending_jump, None
        queued, self._queued_steps = self._queued_steps, 0
        if jump is not None:
            self.go(jump)
            return
        while queued and not self.busy and self.question is None:
            queued -= 1
            self.go(self.session.position + 1, single=True)
        if self.busy:
            self._queued_steps += queued

    def _failed(self, error: Exception) -> None:
        self.playing = False
        self.stage.report_failure(error)
        self._draw(animate=False)

    def _arrived(self, single: bool) -> None:
        session = self.session
        record = session.record()
        if single and record is not None and record.index not in session.predictions:
            question = question_for(
                record,
                predict_mode=self.predict_mode,
                interest=registrations(session),
                previous=previous_result(session.records, record),
            )
            if question is not None:
                self._ask(question)
                return
        self._draw(animate=single)

    def _draw(self, *, animate: bool) -> None:
        self.stage.draw(animate=animate)
        if self.playing and not self.stage.animating:
            self.stage.schedule_next()

    # --- the predict flow ----------------------------------------------------------------

    def _ask(self, question: Question) -> None:
        self.playing = False
        self.question = question
        self.stage.state_changed()
        self.stage.ask(question)

    def answer(self, choice: int | None) -> None:
        """The user picked `choice` (None: skipped) for the open question: reveal the step."""
        question = self.question
        if question is None:
            return
        self.question = None
        self.session.predict(Prediction(question.index, choice, question.answer, question.choices))
        self._draw(animate=True)

    def toggle_predict(self) -> None:
        """Predict mode on or off (it decides the questions of the steps still to run)."""
        self.predict_mode = not self.predict_mode
        self.stage.state_changed()

    # --- commands ------------------------------------------------------------------------

    def step_forward(self) -> None:
        """Run (or replay) the next step, animated."""
        if self.base() < self.session.total:
            self.go(self.session.position + 1, single=True)
        else:
            self.stage.tell("This is the last step.", 2)

    def step_back(self) -> None:
        """Go back one step: the model re-runs from a checkpoint; no socket is touched."""
        self.playing = False
        self.go(self.base() - 1)

    def jump_to(self, step: int) -> None:
        """Go to `step` (0 is the start, before the first step); playing stops."""
        self.playing = False
        self.go(step)

    # --- playback ------------------------------------------------------------------------

    def toggle_play(self) -> None:
        """Play or pause; from the end, play starts over."""
        if self.playing:
            self.playing = False
            return
        if self.session.position >= self.session.total:
            self.go(0)
        self.playing = True
        if not self.stage.animating and not self.busy:
            self.stage.schedule_next()

    def play_next(self) -> None:
        """The pause between played steps is over: the next step, or the end."""
        if not self.playing or self.busy or self.stage.animating or self.question is not None:
            return
        if self.session.position >= self.session.total:
            self.playing = False
            self.stage.tell("The end of the scenario.", 3)
            return
        self.go(self.session.position + 1, single=True)

    def animation_done(self) -> None:
        """The step's animation ended: playing goes on after the pause."""
        if self.playing:
            self.stage.schedule_next()


__all__ = ["Navigator", "Stage", "registrations"]
