"""Every shipped scenario plays in the app: every frame of every step can be drawn, every
question can be asked, and each opens in the player (model only, so it runs anywhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text

from simulator.scenario import load_scenario
from simulator.scenario.library import scenario_files, shipped_dir
from tests.test_tui_support import picture_text
from tui.app import make_app
from tui.frame import Frame, build_frame
from tui.predict import question_for
from tui.render.rbtree_art import draw_tree
from tui.screens.player import PlayerScreen
from tui.session import PlaySession

SHIPPED = shipped_dir()
FILES = scenario_files([SHIPPED])[0] if SHIPPED is not None else []


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_every_step_can_be_drawn_and_asked(path: Path) -> None:
    session = PlaySession(load_scenario(path), path, live=False)
    frame: Frame | None = None
    for position in range(session.total + 1):
        session.seek(position)
        frame = build_frame(session, previous=frame)
        for picture in (frame.live, frame.chain, frame.queues, frame.nic, frame.calls, frame.cost):
            if picture is not None:
                picture_text(picture, width=90)
        if frame.shape is not None:
            draw_tree(frame.shape, 60, path=frame.path)
        record = session.record()
        if record is not None:
            question = question_for(record, predict_mode=True)
            if question is not None:
                assert question.choices and all(Text(choice) for choice in question.choices)


async def test_every_shipped_scenario_opens_in_the_player(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(live=False, animate=False)
    async with app.run_test(size=(120, 36)) as pilot:
        for path in FILES:
            assert app.open_scenario(path), path
            await pilot.press("end")
            screen = app.screen
            assert isinstance(screen, PlayerScreen), path
            assert screen.session.position == screen.session.total
