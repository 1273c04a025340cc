"""Every shipped scenario opens in the player, and at 140x44, the size the README says shows
everything, no panel cuts its text short."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from simulator.scenario.library import scenario_files, shipped_dir
from tests.tui_support import screen_text
from tui.app import make_app
from tui.screens.player import PlayerScreen
from tui.session import PlaySession

SHIPPED = shipped_dir()
FILES = scenario_files([SHIPPED])[0] if SHIPPED is not None else []

#: An ellipsis that cuts a text short; "… 12 more" (a count of what is not drawn) is not one.
_CUT = re.compile(r"…(?! [\d,]+ more)")
#: A longer scenario is checked at the first and last step of each run of the same call (the
#: steps between draw the same texts with counts in between), to keep the test quick.
_EVERY_STEP_UP_TO = 30


def _positions(session: PlaySession) -> list[int]:
    """Positions to look at: 0, then each step's end (see `_EVERY_STEP_UP_TO`)."""
    calls = [step.call.name for step in session.scenario.steps]
    total = len(calls)
    if total <= _EVERY_STEP_UP_TO:
        return list(range(total + 1))
    edges = {0, total}
    for index, call in enumerate(calls):
        if index == 0 or calls[index - 1] != call or index + 1 == total or calls[index + 1] != call:
            edges.add(index + 1)
    return sorted(edges)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_no_text_is_cut_at_the_full_size(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scenario opens in the player (model only, so it runs anywhere), and at each position
    looked at no line on screen is cut by an ellipsis; the last one is reached with `end`, which
    plays it to its last step.

    One app per scenario checks both (they were two tests, each opening every scenario). The
    positions are visited in order from the first frame, the last through `end`: every frame is
    drawn once, and none is rebuilt from a checkpoint (going back would replay the model).
    """
    # Issue 8.19: at 140x44 the fd table's header ("RLIMIT_NOFILE 1,0…"), the tree's ("· to…",
    # "too deep to dr…") and the micro-steps ("list.splice epoll7.rdllist 2 to…") were cut.
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(path, live=False, animate=False)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen), screen  # not its load error
        session = screen.session
        *before_end, last = _positions(session)
        assert last == session.total
        await pilot.pause()  # the first frame (position 0) and its narration, a refresh later
        for position in before_end:
            if position != session.position:
                screen.go(position)
            await pilot.pause()
            _assert_nothing_cut(app, f"{path.stem} at step {position}")
        await pilot.press("end")
        await pilot.pause()
        assert session.position == session.total
        _assert_nothing_cut(app, f"{path.stem} at step {last} (end)")


def _assert_nothing_cut(app: App[Any], where: str) -> None:
    cut = [line for line in screen_text(app).splitlines() if _CUT.search(line)]
    assert not cut, f"{where}:\n" + "\n".join(cut)
