"""Learn-by-doing features in the real program in a real terminal (tmux): a lesson's knob
re-runs it, presenter mode hides the chrome, and a lesson's program follows the steps. The
sandbox has its own terminal test (tests/test_tui_sandbox_tmux.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.test_tui_tmux import ROOT, Tmux, tmux

pytestmark = pytest.mark.usefixtures("tmux_installed")
__all__ = ["tmux"]  # the fixture, used by name

SCENARIOS = ROOT / "scenarios"


def _play(tmux: Tmux, tmp_path: Path, scenario: Path, *args: str) -> None:
    # COLUMNS and LINES (set by some shells and CI runners) would override tmux's size.
    command = (
        f"cd {ROOT} && env -u COLUMNS -u LINES MUXLAB_DATA_DIR={tmp_path / 'data'} "
        f"{sys.executable} -m tui play {scenario} {' '.join(args)}; echo MUXLAB-EXITED-$?; "
        "sleep 30"
    )
    tmux.start(command)


def test_a_knob_reruns_the_lesson_and_presenter_mode_hides_the_chrome(
    tmux: Tmux, tmp_path: Path
) -> None:
    _play(tmux, tmp_path, SCENARIOS / "select-poll-epoll-costs.toml", "--no-live")
    text = tmux.wait_for(lambda text: "N = 52" in text and "step 0/87" in text)
    assert "^p palette" in text
    tmux.keys("]")  # the knob one notch up: the lesson is loaded again with the new N
    text = tmux.wait_for(lambda text: "N = 52" not in text and bool(re.search(r"N = \d+", text)))
    found = re.search(r"N = (\d+)", text)
    assert found is not None and int(found.group(1)) > 52
    tmux.wait_for(lambda text: bool(re.search(r"step 0/\d+", text)) and "step 0/87" not in text)
    tmux.keys("f")  # presenter mode: the footer's keys and the title bar go
    tmux.wait_for(lambda text: "^p palette" not in text and "N = " not in text)
    tmux.keys("f")
    tmux.wait_for(lambda text: "^p palette" in text)
    tmux.keys("q")
    tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)


def test_the_program_panel_marks_the_line_of_each_step(tmux: Tmux, tmp_path: Path) -> None:
    scenario = SCENARIOS / "et-stall.toml"
    program = (SCENARIOS / "programs" / "et_stall.py").read_text().splitlines()
    lines = [int(n) for n in re.findall(r"^line = (\d+)$", scenario.read_text(), re.M)]
    _play(tmux, tmp_path, scenario, "--no-live")
    text = tmux.wait_for(lambda text: "step 0/" in text)
    assert "▶" not in text  # nothing is marked before the first step
    tmux.keys("Right")
    # A line's start (the panel is narrower than the program's longest lines).
    first = program[lines[0] - 1].strip()[:24]
    text = tmux.wait_for(lambda text: "step 1/" in text and "▶" in text)
    marked = [row for row in text.splitlines() if "▶" in row]
    assert any(first in row for row in marked), (first, marked)
    tmux.keys("Right", "Right")
    third = program[lines[2] - 1].strip()[:24]
    tmux.wait_for(lambda text: any(third in r for r in text.splitlines() if "▶" in r))
    tmux.keys("Left", "Left")  # rewind: the mark goes back with the steps
    tmux.wait_for(lambda text: any(first in r for r in text.splitlines() if "▶" in r))
    tmux.keys("q")
    tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)
