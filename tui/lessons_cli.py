"""``muxlab lessons [FOLDER]``: the course printed -- chapters in order, each with its lessons
(steps and questions) and then its challenges; with ``--json``, one object per line.

Each file is read with `tomllib` only (`simulator.scenario.course.read_entry`): counting the
questions needs the steps, but not the format's models, so listing the shipped course costs
a parse of each file and no validation (``muxlab check`` validates). A file the quick read
cannot place is listed, with why, under "Other lessons". Titles come from files, so the text
output makes them safe for a terminal (`tui.render.safe`); JSON escapes them itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

# The course is imported by the functions that print it: `tui.cli.build_parser` imports this
# module for every command (``muxlab validate`` too), and the course's modules are not needed
# to add ``lessons`` to the parser.
if TYPE_CHECKING:
    from simulator.scenario.course import Entry, Section

EXIT_OK = 0
EXIT_FAILED = 1


def add_parser(commands: Any) -> None:
    """Add ``lessons`` to the command line's sub-commands (`tui.cli.build_parser`)."""
    lessons = commands.add_parser(
        "lessons",
        help="print the course: chapters in order, their lessons and challenges",
        description="The course as the lesson menu shows it: the twelve chapters in order, "
        "each lesson with its steps and questions, then the chapter's challenges. FOLDER: a "
        "folder of your own lessons (and challenges) instead of the shipped ones.",
    )
    lessons.add_argument("folder", type=Path, nargs="?", metavar="FOLDER")
    lessons.add_argument(
        "--json", action="store_true", help="one JSON object per line, per lesson or challenge"
    )


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it is inside it (what a user types)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def as_json(section: Section[Entry, Entry], entry: Entry) -> dict[str, object]:
    """One line of ``--json``: the entry and its chapter (None outside the twelve)."""
    from simulator.scenario.course import OTHER

    lesson = entry.kind == "lesson"
    line: dict[str, object] = {
        "kind": entry.kind,
        "chapter": None if section.chapter is None else section.chapter.number,
        "chapter_title": OTHER if section.chapter is None else section.chapter.title,
        "order": entry.order,
        "title": entry.title,
        "file": _shown(entry.path),
        "steps": entry.steps if lesson else None,
        "asks": entry.asks if lesson else None,
    }
    if lesson:
        line["template"] = entry.template
    else:
        line["name"] = entry.name
    if entry.error is not None:
        line["error"] = entry.error
    return line


def _text(sections: list[Section[Entry, Entry]], out: TextIO) -> None:
    from tui.render.safe import safe_text

    lessons = sum(len(s.lessons) for s in sections)
    challenges = sum(len(s.challenges) for s in sections)
    out.write(f"The course: {lessons} lessons and {challenges} challenges\n")
    for section in sections:
        out.write(f"\n{safe_text(section.heading)}")
        if section.chapter is not None:
            out.write(f" -- {section.chapter.learn}")
        out.write("\n")
        if not section.lessons and not section.challenges:
            out.write("  (no lessons yet)\n")
        for number, entry in enumerate(section.lessons, 1):
            where = safe_text(_shown(entry.path))
            if entry.error is not None:
                out.write(f"  {number}. {where}: cannot be read ({safe_text(entry.error)})\n")
                continue
            asks = f"{entry.asks} question" + ("" if entry.asks == 1 else "s")
            steps = f"{entry.steps} step" + ("" if entry.steps == 1 else "s")
            if entry.template:
                steps += " (a template: its knobs set how many run)"
            out.write(f"  {number}. {safe_text(entry.title)}\n     {steps}, {asks} · {where}\n")
        for entry in section.challenges:
            if entry.error is not None:
                where = safe_text(_shown(entry.path))
                out.write(f"  challenge {where}: cannot be read ({safe_text(entry.error)})\n")
                continue
            out.write(
                f"  challenge: {safe_text(entry.title)}\n"
                f"     muxlab sandbox --challenge {safe_text(entry.name)}\n"
            )


def cmd_lessons(folder: Path | None, *, json_lines: bool, out: TextIO) -> int:
    """Print the course of `folder` (None: the shipped one); status 1 for a folder that is not
    one, or holds no lesson or challenge."""
    if folder is not None and not folder.is_dir():
        print(f"muxlab: {folder}: not a folder of lessons", file=sys.stderr)
        return EXIT_FAILED
    from simulator.scenario.course import course

    sections = course(folder)
    if folder is not None:  # a folder of one's own: only the chapters it fills
        sections = [s for s in sections if s.lessons or s.challenges]
    if not any(s.lessons or s.challenges for s in sections):
        where = "this installation" if folder is None else str(folder)
        print(f"muxlab: no lessons (*.toml) in {where}", file=sys.stderr)
        return EXIT_FAILED
    if json_lines:
        for section in sections:
            for entry in [*section.lessons, *section.challenges]:
                out.write(json.dumps(as_json(section, entry)) + "\n")
        return EXIT_OK
    _text(sections, out)
    return EXIT_OK
