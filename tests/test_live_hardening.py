"""Hardening of the live engine and of the interpreters muxlab launches (issue 8).

Everything here runs the real thing: `muxlab` as a subprocess, the live child, real pipes.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tui import launch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the live engine is Linux")

MUXLAB = Path(sys.executable).with_name("muxlab")

LESSON = """\
[scenario]
title = "One pair"
summary = "A socketpair and one send."
mechanism = "epoll"

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "send"
args = { fd = "b", nbytes = 5 }
expect = 5
"""


def plant_modules(folder: Path, *names: str) -> None:
    """Modules named like the standard library's (or ours) that leave a marker when imported."""
    for name in names:
        marker = folder / f"imported-{name}"
        (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")


def markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("imported-*"))


# --- item 1: no interpreter we launch imports from the user's directory ----------------------


def test_check_never_imports_modules_from_the_lesson_folder(tmp_path: Path) -> None:
    plant_modules(tmp_path, "tempfile", "socket", "struct", "ctypes", "simulator")
    (tmp_path / "lesson.toml").write_text(LESSON)
    done = subprocess.run(
        [str(MUXLAB), "check", "lesson.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 agree" in done.stdout
    assert markers(tmp_path) == []


def test_the_app_serve_launches_never_imports_from_the_working_directory(tmp_path: Path) -> None:
    # The command textual-serve runs (through a shell) for each browser tab, given a command
    # that ends at once instead of the app.
    plant_modules(tmp_path, "tui", "argparse", "json", "simulator")
    (tmp_path / "lesson.toml").write_text(LESSON)
    command = shlex.join([*launch.app_command(None), "validate", "lesson.toml"])
    done = subprocess.run(
        command, shell=True, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lesson.toml" in done.stdout
    assert markers(tmp_path) == []
