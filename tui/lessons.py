"""The lesson catalogue: the shipped scenarios, laid out as the course (`path_of`, the menu) or
grouped by topic (`catalogue`, the command palette), with their summaries.

A scenario's topic comes from its tags and ``mechanism``: anything tagged ``limits`` is about
limits; otherwise epoll, poll and select, or kqueue. A shipped file that does not load still
appears (with its error), so a broken lesson is visible instead of silently missing.

Listing a lesson reads its ``[scenario]`` table with `tomllib` (`load_lesson`), without building
the format's pydantic models: the menu is the app's first screen and draws without them. A file
that is not plainly well formed (unreadable, not TOML, a ``[scenario]`` table without a one-line
title, a summary with control characters, no ``[[step]]`` tables, too many of them) is loaded
in full instead, so the menu shows the loader's whole report, as before. Everything else the
format checks is checked when the lesson is opened (`tui.app.MuxlabApp.open_scenario`), which
shows any problem with the same report.

A *glance* (``glance=True``, the menu's first frame) parses only the text before the first
``[[step]]`` header and counts those headers: a tenth of the work, as the steps are most of a
file. What it cannot see (a step table that is not TOML, a ``[[step]]`` line inside a
multi-line string) the full read finds; the menu makes that read right after its first frame
and lists again whatever it finds different (`tui.screens.menu`).

Each file is read once while it stays the same: `load_lesson` keeps what it found, keyed by the
file's path, size and modification time (`os.stat`), so listing the lessons again (the menu
does when it is shown again, the palette when it searches) costs one ``stat`` a file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.scenario.controls import control_index
from simulator.scenario.course import STEP_HEADER, Section, arrange, place
from simulator.scenario.library import FileMemo, challenges_dir, scenario_files, shipped_dir

#: Caps the quick read shares with the format (`simulator.scenario.format`, which a test holds
#: to these values): past them, the file is loaded in full to report the problem.
MAX_FILE_BYTES = 1 << 20
MAX_STEPS = 20_000
MAX_TITLE = 200
MAX_TEXT = 20_000

#: Topics in menu order.
TOPICS = ("epoll", "poll and select", "kqueue", "io_uring", "limits", "other")


@dataclass(frozen=True)
class Lesson:
    """One scenario file as the menu lists it."""

    path: Path
    title: str
    summary: str = ""
    topic: str = "other"
    steps: int = 0
    error: str | None = None  #: why it cannot be played
    glanced: bool = False  #: only the text before the steps was parsed (see the module docstring)
    knobs: dict[str, Any] | None = None  #: a template's parameters and their defaults (issue 14)
    chapter: int | None = None  #: its chapter of the course (`simulator.scenario.course`)
    order: int | None = None  #: its place in that chapter

    @property
    def steps_text(self) -> str:
        """``87 steps``, or for a template (whose steps follow its knobs) ``knobs: N = 52``."""
        if self.knobs:
            return "knobs: " + ", ".join(f"{name} = {v}" for name, v in self.knobs.items())
        return f"{self.steps} steps"


def topic_of(mechanism: str | None, tags: list[str]) -> str:
    if "limits" in tags:
        return "limits"
    if mechanism == "epoll":
        return "epoll"
    if mechanism in ("poll", "select"):
        return "poll and select"
    if mechanism == "kqueue":
        return "kqueue"
    if mechanism == "io_uring" or "io_uring" in tags:
        return "io_uring"
    return "other"


#: What `load_lesson` found for each path.
_READ: FileMemo[Lesson] = FileMemo()


def load_lesson(path: Path, *, glance: bool = False) -> Lesson:
    """How the menu lists `path`: read quickly (see the module docstring; with `glance`, only
    the text before the steps), or, when the quick read finds anything amiss, loaded in full,
    with the loader's report as its `error`. Unchanged since an earlier call (same size and
    modification time): that call's answer, at the cost of a ``stat`` (a glance's answer only
    to another glance)."""
    try:
        info = path.stat()
    except OSError:
        return _load_lesson(path, glance=False)  # not kept: the full load says what is wrong
    known = _READ.get(path, info)
    if known is not None and (glance or not known.glanced):
        return known
    return _READ.keep(path, info, _load_lesson(path, glance=glance))


def _load_lesson(path: Path, *, glance: bool) -> Lesson:
    quick = _quick_lesson(path, glance=glance)
    if quick is not None:
        return quick
    from simulator.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        return Lesson(path, path.stem, topic="other", error=exc.report())
    meta = scenario.scenario
    return Lesson(
        path,
        meta.title,
        (meta.summary or "").strip(),
        topic_of(meta.mechanism, list(meta.tags)),
        len(scenario.steps),
        chapter=meta.chapter,
        order=meta.order,
    )


def _quick_lesson(path: Path, *, glance: bool) -> Lesson | None:
    """The lesson from its ``[scenario]`` table and its number of steps, or None when the file
    is not plainly well formed (the caller then loads it in full, to say what is wrong). With
    `glance`, the steps are counted, not parsed."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
        if glance:
            first = STEP_HEADER.search(text)
            count = len(STEP_HEADER.findall(text, first.start())) if first else 0
            document = tomllib.loads(text[: first.start()] if first else text)
            document["step"] = [{}] * count
        else:
            document = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    knobs = _knobs(document.pop("params", None))
    if knobs is None:
        return None
    meta, steps = document.get("scenario"), document.get("step")
    if not isinstance(meta, dict) or not isinstance(steps, list):
        return None
    title, summary = meta.get("title"), meta.get("summary", "")
    mechanism, tags = meta.get("mechanism"), meta.get("tags", [])
    well_formed = (
        _is_text(title, MAX_TITLE, multiline=False)
        and bool(title)
        and _is_text(summary, MAX_TEXT, multiline=True)
        and (mechanism is None or isinstance(mechanism, str))
        and isinstance(tags, list)
        and all(isinstance(tag, str) for tag in tags)
        and 1 <= len(steps) <= MAX_STEPS
        and all(isinstance(step, dict) for step in steps)
    )
    if not well_formed:
        return None
    assert isinstance(title, str) and isinstance(summary, str)
    if knobs:  # a template: its texts at the defaults; anything beyond `{NAME}` is a full load
        try:
            title, summary = _filled(title, knobs), _filled(summary, knobs)
        except KeyError:
            return None
    chapter, order = meta.get("chapter"), meta.get("order")
    if not (_is_place(chapter, 12) and _is_place(order, 99)):
        return None  # the full load says what is wrong with them
    topic = topic_of(mechanism, tags)
    return Lesson(
        path,
        title,
        summary.strip(),
        topic,
        len(steps),
        glanced=glance,
        knobs=knobs or None,
        chapter=chapter,
        order=order,
    )


