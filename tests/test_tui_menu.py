"""The lesson menu (the first screen) and the progress saved between runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import OptionList

from simulator.scenario.library import FileMemo, is_challenge
from tests.tui_support import EPOLL_SCENARIO, POLL_SCENARIO, screen_text, write
from tui.app import make_app
from tui.lessons import catalogue, challenge_entries, load_lesson
from tui.progress import ProgressStore, data_dir
from tui.screens.load_error import LoadErrorScreen
from tui.screens.menu import LessonMenuScreen
from tui.screens.player import PlayerScreen
from tui.screens.predict import PredictScreen

SIZE = (120, 36)


@pytest.fixture
def lessons(tmp_path: Path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    # Placed in the course (chapters 1 and 4), as shipped lessons are; the broken one is not.
    write(folder, "a-epoll.toml", in_chapter(EPOLL_SCENARIO, 1, 1))
    write(folder, "b-poll.toml", in_chapter(POLL_SCENARIO, 4, 1))
    write(folder, "c-broken.toml", "[scenario]\ntitle = 'Broken'\n")
    return folder


def in_chapter(text: str, chapter: int, order: int) -> str:
    """A scenario's text placed at (`chapter`, `order`) of the course."""
    return text.replace("[scenario]\n", f"[scenario]\nchapter = {chapter}\norder = {order}\n", 1)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(folder))
    return folder


def test_data_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUXLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "muxlab"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_dir() == Path.home() / ".local" / "share" / "muxlab"
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"


def test_catalogue_groups_by_topic_and_keeps_broken_files(lessons: Path) -> None:
    topics = dict(catalogue(lessons))
    assert [lesson.title for lesson in topics["epoll"]] == ["Two sockets, one epoll"]
    assert [lesson.title for lesson in topics["poll and select"]] == ["poll reports HUP"]
    (broken,) = topics["other"]
    assert broken.error is not None and "step" in broken.error


def test_progress_survives_a_corrupt_file(data: Path) -> None:
    data.mkdir()
    (data / "progress.json").write_text("{not json", encoding="utf-8")
    store = ProgressStore()
    assert store.problem is not None and "starts afresh" in store.problem
    assert (data / "progress.json.bad").exists()
    store.update("x", furthest=3, steps=5, right=1, asked=2)
    again = ProgressStore()
    assert again.problem is None
    assert again.get("x").summary() == "3/5 · 1/2 predicted"
    again.update("x", furthest=1, steps=5, right=0, asked=0)  # never goes backwards
    assert ProgressStore().get("x").furthest == 3


async def test_menu_lists_lessons_and_plays_one(lessons: Path, data: Path) -> None:
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LessonMenuScreen)
        text = screen_text(app)
        for expected in (
            "1 · Blocking and non-blocking I/O   0/1",
            "Two sockets, one epoll",
            "4 · poll   0/1",
            "poll reports HUP",
            "Other lessons",
            "c-broken",
        ):
            assert expected in text
        # The highlighted lesson's summary (Markdown) fills its pane after the first frame.
        await pilot.pause()
        assert "A tiny epoll lesson for the TUI tests." in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.title == "Two sockets, one epoll"


async def test_progress_is_saved_and_shown_in_the_menu(lessons: Path, data: Path) -> None:
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", *["right"] * 8)
        assert isinstance(app.screen, PredictScreen)
        await pilot.press("2")  # right
        await pilot.press("right", "m")
        assert isinstance(app.screen, LessonMenuScreen)
        assert "Two sockets, one epoll  [9/10 · 1/1 predicted]" in screen_text(app)
    saved = json.loads((data / "progress.json").read_text(encoding="utf-8"))
    assert saved["lessons"]["a-epoll"] == {"furthest": 9, "steps": 10, "right": 1, "asked": 1}
    # A new run of the app reads it back; finishing the lesson marks it done.
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        assert "9/10 · 1/1 predicted" in screen_text(app)
        await pilot.press("enter", "end", "m")
        assert "✓ Two sockets, one epoll  [done · 1/1 predicted]" in screen_text(app)


async def test_a_broken_lesson_shows_its_error(lessons: Path, data: Path) -> None:
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        options = app.screen.query_one("#lessons", OptionList)
        broken = next(
            i
            for i in range(options.option_count)
            if "c-broken" in str(options.get_option_at_index(i).prompt)
        )
        options.highlighted = broken
        await pilot.pause()
        assert "This scenario cannot be loaded" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, LoadErrorScreen)


