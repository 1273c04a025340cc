"""The lesson menu (the app's first screen): shipped scenarios by topic, with progress.

The list shows each lesson's title and the user's saved progress; the pane beside it shows
the highlighted lesson's summary (Markdown). Enter plays it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList
from textual.widgets.option_list import Option

from simulator.scenario.library import shipped_dir
from tui.commands import PaletteBinding
from tui.lessons import ChallengeEntry, Lesson, catalogue, challenge_entries
from tui.progress import ProgressStore, lesson_key
from tui.render.safe import safe_text
from tui.widgets.narration import Narration

#: What the menu shows of a lesson: its key, its line, its summary, steps and error.
_Listed = tuple[str, str, str, int, str | None]


class LessonMenuScreen(Screen[None]):
    """Topics and lessons; the summary and progress of the highlighted one."""

    DEFAULT_CSS = """
    LessonMenuScreen #lessons {
        width: 1fr;
        min-width: 40;
        height: 1fr;
        border: round $primary;
    }
    LessonMenuScreen #about {
        width: 1fr;
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
        self._listed: list[tuple[str, list[_Listed]]] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
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
        show the same lines. With `glance`, the lessons are only glanced at (`tui.lessons`)."""
        options = self.query_one("#lessons", OptionList)
        topics = catalogue(self.folder, glance=glance)
        lines = [
            (
                topic,
                [
                    (str(one.path), self._line(one), one.summary, one.steps, one.error)
                    for one in group
                ],
            )
            for topic, group in topics
        ]
        # The challenges' lines too: a best score saved in the sandbox changes the list.
        challenges = challenge_entries()
        lines.append(
            (
                "challenges",
                [
                    (c.name, c.title, str(self.progress.challenges.get(c.name)), 0, c.error)
                    for c in challenges
                ],
            )
        )
        if lines == self._listed:
            return
        self._listed = lines
        highlighted = options.highlighted
        options.clear_options()
        self.lessons.clear()
        if not topics:
            options.add_option(
                Option("No shipped scenarios found: press o to open a file", disabled=True)
            )
            return
        for topic, lessons in topics:
            options.add_option(Option(f"── {topic} ──", disabled=True))
            for lesson in lessons:
                key = str(lesson.path)
                self.lessons[key] = lesson
                options.add_option(Option(Text(self._line(lesson)), id=key))
        self._list_challenges(options, challenges)
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted
        else:
            options.highlighted = 1
        options.focus()

    def _list_challenges(self, options: OptionList, challenges: list[ChallengeEntry]) -> None:
        """The shipped challenges, after the lessons, each with the best score saved."""
        self.challenges = {f"challenge:{c.name}": c for c in challenges}
        if not self.challenges:
            return
        options.add_option(Option("── challenges (the sandbox, with a goal) ──", disabled=True))
        for key, entry in self.challenges.items():
            best = self.progress.challenges.get(entry.name)
            mark, score = ("✓", f"best: {best} calls") if best is not None else (" ", "new")
            line = f"{mark} {safe_text(entry.title)}  [{score}]"
            if entry.error:
                line = f"  ⚠ {safe_text(entry.title)}  (cannot be loaded)"
            options.add_option(Option(Text(line), id=key))

    def _line(self, lesson: Lesson) -> str:
        if lesson.error:
            return f"  ⚠ {safe_text(lesson.title)}  (cannot be loaded)"
        saved = self.progress.get(lesson_key(lesson.path, self.folder))
        mark = "✓" if saved.completed else "•" if saved.furthest else " "
        return f"{mark} {safe_text(lesson.title)}  [{saved.summary()}]"

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
        saved = self.progress.get(lesson_key(lesson.path, self.folder))
        text = f"## {lesson.title}\n\n"
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
