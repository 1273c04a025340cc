"""The program beside the kernel: the user-space source a lesson's steps come from.

A scenario may name, with ``program = "programs/x.py"`` in ``[scenario]``, a short program (a
Python event loop, or C) whose calls its steps are; each step may say which line(s) of it it
comes from with ``line = 12`` (or ``line = [12, 13]``). The player shows the program in a panel
with the current step's lines marked; ``play --headless`` prints them under the call.

The program is a file someone else may have written, found only beside the scenario (a symbolic
link must not lead out of that folder) and read like a lesson text: a regular file of at most
`MAX_PROGRAM_BYTES` of UTF-8 with no control characters but newlines and tabs, and at most
`MAX_PROGRAM_LINES` lines (a panel shows it whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.scenario.library import LessonError, find_inside, read_plain, shipped_dir

MAX_PROGRAM_BYTES = 64 << 10  #: a program larger than this is refused unread
MAX_PROGRAM_LINES = 2000


class ProgramError(LessonError):
    """A program file that is missing or must not be shown; `str()` says why, naming it."""


@dataclass(frozen=True)
class Program:
    """A program's text, split into lines (numbered from 1, as ``line`` counts them)."""

    path: Path
    text: str

    @property
    def lines(self) -> list[str]:
        """The lines, without their line breaks."""
        return self.text.splitlines()

    def excerpt(self, numbers: list[int]) -> list[tuple[int, str]]:
        """The lines `numbers` (1-based) with their numbers, those past the end left out.
        O(len(text))."""
        lines = self.lines
        return [(n, lines[n - 1]) for n in numbers if 1 <= n <= len(lines)]


def step_lines(line: int | list[int] | None) -> list[int]:
    """A step's ``line`` field as a list of line numbers (empty without one)."""
    if line is None:
        return []
    return [line] if isinstance(line, int) else list(line)


def load_program(scenario_file: Path, name: str) -> Program:
    """The program `name` (a relative path without ``..``) beside `scenario_file`.

    Raises `ProgramError` when it is not there, leads out of the folder, is not plain UTF-8
    text, or is too large. O(size of the file).
    """
    relative = Path(name)
    folder = Path(scenario_file).parent
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ProgramError(f"program {name!r} must be a relative path without '..'")
    # Beside the scenario first, then among the shipped ones (as lesson texts are looked up):
    # a copy of a shipped lesson, edited elsewhere, still shows its program.
    folders = [folder]
    shipped = shipped_dir()
    if shipped is not None and shipped.resolve() != folder.resolve():
        folders.append(shipped)
    found = find_inside(folders, relative, "program", ProgramError)
    if found is None:
        places = f"beside the scenario ({folder})"
        places += f" and in the shipped scenarios ({shipped})" if len(folders) > 1 else ""
        raise ProgramError(f"program file {name!r} not found; looked {places}")
    text = read_plain(found, "program", MAX_PROGRAM_BYTES, ProgramError)
    count = len(text.splitlines())
    if count > MAX_PROGRAM_LINES:
        raise ProgramError(
            f"program file {found} has {count} lines; programs are capped at "
            f"{MAX_PROGRAM_LINES} lines"
        )
    return Program(found, text)
