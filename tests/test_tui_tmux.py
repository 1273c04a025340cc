"""The real program in a real terminal: ``python -m tui play FILE`` under tmux, driven by keys,
read back with ``capture-pane``; q and Ctrl+C both quit and leave no live child behind."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui_support import EPOLL_SCENARIO, write

pytestmark = pytest.mark.usefixtures("tmux_installed")

ROOT = Path(__file__).resolve().parents[1]


class Tmux:
    """One detached tmux session on a private server socket."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.name, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def start(self, command: str, size: tuple[int, int] = (140, 44)) -> None:
        width, height = size
        self.run("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", self.name, key)

    def wait_for(self, check: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed what was expected:\n{text}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


#: A new server name for each test: ``kill-server`` returns before the server has gone, and the
#: next test of the same worker, on the same name, met it exiting ("server exited unexpectedly").
_SERVERS = itertools.count()


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    session = Tmux(f"muxlab-test-{os.getpid()}-{next(_SERVERS)}")
    yield session
    session.kill()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("quit_key", ["q", "C-c"])
def test_play_under_tmux_and_quit_without_leaving_a_child(
    tmux: Tmux, tmp_path: Path, quit_key: str
) -> None:
    scenario = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    # COLUMNS and LINES (set by some shells and CI runners) would override tmux's size.
    command = (
        f"cd {ROOT} && env -u COLUMNS -u LINES MUXLAB_DATA_DIR={tmp_path / 'data'} "
        f"{sys.executable} -m tui play {scenario}; echo MUXLAB-EXITED-$?; sleep 30"
    )
    tmux.start(command)
    tmux.wait_for(lambda text: "step 0/10" in text)
    tmux.keys("Right", "Right", "Right")
    # The step animates through the states the model passed through (before epoll_create's
    # fd.alloc there is no epoll to draw), and the status line can show the new step a frame
    # before the panels do: wait for all of it.
    shown = ("step 3/10", "child pid", "Kernel model", "Real kernel", "interest tree of ep:7")
    text = tmux.wait_for(lambda text: all(part in text for part in shown))
    pid = int(re.search(r"child pid (\d+)", text).group(1))  # type: ignore[union-attr]
    assert alive(pid)
    tmux.keys(quit_key)
    tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)
    assert not alive(pid)
