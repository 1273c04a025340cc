"""The course: twelve chapters in order, each with its lessons and then its challenges.

A lesson's place is ``chapter`` and ``order`` in its ``[scenario]`` table
(`simulator.scenario.format.Meta`), a challenge's the same keys in its ``[challenge]`` table
(`simulator.scenario.challenge.ChallengeMeta`). `course` lays out the shipped set (or any
folder): each chapter's lessons sorted by (order, title), then its challenges the same way; a
lesson without a chapter (a user's own folder) goes to a last group, "Other lessons".

Reading is cheap on purpose (the lesson menu is the app's first screen and must not wait for
the format's pydantic models): `read_entry` parses a file with `tomllib` only -- with `glance`,
only the text before its first ``[[step]]`` header, counting those headers -- and never
validates; a file that is not TOML, or whose table is not plainly written, is listed with an
`Entry.error` and no chapter, so it shows up (in "Other lessons") instead of vanishing.
Opening or checking a file validates it in full.

`arrange` does the placing for anything with a ``chapter``, ``order`` and ``title`` (the menu
places its own `tui.lessons.Lesson` objects with it), so there is one rule for the order.
`next_lesson` follows that order across chapters, and `ending` gathers what a lesson's last
step leads to (its recap lines, its links, the next lesson) for the player's recap card and
``play --headless``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, Protocol, TypeVar

from simulator.scenario.library import challenges_dir, scenario_files, shipped_dir


@dataclass(frozen=True)
class Chapter:
    """One chapter of the course: its number (1 first), title and what a learner takes away."""

    number: int
    title: str
    learn: str


#: The course, in order (issue 15, "The path").
CHAPTERS: tuple[Chapter, ...] = (
    Chapter(1, "Blocking and non-blocking I/O", "a read that sleeps, O_NONBLOCK and EAGAIN"),
    Chapter(2, "The polling problem", "why asking every socket in turn wastes the machine"),
    Chapter(3, "select", "three bitmaps in, the same three out, and the FD_SETSIZE wall"),
    Chapter(4, "poll", "an array of pollfd, revents, POLLNVAL and the unmaskable HUP/ERR"),
    Chapter(5, "epoll's architecture", "the interest tree, the ready list, O(ready) waits"),
    Chapter(6, "Level- vs edge-triggered", "the ET stall and the two rules that avoid it"),
    Chapter(7, "Flags and gotchas", "ONESHOT, EXCLUSIVE, hang-ups, dup + close, nesting"),
    Chapter(8, "Many threads", "the thundering herd and workers on one epoll instance"),
    Chapter(9, "kqueue", "one call for changes and events; filters and EV_CLEAR"),
    Chapter(10, "Reactor vs proactor", "readiness vs completion: io_uring and IOCP"),
    Chapter(11, "Limits", "EMFILE, ENFILE and accepting at the limit"),
    Chapter(12, "Scale", "O(N) against O(ready), measured, up to many connections"),
)

#: The title of the last group, for lessons that name no chapter.
OTHER = "Other lessons"

Kind = Literal["lesson", "challenge"]


class Placed(Protocol):
    """What `arrange` needs of an item: its chapter (None: none), order and title."""

    @property
    def chapter(self) -> int | None: ...
    @property
    def order(self) -> int | None: ...
    @property
    def title(self) -> str: ...


L = TypeVar("L", bound=Placed)
C = TypeVar("C", bound=Placed)


@dataclass
class Section(Generic[L, C]):
    """One group of the course: a chapter (None: "Other lessons"), its lessons, its challenges."""

    chapter: Chapter | None
    lessons: list[L] = field(default_factory=list)
    challenges: list[C] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """``3 · select``, or ``Other lessons``."""
        return OTHER if self.chapter is None else f"{self.chapter.number} · {self.chapter.title}"


def _sort_key(item: Placed) -> tuple[int, str]:
    return (item.order if item.order is not None else 100, item.title.casefold())


def arrange(lessons: Iterable[L], challenges: Iterable[C] = ()) -> list[Section[L, C]]:
    """Every chapter in order (empty ones too), then "Other lessons" if any lesson or challenge
    names no chapter (or one out of range). Within a section, by (order, title); an item
    without an order comes after those with one. O(n log n) for n items."""
    sections: list[Section[L, C]] = [Section(chapter) for chapter in CHAPTERS]
    other: Section[L, C] = Section(None)

    def home(item: Placed) -> Section[L, C]:
        number = item.chapter
        return sections[number - 1] if number is not None and 1 <= number <= 12 else other

    for lesson in lessons:
        home(lesson).lessons.append(lesson)
    for challenge in challenges:
        home(challenge).challenges.append(challenge)
    for section in [*sections, other]:
        section.lessons.sort(key=_sort_key)
        section.challenges.sort(key=_sort_key)
    return sections + ([other] if other.lessons or other.challenges else [])


@dataclass(frozen=True)
class Entry:
    """One file of the course as `read_entry` found it."""

    path: Path
    kind: Kind
    title: str
    chapter: int | None = None
    order: int | None = None
    steps: int = 0  #: ``[[step]]`` tables as written (a template's expand; a challenge: 0)
    asks: int | None = None  #: step tables with an ``ask`` (None: not counted, a glance)
    template: bool = False  #: has knobs (``[params]``): its steps depend on them
    error: str | None = None  #: why the quick read could not place it

    @property
    def name(self) -> str:
        """The file's stem: what ``muxlab sandbox --challenge`` takes for a challenge."""
        return self.path.stem


