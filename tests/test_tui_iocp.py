"""The player shows IOCP steps with the completion port (`PortView` in the calls panel),
labelled "model only: Windows", its pending operations and its packet queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from tests.tui_support import screen_text
from tui.app import make_app
from tui.screens.player import PlayerScreen
from tui.widgets.interest_tree import InterestTree

SIZE = (140, 44)
IOCP = Path(__file__).resolve().parent.parent / "scenarios" / "iocp.toml"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress goes to a temporary folder, never the user's."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def _last_step_of(call: str) -> int:
    steps = load_scenario(IOCP).steps
    return max(i for i, step in enumerate(steps, 1) if step.call.name == call)


async def test_pending_receives_and_then_their_packets_are_drawn_as_model_only() -> None:
    app = make_app(IOCP, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_last_step_of("WSARecv"))
        await pilot.pause()
        assert screen.query_one("#calls").display
        assert not screen.query_one(InterestTree).display
        text = screen_text(app)
        assert "port:7 (IOCP) model only: Windows" in text
        assert "WSARecv ov=10 on a:3's wait queue" in text
        assert "WSARecv ov=20 on b:5's wait queue" in text
        assert "a:3 key 1, b:5 key 2" in text
        # the overlapped receive's entry on the socket's wait queue, in the wait-queue panel
        assert "a:3 unix1.wq ▸ iocp7" in text
        screen.jump_to(_last_step_of("send"))
        await pilot.pause()
        text = screen_text(app)
        assert "completion queue, 2 packets: H 100B key=1 ov=10 |" in text
        assert "200B key=2 ov=20" in text
        assert "pending: none" in text
