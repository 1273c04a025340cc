"""The sandbox in the app, driven by keys through ``App.run_test``: lines typed run on the
model and the real kernel as a lesson's steps do (animated, rewound), with history,
completion, column-precise messages and ``save``; opened from the menu too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from tests.tui_support import screen_text, until
from tui.app import MuxlabApp, make_app
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.menu import LessonMenuScreen
from tui.screens.predict import PredictScreen
from tui.screens.sandbox import SandboxScreen
from tui.session import Source
from tui.widgets.call_input import CallInput

SIZE = (140, 44)
FIVE = [
    "a, b = socketpair()",
    "ep = epoll_create()",
    "epoll_ctl(ep, ADD, a, IN | ET)",
    "send(b, 5)",
    "epoll_wait(ep, 8, 0)",
]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Progress goes to a temporary folder, never the user's."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(folder))
    return folder


def sandbox(app: MuxlabApp) -> SandboxScreen:
    screen = app.screen
    assert isinstance(screen, SandboxScreen), screen
    return screen


def answer_text(screen: SandboxScreen) -> str:
    return str(screen.query_one("#sandbox-answer", Static).render())


async def type_line(pilot: object, screen: SandboxScreen, line: str) -> None:
    """Put `line` in the input (`test_history_and_completion` types key by key), press Enter,
    and wait until its step has run."""
    before = screen.sandbox_session.position
    screen.query_one(CallInput).value = line
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(
        pilot,
        lambda: (
            not screen.busy
            and screen.sandbox_session.position == before + 1
            and screen.frame is not None
            and screen.frame.position == before + 1
        ),
    )


async def test_the_five_lines_run_on_both_kernels(tmp_path: Path) -> None:
    app = make_app(sandbox=True, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        assert screen.session.source is Source.LIVE
        assert isinstance(app.focused, CallInput)
        for line in FIVE:
            await type_line(pilot, screen, line)
        records = screen.session.records
        assert [r.verdict.value for r in records] == ["agree"] * 5
        assert records[-1].live is not None and records[-1].live.result == [["a", ["IN"]]]
        assert answer_text(screen) == (
            "epoll_wait(ep, 8, 0)  →  model: [(a, IN)]   real: [(a, IN)]   agree"
        )
        text = screen_text(app)
        assert "step 5/5" in text and "interest tree of ep" in text
        assert screen.query_one(CallInput).value == ""


async def test_a_typed_line_is_animated_like_a_lessons_step() -> None:
    app = make_app(sandbox=True, live=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        # The slowest speed: on a loaded machine the animation must not end before the keys
        # below reach it (the test is about what they do to a running animation).
        screen.speed_index = 0
        await type_line(pilot, screen, "a, b = socketpair()")
        await type_line(pilot, screen, "ep = epoll_create()")
        screen.query_one(CallInput).value = "epoll_ctl(ep, ADD, a, IN)"
        await pilot.press("enter")
        await until(pilot, lambda: screen.animation.running)
        assert screen.frame is not None and screen.frame.micro  # the model's own micro-steps
        await pilot.press("pagedown")  # at the last line: nothing to run, the animation goes on
        assert screen.animation.running
        screen.action_skip_animation()
        assert not screen.animation.running
        assert screen.session.records[-1].verdict.value == "model_only"


async def test_a_bad_line_points_at_its_column_and_the_session_goes_on() -> None:
    app = make_app(sandbox=True, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        await type_line(pilot, screen, "a, b = socketpair()")
        await pilot.press(*"send(c, 5)", "enter")
        answer = screen.query_one("#sandbox-answer", Static)
        assert answer_text(screen) == "column 6: unknown descriptor name c; bound so far: a, b"
        assert answer.has_class("-problem")
        box = screen.query_one(CallInput)
        assert box.value == "send(c, 5)" and box.cursor_position == 5
        assert screen.session.position == 1
        box.value = ""
        await type_line(pilot, screen, "send(b, 5)")
        assert answer_text(screen) == "send(b, 5)  →  model: 5   real: (not run)   model only"
        assert not answer.has_class("-problem")


async def test_control_characters_never_reach_the_screen() -> None:
    app = make_app(sandbox=True, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        box = screen.query_one(CallInput)
        box.value = "socketpair()\x1b]0;pwned\x07"
        await pilot.press("enter")
        assert answer_text(screen) == "column 13: an escape (U+001B) cannot be typed here"
        assert "\x1b" not in app.export_screenshot()
        assert screen.session.position == 0


async def test_history_and_completion() -> None:
    app = make_app(sandbox=True, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        await pilot.press(*"a, b = socketp")
        await until(pilot, lambda: screen.query_one(CallInput)._suggestion != "")
        await pilot.press("right", "(", ")", "enter")
        await until(pilot, lambda: screen.session.position == 1)
        assert screen.sandbox_session.sandbox.lines[0].text == "a, b = socketpair()"
        await pilot.press(*"send(", "b")  # a bound name completes too: here nothing longer
        box = screen.query_one(CallInput)
        await pilot.press(*", 5)", "enter")
        await until(pilot, lambda: screen.session.position == 2)
        await pilot.press(*"epoll_wa")
        await pilot.press("up")
        assert box.value == "send(b, 5)"
        await pilot.press("up")
        assert box.value == "a, b = socketpair()"
        await pilot.press("down", "down")
        assert box.value == "epoll_wa"  # the line being typed comes back


async def test_rewind_then_a_new_line_branches(tmp_path: Path) -> None:
    app = make_app(sandbox=True, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        for line in FIVE:
            await type_line(pilot, screen, line)
        await pilot.press("escape", "left", "left")  # the player's keys: back two lines
        await until(pilot, lambda: screen.session.position == 3)
        assert "step 3/5" in screen_text(app)
        await pilot.press("escape")
        await type_line(pilot, screen, "epoll_wait(ep, 8, 0)")
        # The new branch has no send: nothing is ready, on a fresh real kernel too.
        assert answer_text(screen) == "epoll_wait(ep, 8, 0)  →  model: []   real: []   agree"
        assert screen.session.total == 4
        assert [r.verdict.value for r in screen.session.records] == ["agree"] * 4


async def test_help_and_save_then_muxlab_check(tmp_path: Path) -> None:
    app = make_app(sandbox=True, animate=False)
    out = tmp_path / "mine.toml"
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        await pilot.press(*"help", "enter")
        assert isinstance(app.screen, LessonTextScreen)
        await pilot.press("escape")
        for line in FIVE:
            await type_line(pilot, screen, line)
        screen.query_one(CallInput).value = f"save {out}"
        await pilot.press("enter")
        assert answer_text(screen).startswith(f"saved 5 steps to {out}")
    muxlab = Path(sys.executable).parent / "muxlab"
    done = subprocess.run([muxlab, "check", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 steps: 5 agree" in done.stdout


async def test_save_is_off_in_the_browser(tmp_path: Path) -> None:
    app = make_app(sandbox=True, live=False, animate=False, served=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        await type_line(pilot, screen, "a, b = socketpair()")
        screen.query_one(CallInput).value = f"save {tmp_path / 'x.toml'}"
        await pilot.press("enter")
        assert answer_text(screen).startswith("Saving is off in the browser")
        assert not (tmp_path / "x.toml").exists()


async def test_the_menu_opens_the_sandbox() -> None:
    app = make_app(live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LessonMenuScreen)
        await pilot.press("x")
        screen = sandbox(app)
        await type_line(pilot, screen, "a, b = socketpair()")
        await pilot.press("escape", "m")  # the player's key back to the menu
        assert isinstance(app.screen, LessonMenuScreen)


async def test_a_challenge_from_the_menu_is_solved_and_remembered() -> None:
    app = make_app(animate=False)
    async with app.run_test(size=SIZE) as pilot:
        options = app.screen.query_one("#lessons", OptionList)
        options.highlighted = options.get_option_index("challenge:twice")
        await pilot.press("enter")
        screen = sandbox(app)
        assert "Challenge: Twice from one send" in screen_text(app)
        await type_line(pilot, screen, "a, b = socketpair()")
        await pilot.press(*"check", "enter")
        assert answer_text(screen).startswith("Not yet: exactly 1 successful send (you have 0)")
        assert "Hint: An edge-triggered item" in answer_text(screen)
        for line in ["ep = epoll_create()", "epoll_ctl(ep, ADD, a, IN)", "send(b, 5)"]:
            await type_line(pilot, screen, line)
        for _ in range(2):
            await type_line(pilot, screen, "epoll_wait(ep, 8, 0)")
        assert app.progress.challenges == {"twice": 6}
        await pilot.press(*"check", "enter")
        assert answer_text(screen) == (
            "Solved in 6 calls (par 6), judged on the real kernel's answers."
        )
        await pilot.press("escape", "m")
        assert isinstance(app.screen, LessonMenuScreen)
        assert "✓ challenge: Twice from one send  [best: 6 calls]" in screen_text(app)


async def test_predict_mode_asks_before_a_typed_wait_answers() -> None:
    app = make_app(sandbox=True, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = sandbox(app)
        for line in FIVE[:4]:
            await type_line(pilot, screen, line)
        await pilot.press("escape", "p", "escape")  # predict mode on, back to the input
        assert screen.navigator.predict_mode
        screen.query_one(CallInput).value = FIVE[4]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PredictScreen))
        # The wait has run, but its answer stays hidden until the prediction.
        assert answer_text(screen).startswith("send(b, 5)  →")
        question = screen.navigator.question
        assert question is not None and question.answer is not None
        await pilot.press(str(question.answer + 1))
        await until(pilot, lambda: screen.frame is not None and screen.frame.position == 5)
        assert answer_text(screen).startswith("epoll_wait(ep, 8, 0)  →  model: [(a, IN)]")
        assert screen.session.score() == (1, 1)
