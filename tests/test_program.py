"""The program beside the kernel (issue 14, item 4): a lesson's user-space program, its
validation, the player's program panel and ``play --headless``'s program lines.

The shipped programs are run for real on this machine: what each ``epoll_wait`` of the program
reports must be what the scenario's matching steps expect (which the real kernel checks in
``muxlab check``), so the program is not fiction.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario.library import shipped_dir
from simulator.scenario.loader import load_scenario
from simulator.scenario.program import step_lines
from tests.test_scenario_format import run_cli
from tests.tui_support import screen_text, until
from tui.app import make_app
from tui.screens.player import PlayerScreen
from tui.widgets.program_view import MARK, ProgramView


def _shipped() -> Path:
    folder = shipped_dir()
    assert folder is not None
    return folder


SHIPPED = _shipped()
#: The three lessons that carry their program (epoll basics, the ET stall, the reactor).
LESSONS = ["ready-order", "et-stall", "reactor-vs-proactor"]


def _waits_expected(name: str) -> list[str]:
    """The names each of the scenario's epoll_wait steps with a program line expects."""
    scenario = load_scenario(SHIPPED / f"{name}.toml")
    out = []
    for step in scenario.steps:
        if step.call.name == "epoll_wait" and step.line is not None:
            assert isinstance(step.expect, list)
            out.append(" ".join(["wait:", *(str(fd) for fd, _events in step.expect)]))
    return out


