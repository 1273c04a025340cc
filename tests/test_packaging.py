"""The wheel carries everything the installed program needs at run time.

Builds a wheel from this checkout, installs it (without dependencies) into a fresh venv whose
only other import path is the test environment's site-packages -- so textual, rich and friends
resolve, but the editable install of this checkout does not (its .pth hook is not processed
there) -- and runs the installed console script from an empty directory.

The wheel is built pure Python (``MUXLAB_PURE_PYTHON=1``): compiling the interest tree with
mypyc took 30 of this module's 50 s, and what is tested here is what the wheel carries and
that the installed program runs, not the compiler. The compiled tree is tested on the
editable install (tests/test_rbtree.py, which requires it under CI).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(ROOT),
        ],
        check=True,
        cwd=tmp,
        env={**os.environ, "MUXLAB_PURE_PYTHON": "1"},
    )
    wheel = next((tmp / "dist").glob("muxlab-*.whl"))
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    purelib = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        cwd=tmp,
    )
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(env_dir / "bin" / "muxlab"), *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_installed_console_script_runs(installed: Path, tmp_path: Path) -> None:
    out = _run(installed, "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "muxlab" in out.stdout


def test_installed_program_uses_its_own_files_and_ships_the_scenarios(
    installed: Path, tmp_path: Path
) -> None:
    probe = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import simulator, tui; print(simulator.__file__); print(tui.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    for line in probe.stdout.split():
        assert str(installed) in line, f"imported from the checkout, not the wheel: {line}"
    # Model only: every shipped scenario is found and runs from the wheel; that each agrees with
    # the real kernel is test_cli's (in lockstep, 15 s here), and the live child starting from
    # the wheel is test_installed_program_ships_the_challenges' (its sandbox is judged live).
    listed = _run(installed, "check", "--no-live", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    shipped = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))
    for name in shipped:
        assert name in listed.stdout, f"{name} missing from the installed scenarios"


def test_installed_program_ships_the_lesson_texts(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "from simulator.scenario.library import lessons_dir; print(lessons_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    folder = Path(probe.stdout.strip())
    assert str(installed) in str(folder), f"lessons read from the checkout, not the wheel: {folder}"
    shipped = sorted(p.name for p in (ROOT / "docs" / "lessons").glob("*.md"))
    assert shipped, "the checkout has no lessons"
    assert sorted(p.name for p in folder.glob("*.md")) == shipped


def test_installed_app_runs_headless_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    """The Textual app (its widgets, screens and stylesheet) is in the wheel and starts."""
    code = (
        "import asyncio, tui.app\n"
        "async def main():\n"
        "    app = tui.app.make_app(animate=False, data_dir={!r})\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "        print(type(app.screen).__name__)\n"
        "asyncio.run(main())\n".format(str(tmp_path / "data"))
    )
    out = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "LessonMenuScreen"


def test_installed_program_ships_the_challenges(installed: Path, tmp_path: Path) -> None:
    """A shipped challenge is found by name and judged by the installed sandbox."""
    script = tmp_path / "nval.txt"
    script.write_text("a, b = socketpair()\nclose(a)\npoll([(a, IN)], 0)\n")
    out = _run(
        installed, "sandbox", "--headless", "--challenge", "poll-nval", str(script), cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Solved in 3 calls" in out.stdout
    assert "judged on the real kernel's answers" in out.stdout and "3 agree" in out.stdout
    names = _run(installed, "sandbox", "--headless", "--challenge", "nope", "-", cwd=tmp_path)
    shipped = sorted(p.stem for p in (ROOT / "scenarios" / "challenges").glob("*.toml"))
    assert f"the shipped ones: {', '.join(shipped)}" in names.stderr