def glance_title(path: Path) -> str | None:
    """The title a glance at `path` finds (a template's, at its knobs' defaults), or None when
    the file is not plainly well formed: what the player shows while it loads the file."""
    lesson = _quick_lesson(path, glance=True)
    return lesson.title if lesson is not None else None


def _is_place(value: Any, high: int) -> bool:
    """None, or an int in 1..`high` (a chapter or an order, as the format takes them)."""
    return value is None or place(value, high) is not None


# --- templates (issue 14): read without the template engine, which needs the pydantic models --
_PLACE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def _knobs(params: Any) -> dict[str, Any] | None:
    """A template's ``[params]`` as {name: default}; {} for a plain scenario; None when they
    are not plainly written (the full load then says what is wrong)."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        return None
    knobs = {
        name: table.get("default") for name, table in params.items() if isinstance(table, dict)
    }
    if len(knobs) != len(params) or not all(isinstance(v, int | str) for v in knobs.values()):
        return None
    return knobs


def _filled(text: str, knobs: dict[str, Any]) -> str:
    """`text` with each ``{NAME}`` replaced by that knob's default; KeyError for any other
    template (an expression)."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        return str(knobs[m.group(1).strip()])

    return _PLACE.sub(one, text)


def _is_text(value: Any, cap: int, *, multiline: bool) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= cap
        and control_index(value, multiline=multiline) is None
    )


