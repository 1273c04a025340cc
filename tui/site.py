"""``muxlab site OUT_DIR``: the course as a static site (a MkDocs Material project).

The project written into OUT_DIR (never into the source tree)::

    OUT_DIR/mkdocs.yml                       the theme, the nav (chapters in order), link checks
    OUT_DIR/pages/index.md                   the course: each chapter's lessons with summaries
    OUT_DIR/pages/lessons/NAME.md            one lesson (NAME: its scenario file's name)
    OUT_DIR/pages/lessons/frames/NAME-stepNNN.svg  each step's picture, from `tui.export`
    OUT_DIR/site/                            where ``mkdocs build`` puts the HTML

A lesson page holds its title and summary, the lesson text, then every step -- the call, the
model's and the real kernel's answers, the verdict, the narration, the picture -- with a
predict question shown first and its answer folded in a collapsible block; then the recap, the
``see`` links and the next lesson. ``mkdocs build -f OUT_DIR/mkdocs.yml`` makes the HTML, with
no network (no plugin that fetches anything, no web fonts) and, under ``--strict``, every
internal link and anchor checked (MkDocs' ``validation`` settings).

The steps run in lockstep as in ``muxlab play`` (the live kernel, or the model alone with
``--no-live``); each page says which. Text from the files goes through `tui.sitetext`. Time:
one ``muxlab export`` per lesson (the README has the figure for the shipped course).
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from simulator.scenario.calls import Outcome, show, show_value
from simulator.scenario.course import CHAPTERS
from simulator.scenario.format import Scenario
from simulator.scenario.library import (
    LessonError,
    lesson_path,
    read_lesson,
    scenario_files,
    shipped_dir,
)
from simulator.scenario.loader import ScenarioError, load_scenario
from simulator.scenario.runner import ScenarioRunError, StepRecord
from tui.export import frame_name, frames
from tui.render.safe import safe_text
from tui.render.step import CPYTHON_SAYS, cpython_refused
from tui.sitetext import attribute, literal, prose, without_title
from tui.verdicts import VERDICTS

#: The file that marks a folder as one `muxlab site` wrote (so it may be written again).
MARK_FILE = ".muxlab-site"
_SLUG = re.compile(r"[^A-Za-z0-9_-]")
#: The site's few styles beside Material's: the answers as a labelled list, the facts quieter.
STYLESHEET = "muxlab.css"
_CSS = """/* Written by `muxlab site`. */
.md-typeset .muxlab-answers th {
  text-align: right;
  padding-right: 0.8em;
  font-weight: normal;
  color: var(--md-default-fg-color--light);
  vertical-align: top;
}
.md-typeset .muxlab-answers td { font-family: var(--md-code-font-family); }
.md-typeset .muxlab-about { color: var(--md-default-fg-color--light); font-size: 0.8rem; }
"""


def chapter_titles() -> tuple[str, ...]:
    """The twelve chapter titles, in order (`simulator.scenario.course.CHAPTERS`)."""
    return tuple(chapter.title for chapter in CHAPTERS)


@dataclass(frozen=True)
class Lesson:
    """One scenario file, as a page of the site."""

    path: Path
    scenario: Scenario
    slug: str  #: the page's and its frames' name: the file's name, [A-Za-z0-9_-] only
    text: str | None  #: the lesson text (Markdown), if the scenario names one that exists

    @property
    def title(self) -> str:
        return self.scenario.scenario.title

    @property
    def place(self) -> tuple[int, int, str]:
        """Where the lesson sits in the course: chapter, order, then title (unplaced last)."""
        meta = self.scenario.scenario
        return (meta.chapter or 99, meta.order or 99, meta.title)


class SiteError(Exception):
    """Why the site cannot be written (one message for the user)."""


def build(out: Path, paths: Sequence[Path] = (), *, live: bool = True, width: int = 100) -> int:
    """Write the MkDocs project for `paths` (files or folders; default: the shipped lessons)
    into `out`; returns the exit status (1 with one message on stderr if a file, the folder or
    a run could not be used)."""
    started = time.perf_counter()
    try:
        lessons = load_lessons(paths)
        docs = _prepare(out)
        frames_dir = docs / "lessons" / "frames"
        frames_dir.mkdir(parents=True)
        titles = chapter_titles()
        steps = 0
        for index, lesson in enumerate(lessons):
            after = lessons[index + 1] if index + 1 < len(lessons) else None
            records = _run(lesson, frames_dir, live=live, width=width)
            steps += len(records)
            page = lesson_page(lesson, records, after, titles, live=live)
            (docs / "lessons" / f"{lesson.slug}.md").write_text(page, encoding="utf-8")
        (docs / "index.md").write_text(index_page(lessons, titles), encoding="utf-8")
        (out / "mkdocs.yml").write_text(mkdocs_yml(lessons, titles), encoding="utf-8")
        (docs / STYLESHEET).write_text(_CSS, encoding="utf-8")
    except SiteError as exc:
        print(safe_text(f"muxlab: {exc}", multiline=True), file=sys.stderr)
        return 1
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(safe_text(f"muxlab: cannot write in {out}: {reason}"), file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    source = "model and live kernel" if live else "model only"
    print(
        safe_text(
            f"{len(lessons)} lessons, {steps} steps ({source}) in {out} in {seconds:.1f} s; "
            f"build the HTML with: mkdocs build -f {out / 'mkdocs.yml'}"
        )
    )
    return 0


def load_lessons(paths: Sequence[Path]) -> list[Lesson]:
    """The lessons of `paths` (default: the shipped scenarios) in course order. Raises
    `SiteError` on a file that cannot be read or two files that would share a page."""
    if not paths:
        shipped = shipped_dir()
        if shipped is None:
            raise SiteError("this installation has no shipped scenarios; name files or folders")
        paths = [shipped]
    files, empty = scenario_files(list(paths))
    if empty:
        raise SiteError(f"{empty[0]} holds no scenario (*.toml)")
    lessons: dict[str, Lesson] = {}
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            raise SiteError(exc.report()) from None
        slug = _SLUG.sub("-", path.stem) or "lesson"
        if slug in lessons:
            raise SiteError(
                f"{lessons[slug].path} and {path} would both be the page {slug}.md; "
                "rename one of them"
            )
        lessons[slug] = Lesson(path, scenario, slug, _lesson_text(path, scenario))
    return sorted(lessons.values(), key=lambda lesson: lesson.place)


def _lesson_text(path: Path, scenario: Scenario) -> str | None:
    name = scenario.scenario.lesson
    if name is None:
        return None
    try:
        found = lesson_path(path, name)
        return read_lesson(found) if found is not None else None
    except LessonError as exc:
        raise SiteError(str(exc)) from None


def _prepare(out: Path) -> Path:
    """Make `out` ready: a new or empty folder, or one an earlier run wrote (its ``pages``
    is replaced). Returns the ``pages`` folder. Raises `SiteError` for anything else."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARK_FILE).is_file():
        raise SiteError(f"{out} is not empty and not a site muxlab wrote; choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARK_FILE).write_text("written by `muxlab site`; it may replace pages/\n")
    docs = out / "pages"
    if docs.is_symlink() or docs.is_file():
        docs.unlink()
    elif docs.is_dir():
        shutil.rmtree(docs)
    docs.mkdir()
    return docs


def _run(lesson: Lesson, folder: Path, *, live: bool, width: int) -> list[StepRecord]:
    """Run the lesson, write each step's frame into `folder`; the records, in order."""
    records = []
    total = len(lesson.scenario.steps)
    named = Path(f"{lesson.slug}.toml")  # frame_name reads the stem
    try:
        for record, svg in frames(lesson.scenario, range(1, total + 1), width=width, live=live):
            (folder / frame_name(named, record.number)).write_text(svg, encoding="utf-8")
            records.append(record)
    except ScenarioRunError as exc:
        raise SiteError(f"{lesson.path}: {exc}") from None
    return records


# --- the pages ---------------------------------------------------------------------------------


def _block(html: str, kind: str = "prose") -> str:
    """A raw HTML block of the page (Python-Markdown leaves it as it is)."""
    return f'<div class="muxlab-{kind}">\n{html.strip()}\n</div>\n'


def _chapter_heading(number: int | None, titles: Sequence[str]) -> str:
    if number is None:
        return "More lessons"
    title = titles[number - 1] if number <= len(titles) else f"Chapter {number}"
    return f"{number}. {title}"


def _chapters(lessons: Sequence[Lesson]) -> list[tuple[int | None, list[Lesson]]]:
    """The lessons (in course order) grouped by chapter; None: the lessons without one."""
    by_chapter = groupby(lessons, key=lambda lesson: lesson.scenario.scenario.chapter)
    return [(number, list(group)) for number, group in by_chapter]


def index_page(lessons: Sequence[Lesson], titles: Sequence[str]) -> str:
    """The course: every chapter that has lessons, in order, each lesson linked with its
    summary."""
    parts = [
        "# The course\n",
        _block(
            "<p>I/O multiplexing from a blocking read to a million connections, one lesson at "
            "a time. Every step of a lesson ran on muxlab's model of the kernel and, where the "
            "page says so, on the real Linux kernel beside it; each picture is the model after "
            "the step. Run a lesson yourself with <code>muxlab play FILE</code>.</p>"
        ),
    ]
    if lessons:
        first = lessons[0]
        parts.append(f"**Start here:** [{literal(first.title)}](lessons/{first.slug}.md)\n")
    for number, chapter in _chapters(lessons):
        parts.append(f"## {literal(_chapter_heading(number, titles))}\n")
        for lesson in chapter:
            parts.append(f"### [{literal(lesson.title)}](lessons/{lesson.slug}.md)\n")
            if lesson.scenario.scenario.summary:
                parts.append(_block(prose(lesson.scenario.scenario.summary)))
    return "\n".join(parts)


def lesson_page(
    lesson: Lesson,
    records: Sequence[StepRecord],
    after: Lesson | None,
    titles: Sequence[str],
    *,
    live: bool,
) -> str:
    """One lesson's page (Markdown with raw HTML blocks for the file's text)."""
    meta = lesson.scenario.scenario
    parts = [f"# {literal(meta.title)}\n"]
    if meta.summary:
        parts.append(_block(prose(meta.summary)))
    parts.append(_block(f"<p>{attribute(_provenance(lesson, records, titles, live))}</p>", "about"))
    # A text that opens with the lesson's title would show it twice, the second time as a
    # sub-heading of "The lesson".
    text = without_title(lesson.text, meta.title) if lesson.text is not None else ""
    if text.strip():
        parts += ["## The lesson\n", _block(prose(text))]
    total = len(records)
    for record in records:
        parts.append(_step(lesson, record, total))
    if meta.recap:
        items = "".join(f"<li>{prose(line, inline=True).strip()}</li>" for line in meta.recap)
        parts += ["## Remember\n", _block(f"<ul>{items}</ul>", "recap")]
    if meta.see:
        links = "".join(
            f'<li><a href="{attribute(link.url)}" rel="noopener noreferrer">'
            f"{attribute(link.title)}</a></li>"
            for link in meta.see
        )
        parts += ["## Read more\n", _block(f"<ul>{links}</ul>", "see")]
    parts.append("## Next\n")
    if after is not None:
        parts.append(f"Next lesson: [{literal(after.title)}]({after.slug}.md)\n")
    else:
        parts.append("This is the last lesson of the course.\n")
    parts.append("[All the lessons](../index.md)\n")
    return "\n".join(parts)


def _provenance(
    lesson: Lesson, records: Sequence[StepRecord], titles: Sequence[str], live: bool
) -> str:
    """Where the lesson sits and who answered its steps."""
    meta = lesson.scenario.scenario
    where = f"Chapter {_chapter_heading(meta.chapter, titles)}" if meta.chapter else "A lesson"
    steps = f"{len(records)} step" + ("" if len(records) == 1 else "s")
    answered = sum(1 for r in records if r.live is not None)
    if not live:
        who = "Answers from the model only (the site was built with --no-live)."
    elif answered == 0:
        who = "Answers from the model only: the real kernel did not run these steps (each step's "
        who += "note says why)."
    else:
        kernel = f"{platform.system()} {platform.release()}"
        who = f"Answers from the model and from the real kernel ({kernel}) of the machine that "
        who += "built this site"
        if answered < len(records):
            who += f", which answered {answered} of them (each other step's note says why)"
        who += "."
    return f"{where}. {steps}. {who}"


def _answer_text(outcome: Outcome | None) -> str:
    """An answer as ``muxlab play --headless`` words it."""
    if outcome is None or outcome.error is None:
        return show(outcome)
    words = [outcome.error]
    if outcome.message:
        words.append(outcome.message)
    if cpython_refused(outcome):
        words.append(f"({CPYTHON_SAYS})")
    return "  ".join(words)


def _step(lesson: Lesson, record: StepRecord, total: int) -> str:
    """One step: its heading (anchor ``#step-N``), the call, then either the facts or, for a
    predict question, the question and its answer folded in a collapsible block."""
    step = record.step
    call = f'<pre class="muxlab-call"><code>{attribute(record.call)}</code></pre>'
    rows = [("model", _answer_text(record.model)), ("Linux", _answer_text(record.live))]
    if step.expect is not None:
        rows.append(("expected", show_value(step.expect)))
    if record.note:
        rows.append(("note", record.note))
    if record.diff:
        rows.append(("difference", record.diff))
    rows += [("expectation failed", failure) for failure in record.expect_failures]
    rows.append(("verdict", VERDICTS[record.verdict].counted))
    table = "".join(f"<tr><th>{k}</th><td>{attribute(v)}</td></tr>" for k, v in rows)
    facts = f'<table class="muxlab-answers">{table}</table>'
    say = prose(record.say) if record.say else ""
    picture = (
        f"![Step {record.number} of {total}: the model after the call]"
        f"(frames/{frame_name(Path(f'{lesson.slug}.toml'), record.number)})\n"
    )
    parts = [f"## Step {record.number}\n", _block(call, "step")]
    if not (step.ask and step.choices):
        parts += [_block(facts + say, "step"), picture]
        return "\n".join(parts)
    choices = "".join(f"<li><code>{attribute(show_value(c))}</code></li>" for c in step.choices)
    question = (
        '<div class="admonition question"><p class="admonition-title">Predict</p>'
        f"{prose(step.ask)}<ol>{choices}</ol></div>"
    )
    if record.answer is not None:
        right = show_value(step.choices[record.answer])
        verdict = f"<p>The answer: <strong>{record.answer + 1}. <code>{attribute(right)}</code>"
        verdict += "</strong></p>"
    else:
        verdict = "<p>The answer: none of the choices.</p>"
    parts += [
        question,
        "",
        '<details class="success" markdown>',
        "<summary>Answer</summary>",
        "",
        _block(verdict + facts + say, "step"),
        picture,
        "</details>",
        "",
    ]
    return "\n".join(parts)


def mkdocs_yml(lessons: Sequence[Lesson], titles: Sequence[str]) -> str:
    """The MkDocs configuration: Material, offline, chapters in order, links checked."""
    nav: list[str] = ["  - The course: index.md"]
    for number, chapter in _chapters(lessons):
        nav.append(f"  - {_yaml(_chapter_heading(number, titles))}:")
        nav += [f"      - {_yaml(lesson.title)}: lessons/{lesson.slug}.md" for lesson in chapter]
    return "\n".join(
        [
            "# Written by `muxlab site`: regenerate it rather than edit it.",
            "site_name: muxlab, the course",
            "docs_dir: pages",
            "theme:",
            "  name: material",
            "  # No web fonts: the pages ask no other server for anything.",
            "  font: false",
            "  features: [navigation.footer, navigation.sections]",
            f"extra_css: [{STYLESHEET}]",
            "# Only the built-in search: Material's social and privacy plugins fetch fonts and",
            "# assets from the network, and the site must build offline.",
            "plugins: [search]",
            "markdown_extensions:",
            "  - md_in_html",
            "  - tables",
            "  - toc:",
            "      permalink: true",
            "# Under `mkdocs build --strict` every warning is an error: a broken link to a page,",
            "# a file or an anchor fails the build.",
            "validation:",
            "  omitted_files: warn",
            "  absolute_links: warn",
            "  unrecognized_links: warn",
            "  anchors: warn",
            "nav:",
            *nav,
            "",
        ]
    )


def _yaml(title: str) -> str:
    """A title as a YAML string for the nav, with look-alikes for ``< > " &``.

    MkDocs' and Material's templates print a nav title as markup in some places, escape it in
    others and pass it through Jinja's ``striptags`` (which turns character references back
    into characters) for ``<title>``: no escaping is right for all of them, so the characters
    that could matter are replaced. The page's own heading shows the title exactly."""
    for char, look_alike in _LOOK_ALIKES.items():
        title = title.replace(char, look_alike)
    return json.dumps(title)  # a JSON string is a YAML double-quoted scalar


_LOOK_ALIKES = {"<": "\u2039", ">": "\u203a", '"': "\u201d", "&": "\uff06"}