@pytest.mark.parametrize("name", LESSONS)
def test_the_shipped_programs_run_and_agree_with_their_lesson(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(SHIPPED / f"{name}.toml")
    assert scenario.scenario.program is not None
    program = SHIPPED / scenario.scenario.program
    # -I: nothing from the working directory or the environment is imported.
    done = subprocess.run(
        [sys.executable, "-I", str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    waits = [line for line in done.stdout.splitlines() if line.startswith("wait:")]
    assert waits == _waits_expected(name)
    assert len(waits) >= 1
    if name == "et-stall":
        assert "recv: EAGAIN" in done.stdout  # read until EAGAIN, as step 13 says
    if name == "reactor-vs-proactor":
        assert "read: a 100\nread: b 200\n" in done.stdout


@pytest.mark.parametrize("name", LESSONS)
def test_every_step_of_the_programs_lessons_up_to_the_io_uring_part_names_its_line(
    name: str,
) -> None:
    scenario = load_scenario(SHIPPED / f"{name}.toml")
    epoll_steps = [s for s in scenario.steps if not s.call.name.startswith("io_uring")]
    if name == "reactor-vs-proactor":  # the sends after the submit belong to the proactor
        epoll_steps = epoll_steps[:10]
    assert all(step_lines(s.line) for s in epoll_steps)


# --- validation ---------------------------------------------------------------------------


def _scenario(folder: Path, program: str | None, lines: list[str]) -> Path:
    """A two-step scenario in `folder` naming `program`, with `lines` (TOML values or "")."""
    head = '[scenario]\ntitle = "t"\n' + (f'program = "{program}"\n' if program else "")
    steps = [
        ("socketpair", 'as = ["a", "b"]'),
        ("epoll_create", 'as = "ep"'),
    ]
    body = "".join(
        f'\n[[step]]\ndo = "{do}"\n{bind}\n' + (f"line = {line}\n" if line else "")
        for (do, bind), line in zip(steps, lines, strict=True)
    )
    path = folder / "lesson.toml"
    path.write_text(head + body)
    return path


def test_a_program_and_its_lines_check_clean(tmp_path: Path) -> None:
    (tmp_path / "loop.py").write_text("import select\nimport socket\n\nx = 1\n")
    path = _scenario(tmp_path, "loop.py", ["2", "[1, 4]"])
    assert run_cli("validate", str(path))[0] == 0


def test_a_line_past_the_end_of_the_program_names_the_file_and_step(tmp_path: Path) -> None:
    (tmp_path / "loop.py").write_text("a = 1\nb = 2\n")
    path = _scenario(tmp_path, "loop.py", ["2", "[1, 3]"])
    status, _out, err = run_cli("validate", str(path))
    assert status == 1
    assert err == (
        f"{path}:13: step 2 (epoll_create), field line: line 3 is past the end of program "
        "'loop.py' (2 lines)\n"
    )


@pytest.mark.parametrize("line", ["0", "-1", '"twelve"', "[]", "1.5"])
def test_a_line_must_be_a_positive_whole_number(tmp_path: Path, line: str) -> None:
    (tmp_path / "loop.py").write_text("a = 1\n")
    status, _out, err = run_cli("validate", str(_scenario(tmp_path, "loop.py", [line, ""])))
    assert status == 1
    assert "step 1 (socketpair), field line" in err
    assert "Traceback" not in err


def test_a_line_without_a_program_is_refused(tmp_path: Path) -> None:
    path = _scenario(tmp_path, None, ["1", ""])
    status, _out, err = run_cli("validate", str(path))
    assert status == 1
    assert err == (
        f"{path}:7: step 1 (socketpair), field line: a step names a program line, but "
        "[scenario] has no `program`\n"
    )


def test_a_missing_program_is_refused(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "gone.py", ["1", ""])
    status, _out, err = run_cli("validate", str(path))
    assert status == 1
    assert err == (
        f"{path}:3: field [scenario] program: program file 'gone.py' not found; looked beside "
        f"the scenario ({tmp_path}) and in the shipped scenarios ({shipped_dir()})\n"
    )


def test_a_copy_of_a_shipped_lesson_finds_its_program_among_the_shipped(tmp_path: Path) -> None:
    """As lesson texts are: a learner who copies et-stall.toml to edit it keeps its program."""
    shipped = shipped_dir()
    assert shipped is not None
    copy = tmp_path / "mine.toml"
    copy.write_text((shipped / "et-stall.toml").read_text())
    scenario = load_scenario(copy)
    assert scenario.scenario.program == "programs/et_stall.py"
    status, out, _err = run_cli("validate", str(copy))
    assert status == 0, out


def test_control_characters_in_a_program_are_refused(tmp_path: Path) -> None:
    (tmp_path / "evil.py").write_text("x = 1\nprint('\x1b]0;pwned\x07')\n")
    path = _scenario(tmp_path, "evil.py", ["1", ""])
    status, _out, err = run_cli("validate", str(path))
    assert status == 1
    assert err == (
        f"{path}:3: field [scenario] program: program file {tmp_path}/evil.py:2:8: may hold "
        "newlines and tabs but no other control characters, found an escape (U+001B)\n"
    )


def test_a_program_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "lesson"
    folder.mkdir()
    (tmp_path / "secret.py").write_text("password = 1\n")
    (folder / "link.py").symlink_to(tmp_path / "secret.py")
    err = run_cli("validate", str(_scenario(folder, "link.py", ["1", ""])))[2]
    assert "is a link to" in err and "a program must stay inside the scenario's folder" in err
    err = run_cli("validate", str(_scenario(folder, "../secret.py", ["1", ""])))[2]
    assert "a program is a relative path inside the project, without '..'" in err


def test_a_fifo_program_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.py")  # a reader would wait forever for a writer
    err = run_cli("validate", str(_scenario(tmp_path, "pipe.py", ["1", ""])))[2]
    assert f"program file {tmp_path}/pipe.py is not a regular file" in err


def test_a_huge_program_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "huge.py").open("wb") as f:
        f.truncate(10 << 20)
    err = run_cli("validate", str(_scenario(tmp_path, "huge.py", ["1", ""])))[2]
    assert "programs are capped at 65536 bytes" in err


# --- play --headless -------------------------------------------------------------------------


def test_headless_prints_the_program_lines_under_the_call() -> None:
    status, out, err = run_cli(
        "play", str(SHIPPED / "et-stall.toml"), "--headless", "--no-live", "--width", "100"
    )
    assert status == 0, err
    step8 = out[out.index("step 8/15") :]
    assert step8.splitlines()[1:4] == [
        "epoll_wait(epfd=ep, maxevents=8, timeout_ms=0)",
        "  line  27 | wait()  # lt et",
        "  line  21 |     events = ep.poll(0, 8)",
    ]


def test_headless_json_carries_the_program_lines() -> None:
    import json

    status, out, err = run_cli(
        "play", str(SHIPPED / "reactor-vs-proactor.toml"), "--headless", "--no-live", "--json"
    )
    assert status == 0, err
    # Every line but the lesson's ending (`{"recap": ..., "next": ...}`, issue 15) is a step.
    steps = [json.loads(line) for line in out.splitlines()][:-1]
    assert steps[7]["program"] == [
        {"line": 22, "text": "events = ep.poll(0, 8)"},
        {"line": 23, "text": 'print("wait:", *(conns[fd][0] for fd, _mask in events))'},
    ]
    assert steps[-1]["program"] == []  # the proactor's io_uring_wait: no line in a Python program


# --- the player's panel ----------------------------------------------------------------------


def _marked(view: ProgramView) -> tuple[int, ...]:
    """The lines marked now (a call, so each assertion reads the widget afresh)."""
    return view.marked


def _marked_row(text: str) -> str:
    rows = [row for row in text.splitlines() if MARK in row]
    assert len(rows) == 1, text
    return rows[0]


async def test_the_marked_line_follows_the_steps_and_rewind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "et-stall.toml", live=False, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await until(pilot, lambda: screen.opened)  # loaded after the player's first frame
        view = screen.query_one(ProgramView)
        assert view.display and view.region.height > 0  # it fits at 80x24
        assert MARK not in screen_text(app)  # before the first step, nothing is marked
        await pilot.press("right")
        await pilot.pause()
        assert _marked(view) == (9,)
        assert "lt, lt_peer = socket.socketpair()" in _marked_row(screen_text(app))
        screen.go(11)
        await pilot.pause()
        assert _marked(view) == (31, 21)
        text = screen_text(app)
        assert "wait()  # lt only" in _marked_row(text)
        assert "et_stall.py · line 31, 21" in text
        await pilot.press("left")
        await pilot.pause()
        assert _marked(view) == (30,)
        assert "et.recv(10)" in _marked_row(screen_text(app))
        await pilot.press("end")
        await pilot.pause()
        assert "wait()  # lt et" in _marked_row(screen_text(app))
        await pilot.press("home")
        await pilot.pause()
        assert _marked(view) == () and MARK not in screen_text(app)


async def test_a_lesson_without_a_program_has_no_program_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "oneshot.toml", live=False, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("right")
        await pilot.pause()
        assert not screen.query_one(ProgramView).display
        assert not screen.has_class("-program")


async def test_a_program_is_shown_neutralised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A program that changed after the check (or any text rich would draw) never reaches the
    # terminal raw: the widget neutralises what it is given.
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(SHIPPED / "et-stall.toml", live=False, animate=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        await until(pilot, lambda: screen.opened)  # loaded after the player's first frame
        view = screen.query_one(ProgramView)
        view.load("[b]evil\x1b.py", "x = '\x1b]0;pwned\x07'\n")
        view.marked = (1,)
        await pilot.pause()
        text = screen_text(app)
        assert "^[]0;pwned^G" in text and "\x1b" not in text
        assert "[b]evil^[.py" in text  # the name is neither markup nor an escape


def test_the_panel_window_keeps_the_mark_in_view() -> None:
    import doctest

    from tui.widgets import program_view
    from tui.widgets.program_view import program_window

    assert doctest.testmod(program_view).failed == 0
    assert list(program_window(40, (39,), 7)) == list(range(34, 41))
    assert list(program_window(40, (31, 21), 11)) == list(range(21, 32))  # both in view
    assert list(program_window(40, (31, 2), 9)) == list(range(28, 37))  # too far apart
    assert list(program_window(40, (), 7)) == list(range(1, 8))
    assert list(program_window(3, (2,), 7)) == [1, 2, 3]


def test_the_schema_describes_program_and_line() -> None:
    from simulator.scenario.format import json_schema

    defs = json_schema()["$defs"]
    assert "program" in defs["Meta"]["properties"]
    line = defs["EpollWaitStep"]["properties"]["line"]["anyOf"]
    assert {"minimum": 1, "maximum": 1_000_000, "type": "integer"} in line