def catalogue(
    folder: Path | None = None, *, glance: bool = False
) -> list[tuple[str, list[Lesson]]]:
    """(topic, lessons) in `TOPICS` order, lessons by file name; empty topics left out. With
    `glance`, each file is only glanced at (`load_lesson`)."""
    folder = folder if folder is not None else shipped_dir()
    if folder is None:
        return []
    files, _ = scenario_files([folder])
    lessons = [load_lesson(path, glance=glance) for path in files]
    grouped = [(topic, [one for one in lessons if one.topic == topic]) for topic in TOPICS]
    return [(topic, members) for topic, members in grouped if members]


__all__ = [
    "TOPICS",
    "Lesson",
    "catalogue",
    "glance_title",
    "load_lesson",
    "path_of",
    "topic_of",
]


# --- challenges (issue 14) --------------------------------------------------------------------
@dataclass(frozen=True)
class ChallengeEntry:
    """One shipped challenge as the menu lists it (read with `tomllib` only, like a lesson;
    opening it checks the whole file, `simulator.scenario.challenge.load_challenge`)."""

    name: str  #: the file's stem, which ``muxlab sandbox --challenge`` takes
    title: str
    goal: str = ""
    error: str | None = None
    chapter: int | None = None  #: the chapter of the course it practises
    order: int | None = None  #: its place among that chapter's challenges


def challenge_entries(folder: Path | None = None) -> list[ChallengeEntry]:
    """The shipped challenges (or those in `folder`), by file name."""
    folder = folder if folder is not None else challenges_dir()
    if folder is None:
        return []
    return [_challenge_entry(path) for path in sorted(folder.glob("*.toml"))]


#: What `_challenge_entry` found for each path.
_CHALLENGES: FileMemo[ChallengeEntry] = FileMemo()


def _challenge_entry(path: Path) -> ChallengeEntry:
    """One challenge file as the menu lists it; unchanged since an earlier call (same size and
    modification time), that call's answer, at the cost of a ``stat`` (as `load_lesson`)."""
    try:
        info = path.stat()
    except OSError:
        return _read_challenge(path)  # not kept: the read says what is wrong
    known = _CHALLENGES.get(path, info)
    return known if known is not None else _CHALLENGES.keep(path, info, _read_challenge(path))


def _read_challenge(path: Path) -> ChallengeEntry:
    try:
        if not path.is_file():  # a FIFO would block the read
            raise ValueError("not a regular file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError("the file is too large")
        meta = tomllib.loads(path.read_text(encoding="utf-8"))["challenge"]
        title, goal = meta["title"], meta["goal"]
        if not (isinstance(title, str) and isinstance(goal, str)):
            raise ValueError("title and goal must be text")
        if control_index(title) is not None or control_index(goal, multiline=True) is not None:
            raise ValueError("control characters in the title or goal")
        chapter, order = meta.get("chapter"), meta.get("order")
        if not (_is_place(chapter, 12) and _is_place(order, 99)):
            raise ValueError("chapter must be 1 to 12 and order 1 to 99")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return ChallengeEntry(path.stem, path.stem, error=str(exc))
    return ChallengeEntry(path.stem, title[:MAX_TITLE], goal.strip(), chapter=chapter, order=order)


def path_of(
    folder: Path | None = None, *, glance: bool = False
) -> list[Section[Lesson, ChallengeEntry]]:
    """The course as the menu shows it (`simulator.scenario.course.arrange`): the lessons of
    `folder` (default: the shipped ones) and the shipped challenges, each chapter with its
    lessons then its challenges, lessons without a chapter last ("Other lessons"); chapters
    with neither are left out. With `glance`, each file is only glanced at (`load_lesson`).
    O(files), plus one ``stat`` per file already read."""
    folder = folder if folder is not None else shipped_dir()
    files = scenario_files([folder])[0] if folder is not None else []
    lessons = [load_lesson(path, glance=glance) for path in files]
    sections = arrange(lessons, challenge_entries())
    return [section for section in sections if section.lessons or section.challenges]