# --- issue 10: the menu starts without the scenario models ----------------------------------
_MENU_FIRST_FRAME = """
import asyncio, sys
from tui.app import make_app

async def main() -> None:
    app = make_app(animate=False, data_dir=sys.argv[1])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "LessonMenuScreen", app.screen
        lessons = app.screen.lessons
        assert len(lessons) >= 10 and not any(one.error for one in lessons.values())
    heavy = ("pydantic", "simulator.scenario.format", "simulator.scenario.runner",
             "tui.screens.player", "tui.session", "simulator.kernel", "simulator.live")
    print(" ".join(name for name in heavy if name in sys.modules))

asyncio.run(main())
"""


def test_the_menu_draws_without_loading_the_scenario_models(tmp_path: Path) -> None:
    """The lesson menu is the first screen: drawing it builds no pydantic model and loads
    neither the player nor the runner nor a kernel (they come when a lesson opens)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-I", "-c", _MENU_FIRST_FRAME, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_quick_read_of_lessons_shares_the_format_caps() -> None:
    from simulator.scenario import format as scenario_format
    from tui import lessons as quick

    assert quick.MAX_FILE_BYTES == scenario_format.MAX_FILE_BYTES
    assert quick.MAX_STEPS == scenario_format.MAX_STEPS
    assert quick.MAX_TEXT == scenario_format.MAX_TEXT
    title = scenario_format.Meta.model_fields["title"].metadata
    assert any(getattr(m, "max_length", None) == quick.MAX_TITLE for m in title)


async def test_a_lesson_broken_past_its_header_reports_when_opened(
    lessons: Path, data: Path
) -> None:
    """The menu reads only ``[scenario]`` of a plainly well-formed file; the full check runs
    when the lesson opens, and its report shows then."""
    write(
        lessons,
        "d-bad-step.toml",
        "[scenario]\ntitle = 'Bad step'\n\n[[step]]\ndo = 'epoll_ctl'\nargs = { epfd = 'nope' }\n",
    )
    (lesson,) = [one for _, group in catalogue(lessons) for one in group if "Bad" in one.title]
    assert lesson.error is None and lesson.steps == 1
    app = make_app(animate=False, lessons_dir=lessons)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_scenario(lesson.path)
        await pilot.pause()
        assert isinstance(app.screen, LoadErrorScreen)
        assert "d-bad-step.toml:6: step 1 (epoll_ctl)" in app.screen.report


def test_a_glance_lists_every_shipped_lesson_as_the_full_read_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first frame's glance (the text before the steps, the steps counted) gives each
    shipped lesson the same title, summary, topic and step count as parsing the whole file."""
    # Nothing read yet: a glance would take a full read kept from before.
    monkeypatch.setattr("tui.lessons._READ", FileMemo())
    glanced = catalogue(glance=True)
    full = catalogue()
    assert [topic for topic, _ in glanced] == [topic for topic, _ in full]
    for (_, quick), (_, read) in zip(glanced, full, strict=True):
        assert all(one.glanced for one in quick) and not any(one.glanced for one in read)
        assert [replace(one, glanced=False) for one in quick] == read


async def test_the_full_read_after_the_first_frame_corrects_the_glance(
    lessons: Path, data: Path
) -> None:
    """A step table that is not TOML: the glance cannot see it (it lists the lesson); the full
    read, right after the first frame, lists it as broken, with the loader's report."""
    write(
        lessons,
        "d-bad-toml.toml",
        "[scenario]\ntitle = 'Bad TOML'\nmechanism = 'epoll'\n\n[[step]]\ndo = = 'close'\n",
    )
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    (glanced,) = [
        one
        for _, group in catalogue(lessons, glance=True)
        for one in group
        if one.glanced and "Bad" in one.title
    ]
    assert glanced.error is None and glanced.steps == 1
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Bad TOML" not in text  # listed under its file name, as it cannot be loaded
        assert "⚠ d-bad-toml  (cannot be loaded)" in text


def test_a_lesson_is_read_again_when_its_file_changes(lessons: Path) -> None:
    path = lessons / "a-epoll.toml"
    assert load_lesson(path).title == "Two sockets, one epoll"
    assert load_lesson(path) is load_lesson(path)  # unchanged: not read again
    write(lessons, "a-epoll.toml", EPOLL_SCENARIO.replace("Two sockets", "Three sockets"))
    assert load_lesson(path).title == "Three sockets, one epoll"