#: A ``[[step]]`` header line (where a glance stops parsing, and what it counts).
STEP_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*step[ \t]*\]\]", re.MULTILINE)
_MAX_BYTES = 1 << 20  #: the format's cap (`simulator.scenario.format.MAX_FILE_BYTES`)


def place(value: object, high: int) -> int | None:
    """`value` if it is a chapter or an order as the format takes them (an int in 1..`high`),
    else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high:
        return value
    return None


def read_entry(path: Path, *, glance: bool = False) -> Entry:
    """`path` as a course entry: a challenge if it has a ``[challenge]`` table, else a lesson.

    Parsed with `tomllib` only (see the module docstring); with `glance`, a lesson's steps are
    counted by their headers and its questions are not counted (`Entry.asks` is None).
    O(size of the file)."""
    try:
        if not path.is_file():  # a FIFO would block the read
            raise ValueError("not a regular file")
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError("the file is too large")
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
        first = STEP_HEADER.search(text) if glance else None
        document = tomllib.loads(text[: first.start()] if first else text)
    except (OSError, ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        return Entry(path, "lesson", path.stem, error=str(exc))
    kind: Kind = "challenge" if "challenge" in document else "lesson"
    meta = document.get(kind if kind == "challenge" else "scenario")
    if not isinstance(meta, dict) or not isinstance(meta.get("title"), str):
        return Entry(path, kind, path.stem, error=f"no [{kind}] table with a title")
    title = meta["title"].splitlines()[0][:200] if meta["title"] else path.stem
    chapter, order = place(meta.get("chapter"), 12), place(meta.get("order"), 99)
    if kind == "challenge":
        return Entry(path, kind, title, chapter, order)
    if first is not None:
        steps, asks = len(STEP_HEADER.findall(text, first.start())), None
    else:
        raw = document.get("step", [])
        listed = raw if isinstance(raw, list) else []
        steps = len(listed)
        asks = sum(1 for step in listed if isinstance(step, dict) and "ask" in step)
    return Entry(path, kind, title, chapter, order, steps, asks, template="params" in document)


def course(
    folder: Path | None = None, challenges: Path | None = None, *, glance: bool = False
) -> list[Section[Entry, Entry]]:
    """The course laid out (`arrange`): the lessons of `folder` (default: the shipped ones) and
    the challenges of `challenges` (default: the shipped ones with the shipped lessons, none
    with another folder). A ``[challenge]`` file among the lessons is placed as a challenge.
    O(total size of the files)."""
    if folder is None:
        folder = shipped_dir()
        if challenges is None:
            challenges = challenges_dir()
    files = scenario_files([folder])[0] if folder is not None else []
    if challenges is not None and challenges.is_dir():
        files += sorted(challenges.glob("*.toml"))
    entries = [read_entry(path, glance=glance) for path in dict.fromkeys(files)]
    return arrange(
        [e for e in entries if e.kind == "lesson"], [e for e in entries if e.kind == "challenge"]
    )


def lessons_in_order(sections: Iterable[Section[L, C]]) -> list[L]:
    """The lessons of `sections`, in course order. O(n)."""
    return [lesson for section in sections for lesson in section.lessons]


def _course_paths(folder: Path | None) -> set[Path]:
    """Every file `course` (with the same `folder`) may place, resolved: found without
    reading any (a ``play`` of a file outside the course reads none of the course's).
    O(files)."""
    challenges = challenges_dir() if folder is None else None
    folder = shipped_dir() if folder is None else folder
    paths: list[Path] = []
    if folder is not None:
        paths = list(folder.rglob("*.toml")) if folder.is_dir() else [folder]
    if challenges is not None and challenges.is_dir():
        paths += challenges.glob("*.toml")
    return {path.resolve() for path in paths}


def next_lesson(after: Path, folder: Path | None = None) -> Entry | None:
    """The lesson that follows `after` in course order (glanced at), or None if `after` is the
    last one or not in the course. O(total size of the files before their steps)."""
    try:
        target = after.resolve()
        if target not in _course_paths(folder):
            return None  # not in this course: no need to read its files
    except OSError:
        return None
    order = lessons_in_order(course(folder, glance=True))
    for index, lesson in enumerate(order):
        if lesson.path.resolve() == target:
            return order[index + 1] if index + 1 < len(order) else None
    return None


@dataclass(frozen=True)
class Ending:
    """What follows a lesson's last step: its recap lines, its links (title, url) and the
    next lesson in course order (None: the last, or a file outside the course)."""

    recap: tuple[str, ...] = ()
    see: tuple[tuple[str, str], ...] = ()
    next: Entry | None = None

    @property
    def empty(self) -> bool:
        """Nothing to show: no recap, no link, no next lesson."""
        return not (self.recap or self.see or self.next)


def ending(
    path: Path | None,
    recap: Iterable[str] = (),
    see: Iterable[tuple[str, str]] = (),
    folder: Path | None = None,
) -> Ending:
    """The `Ending` of the lesson in `path` (None: a scenario without a file, e.g. the
    sandbox's), with the `recap` and `see` its ``[scenario]`` table gives; the next lesson is
    looked for in `folder`'s course (default: the shipped one), and for a lesson that names
    its chapter but is not there (a teacher's own course), in the course of its own folder.
    O(`next_lesson`)."""
    following = None
    if path is not None:
        following = next_lesson(path, folder)
        if following is None and read_entry(path, glance=True).chapter is not None:
            following = next_lesson(path, path.parent)
    return Ending(tuple(recap), tuple(see), following)


def shown_path(entry: Path, beside: Path) -> Path:
    """`entry` as a user would type it after playing `beside`: in the same folder, the way
    `beside` was named (``scenarios/oneshot.toml`` after ``scenarios/et-stall.toml``), else
    as it is."""
    try:
        same = entry.resolve().parent == beside.resolve().parent
    except OSError:
        same = False
    return beside.parent / entry.name if same else entry


__all__ = [
    "CHAPTERS",
    "OTHER",
    "STEP_HEADER",
    "Chapter",
    "Ending",
    "Entry",
    "Section",
    "arrange",
    "course",
    "ending",
    "lessons_in_order",
    "next_lesson",
    "place",
    "read_entry",
    "shown_path",
]
