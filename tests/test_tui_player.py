"""The player, driven by keys through ``App.run_test``: every control, predict mode, rewind,
the compact and too-small layouts, and load errors shown in the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.command import CommandList
from textual.css.query import NoMatches
from textual.screen import Screen

from simulator.scenario import Runner, Verdict, load_scenario
from simulator.scenario.calls import show_value
from tests.tui_support import (
    EPOLL_SCENARIO,
    POLL_SCENARIO,
    model_recording,
    picture_text,
    screen_text,
    until,
    write,
)
from tui.app import MuxlabApp, make_app
from tui.frame import Frame
from tui.predict import previous_result, question_for
from tui.render.poll_sets import SelectBitmaps
from tui.screens.ask_value import AskValueScreen
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.load_error import LoadErrorScreen
from tui.screens.menu import LessonMenuScreen
from tui.screens.player import SPEEDS, PlayerScreen
from tui.screens.predict import PredictScreen
from tui.widgets.interest_tree import InterestTree
from tui.widgets.timeline import Timeline

SIZE = (140, 44)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Progress goes to a temporary folder, never the user's."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def epoll_file(tmp_path: Path) -> Path:
    return write(tmp_path, "epoll.toml", EPOLL_SCENARIO)


def showing(app: MuxlabApp, screen: Screen[Any]) -> bool:
    """Whether `screen` is on top (a function: mypy narrows `app.screen` after an isinstance
    check and would call a later identity check impossible)."""
    return app.screen is screen


def player(app: MuxlabApp) -> PlayerScreen:
    screen = app.screen
    assert isinstance(screen, PlayerScreen), screen
    return screen


async def opened(pilot: Any, app: MuxlabApp) -> PlayerScreen:
    """The player, once open (`muxlab play FILE` loads its scenario after the first frame)."""
    screen = player(app)
    await until(pilot, lambda: screen.opened)
    return screen


def palette_offers(app: MuxlabApp, text: str) -> bool:
    """Whether the open command palette lists a command containing `text` (first)."""
    try:
        commands = app.screen.query_one(CommandList)
    except NoMatches:
        return False
    return commands.option_count > 0 and text in str(commands.get_option_at_index(0).prompt)


def palette_lists(app: MuxlabApp) -> list[str]:
    """Every command the open command palette lists."""
    try:
        commands = app.screen.query_one(CommandList)
    except NoMatches:
        return []
    prompts = (str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count))
    return [prompt.splitlines()[0] for prompt in prompts]


def right_panel(screen: PlayerScreen) -> str:
    """The real kernel's panel as text, unwrapped."""
    assert screen.frame is not None
    return picture_text(screen.frame.live)


def frame_state(frame: Frame | None) -> tuple[object, ...]:
    """What a frame shows, as comparable values (pictures are frozen dataclasses)."""
    assert frame is not None
    shape = frame.shape
    return (
        frame.position,
        frame.record.index if frame.record else None,
        None if shape is None else (shape.root, sorted(shape.nodes.items())),
        frame.chain,
        frame.queues,
        frame.nic,
        frame.calls,
        frame.cost,
        frame.clock_ns,
        dict(frame.names.fds),
    )


