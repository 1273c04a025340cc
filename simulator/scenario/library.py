"""Where scenario files are: the shipped set, and the files named on a command line.

The shipped scenarios live in ``scenarios/`` at the top of the source tree. An installed wheel
carries them as package data of `simulator.scenario` under ``shipped/`` (pyproject maps the
folder there), so `shipped_dir` looks in the installed package first and falls back to the
source checkout, which is what an editable install and the test suite use.
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
