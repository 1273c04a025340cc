"""The sandbox as a learner meets it: ``python -m tui sandbox`` in a real terminal under tmux,
the issue's five lines typed key by key, both kernels' answers read back with
``capture-pane``; Ctrl+C quits (q is a letter of the input line) and leaves no live child."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.test_tui_tmux import ROOT, Tmux, alive, tmux

pytestmark = pytest.mark.usefixtures("tmux_installed")
__all__ = ["tmux"]  # the fixture, used by name

FIVE = [
    "a, b = socketpair()",
    "ep = epoll_create()",
    "epoll_ctl(ep, ADD, a, IN | ET)",
    "send(b, 5)",
    "epoll_wait(ep, 8, 0)",
]


def test_type_the_five_lines_under_tmux(tmux: Tmux, tmp_path: Path) -> None:
    command = (
        f"cd {ROOT} && env -u COLUMNS -u LINES MUXLAB_DATA_DIR={tmp_path / 'data'} "
        f"{sys.executable} -m tui sandbox; echo MUXLAB-EXITED-$?; sleep 30"
    )
    tmux.start(command)
    tmux.wait_for(lambda text: "step 0/0" in text and "a call, e.g." in text)
    for number, line in enumerate(FIVE, 1):
        tmux.run("send-keys", "-t", tmux.name, "-l", line)  # literally, key by key
        tmux.keys("Enter")
        shown = f"step {number}/{number}"
        tmux.wait_for(lambda text: shown in text and " agree" in text)  # noqa: B023
    text = tmux.wait_for(
        lambda text: "model: [(a, IN)]   real: [(a, IN)]   agree" in text and "child pid" in text
    )
    pid = int(re.search(r"child pid (\d+)", text).group(1))  # type: ignore[union-attr]
    assert alive(pid)
    tmux.run("send-keys", "-t", tmux.name, "-l", "send(c, 5)")
    tmux.keys("Enter")
    tmux.wait_for(lambda text: "column 6: unknown descriptor name c" in text)
    tmux.keys("C-c")
    tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)
    assert not alive(pid)


def test_a_challenge_is_solved_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    """``muxlab sandbox --challenge twice``: a first ``check`` says what is missing and gives the
    hint; the solution typed key by key is judged solved on the real kernel's answers, and the
    score is saved in the user's progress file."""
    data = tmp_path / "data"
    command = (
        f"cd {ROOT} && env -u COLUMNS -u LINES MUXLAB_DATA_DIR={data} "
        f"{sys.executable} -m tui sandbox --challenge twice; echo MUXLAB-EXITED-$?; sleep 30"
    )
    tmux.start(command)
    tmux.wait_for(lambda text: "Twice from one send" in text and "step 0/0" in text)

    def type_line(line: str) -> None:
        tmux.run("send-keys", "-t", tmux.name, "-l", line)
        tmux.keys("Enter")

    type_line("check")
    tmux.wait_for(lambda text: "Not yet" in text and "Hint" in text)
    solution = [
        "a, b = socketpair()",
        "ep = epoll_create()",
        "epoll_ctl(ep, ADD, a, IN)",
        "send(b, 5)",
        "epoll_wait(ep, 8, 0)",
        "epoll_wait(ep, 8, 0)",
    ]
    for number, line in enumerate(solution, 1):
        type_line(line)
        shown = f"step {number}/{number}"
        tmux.wait_for(lambda text: shown in text and " agree" in text)  # noqa: B023
    type_line("check")
    tmux.wait_for(lambda text: "Solved in 6 calls (par 6)" in text)
    tmux.keys("C-c")
    tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)
    saved = (data / "progress.json").read_text()
    assert '"twice": 6' in saved
