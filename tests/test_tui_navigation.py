"""The player's state machine and its animation, without Textual: plain calls on a real
`PlaySession` (the model, or the model beside a real live kernel), and a stage that records
what the navigator asked the screen to do."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.scenario import Verdict, load_scenario
from tui.animation import Animation
from tui.navigation import Navigator
from tui.predict import Question
from tui.session import PlaySession, StepWatch

SCENARIO = """\
[scenario]
title = "One socket, one epoll"
summary = "The navigator's tests."
mechanism = "epoll"

[[step]]
do = "socketpair"
as = ["a", "a_peer"]

[[step]]
do = "epoll_create"
as = "ep"

[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }

[[step]]
do = "send"
args = { fd = "a_peer", nbytes = 5 }

[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 8, timeout_ms = 0 }
ask = "What is reported?"
choices = [[], [["a", ["IN"]]]]

[[step]]
do = "recv"
args = { fd = "a", nbytes = 5 }

[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 8, timeout_ms = 0 }
"""
QUESTION_STEP = 5  # the step with `ask`
TOTAL = 7


class RecordingStage:
    """A `Stage` that keeps what it was asked to do; `animates` makes every animated draw
    start an animation that runs until `end_animation`; background seeks wait for
    `finish_background`."""

    def __init__(self, *, animates: bool = False) -> None:
        self.navigator: Navigator | None = None
        self.animates = animates
        self.animating = False
        self.draws: list[tuple[int, bool]] = []  # (position, animate)
        self.questions: list[Question] = []
        self.failures: list[Exception] = []
        self.told: list[str] = []
        self.scheduled = False
        self.background: list[tuple[int, StepWatch | None]] = []
        self.changes = 0

    @property
    def nav(self) -> Navigator:
        assert self.navigator is not None
        return self.navigator

    def step_recorder(self) -> StepWatch | None:
        return None

    def draw(self, *, animate: bool) -> None:
        self.draws.append((self.nav.session.position, animate))
        self.animating = animate and self.animates

    def end_animation(self) -> None:
        self.animating = False

    def seek_in_background(self, target: int, watch: StepWatch | None) -> None:
        self.background.append((target, watch))

    def finish_background(self) -> None:
        """What the worker does: the seek, then the report, on this thread."""
        target, watch = self.background.pop(0)
        self.nav.session.seek(target, watch=watch)
        self.nav.background_done(None)

    def ask(self, question: Question) -> None:
        self.questions.append(question)

    def report_failure(self, error: Exception) -> None:
        self.failures.append(error)

    def schedule_next(self) -> None:
        self.scheduled = True

    def cancel_next(self) -> None:
        self.scheduled = False

    def tell(self, message: str, seconds: float) -> None:
        self.told.append(message)

    def state_changed(self) -> None:
        self.changes += 1

    def fire_next(self) -> None:
        """The pause between played steps is over."""
        assert self.scheduled
        self.scheduled = False
        self.nav.play_next()


def navigator(
    path: Path, *, live: bool = False, animates: bool = False, predict_mode: bool = False
) -> tuple[Navigator, RecordingStage]:
    session = PlaySession(load_scenario(path), path, live=live)
    stage = RecordingStage(animates=animates)
    stage.navigator = Navigator(session, stage, predict_mode=predict_mode)
    return stage.navigator, stage


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "nav.toml"
    file.write_text(SCENARIO)
    return file


def test_single_steps_are_animated_and_jumps_are_not(path: Path) -> None:
    nav, stage = navigator(path)
    nav.step_forward()
    nav.step_forward()
    assert nav.session.position == 2
    assert stage.draws == [(1, True), (2, True)]
    nav.step_back()
    nav.jump_to(4)
    assert stage.draws[2:] == [(1, False), (4, False)]
    nav.jump_to(99)  # clamped to the end (jumping over a question does not ask)
    assert nav.session.position == TOTAL and not stage.questions
    nav.step_forward()
    assert stage.told == ["This is the last step."]
    nav.step_back()
    assert nav.session.position == TOTAL - 1
    nav.jump_to(-3)
    assert nav.session.position == 0
    nav.session.close()


def test_a_question_hides_its_verdict_until_the_answer(path: Path) -> None:
    nav, stage = navigator(path)
    for _ in range(QUESTION_STEP):
        nav.step_forward()
    assert nav.session.position == QUESTION_STEP  # the step ran...
    assert stage.draws[-1] == (QUESTION_STEP - 1, True)  # ... but is not drawn yet
    (question,) = stage.questions
    assert question.index == QUESTION_STEP - 1 and question.written
    counts, verdicts = nav.verdicts_shown()
    assert len(verdicts) == QUESTION_STEP - 1
    assert counts[Verdict.MODEL_ONLY] == QUESTION_STEP - 1
    nav.step_forward()  # nothing moves while the question is open
    nav.jump_to(0)
    assert nav.session.position == QUESTION_STEP
    nav.answer(1)
    assert stage.draws[-1] == (QUESTION_STEP, True)
    assert nav.question is None
    assert nav.session.predictions[QUESTION_STEP - 1].right
    counts, verdicts = nav.verdicts_shown()
    assert len(verdicts) == QUESTION_STEP and counts[Verdict.MODEL_ONLY] == QUESTION_STEP
    nav.step_back()
    nav.step_forward()  # answered once: not asked again
    assert len(stage.questions) == 1
    nav.session.close()


def test_predict_mode_asks_at_every_wait(path: Path) -> None:
    nav, stage = navigator(path)
    nav.toggle_predict()
    assert nav.predict_mode and stage.changes
    nav.jump_to(QUESTION_STEP)  # over the written question: not asked
    nav.step_forward()  # recv: no question
    assert not stage.questions
    nav.step_forward()  # a wait without `ask`: predict mode makes one up
    (question,) = stage.questions
    assert not question.written and question.answer is not None
    assert question.choices[question.answer] == "[]"
    nav.answer(None)  # skipped
    assert nav.session.score() == (0, 0) and TOTAL - 1 in nav.session.predictions
    nav.session.close()


def test_playing_advances_after_each_pause_and_stops_by_itself(path: Path) -> None:
    nav, stage = navigator(path, animates=True)
    nav.toggle_play()
    assert nav.playing and stage.scheduled
    stage.fire_next()
    assert nav.session.position == 1 and stage.animating
    assert not stage.scheduled  # the pause starts when the animation ends
    nav.play_next()  # a stray timer while the animation runs does nothing
    assert nav.session.position == 1
    stage.end_animation()
    nav.animation_done()
    assert stage.scheduled
    while not stage.questions:
        stage.fire_next()
        stage.end_animation()
        nav.animation_done()
    assert not nav.playing and not stage.scheduled  # a question stops playing
    nav.answer(1)  # the answered step is animated...
    nav.toggle_play()
    assert nav.playing and not stage.scheduled  # ... and playing waits for its end
    stage.end_animation()
    nav.animation_done()
    while nav.playing:
        stage.fire_next()
        stage.end_animation()
        nav.animation_done()
        assert len(stage.questions) == 1  # predict mode is off: no more questions
    assert nav.session.position == TOTAL
    assert stage.told == ["The end of the scenario."]
    nav.toggle_play()  # from the end, play starts over
    assert nav.playing and nav.session.position == 0
    nav.step_back()  # any jump stops playing
    assert not nav.playing and not stage.scheduled
    nav.session.close()


def test_a_failure_stops_playing_and_is_reported(path: Path) -> None:
    nav, stage = navigator(path)
    nav.toggle_play()

    def broken(target: int, on_step: object = None, watch: object = None) -> None:
        raise RuntimeError("the model broke")

    nav.session.seek = broken  # type: ignore[method-assign]
    stage.fire_next()
    assert [str(e) for e in stage.failures] == ["the model broke"]
    assert not nav.playing and not stage.scheduled
    assert stage.draws[-1] == (0, False)  # the position as it is, drawn at rest


@pytest.mark.skipif(sys.platform != "linux", reason="the live kernel is Linux's")
def test_moves_asked_during_a_live_call_are_carried_out_in_order(path: Path) -> None:
    nav, stage = navigator(path, live=True)
    try:
        nav.step_forward()
        assert nav.busy and stage.background == [(1, None)]
        assert nav.waiting == "waiting for the live kernel (step 1)"
        nav.step_forward()
        nav.step_forward()
        assert nav.base() == 3  # where the queued moves lead
        assert nav.session.position == 0  # nothing ran on this thread
        stage.finish_background()  # step 1 is done: the next queued step starts
        assert nav.session.position == 1 and nav.busy and stage.background == [(2, None)]
        stage.finish_background()
        stage.finish_background()
        assert nav.session.position == 3 and not nav.busy and not stage.background
        assert [animate for _, animate in stage.draws[-3:]] == [True, True, True]
        # A jump asked for while busy replaces the single steps queued before it.
        nav.step_forward()
        nav.step_forward()
        nav.jump_to(2)
        assert nav.base() == 2
        stage.finish_background()
        assert nav.session.position == 2 and not nav.busy
        record = nav.session.record()
        assert record is not None and record.verdict is Verdict.AGREE
    finally:
        nav.session.close()


class ManualTimer:
    def __init__(self, seconds: float, callback: Callable[[], None]) -> None:
        self.seconds = seconds
        self.callback = callback
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_the_animation_walks_the_micro_steps_and_ends_on_the_final_state() -> None:
    timers: list[ManualTimer] = []
    shown: list[int | None] = []
    done: list[bool] = []

    def set_interval(seconds: float, callback: Callable[[], None]) -> ManualTimer:
        timers.append(ManualTimer(seconds, callback))
        return timers[-1]

    animation = Animation(set_interval, shown.append, lambda: done.append(True))
    animation.start({7: None, 2: None, 4: None}, 0.5)  # captured micro-steps, in any order
    assert animation.running and shown == [2] and timers[-1].seconds == 0.5
    timers[-1].callback()
    assert shown == [2, 4] and animation.micro == 4
    animation.retime(0.25)
    assert timers[0].stopped and timers[-1].seconds == 0.25
    timers[-1].callback()
    timers[-1].callback()  # after the last micro-step: the final state, and done
    assert shown == [2, 4, 7, None] and done == [True] and not animation.running
    assert timers[-1].stopped
    animation.start([1, 2], 0.5)
    animation.stop()  # cut short (a new move): the final state, not "done"
    assert shown[-2:] == [1, None] and done == [True]
    animation.finish()  # nothing runs: nothing happens
    assert done == [True]
    animation.start([3], 0.5)
    animation.finish()  # skipped: the final state, and done
    assert shown[-2:] == [3, None] and done == [True, True]
