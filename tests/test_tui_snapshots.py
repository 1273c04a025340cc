"""SVG snapshots of the player (pytest-textual-snapshot): an epoll scenario, a poll scenario,
a divergence, the threads panel, and the too-small terminal. Update them after an intended
change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs.

Determinism: animations off, fixed terminal sizes, replayed recordings with a fixed platform
(no pid, no kernel release, no clock), progress in a temporary data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.observe import TraceKind
from tests.tui_support import EPOLL_SCENARIO, POLL_SCENARIO, model_recording, until, write
from tui.app import MuxlabApp, make_app


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))


def replayed(tmp_path: Path, name: str, text: str, **alter: Any) -> MuxlabApp:
    path = write(tmp_path, name, text)
    changes = {int(k.removeprefix("step")) - 1: v for k, v in alter.items()}
    return make_app(path, recording=model_recording(path, alter=changes), animate=False)


def test_epoll_scenario(snap_compare: Any, tmp_path: Path) -> None:
    """Step 8 of a tiny epoll lesson: the tree, the ready list, the question answered."""
    app = replayed(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    assert snap_compare(app, press=["right"] * 8 + ["2"], terminal_size=(140, 44))


def test_poll_scenario(snap_compare: Any, tmp_path: Path) -> None:
    """The last poll of a tiny poll lesson: the pollfd array, HUP reported."""
    app = replayed(tmp_path, "poll.toml", POLL_SCENARIO)
    assert snap_compare(app, press=["end"], terminal_size=(120, 36))


def test_divergence(snap_compare: Any, tmp_path: Path) -> None:
    """A recording whose last answer differs from the model: the verdict and the diff."""
    app = replayed(tmp_path, "epoll.toml", EPOLL_SCENARIO, step10={"raw": [[6, 1]]})
    assert snap_compare(app, press=["end"], terminal_size=(140, 44))


def test_terminal_too_small(snap_compare: Any, tmp_path: Path) -> None:
    """Below 64x20 the player asks for a larger terminal instead of drawing a mess."""
    app = replayed(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    assert snap_compare(app, press=["right"], terminal_size=(60, 16))


def test_threads_panel(snap_compare: Any) -> None:
    """The herd of the thundering-herd lesson: one connection woke all three workers."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "thundering-herd.toml"
    app = make_app(path, recording=model_recording(path), animate=False)
    assert snap_compare(app, press=["right"] * 19, terminal_size=(140, 44))


def test_io_uring_journey(snap_compare: Any) -> None:
    """The io_uring basics lesson's first send, held at the micro-step where the parked RECV's
    poll entry has fired: the proactor's NIC lane lit at "task work", the entry gone from the
    socket's wait queue, the request "woken, its task work queued", no CQE yet."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "io-uring-basics.toml"
    app = make_app(path, recording=model_recording(path), animate=True)

    async def run_before(pilot: Any) -> None:
        screen = pilot.app.screen
        screen.jump_to(4)  # the RECV is parked; step 5 is the send
        await until(pilot, lambda: screen.session.position == 4)
        await pilot.press("minus", "minus", "right")
        await until(pilot, lambda: screen.session.position == 5 and screen.frame.micro)
        kinds = [event.kind for event in screen.frame.trace]
        screen.animation.start([kinds.index(TraceKind.TASK_WORK_ADD)], 3600)  # held there
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=(140, 44))
