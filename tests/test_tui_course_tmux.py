"""The course's ending in the real program in a real terminal (tmux): a short lesson played to
its last step shows the recap card, and n opens the next lesson (issue 15)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.test_tui_tmux import ROOT, Tmux, tmux

pytestmark = pytest.mark.usefixtures("tmux_installed")
__all__ = ["tmux"]  # the fixture, used by name

COURSE = Path(__file__).parent / "course"


def test_a_lesson_played_to_the_end_shows_the_recap_and_opens_the_next(
    tmux: Tmux, tmp_path: Path
) -> None:
    # COLUMNS and LINES (set by some shells and CI runners) would override tmux's size.
    tmux.start(
        f"cd {ROOT} && env -u COLUMNS -u LINES MUXLAB_DATA_DIR={tmp_path / 'data'} "
        f"{sys.executable} -m tui play {COURSE / 'first.toml'} --no-live; "
        "echo MUXLAB-EXITED-$?; sleep 30"
    )
    tmux.wait_for(lambda text: "step 0/3" in text)
    tmux.keys("Right", "Right")
    tmux.wait_for(lambda text: "step 2/3" in text)
    tmux.keys("Right")
    # The card's lines all at once: a capture can fall between two parts of one frame's output.
    card = (
        "The end of: A short first lesson",
        "[b]Square brackets[/b] are text, not markup.",
        "n: next lesson — The lesson after it",
    )
    tmux.wait_for(lambda text: all(line in text for line in card))
    tmux.keys("n")
    tmux.wait_for(lambda text: "The lesson after it" in text and "step 0/1" in text)
    tmux.keys("q")
    tmux.wait_for(lambda text: "MUXLAB-EXITED-0" in text)
