"""Text from a file never reaches a terminal raw: escape sequences in a scenario or a lesson
(OSC 0 window title, OSC 52 clipboard, OSC 8 hyperlink, CSI, the C1 introducer U+009B) are
shown, made visible, by ``--headless``, by the app's every screen, and by the real program in a
real terminal (tmux), which must keep its window title and clipboard."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shlex
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from simulator.scenario import Runner, StepRecord, load_scenario
from tests.tui_support import EPOLL_SCENARIO, screen_text, until, write
from tui.app import AppOptions, MuxlabApp
from tui.predict import Question
from tui.render.live_side import LiveSide
from tui.render.safe import CONTROL_CODES, Neutralised, safe_markdown, safe_text
from tui.render.step import StepView
from tui.screens.lesson_text import LessonTextScreen
from tui.screens.player import PlayerScreen
from tui.screens.predict import PredictScreen
from tui.session import PlaySession

ROOT = Path(__file__).resolve().parents[1]

#: What a hostile file writes (as Python text): every kind of sequence the issue names.
HOSTILE = (
    "\x1b]0;PWNED-TITLE\x07"  # OSC 0: the window title
    " \x1b]52;c;SGVsbG8=\x07"  # OSC 52: write "Hello" to the clipboard
    " \x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8: a hidden hyperlink
    " \x1b[2J\x1b[31mRED"  # CSI: clear the screen, then red
    " \x9b31mC1"  # C1 CSI
    " \x90DCS\x9c \x7fDEL"
)
#: The same, as a TOML basic string's escapes (TOML has no \x: every byte is a \u escape).
HOSTILE_TOML = "".join(
    c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else f"\\u{ord(c):04x}" for c in HOSTILE
)
VISIBLE = "^[]0;PWNED-TITLE^G"  # how the title sequence shows once neutralised
SGR = re.compile(r"\x1b\[[0-9;]*m")


def controls(text: str) -> list[str]:
    """The control characters in `text`, other than line breaks."""
    return [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"]


def escapes_other_than_colour(text: str) -> list[str]:
    """What is left after removing SGR colour sequences (the only escapes rich should write)."""
    return controls(SGR.sub("", text))


#: The real command line with the loader's control-character check switched off. Validation
#: refuses control characters in every text field and lesson file (issue 8.2); these tests show
#: that the output side neutralises them on its own too, as if validation had a hole.
LEAKY_MUXLAB = """
import sys

import simulator.scenario.format as fmt
import simulator.scenario.library as lib

fmt.control_index = lambda text, *, multiline=False: None
lib.control_index = fmt.control_index

from tui.cli import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def leaky_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """`LEAKY_MUXLAB`'s hole, in this process."""

    def no_control(text: str, *, multiline: bool = False) -> int | None:
        return None

    monkeypatch.setattr("simulator.scenario.format.control_index", no_control)
    monkeypatch.setattr("simulator.scenario.library.control_index", no_control)


def hostile_scenario(tmp_path: Path, name: str = "hostile.toml") -> Path:
    """The tests' epoll scenario with hostile text in the narration (Markdown, several lines) of
    the first step and in its lesson file: loadable only through `leaky_validation` (or
    `LEAKY_MUXLAB`), since the loader refuses control characters."""
    write(tmp_path, "hostile.md", f"# Lesson\n\n{HOSTILE}\n\n[docs](http://evil.example/)\n")
    text = EPOLL_SCENARIO.replace(
        'say = "A connection: read on `a`, write on `a_peer`."',
        f'say = "Hostile: {HOSTILE_TOML} [docs](http://evil.example/) end."',
    ).replace('mechanism = "epoll"', 'mechanism = "epoll"\nlesson = "hostile.md"')
    assert text.count("Hostile:") == 1
    return write(tmp_path, name, text)


# --- the neutraliser ----------------------------------------------------------------------


def test_every_c0_and_c1_control_character_is_made_visible() -> None:
    assert len(CONTROL_CODES) == 32 + 1 + 32
    for code in CONTROL_CODES:
        shown = safe_text(f"a{chr(code)}b")
        assert shown.startswith("a") and shown.endswith("b")
        assert len(shown) > 2, hex(code)  # replaced by something visible, not dropped
        assert not controls(shown) and "\n" not in shown, hex(code)
        multi = safe_text(f"a{chr(code)}b", multiline=True)
        if chr(code) in "\n\t":
            assert multi == f"a{chr(code)}b"
        else:
            assert multi == shown, hex(code)
    assert safe_text("\x1b") == "^[" and safe_text("\x7f") == "^?" and safe_text("\x9b") == "M-^["
    assert safe_text("one\r\ntwo", multiline=True) == "one\ntwo"
    assert safe_text(safe_text(HOSTILE)) == safe_text(HOSTILE)


def test_text_without_control_characters_is_unchanged() -> None:
    printable = "".join(chr(c) for c in range(0x20, 0x2000) if c not in CONTROL_CODES)
    assert safe_text(printable) == printable
    assert safe_text("fd ■ ✓ épÖll 🙂\u00a0x") == "fd ■ ✓ épÖll 🙂\u00a0x"


