"""The knobs in the app (issue 14.2) and presenter mode (issue 14.5), driven by keys in Pilot.

The knob tests run the costs lesson on both kernels: changing N re-runs it on the model and on a
fresh live child, and the real answers must agree at the new N."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Footer, Header

from simulator.scenario import Verdict
from tests.tui_support import screen_text, until
from tui.app import MuxlabApp, make_app
from tui.screens.ask_value import AskValueScreen
from tui.screens.player import PlayerScreen

COSTS = Path(__file__).parent.parent / "scenarios" / "select-poll-epoll-costs.toml"
PLAIN = Path(__file__).parent.parent / "scenarios" / "et-stall.toml"
SIZE = (140, 44)


def player(app: MuxlabApp) -> PlayerScreen:
    screen = app.screen
    assert isinstance(screen, PlayerScreen), screen
    return screen


def n_of(app: MuxlabApp) -> object:
    return player(app).session.scenario.values.get("N")


async def test_the_knob_keys_rerun_the_lesson_on_both_kernels() -> None:
    app = make_app(COSTS, animate=False, params={"N": "10"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        first = player(app)
        await until(pilot, lambda: first.opened)  # loaded after the player's first frame
        assert n_of(app) == 10 and first.session.total == 24
        assert "N = 10" in screen_text(app)
        await pilot.press("right_square_bracket")  # 10 -> 20 on the ladder 10, 20, 50, 100, ...
        await until(pilot, lambda: isinstance(app.screen, PlayerScreen) and n_of(app) == 20)
        second = player(app)
        assert second is not first and second.session.total == 39
        assert "N = 20" in screen_text(app)
        second.jump_to(second.session.total)
        await until(pilot, lambda: second.session.position == second.session.total)
        verdicts = {record.verdict for record in second.session.records}
        assert verdicts == {Verdict.AGREE}  # the real kernel ran the new N, and agrees
        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(pilot, lambda: n_of(app) == 10)
        await pilot.press("left_square_bracket")  # already the smallest: stays, says so
        await until(pilot, lambda: "already at its smallest" in screen_text(app))
        assert n_of(app) == 10


async def test_the_knob_form_takes_a_value_and_refuses_one_out_of_range() -> None:
    app = make_app(COSTS, live=False, animate=False, params={"N": "10"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, AskValueScreen))
        assert "10..10000 (step 2)" in screen_text(app)
        await pilot.press(*"10001", "enter")
        await until(pilot, lambda: "10001 is out of range: 10..10000 (step 2)" in screen_text(app))
        assert n_of(app) == 10  # refused: the lesson stays as it was
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, AskValueScreen))
        await pilot.press(*"1000", "enter")
        await until(pilot, lambda: isinstance(app.screen, PlayerScreen) and n_of(app) == 1000)
        assert player(app).session.total == 1509


async def test_the_palette_offers_the_knobs_of_a_scenario_with_params() -> None:
    app = make_app(COSTS, live=False, animate=False, params={"N": "10"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"knob up")
        await until(pilot, lambda: "Knob up" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlayerScreen) and n_of(app) == 20)


async def test_a_scenario_without_params_has_no_knobs() -> None:
    app = make_app(PLAIN, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        await until(pilot, lambda: screen.opened)  # the footer shows the lesson's own keys
        assert "Knobs" not in screen_text(app)
        await pilot.press("k")
        await pilot.pause()
        assert app.screen is screen  # no form opened


async def test_presenter_mode_hides_the_chrome_and_gives_the_story_room() -> None:
    app = make_app(COSTS, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = player(app)
        # The panels are mounted when the player has opened (after its first frame): a pause
        # alone was not always enough on a loaded machine ("#trace" not found).
        await until(pilot, lambda: screen.opened)
        screen.jump_to(3)
        # A jump asked while the player is still busy opening is carried out when it is done.
        await until(pilot, lambda: screen.frame is not None and screen.frame.position == 3)
        chrome = ("#status", "#timeline", "#trace", "#fds")
        narration_box = screen.query_one("#narration-box")
        # The box is measured once its layout for step 3's narration is done (the same height
        # after two pauses).
        await pilot.pause()
        heights = [narration_box.outer_size.height]
        while len(heights) < 2 or heights[-1] != heights[-2]:
            assert len(heights) < 50, heights
            await pilot.pause()
            heights.append(narration_box.outer_size.height)
        before = heights[-1]
        assert all(screen.query_one(q).display for q in chrome)
        await pilot.press("f")
        # A loaded machine may show a frame between the class change and its layout.
        try:
            await until(pilot, lambda: narration_box.outer_size.height > before)
        except AssertionError:
            now = narration_box.outer_size.height
            raise AssertionError(f"narration box: {now} rows, {before} before {heights}") from None
        assert screen.has_class("-presenter")
        assert not app.screen.query_one(Header).display
        assert not app.screen.query_one(Footer).display
        for selector in chrome:
            assert not screen.query_one(selector).region.area, selector
        # still shown: the model's pictures, the real kernel, the narration (larger)
        for selector in ("#model", "#live", "#narration", "#cost"):
            assert screen.query_one(selector).region.area, selector
        assert screen.query_one("#narration").styles.text_style.bold
        assert "Pair 3 of 26" in screen_text(app)  # the step's narration, on show
        await pilot.press("f")
        await pilot.pause()
        assert not screen.has_class("-presenter")
        assert app.screen.query_one(Footer).display
        assert all(screen.query_one(q).region.area for q in chrome)