async def test_step_forward_and_back(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        assert screen.session.position == 0
        await pilot.press("right", "right", "l")
        assert screen.session.position == 3
        assert "step 3/10" in screen_text(app)
        await pilot.press("left")
        assert screen.session.position == 2
        await pilot.press("h")
        assert screen.session.position == 1


async def test_rewind_shows_the_state_of_a_fresh_run(epoll_file: Path) -> None:
    """After going forward and back, every picture equals a fresh run's at that step."""
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end")
        await pilot.press(*["left"] * 5)
        rewound = player(app)
        assert rewound.session.position == 5
        rewound_state = frame_state(rewound.frame)
        rewound_text = screen_text(app)
    fresh_app = make_app(epoll_file, live=False, animate=False)
    async with fresh_app.run_test(size=SIZE) as pilot:
        await pilot.press(*["right"] * 5)
        fresh = player(fresh_app)
        assert frame_state(fresh.frame) == rewound_state
        # The screen differs only in the timeline (the rewound run has seen the later steps).
        assert _without_timeline(screen_text(fresh_app)) == _without_timeline(rewound_text)


def _without_timeline(text: str) -> str:
    # Also without the runner's note on model-only steps, which it words differently on a
    # replay ("the live kernel did not run this step") than on the first run ("no live kernel").
    skip = ("▇", "▲", "no live kernel", "the live kernel did not run")
    return "\n".join(line for line in text.splitlines() if not any(mark in line for mark in skip))


async def test_jump_start_end_and_to_step(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("end")
        assert screen.session.position == 10
        await pilot.press("home")
        assert screen.session.position == 0
        await pilot.press("j")
        assert isinstance(app.screen, AskValueScreen)
        await pilot.press("7", "enter")
        await pilot.pause()
        assert showing(app, screen)
        assert screen.session.position == 7
        await pilot.press("j", "9", "9", "enter")  # out of range: refused, dialog stays
        assert isinstance(app.screen, AskValueScreen)
        await pilot.press("escape")
        assert screen.session.position == 7


async def test_jumping_over_a_question_does_not_ask(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end")
        assert not isinstance(app.screen, PredictScreen)
        assert player(app).session.predictions == {}


async def test_a_question_is_asked_and_judged_by_the_real_result(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press(*["right"] * 8)
        assert isinstance(app.screen, PredictScreen)
        question = app.screen.question
        assert question.choices == ("[a IN, b IN]", "[b IN, a IN]")
        assert question.answer == 1
        # The step has run, but the old frame stays on screen until the answer.
        assert screen.session.position == 8
        assert screen.frame is not None and screen.frame.position == 7
        await pilot.press("1")  # wrong: the ready list reports b first
        await pilot.pause()
        assert showing(app, screen)
        assert screen.frame is not None and screen.frame.position == 8
        assert screen.session.score() == (0, 1)
        assert "You picked [a IN, b IN]; the model (no live kernel here) answered [b IN, a IN]" in (
            right_panel(screen)
        )


async def test_predict_mode_asks_at_every_wait(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("p")
        assert screen.predict_mode
        await pilot.press(*["right"] * 8)
        await pilot.press("2")  # the scenario's own question: right
        await pilot.press("right", "right")  # recv, then a wait with no `ask`
        assert isinstance(app.screen, PredictScreen)
        question = app.screen.question
        assert not question.written
        assert question.answer is not None
        assert question.choices[question.answer] == "[b IN]"
        assert len(set(question.choices)) == len(question.choices) >= 3
        await pilot.press(str(question.answer + 1))
        await pilot.pause()
        assert screen.session.score() == (2, 2)
        assert "score 2/2" in screen_text(app)
        await pilot.press("p")
        assert not screen.predict_mode


async def test_escape_skips_a_question(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["right"] * 8, "escape")
        await pilot.pause()
        screen = player(app)
        assert screen.session.score() == (0, 0)
        assert "You skipped this question." in right_panel(screen)
        await pilot.press("left", "right")  # answered (skipped) once: not asked again
        assert showing(app, screen)


async def test_play_pause_and_speed(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("plus", "plus", "plus", "plus")
        assert SPEEDS[screen.speed_index] == 16.0
        await pilot.press("space")
        assert screen.playing
        await until(pilot, lambda: isinstance(app.screen, PredictScreen))  # stops at a question
        assert not screen.playing
        await pilot.press("2")
        await pilot.pause()
        assert screen.session.position == 8
        await pilot.press("space")
        await until(pilot, lambda: not screen.playing)  # stopped by itself at the end
        assert screen.session.position == 10
        await pilot.press("space")  # from the end, play starts over (and runs to the end)
        await until(pilot, lambda: not screen.playing)
        assert screen.session.position == 10
        await pilot.press(*["minus"] * 6)  # slowest: 4.8 s between steps
        assert SPEEDS[screen.speed_index] == SPEEDS[0]
        await pilot.press("home", "space")
        assert screen.playing
        await pilot.press("space")
        assert not screen.playing
        assert screen.session.position == 0
        await pilot.press(*["plus"] * 6)
        await pilot.press("minus")
        assert SPEEDS[screen.speed_index] == 8.0
        await pilot.press(*["plus"] * 4)
        assert SPEEDS[screen.speed_index] == SPEEDS[-1]


async def test_animation_plays_the_trace_and_ends_on_the_exact_state(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("minus", "minus")  # slow: the animation must still be running
        await pilot.press(*["right"] * 5)  # each step cuts the previous animation short
        assert screen.animating
        tree = screen.query_one(InterestTree)
        assert tree.micro is not None
        # The insert of b is shown as the model did it, from captures taken while it ran.
        assert screen.frame is not None and screen.frame.micro
        assert tree.current_shape() is screen.frame.micro[tree.micro].shape
        await pilot.press("s")  # skip
        assert not screen.animating
        assert tree.micro is None
        assert tree.current_shape() is screen.frame.shape


async def test_animation_survives_a_resize(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("minus", "minus", *["right"] * 6)
        assert screen.animating
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        assert screen.has_class("-compact")
        await pilot.resize_terminal(50, 15)
        await pilot.pause()
        assert "enlarge it to 64x20" in screen_text(app)
        await pilot.resize_terminal(*SIZE)
        await pilot.press("s")
        assert not screen.has_class("-tiny")
        assert "step 6/10" in screen_text(app)


async def test_poll_scenario_shows_the_pollfd_array(tmp_path: Path) -> None:
    path = write(tmp_path, "poll.toml", POLL_SCENARIO)
    app = make_app(path, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["right"] * 3)
        screen = player(app)
        assert screen.has_class("-mech-poll")
        text = screen_text(app)
        assert "struct pollfd[]" in text
        assert not screen.query_one(InterestTree).display


async def test_a_divergence_is_flagged_with_its_difference(epoll_file: Path) -> None:
    recording = model_recording(epoll_file, alter={9: {"raw": [[6, 1]]}})
    app = make_app(epoll_file, recording=recording, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end")
        screen = player(app)
        record = screen.session.record()
        assert record is not None and record.verdict is Verdict.DIVERGE
        text = screen_text(app)
        assert "✗ DIVERGE" in text
        assert "reported by the live kernel only" in right_panel(screen)


async def test_a_broken_scenario_is_reported_in_the_app(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.toml", EPOLL_SCENARIO.replace('do = "recv"', 'do = "recieve"'))
    app = make_app(bad, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        # The player draws its frame, then loads the scenario: the report follows.
        await until(pilot, lambda: "cannot be played" in screen_text(app))
        assert isinstance(app.screen, LoadErrorScreen)
        text = screen_text(app)
        assert "bad.toml cannot be played" in text
        assert "recieve" in text
        await pilot.press("escape")
        assert isinstance(app.screen, LessonMenuScreen)


async def test_open_a_scenario_from_the_player(epoll_file: Path, tmp_path: Path) -> None:
    other = write(tmp_path, "poll.toml", POLL_SCENARIO)
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        first = player(app)
        await until(pilot, lambda: first.opened)  # its keys work once it has opened
        await pilot.press("o")
        assert isinstance(app.screen, AskValueScreen)
        await pilot.click("#value")
        app.screen.query_one("#value").value = str(other)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        second = player(app)
        assert second is not first
        assert second.session.title == "poll reports HUP"
        await until(pilot, lambda: second.opened)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, AskValueScreen))
        app.screen.query_one("#value").value = str(tmp_path / "missing.toml")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LoadErrorScreen)
        assert "no such file" in screen_text(app)


async def test_a_player_closed_while_it_opens_stops_opening(
    epoll_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`muxlab play FILE` opens its player after the first frame; a file opened (or the menu
    chosen) meanwhile closes it while it mounts its panels: the opening stops there, and the
    app goes on, instead of showing a session on a screen that is gone."""
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        first = player(app)
        assert not first.opened  # the opening is still to come
        mount_all = first.mount_all

        def closed_meanwhile(*widgets: Any, **where: Any) -> Any:
            app.action_lesson_menu()  # pops the player at once
            return mount_all(*widgets, **where)

        monkeypatch.setattr(first, "mount_all", closed_meanwhile)
        await until(pilot, lambda: isinstance(app.screen, LessonMenuScreen))
        await pilot.pause()
        assert not first.opened
        assert "1 · Blocking and non-blocking I/O" in screen_text(app)


async def test_m_goes_back_to_the_lesson_menu(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "m")
        assert isinstance(app.screen, LessonMenuScreen)
        # The menu under the player was not listed while covered; it is once shown.
        await pilot.pause()
        assert "1 · Blocking and non-blocking I/O" in screen_text(app)  # the course


async def test_command_palette_jumps_to_a_step(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("ctrl+p")
        await pilot.press(*"step 6")
        await until(pilot, lambda: palette_offers(app, "Jump to step 6"))
        await pilot.press("enter")
        await pilot.pause()
        assert showing(app, screen)
        assert screen.session.position == 6
        await pilot.press("ctrl+p", *"skip the anim")
        await until(pilot, lambda: palette_offers(app, "Skip the animation"))
        await pilot.press("enter")
        await pilot.pause()
        assert showing(app, screen)


async def test_every_binding_has_an_id_and_is_in_the_footer() -> None:
    ids = {binding.id for binding in PlayerScreen.BINDINGS}  # type: ignore[union-attr]
    assert None not in ids
    assert {
        "step-forward",
        "step-back",
        "play-pause",
        "skip-animation",
        "speed-up",
        "speed-down",
        "jump-start",
        "jump-end",
        "jump-to",
        "predict-mode",
        "open-scenario",
        "lesson-menu",
        "lesson-text",
    } <= ids


async def test_scenario_text_is_never_read_as_markup(tmp_path: Path) -> None:
    """Titles, questions and choices are shown as written, brackets and all."""
    text = (
        EPOLL_SCENARIO.replace(
            'title = "Two sockets, one epoll"', 'title = "[b]Two[/] sockets [/]"'
        )
        .replace("In which order are they reported?", "Which [/] order [red]?")
        .replace('say = "`a` is drained."', 'say = "[/] `a` is drained."')
    )
    path = write(tmp_path, "brackets.toml", text)
    app = make_app(path, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["right"] * 8)
        assert isinstance(app.screen, PredictScreen)
        assert "Which [/] order [red]?" in screen_text(app)
        await pilot.press("2", "right")
        assert "[/] a is drained." in screen_text(app)
        await pilot.press("m")
        assert isinstance(app.screen, LessonMenuScreen)


async def test_t_shows_the_lesson_text(tmp_path: Path) -> None:
    write(tmp_path, "tiny.md", "# The tiny lesson\n\nEvery fd is a file.\n")
    text = EPOLL_SCENARIO.replace('mechanism = "epoll"', 'mechanism = "epoll"\nlesson = "tiny.md"')
    app = make_app(write(tmp_path, "with-lesson.toml", text), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        assert isinstance(app.screen, LessonTextScreen)
        assert "Every fd is a file." in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, PlayerScreen)


async def test_t_refuses_a_lesson_that_became_a_link_out_of_the_folder(tmp_path: Path) -> None:
    """Issue 8 item 4: the player re-checks at display time (the file may change after
    validation); a link to a file elsewhere is refused, never shown."""
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$hash\n")
    folder = tmp_path / "mine"
    folder.mkdir()
    write(folder, "tiny.md", "# The tiny lesson\n")
    text = EPOLL_SCENARIO.replace('mechanism = "epoll"', 'mechanism = "epoll"\nlesson = "tiny.md"')
    app = make_app(write(folder, "with-lesson.toml", text), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)  # validated, then the file changes
        (folder / "tiny.md").unlink()
        (folder / "tiny.md").symlink_to(secret)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        assert "root:" not in screen_text(app)
        messages = [n.message for n in app._notifications]
        assert any("is a link to" in m and "outside" in m for m in messages), messages


async def test_a_long_question_wraps_and_the_hint_counts_the_choices(tmp_path: Path) -> None:
    long = "The listener was reported and then `conn` was accepted. " * 3 + "What now?"
    text = EPOLL_SCENARIO.replace('ask = "', f'ask = "{long} ', 1)
    assert text != EPOLL_SCENARIO
    app = make_app(write(tmp_path, "long.toml", text), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["right"] * 8)
        assert isinstance(app.screen, PredictScreen)
        shown = screen_text(app)
        assert "now?" in shown and "reported?" in shown  # wrapped, not clipped
        assert "`conn`" not in shown  # backticks rendered as Markdown code
        assert f"Enter or 1-{len(app.screen.question.choices)} to answer" in shown


async def test_keys_typed_right_after_j_reach_the_jump_dialog(epoll_file: Path) -> None:
    """`j`, `7`, Enter in one burst (as from tmux): nothing is lost to the opening dialog."""
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("right", "right")
        for key, char in (("j", "j"), ("7", "7"), ("enter", None)):
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: showing(app, screen) and screen.session.position == 7)
        await pilot.press("j")  # the current step is prefilled and selected: a digit replaces it
        assert isinstance(app.screen, AskValueScreen)
        await pilot.press("3", "enter")
        await until(pilot, lambda: showing(app, screen) and screen.session.position == 3)


async def test_keys_do_nothing_behind_the_too_small_message(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=(50, 15)) as pilot:
        screen = player(app)
        assert "enlarge it to" in screen_text(app)
        await pilot.press("l", "right", "end", "j")
        assert showing(app, screen)
        assert screen.session.position == 0
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        await pilot.press("l")
        assert screen.session.position == 1


async def test_the_pending_step_verdict_is_hidden_until_the_answer(epoll_file: Path) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press("space")  # playing: pausing at the question refreshes the status
        await until(pilot, lambda: isinstance(app.screen, PredictScreen))
        assert screen.session.position == 8
        # The dialog's first frame may not be composed yet: wait for the status line to show.
        await until(pilot, lambda: "model only" in screen_text(app))
        text = screen_text(app)
        assert "7 ◌ model only" in text and "8 ◌ model only" not in text
        assert len(screen.query_one("#timeline", Timeline).verdicts) == 7
        await pilot.press("2")
        await until(pilot, lambda: "8 ◌ model only" in screen_text(app))
        assert len(screen.query_one("#timeline", Timeline).verdicts) == 8


COSTS = Path(__file__).parent.parent / "scenarios" / "select-poll-epoll-costs.toml"


def _step_of(path: Path, call: str) -> int:
    """The 1-based number of the first step of `path` that makes `call`."""
    from simulator.scenario import load_scenario

    steps = load_scenario(path).steps
    return next(i for i, step in enumerate(steps, 1) if step.call.name == call)


async def test_panels_follow_the_step_call_not_the_scenario_mechanism() -> None:
    # Issue 8.14: the costs lesson says `mechanism = "epoll"` but its select and poll steps
    # tell the learner to watch the fd_set bitmaps and the pollfd array.
    app = make_app(COSTS, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        for call, shown in (("select", "fd_set"), ("poll", "struct pollfd[]")):
            screen.jump_to(_step_of(COSTS, call))
            await pilot.pause()
            assert screen.query_one("#calls").display, call
            assert not screen.query_one(InterestTree).display, call
            assert shown in screen_text(app), call
        screen.jump_to(_step_of(COSTS, "epoll_wait"))
        await pilot.pause()
        assert screen.query_one(InterestTree).display
        assert not screen.query_one("#calls").display
        assert "interest tree of ep:" in screen_text(app)


NO_MULTIPLEXER = """
[scenario]
title = "A read that sleeps"
mechanism = "epoll"

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "send"
args = { fd = "b", nbytes = 3 }

[[step]]
do = "recv"
args = { fd = "a", nbytes = 3 }
"""


async def test_a_lesson_without_a_multiplexer_shows_no_empty_multiplexer_panels(
    tmp_path: Path,
) -> None:
    # Issue 15: chapter 1's lessons call no select, poll or epoll (some still say `mechanism
    # = "epoll"`), yet the player showed "no epoll instance yet" twice, in the interest
    # tree's place and the ready list's, from the first step to the last.
    app = make_app(write(tmp_path, "sleep.toml", NO_MULTIPLEXER), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, app)
        assert (screen.sub_title or "").startswith("no multiplexer · ")
        for position in range(3):  # before the first step, then after the first two
            if position:
                await pilot.press("right")
                await pilot.pause()
            assert screen.session.position == position
            text = screen_text(app)
            assert "no epoll instance" not in text and "no poll or select" not in text
            for panel in ("#tree", "#ready", "#calls"):
                assert not screen.query_one(panel).display, (position, panel)
            assert screen.query_one("#queues").display  # the panels that tell this story
            assert screen.query_one("#fds").display


async def test_the_cost_counters_stay_on_a_small_terminal() -> None:
    # Issue 8.14: at 80x24 (compact) the costs lesson lost the counters it is about.
    app = make_app(COSTS, live=False, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = player(app)
        screen.jump_to(_step_of(COSTS, "select"))
        await pilot.pause()
        assert screen.has_class("-compact")
        assert "fd scan" in screen_text(app)
        assert "total work" in screen_text(app)


async def test_a_notification_leaves_the_status_line_readable(epoll_file: Path) -> None:
    # Issue 8.19: toasts appeared over the bottom of the screen, on the status line.
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press(*["right"] * 5, "p")  # "Predict mode on: ..." is notified
        await until(pilot, lambda: "Predict mode on" in screen_text(app))
        status = str(player(app).query_one("#status").render()).strip()
        row = next(line for line in screen_text(app).splitlines() if status in line)
        assert row.rstrip() == f" {status}"  # nothing drawn over the rest of the line


async def test_the_palette_does_not_move_the_lesson_behind_the_too_small_message(
    epoll_file: Path,
) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=(60, 15)) as pilot:
        screen = player(app)
        assert "enlarge it to" in screen_text(app)
        await pilot.press("ctrl+p")  # the list of every command, before anything is typed
        await until(pilot, lambda: "Lesson menu" in palette_lists(app))
        assert not {"Step forward", "Jump to the end", "Play / pause"} & set(palette_lists(app))
        await pilot.press("escape")
        await until(pilot, lambda: showing(app, screen))
        # A command chosen while the terminal was large enough, run after it shrank, does
        # nothing either.
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: showing(app, screen) and not screen.has_class("-tiny"))
        await pilot.press("ctrl+p", *"step forward")
        await until(pilot, lambda: palette_offers(app, "Step forward"))
        await pilot.resize_terminal(60, 15)
        await until(pilot, lambda: screen.has_class("-tiny"))
        await pilot.press("enter")
        await pilot.pause()
        assert screen.session.position == 0


async def test_the_predict_dialog_does_not_act_behind_the_too_small_message(
    epoll_file: Path,
) -> None:
    app = make_app(epoll_file, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press(*["right"] * 8)
        assert isinstance(app.screen, PredictScreen)
        await pilot.resize_terminal(60, 15)
        await until(pilot, lambda: "enlarge it to" in screen_text(app))
        await pilot.press("2", "enter", "escape")
        await pilot.pause()
        assert isinstance(app.screen, PredictScreen) and not screen.session.predictions
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: "Predict step 8" in screen_text(app))
        await pilot.press("2")
        await until(pilot, lambda: showing(app, screen))
        assert screen.session.predictions[7].chosen == 1


FD_SETSIZE_LESSON = Path(__file__).resolve().parents[1] / "scenarios" / "select-fd-setsize.toml"


def test_select_bitmaps_show_what_went_in_and_what_came_back() -> None:
    """select's sets are value-result: the picture shows both; a CPython refusal is no scan."""
    with Runner(load_scenario(FD_SETSIZE_LESSON)) as runner:
        records = list(runner)
        names = runner.bindings
    # Step 3: rlist [a, b] went in (fds 3 and 4); only a (3) came back readable.
    lines = picture_text(SelectBitmaps.of(records[2], names, records[2].model)).splitlines()
    readfds = next(i for i, line in enumerate(lines) if line.startswith("readfds"))
    assert lines[readfds][10:15] == "···■■"
    assert lines[readfds + 1].startswith("  ↳ out") and lines[readfds + 1][10:15] == "···■·"
    # Step 5: descriptor 1024 -- CPython refuses it; the kernel neither copies nor scans.
    refused = picture_text(SelectBitmaps.of(records[4], names, records[4].model))
    assert "copies" not in refused and "scans 1025" not in refused
    assert "CPython refused these lists (ValueError) before calling select(2)" in refused
    assert "never reached the kernel" in refused
    assert any(e.where == "CPython" and "no syscall" in e.detail for e in records[4].trace)


async def test_an_answer_cpython_gave_is_not_credited_to_the_kernel(tmp_path: Path) -> None:
    recording = model_recording(FD_SETSIZE_LESSON)  # a replay: the "real" side answers
    app = make_app(FD_SETSIZE_LESSON, recording=recording, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await pilot.press(*["right"] * 5)
        await until(pilot, lambda: isinstance(app.screen, PredictScreen))
        await pilot.press("1")  # wrong: [[a], [], []]
        await until(pilot, lambda: showing(app, screen))
        text = right_panel(screen)
        assert "the real kernel answered" not in text
        assert "CPython (its argument check, before any syscall) answered ValueError" in text
        assert "raised by CPython's argument checks, before any syscall" in text


SHIPPED_DIR = FD_SETSIZE_LESSON.parent


def test_made_up_choices_are_the_model_near_misses_not_filler_errors() -> None:
    """No EAGAIN for a wait that returned events, no EBADF for a kevent that worked; what the
    same wait answered last time (the level- vs edge-triggered mistake) is offered instead."""
    offered_previous = 0
    for path in sorted(SHIPPED_DIR.glob("*.toml")):
        with Runner(load_scenario(path)) as runner:
            records = list(runner)
        for record in records:
            if record.step.call.name not in ("epoll_wait", "poll", "select", "kevent"):
                continue
            previous = previous_result(records, record)
            question = question_for(record, predict_mode=True, previous=previous)
            assert question is not None
            if question.written or record.model.error is not None:
                continue
            assert question.answer is not None, (path.name, question)
            assert not {"EAGAIN", "EBADF"} & set(question.choices), (path.name, question)
            if previous is not None and show_value(previous) != question.choices[question.answer]:
                assert show_value(previous) in question.choices, (path.name, question)
                offered_previous += 1
    assert offered_previous >= 3


async def test_a_model_only_question_says_the_model_judges() -> None:
    """kqueue runs on the model only here: its questions must not claim the real kernel."""
    app = make_app(SHIPPED_DIR / "kqueue-clear.toml", live=False, predict=True, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        while not isinstance(app.screen, PredictScreen):
            assert screen.session.position < screen.session.total
            await pilot.press("right")
            await until(pilot, lambda: isinstance(app.screen, PredictScreen) or not screen.busy)
        await until(pilot, lambda: "judges" in screen_text(app))
        text = screen_text(app)
        assert "the real kernel judges" not in text
        assert "the model (model-only step) judges" in text
