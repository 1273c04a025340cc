"""Where scenario files are: the shipped set, and the files named on a command line.

The shipped scenarios live in ``scenarios/`` at the top of the source tree, and the shipped
challenges (`simulator.scenario.challenge`) in ``scenarios/challenges/``. An installed wheel
carries them as package data of `simulator.scenario` under ``shipped/`` (pyproject maps the
folder there), so `shipped_dir` looks in the installed package first and falls back to the
source checkout, which is what an editable install and the test suite use.

Lesson texts (Markdown read beside a scenario) are found the same way: ``docs/lessons/`` in the
checkout, ``lessons/`` of `simulator.scenario` in a wheel. A scenario names its text with
``lesson = "name.md"`` in ``[scenario]``; `lesson_path` looks for it beside the scenario file
first (so a user's own scenarios can bring their own texts), then among the shipped lessons.
A lesson comes from a file someone else may have written, so `lesson_path` does not follow a
symbolic link out of the folder it was found in, and `read_lesson` reads at most
`MAX_LESSON_BYTES` of plain UTF-8 text.
"""

from __future__ import annotations

import os
import re
import stat
from importlib import resources
from pathlib import Path
from typing import Generic, TypeVar

from simulator.scenario.controls import control_index, describe_character, printable

T = TypeVar("T")

MAX_LESSON_BYTES = 1 << 20  #: a lesson text larger than this is refused unread


