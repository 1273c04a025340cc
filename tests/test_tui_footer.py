"""The key bar (`tui.widgets.footer.Footer`): redrawn when the keys it shows change, kept as it
is when a signal says the bindings may have changed but they have not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from tests.tui_support import EPOLL_SCENARIO, until, write
from tui.app import MuxlabApp, make_app
from tui.screens.player import TINY, PlayerScreen
from tui.widgets.footer import Footer

SIZE = (140, 44)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def keys(screen: PlayerScreen) -> list[FooterKey]:
    return list(screen.query_one(Footer).query(FooterKey))


async def opened(pilot: Pilot[int], app: MuxlabApp) -> PlayerScreen:
    """The player, once open and drawn with its keys."""
    screen = app.screen
    assert isinstance(screen, PlayerScreen)
    await until(pilot, lambda: screen.opened)
    await pilot.pause()
    return screen


async def test_the_footer_keeps_its_keys_while_they_do_not_change(tmp_path: Path) -> None:
    app = make_app(write(tmp_path, "s.toml", EPOLL_SCENARIO), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, app)
        shown = keys(screen)
        assert {key.action for key in shown} >= {"step_forward", "step_back"}
        # Signals without a change: a focus move, a step, three explicit refreshes.
        await pilot.press("tab")
        await pilot.press("right")
        for _ in range(3):
            screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert keys(screen) == shown  # the same widgets: not composed again


async def test_the_footer_is_redrawn_when_its_keys_change(tmp_path: Path) -> None:
    """Below the smallest size the player's keys are disabled (`check_action`), and enabled
    again at full size: the footer's keys follow both ways."""
    app = make_app(write(tmp_path, "s.toml", EPOLL_SCENARIO), live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, app)
        forward = [key for key in keys(screen) if key.action == "step_forward"]
        assert forward and not forward[0].disabled
        await pilot.resize_terminal(TINY[0] - 1, TINY[1] - 1)
        await until(
            pilot,
            lambda: all(key.disabled for key in keys(screen) if key.action == "step_forward"),
        )
        assert keys(screen) != forward
        await pilot.resize_terminal(*SIZE)
        await until(
            pilot,
            lambda: any(not key.disabled for key in keys(screen) if key.action == "step_forward"),
        )


async def test_each_key_is_styled_once_as_it_is_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key is born with the footer's `compact` (`Footer.compose`): with its own default
    it would be styled once more with ``-compact``, and again without it when the binding sets
    it. Counted on the app's real stylesheet, which goes on styling as before."""
    app = make_app(write(tmp_path, "s.toml", EPOLL_SCENARIO), live=False, animate=False)
    styled: list[object] = []
    apply = app.stylesheet.apply

    def counted(node: Any, **options: Any) -> None:
        styled.append(node)
        apply(node, **options)

    monkeypatch.setattr(app.stylesheet, "apply", counted)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, app)
        footer = screen.query_one(Footer)
        # The palette's key is not bound to the footer's `compact` (Textual's `Footer.compose`).
        shown = [key for key in keys(screen) if not key.has_class("-command-palette")]
        assert shown
        assert [sum(node is key for node in styled) for key in shown] == [1] * len(shown)
        assert all(key.compact is footer.compact is False for key in shown)
        assert not any(key.has_class("-compact") for key in shown)
