"""The player shows io_uring steps with the rings (`RingsView` in the calls panel), and the
reactor-vs-proactor lesson switches between epoll's panels and the rings step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from tests.tui_support import screen_text
from tui.app import make_app
from tui.screens.player import PlayerScreen
from tui.widgets.interest_tree import InterestTree

SIZE = (140, 44)
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
BASICS = SCENARIOS / "io-uring-basics.toml"
REACTOR = SCENARIOS / "reactor-vs-proactor.toml"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress goes to a temporary folder, never the user's."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def _step_of(path: Path, call: str) -> int:
    steps = load_scenario(path).steps
    return next(i for i, step in enumerate(steps, 1) if step.call.name == call)


async def test_a_parked_receive_is_drawn_in_the_rings_panel() -> None:
    app = make_app(BASICS, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of(BASICS, "io_uring_submit"))
        await pilot.pause()
        assert screen.query_one("#calls").display
        assert not screen.query_one(InterestTree).display
        text = screen_text(app)
        assert "ring:5 (io_uring)" in text
        assert "ud=1 RECV parked on conn:3's wait" in text
        # ... and its poll entry on the socket's wait queue, in the wait-queue panel
        assert "io_uring5 poll ud=1" in text


async def test_reactor_steps_show_epoll_and_proactor_steps_the_rings() -> None:
    app = make_app(REACTOR, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of(REACTOR, "epoll_wait"))
        await pilot.pause()
        assert screen.query_one(InterestTree).display
        assert not screen.query_one("#calls").display
        screen.jump_to(_step_of(REACTOR, "io_uring_wait"))
        await pilot.pause()
        assert screen.query_one("#calls").display
        assert "CQ 8 slots, head 2, tail 2" in screen_text(app)
