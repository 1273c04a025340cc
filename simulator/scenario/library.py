"""Where scenario files are: the shipped set, and the files named on a command line.

The shipped scenarios live in ``scenarios/`` at the top of the source tree. An installed wheel
carries them as package data of `simulator.scenario` under ``shipped/`` (pyproject maps the
folder there), so `shipped_dir` looks in the installed package first and falls back to the
source checkout, which is what an editable install and the test suite use.

Lesson texts (Markdown read beside a scenario) are found the same way: ``docs/lessons/`` in the
checkout, ``lessons/`` of `simulator.scenario` in a wheel. A scenario names its text with
``lesson = "name.md"`` in ``[scenario]``; `lesson_path` looks for it beside the scenario file
first (so a user's own scenarios can bring their own texts), then among the shipped lessons.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_dir() -> Path | None:
    """The folder of shipped scenarios, or None if this installation has none."""
    packaged = resources.files("simulator.scenario") / "shipped"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "scenarios"
    return checkout if checkout.is_dir() else None


def lessons_dir() -> Path | None:
    """The folder of shipped lesson texts, or None if this installation has none."""
    packaged = resources.files("simulator.scenario") / "lessons"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "docs" / "lessons"
    return checkout if checkout.is_dir() else None


def lesson_path(scenario_file: Path, lesson: str) -> Path | None:
    """The Markdown file a scenario's ``lesson`` names, or None if there is none.

    Looked up beside `scenario_file` first, then in `lessons_dir`. `lesson` is a relative path
    without ``..`` (the format checks that); anything else finds nothing.
    """
    relative = Path(lesson)
    if not lesson or relative.is_absolute() or ".." in relative.parts:
        return None
    folders = [Path(scenario_file).parent]
    shipped = lessons_dir()
    if shipped is not None:
        folders.append(shipped)
    for folder in folders:
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    return None


def scenario_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Expand files and folders (recursively, ``*.toml``) in order, without duplicates.

    Returns (files, folders that held no scenario). A path that does not exist is returned as
    a file, so loading it reports the problem in the usual way.
    """
    files: list[Path] = []
    empty: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.toml") if p.is_file())
            if not found:
                empty.append(path)
            files.extend(found)
        else:
            files.append(path)
    return list(dict.fromkeys(files)), empty
