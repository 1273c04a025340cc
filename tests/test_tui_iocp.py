"""The player shows IOCP steps with the completion port (`PortView` in the calls panel),
labelled "model only: Windows", its pending operations and its packet queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from tests.tui_support import picture_text, screen_text, until
from tui.app import make_app
from tui.screens.player import PlayerScreen
from tui.widgets.interest_tree import InterestTree

SIZE = (140, 44)
IOCP = Path(__file__).resolve().parent.parent / "scenarios" / "iocp.toml"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress goes to a temporary folder, never the user's."""
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def _step_of(call: str, **args: object) -> int:
    """The first step (1-based) making `call` with those arguments."""
    steps = load_scenario(IOCP).steps
    return next(
        i
        for i, step in enumerate(steps, 1)
        if step.call.name == call and all(getattr(step.arguments, k) == v for k, v in args.items())
    )


async def test_pending_receives_and_then_their_packets_are_drawn_as_model_only() -> None:
    app = make_app(IOCP, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        screen.jump_to(_step_of("WSARecv", overlapped=20))
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
        screen.jump_to(_step_of("send", nbytes=200))
        await pilot.pause()
        text = screen_text(app)
        assert "completion queue, 2 packets: H 100B key=1 ov=10 |" in text
        assert "200B key=2 ov=20" in text
        assert "pending: none" in text


async def test_the_workers_blocked_on_the_port_and_the_one_released_last_in_first_out() -> None:
    """IC-9: the port lists its blocked threads in the order they blocked; the posted packet
    releases the last one, `w3`; the threads panel shows the other two asleep on the port."""
    app = make_app(IOCP, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        post = _step_of("PostQueuedCompletionStatus", overlapped=70)
        screen.jump_to(post - 1)
        await until(pilot, lambda: screen.session.position == post - 1)
        await pilot.pause()
        assert screen.frame is not None
        assert (
            "blocked threads (LIFO, released from the right): thread 1 in"
            " GetQueuedCompletionStatusEx → thread 2 in GetQueuedCompletionStatus → thread 3 in"
            " GetQueuedCompletionStatus"
        ) in picture_text(screen.frame.calls, width=300)
        text = screen_text(app)
        assert (
            "w2 (thread 2)  sleeping in GetQueuedCompletionStatus on port:7 iocp7.waiters" in text
        )
        screen.jump_to(post)
        await until(pilot, lambda: screen.session.position == post)
        await pilot.pause()
        text = screen_text(app)
        assert "w3 (thread 3)  ✓ woke: GetQueuedCompletionStatus → [{bytes=0," in text
        assert "LIFO release: thread 3 in GetQueuedCompletionStatus gets overlapped=70" in " ".join(
            event.detail for event in screen.frame.trace
        )
        assert "w1 (thread 1)  sleeping in GetQueuedCompletionStatusEx on port:7" in text