def test_markdown_from_a_file_shows_link_addresses_and_no_escape() -> None:
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor")
    console.print(safe_markdown(f"{HOSTILE}\n\n[docs](http://evil.example/)"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert not escapes_other_than_colour(out)
    assert "http://evil.example/" in out and VISIBLE in out


# --- safe_markdown's one parser: the same Markdown rich builds itself ----------------------
MARKDOWN_SAMPLES = (
    f"{HOSTILE}\n\n[docs](http://evil.example/)",
    "# Title\n\n**bold** *it* ~~gone~~ `code`\n\n- one\n- two\n\n1. first\n",
    "| a | b |\n| - | - |\n| 1 | 2 |\n\n> quoted\n\n```python\nx = 1\n```\n\n---\n",
    "http://bare.example/ and <http://angle.example/>\r\nnext line\tand a tab",
    "",
)


def _shipped_texts() -> Iterator[str]:
    """Every string in the shipped scenarios and challenges, and every lesson's Markdown."""
    import tomllib

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    for path in sorted((ROOT / "scenarios").rglob("*.toml")):
        yield from strings(tomllib.loads(path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "docs" / "lessons").glob("*.md")):
        yield path.read_text(encoding="utf-8")


def _rich_own(text: str) -> Any:
    from rich.markdown import Markdown

    return Markdown(safe_text(text, multiline=True), hyperlinks=False)


def test_safe_markdown_parses_every_shipped_text_as_rich_does() -> None:
    texts = sorted({*MARKDOWN_SAMPLES, *_shipped_texts()})
    assert len(texts) > 500  # the shipped texts were found
    for text in texts:
        ours, theirs = safe_markdown(text), _rich_own(text)
        assert ours.parsed == theirs.parsed, text  # markdown-it's tokens: dataclasses, deep ==
        assert {**vars(ours), "parsed": None} == {**vars(theirs), "parsed": None}, text


@pytest.mark.parametrize("text", MARKDOWN_SAMPLES)
def test_safe_markdown_draws_what_rich_draws(text: str) -> None:
    drawn = []
    for markdown in (safe_markdown(text), _rich_own(text)):
        console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system="256")
        console.print(markdown)
        drawn.append(console.file.getvalue())  # type: ignore[attr-defined]
    assert drawn[0] == drawn[1]
    assert drawn[0].strip() or not text


# --- --headless: the real program, its real output ----------------------------------------


@pytest.mark.parametrize("colour", [False, True])
def test_headless_output_has_no_escape_from_the_file(tmp_path: Path, colour: bool) -> None:
    # A file name is text from outside too (the header prints it): no validation can refuse it.
    path = hostile_scenario(tmp_path, "evil\x1b]0;NAME\x07.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    if colour:
        env["FORCE_COLOR"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LEAKY_MUXLAB,
            "play",
            str(path),
            "--headless",
            "--no-live",
            "--width",
            "400",
        ],
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    out = done.stdout.decode("utf-8")
    assert done.returncode == 0, done.stderr.decode()
    # Colour really was on (or off): the verdict is drawn in yellow.
    assert bool(re.search(r"\x1b\[[0-9;]*mmodel only", out)) is colour
    assert not escapes_other_than_colour(out), sorted(set(escapes_other_than_colour(out)))
    plain = SGR.sub("", out)
    assert VISIBLE in plain and "M-^[31mC1" in plain
    assert "evil^[]0;NAME^G.toml" in plain
    assert "docs (http://evil.example/)" in plain


def _record_with(tmp_path: Path, **fields: Any) -> StepRecord:
    """Step 8's record (it has a question), with fields replaced as if a file had held them:
    the text validation may refuse still must not reach the terminal raw if it gets through."""
    scenario = load_scenario(hostile_scenario(tmp_path))
    with Runner(scenario) as runner:
        records = list(runner)
    record = records[7]
    step = record.step.model_copy(
        update={"ask": HOSTILE, "choices": [[HOSTILE], {"error": HOSTILE}]}
    )
    return dataclasses.replace(record, step=step, **fields)


def test_step_and_live_pictures_neutralise_every_field(
    tmp_path: Path, leaky_validation: None
) -> None:
    record = _record_with(
        tmp_path, call=HOSTILE, say=HOSTILE, note=HOSTILE, diff=HOSTILE, expect_failures=(HOSTILE,)
    )
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, color_system="truecolor")
    console.print(StepView(record, 10))
    console.print(LiveSide(Text(HOSTILE), record))
    out = buffer.getvalue()
    assert not escapes_other_than_colour(out), sorted(set(escapes_other_than_colour(out)))
    assert out.count("PWNED-TITLE") >= 8


# --- the app (Pilot) ----------------------------------------------------------------------


async def test_every_screen_of_the_app_shows_file_text_neutralised(
    tmp_path: Path, leaky_validation: None
) -> None:
    path = hostile_scenario(tmp_path)
    scenario = load_scenario(path)
    # Fields the loader may refuse control characters in: set them as if it had let them by.
    meta = scenario.scenario.model_copy(update={"title": HOSTILE, "summary": HOSTILE})
    steps = list(scenario.steps)
    steps[7] = steps[7].model_copy(update={"ask": HOSTILE})  # (choices must be results)
    hostile = scenario.model_copy(update={"scenario": meta, "steps": steps})
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    app = MuxlabApp(AppOptions(animate=False, data_dir=tmp_path / "data", lessons_dir=lessons))
    async with app.run_test(size=(140, 44)) as pilot:
        await app.push_screen(PlayerScreen(PlaySession(hostile, path, live=False), animate=False))
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        seen = [screen_text(app)]  # the start: title (header) and summary
        await pilot.press("right")
        await until(pilot, lambda: screen.session.position == 1)
        seen.append(screen_text(app))  # step 1: the hostile narration
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, LessonTextScreen))
        seen.append(screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        screen.jump_to(7)
        await pilot.press("right")
        await until(pilot, lambda: isinstance(app.screen, PredictScreen))
        seen.append(screen_text(app))  # the question and its choices
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, PlayerScreen))
        seen.append(screen_text(app))  # the banner and the question in the narration
    for text in seen:
        assert not controls(text), sorted(set(controls(text)))
        assert VISIBLE in text


