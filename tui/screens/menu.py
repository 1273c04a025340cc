"""The lesson menu (the app's first screen): the course, chapter by chapter, with progress.

The list is the path (`tui.lessons.path_of`): each chapter's heading with how many of its
lessons are done, its lessons with the user's saved progress, then the challenges that
practise it. A line above the list tells a newcomer what to press; on a first run the first
lesson is highlighted and marked "start here", on a later run the first unfinished one. The
pane beside the list shows the highlighted lesson's summary (Markdown). Enter plays it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from simulator.scenario.course import CHAPTERS, Section
from simulator.scenario.library import shipped_dir
from tui.commands import PaletteBinding
from tui.lessons import ChallengeEntry, Lesson, path_of
from tui.progress import LessonProgress, ProgressStore, lesson_key
from tui.render.safe import safe_text
from tui.widgets.footer import Footer
from tui.widgets.narration import Narration

#: What the menu shows: (key or None for a heading, line) rows, and each lesson's details.
_Listed = tuple[list[tuple[str | None, str]], list[tuple[str, int, str | None]]]

#: The first screen's one line for a newcomer: what to press.
HINT = "↑↓ choose · Enter play · Ctrl+P every command · q quit"


class LessonMenuScreen(Screen[None]):
    """Topics and lessons; the summary and progress of the highlighted one."""

    DEFAULT_CSS = """
    LessonMenuScreen #path {
        width: 3fr;
        min-width: 40;
        height: 1fr;
    }
    LessonMenuScreen #hint {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    LessonMenuScreen #lessons {
        height: 1fr;
        border: round $primary;
    }
    LessonMenuScreen #about {
        width: 2fr;
        height: 1fr;
        border: round $secondary;
        padding: 0 1;
    }
    LessonMenuScreen.-narrow #about {
        display: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "play", "Play", id="menu-play"),
        PaletteBinding(
            "o",
            "app.open_scenario",
            "Open file",
            title="Open a scenario file…",
            tooltip="play any scenario (o)",
            id="menu-open",
        ),
        PaletteBinding(
            "l",
            "app.open_lab",
            "Lab",
            title="Open the lab",
            tooltip="measure select, poll and epoll on the real kernel (l)",
            id="menu-lab",
        ),
        PaletteBinding(
            "x",
            "app.sandbox",
            "Sandbox",
            title="Sandbox",
            tooltip="type calls and watch both kernels answer (x)",
            id="menu-sandbox",
        ),
    ]

    class ChallengeRequested(Message):
        """The user chose a challenge (the app opens the sandbox with it)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class PlayRequested(Message):
        """The user chose a lesson (the app opens it)."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, progress: ProgressStore, folder: Path | None = None) -> None:
        super().__init__()
        self.progress = progress
        self.folder = folder if folder is not None else shipped_dir()
        self.lessons: dict[str, Lesson] = {}
        self.challenges: dict[str, ChallengeEntry] = {}
        self._listed: _Listed | None = None
        #: Each listed lesson's progress key (`lesson_key` resolves the path: two ``realpath``
        #: calls), found once per listing rather than at each of its ~6 uses in one.
        self._progress_keys: dict[Path, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="path"):
                yield Static(HINT, id="hint", markup=False)
                yield OptionList(id="lessons")
            with VerticalScroll(id="about"):
                yield Narration(id="summary")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "muxlab"
        self.sub_title = "lessons"
        self.query_one("#lessons", OptionList).border_title = "Lessons"
        self.query_one("#about").border_title = "About this lesson"
        self.refresh_lessons(glance=True)
        if self.progress.problem:
            self.notify(self.progress.problem, severity="warning", timeout=8, markup=False)

    def on_screen_resume(self) -> None:
        # After the first frame (and whenever the menu is shown again): the full read of every
        # lesson, which confirms or corrects the first frame's glance (`tui.lessons`).
        self.call_after_refresh(self.refresh_lessons)

    def on_resize(self) -> None:
        self.set_class(self.app.size.width < 80, "-narrow")

    def refresh_lessons(self, *, glance: bool = False) -> None:
        """Rebuild the list (progress may have changed while a lesson played), unless it would
        show the same lines. With `glance`, the lessons are only glanced at (`tui.lessons`).

        The first build highlights where to go: on a first run (nothing saved) the first
        lesson, marked "start here"; on a later run the first unfinished lesson in course
        order. Later builds keep the highlighted entry. O(lessons + challenges)."""
        options = self.query_one("#lessons", OptionList)
        sections = path_of(self.folder, glance=glance)
        self._progress_keys.clear()  # a file may have moved since the last listing
        first_run = not self.progress.lessons and not self.progress.challenges
        start = self._start(sections, first_run=first_run)
        rows: list[tuple[str | None, str]] = []  # (key, line); None: a heading
        for section in sections:
            rows.append((None, self._heading(section)))
            for lesson in section.lessons:
                here = first_run and lesson is start
                rows.append((str(lesson.path), self._line(lesson, start_here=here)))
            for entry in section.challenges:
                rows.append((f"challenge:{entry.name}", self._challenge_line(entry)))
        # Summaries and errors too: the full read may find what the glance could not.
        details = [(one.summary, one.steps, one.error) for one in self._lessons_of(sections)]
        listed = (rows, details)
        if listed == self._listed:
            return
        self._listed = listed
        keep = self._highlighted_key(options)
        options.clear_options()
        self.lessons = {str(one.path): one for one in self._lessons_of(sections)}
        self.challenges = {
            f"challenge:{entry.name}": entry for s in sections for entry in s.challenges
        }
        if not sections:
            options.add_option(
                Option("No shipped scenarios found: press o to open a file", disabled=True)
            )
            return
        for key, line in rows:
            if key is None:
                options.add_option(Option(Text(line, style="bold"), disabled=True))
            else:
                options.add_option(Option(Text(line), id=key))
        target = keep if keep is not None else (str(start.path) if start is not None else None)
        index = options.get_option_index(target) if target in self._keys() else 1
        options.highlighted = index
        options.focus()

    def _saved(self, lesson: Lesson) -> LessonProgress:
        """The saved progress of `lesson` (its key found once per listing)."""
        key = self._progress_keys.get(lesson.path)
        if key is None:
            key = self._progress_keys[lesson.path] = lesson_key(lesson.path, self.folder)
        return self.progress.get(key)

    @staticmethod
    def _lessons_of(sections: list[Section[Lesson, ChallengeEntry]]) -> list[Lesson]:
        return [lesson for section in sections for lesson in section.lessons]

    def _keys(self) -> set[str]:
        return set(self.lessons) | set(self.challenges)

    @staticmethod
    def _highlighted_key(options: OptionList) -> str | None:
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    def _start(
        self, sections: list[Section[Lesson, ChallengeEntry]], *, first_run: bool
    ) -> Lesson | None:
        """Where to begin: the first playable lesson (first run), else the first one not done
        yet (else the first one)."""
        playable = [one for one in self._lessons_of(sections) if one.error is None]
        if not playable:
            return None
        if not first_run:
            for lesson in playable:
                if not self._saved(lesson).completed:
                    return lesson
        return playable[0]

    def _heading(self, section: Section[Lesson, ChallengeEntry]) -> str:
        """``1 · Blocking and non-blocking I/O   1/2`` (lessons done of the chapter's playable
        ones), with a ✓ once all are done."""
        playable = [lesson for lesson in section.lessons if lesson.error is None]
        total = len(playable)
        if total == 0:
            return section.heading
        done = sum(1 for lesson in playable if self._saved(lesson).completed)
        return f"{section.heading}   {done}/{total}" + (" ✓" if done == total else "")

    def _challenge_line(self, entry: ChallengeEntry) -> str:
        """A challenge, with the best score saved."""
        if entry.error:
            return f"  ⚠ challenge: {safe_text(entry.title)}  (cannot be loaded)"
        best = self.progress.challenges.get(entry.name)
        mark, score = ("✓", f"best: {best} calls") if best is not None else (" ", "new")
        return f"  {mark} challenge: {safe_text(entry.title)}  [{score}]"

    def _line(self, lesson: Lesson, *, start_here: bool = False) -> str:
        """``  ✓ Title  [done · 2/3 predicted]``; on a first run, the first lesson is
        ``  ▶ Title  [start here]``."""
        if lesson.error:
            return f"  ⚠ {safe_text(lesson.title)}  (cannot be loaded)"
        if start_here:
            return f"  ▶ {safe_text(lesson.title)}  [start here]"
        saved = self._saved(lesson)
        mark = "✓" if saved.completed else "•" if saved.furthest else " "
        return f"  {mark} {safe_text(lesson.title)}  [{saved.summary()}]"

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # Shown once the screen has been drawn: the summary is Markdown, whose renderer is
        # imported on first use (`safe_markdown`), so the list's first frame does not wait for
        # it; the pane fills one refresh later.
        self.call_after_refresh(self._show_summary, event.option.id)

    def _show_summary(self, key: str | None) -> None:
        """The summary and progress of lesson `key` in the pane beside the list."""
        lesson = self.lessons.get(key or "")
        summary = self.query_one("#summary", Narration)
        entry = self.challenges.get(key or "")
        if entry is not None:
            if entry.error:
                summary.markdown = f"## {entry.title}\n\n**Cannot be loaded:** {entry.error}\n"
                return
            best = self.progress.challenges.get(entry.name)
            score = f"your best: {best} calls" if best is not None else "not solved yet"
            summary.markdown = (
                f"## Challenge: {entry.title}\n\n{entry.goal}\n\n"
                f"*{score} · Enter opens the sandbox with this goal*\n"
            )
            return
        if lesson is None:
            summary.markdown = ""
            return
        saved = self._saved(lesson)
        text = f"## {lesson.title}\n\n"
        if lesson.chapter is not None:
            chapter = CHAPTERS[lesson.chapter - 1]
            text += f"*Chapter {chapter.number} · {chapter.title}: {chapter.learn}*\n\n"
        if lesson.error:
            text += "**This scenario cannot be loaded:**\n\n```\n" + lesson.error + "\n```\n"
        else:
            text += f"{lesson.summary}\n\n*{lesson.steps_text} · `{lesson.path.name}` · "
            text += f"your progress: {saved.summary()}*\n"
        summary.markdown = text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._play(event.option.id)

    def action_play(self) -> None:
        options = self.query_one("#lessons", OptionList)
        if options.highlighted is not None:
            self._play(options.get_option_at_index(options.highlighted).id)

    def _play(self, key: str | None) -> None:
        entry = self.challenges.get(key or "")
        if entry is not None:
            self.post_message(self.ChallengeRequested(entry.name))
            return
        lesson = self.lessons.get(key or "")
        if lesson is not None:
            self.post_message(self.PlayRequested(lesson.path))
