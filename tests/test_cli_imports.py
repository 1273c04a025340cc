"""What each ``muxlab`` command imports: only what it needs.

Every command builds the whole parser (`tui.cli.build_parser`, which adds ``lab`` and
``lessons``), and every test that runs ``muxlab`` in a subprocess, like every user typing
``muxlab validate``, pays for what that imports. Each case runs the command in a fresh
interpreter and lists the modules it loaded that it must not: the app (Textual), the lab's
experiments, the course, the kernels a command does not run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "select-basics.toml")
CHALLENGE = str(next((ROOT / "scenarios" / "challenges").glob("*.toml")))

#: Never needed outside their own commands (the app, ``lab``).
NEVER = ("textual", "simulator.bench.thrash", "simulator.bench.sweep")
#: The course: for ``lessons``, and for ``play``, which ends a lesson with the next one.
COURSE = ("simulator.scenario.course",)
#: The kernels: not for a command that runs nothing.
KERNELS = ("simulator.kernel", "simulator.live")
#: The renderers: only for a command that prints steps.
PRINTING = ("rich", "tui.render", "tui.headless")

CASES = {
    "validate": (["validate", SCENARIO, CHALLENGE], (*NEVER, *COURSE, *KERNELS, *PRINTING)),
    "schema": (["schema"], (*NEVER, *COURSE, *KERNELS, *PRINTING)),
    "check --no-live": (
        ["check", SCENARIO, "--no-live"],
        (*NEVER, *COURSE, "simulator.live", *PRINTING),
    ),
    "play --headless --no-live": (
        ["play", SCENARIO, "--headless", "--no-live"],
        (*NEVER, "simulator.live"),
    ),
}

_PROGRAM = """
import contextlib, io, json, sys
from tui.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(json.loads(sys.argv[1]))
print(json.dumps([status, sorted(sys.modules)]))
"""


def _loaded(argv: list[str]) -> tuple[int, list[str]]:
    """Run ``muxlab ARGV`` in a fresh interpreter: its exit status and every module it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    status, modules = json.loads(done.stdout)
    return status, modules


@pytest.mark.parametrize("case", CASES)
def test_a_command_imports_only_what_it_needs(case: str) -> None:
    argv, forbidden = CASES[case]
    status, modules = _loaded(argv)
    assert status == 0
    extra = [m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert extra == []


def test_the_probe_sees_what_a_command_loads() -> None:
    """The same probe on ``muxlab lessons``, which reads the course: the course is seen."""
    status, modules = _loaded(["lessons", "--json"])
    assert status == 0
    assert "simulator.scenario.course" in modules