async def test_the_predict_dialog_neutralises_question_and_choices() -> None:
    question = Question(0, HOSTILE, (HOSTILE, "two"), 1, written=True)
    app = MuxlabApp(AppOptions(animate=False))
    async with app.run_test(size=(140, 44)) as pilot:
        await app.push_screen(PredictScreen(question))
        await until(pilot, lambda: isinstance(app.screen, PredictScreen))
        text = screen_text(app)
    assert not controls(text) and text.count(VISIBLE) == 2


# --- the real program in a real terminal --------------------------------------------------


@pytest.fixture
def tmux_server() -> Iterator[str]:
    name = f"muxlab-safe-{os.getpid()}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


@pytest.mark.usefixtures("tmux_installed")
def test_the_real_terminal_keeps_its_title_and_clipboard(tmp_path: Path, tmux_server: str) -> None:
    path = hostile_scenario(tmp_path)
    go = tmp_path / "go"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", tmux_server, *args], capture_output=True, text=True, check=True
        ).stdout

    # The program starts only once tmux honours title and clipboard sequences (the options
    # must be set on a running server, so the command waits for them).
    command = (
        f"cd {ROOT} && while [ ! -e {go} ]; do sleep 0.05; done; "
        f"env -u COLUMNS -u LINES MUXLAB_DATA_DIR={tmp_path / 'data'} "
        f"{sys.executable} -c {shlex.quote(LEAKY_MUXLAB)} play {path} --no-live; sleep 30"
    )
    tmux("new-session", "-d", "-s", "s", "-x", "140", "-y", "44", command)
    tmux("set-option", "-g", "set-clipboard", "on")
    tmux("set-option", "-g", "allow-rename", "on")
    title_before = tmux("display-message", "-p", "-t", "s", "#{pane_title}")
    go.touch()

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 20
        while True:
            screen = tmux("capture-pane", "-p", "-t", "s")
            if text in screen:
                return screen
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)

    wait_for("step 0/10")
    tmux("send-keys", "-t", "s", "Right")
    shown = wait_for("step 1/10")
    assert "^[]0;PWNED" in shown  # visible, as text
    tmux("send-keys", "-t", "s", "t")
    shown = wait_for("Esc to close")
    assert "^[]52;c;SGVsbG8=" in shown
    assert tmux("display-message", "-p", "-t", "s", "#{pane_title}") == title_before
    assert "PWNED" not in title_before
    assert tmux("list-buffers") == ""  # OSC 52 wrote nothing to the clipboard


class _Counted:
    """Two lines of text, and how many times it was drawn."""

    def __init__(self) -> None:
        self.drawn = 0

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.drawn += 1
        yield Text("one\x1b[2J\ntwo")


def test_a_picture_is_drawn_once_for_its_measure_and_its_display() -> None:
    """Textual measures an auto-height picture (no height), then draws it at that height:
    the second drawing is the first one again, and a different height is drawn afresh."""
    console = Console(width=40)
    picture = _Counted()
    shown = Neutralised(picture)
    natural = console.render_lines(shown, console.options)
    assert picture.drawn == 1 and len(natural) == 2
    at_height = console.render_lines(shown, console.options.update(height=2))
    assert picture.drawn == 1
    assert at_height == natural
    assert "^[[2J" in "".join(segment.text for segment in natural[0])
    taller = console.render_lines(shown, console.options.update(height=3), pad=True)
    assert picture.drawn == 2 and len(taller) == 3
    console.render_lines(shown, console.options.update_width(20))
    assert picture.drawn == 3  # another width: drawn afresh