class LessonError(Exception):
    """A lesson text that exists but must not be shown; `str()` says why, naming the file."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


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


def challenges_dir() -> Path | None:
    """The folder of shipped challenges (`simulator.scenario.challenge`), or None."""
    packaged = resources.files("simulator.scenario") / "challenges"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "scenarios" / "challenges"
    return checkout if checkout.is_dir() else None


def lesson_path(scenario_file: Path, lesson: str) -> Path | None:
    """The real path of the Markdown file a scenario's ``lesson`` names, or None if there is
    none.

    Looked up beside `scenario_file` first, then in `lessons_dir`. `lesson` is a relative path
    without ``..`` (the format checks that); anything else finds nothing. Symbolic links are
    resolved, and the real path must stay inside the folder the lesson was found in: a link
    that leads elsewhere raises `LessonError` rather than showing, say, ``/etc/shadow``.
    """
    relative = Path(lesson)
    if not lesson or relative.is_absolute() or ".." in relative.parts:
        return None
    folders = [Path(scenario_file).parent]
    shipped = lessons_dir()
    if shipped is not None:
        folders.append(shipped)
    return find_inside(folders, relative, "lesson", LessonError)


def find_inside(
    folders: list[Path], relative: Path, what: str, error: type[LessonError]
) -> Path | None:
    """The real path of `relative` in the first of `folders` that holds it, or None.

    A symbolic link must not lead out of the folder it was found in (`error` is raised, naming
    the file as a `what` file). O(len(folders)) stat calls.
    """
    for folder in folders:
        candidate = folder / relative
        if not os.path.lexists(candidate):
            continue
        try:
            real, root = candidate.resolve(strict=True), folder.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # a loop, a dangling link
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a link loop"
            raise error(f"{what} file {candidate} cannot be resolved: {reason}") from None
        if not real.is_relative_to(root):
            raise error(
                f"{what} file {candidate} is a link to {real}, outside {root}; "
                f"a {what} must stay inside the scenario's folder"
            )
        return real
    return None


def read_lesson(path: Path) -> str:
    """The text of a lesson file: a regular file of at most `MAX_LESSON_BYTES` of UTF-8, with no
    control characters but newlines and tabs (it is shown on a terminal). Raises `LessonError`.
    """
    return read_plain(path, "lesson", MAX_LESSON_BYTES, LessonError)


def read_plain(path: Path, what: str, cap: int, error: type[LessonError]) -> str:
    """The text of a regular file of at most `cap` bytes of UTF-8 with no control characters
    but newlines and tabs; raises `error`, naming the file as a `what` file. O(cap).
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} file {path} is not a regular file")
        if info.st_size > cap:
            raise error(
                f"{what} file {path} is {info.st_size} bytes; {what}s are capped at {cap} bytes"
            )
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except OSError as exc:
        raise error(f"{what} file {path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise error(f"{what} file {path} is larger than the cap of {cap} bytes")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from None
    bad = control_index(text, multiline=True)
    if bad is not None:
        line, column = text.count("\n", 0, bad) + 1, bad - text.rfind("\n", 0, bad)
        raise error(
            f"{what} file {path}:{line}:{column}: may hold newlines and tabs but no other "
            f"control characters, found {describe_character(text[bad])}"
        )
    return text


def scenario_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Expand files and folders (recursively, ``*.toml``) in order, without duplicates, and
    keep the scenarios: a challenge file (`is_challenge`) is left out (see `course_files`).

    Returns (files, folders that held no scenario). A path that does not exist is returned as
    a file, so loading it reports the problem in the usual way; so is a ``*.toml`` link inside a
    folder that leads nowhere (dangling, or a loop): it is reported, not silently skipped.
    """
    scenarios = course_files(paths)[0]
    empty = [p for p in paths if p.is_dir() and not any(s.is_relative_to(p) for s in scenarios)]
    return scenarios, list(dict.fromkeys(empty))


#: A ``[challenge]`` table header on a line of its own: how a challenge file is told apart.
_CHALLENGE_HEADER = re.compile(r"^[ \t]*\[[ \t]*challenge[ \t]*\][ \t]*(#.*)?$", re.MULTILINE)
_SCENARIO_HEADER = re.compile(r"^[ \t]*\[[ \t]*scenario[ \t]*\]", re.MULTILINE)


class FileMemo(Generic[T]):
    """Answers about files, each kept with the (size, modification time) of the file it was
    found for: while the file keeps them, the answer holds, and checking costs the caller's one
    ``stat``. The menu lists the course at every start and again after its first frame."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[tuple[int, int], T]] = {}

    def get(self, path: Path, info: os.stat_result) -> T | None:
        """The answer kept for `path` if `info` (its ``stat``) still matches, else None."""
        known = self._known.get(path)
        if known is None or known[0] != (info.st_size, info.st_mtime_ns):
            return None
        return known[1]

    def keep(self, path: Path, info: os.stat_result, answer: T) -> T:
        """Keep `answer` for `path` as of `info`; returns it."""
        self._known[path] = ((info.st_size, info.st_mtime_ns), answer)
        return answer


#: What `is_challenge` found for each path.
_KIND: FileMemo[bool] = FileMemo()


def is_challenge(path: Path) -> bool:
    """Whether `path` is a challenge file: a regular file of at most `MAX_LESSON_BYTES` whose
    text has a ``[challenge]`` table header and no ``[scenario]`` one. Anything else (not
    readable, not UTF-8) is taken for a scenario, whose loader then says what is wrong.
    O(size of the file); unchanged since an earlier call, one ``stat`` (`FileMemo`)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_LESSON_BYTES:
            return False
        known = _KIND.get(path, info)
        if known is not None:
            return known
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    found = bool(_CHALLENGE_HEADER.search(text)) and not _SCENARIO_HEADER.search(text)
    return _KIND.keep(path, info, found)


def course_files(paths: list[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """Expand files and folders (recursively, ``*.toml``) in order, without duplicates, into
    (scenario files, challenge files, folders that held no ``*.toml`` at all). Each file is
    told apart by `is_challenge`, so ``scenarios/`` (which holds ``challenges/``) expands to
    both kinds. O(total size of the files)."""
    files: list[Path] = []
    empty: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.toml") if not p.is_dir())
            if not found:
                empty.append(path)
            files.extend(found)
        else:
            files.append(path)
    scenarios: list[Path] = []
    challenges: list[Path] = []
    for path in dict.fromkeys(files):
        (challenges if is_challenge(path) else scenarios).append(path)
    return scenarios, challenges, empty