def test_a_challenge_is_read_again_when_its_file_changes(tmp_path: Path) -> None:
    """The menu lists the course twice at each start: the second time, an unchanged file
    costs a ``stat`` (`is_challenge`, `challenge_entries`), a changed one is read again."""
    text = '[challenge]\ntitle = "Twice"\ngoal = "Reach it."\n'
    path = write(tmp_path, "twice.toml", text)
    assert is_challenge(path)
    first = challenge_entries(tmp_path)
    assert [entry.title for entry in first] == ["Twice"]
    assert challenge_entries(tmp_path)[0] is first[0]  # unchanged: not read again
    write(tmp_path, "twice.toml", text.replace("Twice", "Thrice"))
    assert [entry.title for entry in challenge_entries(tmp_path)] == ["Thrice"]
    write(tmp_path, "twice.toml", '[scenario]\ntitle = "Now a lesson"\n')
    assert not is_challenge(path)


# --- the menu is the path (issue 15) ----------------------------------------------------------
def _highlighted(app: object) -> str | None:
    from textual.app import App

    assert isinstance(app, App)
    options = app.screen.query_one("#lessons", OptionList)
    assert options.highlighted is not None
    return options.get_option_at_index(options.highlighted).id


def _prompts(app: object) -> list[tuple[str | None, str]]:
    from textual.app import App

    assert isinstance(app, App)
    options = app.screen.query_one("#lessons", OptionList)
    return [
        (options.get_option_at_index(i).id, str(options.get_option_at_index(i).prompt))
        for i in range(options.option_count)
    ]


async def test_a_first_run_highlights_the_first_lesson_marked_start_here(
    lessons: Path, data: Path
) -> None:
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert _highlighted(app) == str(lessons / "a-epoll.toml")
        text = screen_text(app)
        assert "▶ Two sockets, one epoll  [start here]" in text
        assert text.count("start here") == 1
        assert "↑↓ choose · Enter play · Ctrl+P every command · q quit" in text
        assert "Chapter 1 · Blocking and non-blocking I/O:" in text  # the pane beside


async def test_a_return_highlights_the_next_unfinished_lesson(lessons: Path, data: Path) -> None:
    ProgressStore().update("a-epoll", furthest=10, steps=10, right=0, asked=0)
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert _highlighted(app) == str(lessons / "b-poll.toml")
        text = screen_text(app)
        assert "start here" not in text
        assert "✓ Two sockets, one epoll  [done]" in text


async def test_each_chapter_heading_counts_its_lessons_done(lessons: Path, data: Path) -> None:
    write(lessons, "d-epoll.toml", in_chapter(EPOLL_SCENARIO, 1, 2).replace("Two", "Twin"))
    ProgressStore().update("a-epoll", furthest=10, steps=10, right=0, asked=0)
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        headings = [line for key, line in _prompts(app) if key is None]
        assert headings[0] == "1 · Blocking and non-blocking I/O   1/2"
        assert "4 · poll   0/1" in headings
        assert headings[-1] == "Other lessons"  # the broken lesson names no chapter
        # Once every lesson of the chapter is done, its heading says so.
        ProgressStore().update("d-epoll", furthest=10, steps=10, right=0, asked=0)
        app.progress = ProgressStore()
        menu = app.screen
        assert isinstance(menu, LessonMenuScreen)
        menu.progress = app.progress
        menu.refresh_lessons()
        await pilot.pause()
        assert _prompts(app)[0] == (None, "1 · Blocking and non-blocking I/O   2/2 ✓")


async def test_a_challenge_comes_after_the_lessons_of_its_chapter(
    lessons: Path, data: Path
) -> None:
    app = make_app(lessons_dir=lessons, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = [key for key, _ in _prompts(app)]
        lines = [line for _, line in _prompts(app)]
        poll = keys.index(str(lessons / "b-poll.toml"))
        assert lines[poll - 1] == "4 · poll   0/1"
        assert keys[poll + 1] == "challenge:poll-nval"  # the challenge of chapter 4
        assert lines[poll + 2].startswith("5 · epoll's architecture")
        assert "challenge: poll on nothing  [new]" in lines[poll + 1]


async def test_a_newcomer_running_muxlab_lands_on_the_first_shipped_lesson(data: Path) -> None:
    from simulator.scenario.course import course

    first = course()[0].lessons[0]
    app = make_app(live=False, animate=False)  # what `muxlab` opens: the shipped course
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert _highlighted(app) == str(first.path)
        assert f"▶ {first.title}  [start here]" in screen_text(app)
