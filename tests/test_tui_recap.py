"""The end of a lesson (issue 15): the recap card in the app, with "n: next lesson", and the
Recap block of ``play --headless`` (a final object with ``--json``).

The fixture course (tests/course/) is two lessons of chapter 1; the first has a recap whose
square brackets must stay text, and a link."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_scenario_format import run_cli
from tests.tui_support import screen_text
from tui.app import make_app
from tui.screens.menu import LessonMenuScreen
from tui.screens.player import PlayerScreen
from tui.screens.recap import RecapScreen

COURSE = Path(__file__).parent / "course"
SIZE = (120, 36)


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


async def test_the_last_step_shows_the_recap_and_n_opens_the_next_lesson() -> None:
    app = make_app(lessons_dir=COURSE, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "▶ A short first lesson  [start here]" in screen_text(app)
        await pilot.press("enter", "right", "right")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)  # not the end yet: no card
        await pilot.press("right")
        await pilot.pause()
        assert isinstance(app.screen, RecapScreen)
        text = screen_text(app)
        assert "The end of: A short first lesson" in text
        assert "An empty non-blocking recv answers EAGAIN at once." in text
        assert "[b]Square brackets[/b] are text, not markup." in text  # not bold: shown as is
        assert "recv(2): https://man7.org/linux/man-pages/man2/recv.2.html" in text
        assert "n: next lesson — The lesson after it" in text
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.title == "The lesson after it"
        # The last lesson of the course: no recap, no next lesson, so no card at its end.
        await pilot.press("right")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await pilot.press("m")
        assert isinstance(app.screen, LessonMenuScreen)
        assert "1 · Blocking and non-blocking I/O   2/2 ✓" in screen_text(app)


async def test_escape_keeps_the_last_step_and_m_goes_to_the_menu() -> None:
    app = make_app(COURSE / "first.toml", lessons_dir=COURSE, live=False, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert isinstance(app.screen, RecapScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.position == 3
        # A jump to the end skips the lesson: no card. Stepping into the end again shows it.
        await pilot.press("left", "end")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await pilot.press("left", "right")
        await pilot.pause()
        assert isinstance(app.screen, RecapScreen)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, LessonMenuScreen)


def test_headless_prints_the_recap_and_the_next_lesson() -> None:
    first = str(COURSE / "first.toml")
    status, out, err = run_cli("play", first, "--headless", "--no-live", "--width", "300")
    assert status == 0, err
    end = out[out.index("\nRecap\n") :].strip()
    assert end.splitlines()[1:] == [
        "  • An empty non-blocking recv answers EAGAIN at once.",
        "  • [b]Square brackets[/b] are text, not markup.",
        "  • epoll_wait reports what is ready.",
        "Read more",
        "  • recv(2): https://man7.org/linux/man-pages/man2/recv.2.html",
        f"Next lesson: The lesson after it (muxlab play {COURSE / 'second.toml'})",
    ]


def test_json_ends_with_the_recap_object_only_when_there_is_one() -> None:
    status, out, _ = run_cli("play", str(COURSE / "first.toml"), "--json", "--no-live")
    assert status == 0
    *steps, end = [json.loads(line) for line in out.splitlines()]
    assert [step["index"] for step in steps] == [0, 1, 2]
    assert end == {
        "recap": [
            "An empty non-blocking recv answers EAGAIN at once.",
            "[b]Square brackets[/b] are text, not markup.",
            "epoll_wait reports what is ready.",
        ],
        "see": [{"title": "recv(2)", "url": "https://man7.org/linux/man-pages/man2/recv.2.html"}],
        "next": str(COURSE / "second.toml"),
    }
    status, out, _ = run_cli("play", str(COURSE / "second.toml"), "--json", "--no-live")
    assert status == 0
    assert all("index" in json.loads(line) for line in out.splitlines())
