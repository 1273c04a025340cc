"""The ``muxlab`` command line: every shipped scenario checks clean, bad input never shows a
traceback, and ``play --headless`` output matches its golden file.

Set ``MUXLAB_UPDATE_GOLDEN=1`` to rewrite the golden output after an intended change (and
review the diff).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario.library import shipped_dir
from tests.test_scenario_format import good_document, run_cli, to_toml

GOLDEN = Path(__file__).parent / "golden"
_shipped = shipped_dir()
assert _shipped is not None
SHIPPED: Path = _shipped
SHIPPED_FILES = sorted(SHIPPED.glob("*.toml"))


def test_there_are_shipped_scenarios() -> None:
    assert len(SHIPPED_FILES) >= 8


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[p.stem for p in SHIPPED_FILES])
def test_every_shipped_scenario_checks_clean(path: Path) -> None:
    status, out, err = run_cli("check", str(path))
    assert status == 0, out + err
    assert out.splitlines()[0].startswith(f"ok    {path}: ")
    assert " 0 diverge, 0 expectation failed, " in out.splitlines()[-1]


def test_shipped_scenarios_narrate_every_step_and_expect_something() -> None:
    from simulator.scenario.loader import load_scenario

    for path in SHIPPED_FILES:
        scenario = load_scenario(path)
        assert all(step.say for step in scenario.steps), path
        assert any(step.expect is not None for step in scenario.steps), path


def test_check_without_paths_runs_the_shipped_set_model_only() -> None:
    status, out, _ = run_cli("check", "--no-live")
    # The shipped challenges (scenarios/challenges/) come first, validated as challenges.
    challenges = sorted((SHIPPED / "challenges").glob("*.toml"))
    assert challenges
    head = out.splitlines()[: len(challenges)]
    assert head == [line for line in head if line.endswith(")") and ": ok (a challenge, " in line]
    lines = out.splitlines()[len(challenges) :]
    assert status == 0
    assert len(lines) == len(SHIPPED_FILES) + 1
    steps = sum(int(line.split(": ")[1].split()[0]) for line in lines[:-1])
    assert lines[-1] == (
        f"{len(SHIPPED_FILES)} scenarios, {steps} steps: 0 agree, 0 diverge, "
        f"0 expectation failed, {steps} model only"
    )


def test_check_fails_on_a_failed_expectation_and_goes_on(tmp_path: Path) -> None:
    document = good_document()
    document["step"] = document["step"][:4]
    document["step"][3]["expect"] = 11
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(to_toml(document))
    status, out, _ = run_cli("check", str(wrong), str(tmp_path / "missing.toml"))
    assert status == 1
    assert out.splitlines() == [
        f"FAIL  {wrong}: 4 steps: 3 agree, 1 expectation failed",
        "      step 4 send(fd=b, nbytes=10): expectation failed",
        "        model: expected 11, got 10",
        "        live: expected 11, got 10",
        f"ERROR {tmp_path / 'missing.toml'}",
        f"      {tmp_path / 'missing.toml'}: no such file",
        "2 scenarios, 4 steps: 3 agree, 0 diverge, 1 expectation failed, 0 model only",
        "1 scenario could not be checked",
    ]


def test_check_an_empty_folder(tmp_path: Path) -> None:
    status, out, err = run_cli("check", str(tmp_path))
    assert (status, out) == (1, "")
    assert err == f"muxlab: no scenario files (*.toml) in {tmp_path}\n"


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        ([], 2, "needs a terminal"),
        (["play", "scenarios/et-stall.toml"], 2, "needs a terminal"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        (["validate"], 2, "the following arguments are required: FILE"),
        (["play", "x.toml", "--headless", "--width", "5"], 2, "--width must be between"),
        (["play", "x.toml", "--headless", "--width", "wide"], 2, "invalid int value"),
        (["play", "missing.toml", "--headless"], 1, "missing.toml: no such file"),
        (["play", "scenarios", "--headless"], 1, "scenarios: is a directory"),
        (
            ["play", "scenarios/et-stall.toml", "--headless", "--replay", "nope.json"],
            1,
            "nope.json: no such file",
        ),
        (
            [
                "play",
                "scenarios/et-stall.toml",
                "--headless",
                "--replay",
                str(GOLDEN / "play-headless.recording.json"),
            ],
            1,
            "made for a different version of the scenario",
        ),
    ],
)
def test_bad_command_lines_get_a_message_not_a_traceback(
    argv: list[str], status: int, message: str
) -> None:
    got, out, err = run_cli(*argv)
    assert got == status
    assert message in err
    assert "Traceback" not in out + err


def test_play_json_lines_and_record_replay_round_trip(tmp_path: Path) -> None:
    path = str(GOLDEN / "play-headless.toml")
    recording = tmp_path / "run.json"
    status, live_out, _ = run_cli("play", path, "--headless", "--json", "--record", str(recording))
    assert status == 0
    records = [json.loads(line) for line in live_out.splitlines()]
    assert [r["index"] for r in records] == list(range(10))
    assert records[5]["verdict"] == "agree" and records[5]["answer"] == 1
    assert records[5]["model"] == {"result": [["a", ["IN"]]], "raw": [[3, 1]]}
    assert records[8]["verdict"] == "model_only"
    status, replay_out, _ = run_cli(
        "play", path, "--headless", "--json", "--replay", str(recording)
    )
    assert status == 0
    assert replay_out == live_out


def test_play_headless_matches_the_golden_output() -> None:
    """NO_COLOR, fixed width, the live answers from a recording: the same text everywhere."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    command = [
        sys.executable,
        "-m",
        "tui",
        "play",
        "tests/golden/play-headless.toml",
        "--headless",
        "--width",
        "100",
        "--replay",
        "tests/golden/play-headless.recording.json",
    ]
    root = Path(__file__).parent.parent
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    golden = GOLDEN / "play-headless.txt"
    if os.environ.get("MUXLAB_UPDATE_GOLDEN"):
        golden.write_text(done.stdout, encoding="utf-8")
    assert "\x1b[" not in done.stdout
    assert done.stdout == golden.read_text(encoding="utf-8")


REAL_LIST = """
[scenario]
title = "The real list"

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "dup"
args = { fd = "a" }
as = "d"

[[step]]
do = "epoll_create"
as = "ep"

[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }

[[step]]
do = "send"
args = { fd = "b", nbytes = 1 }

[[step]]
do = "close"
args = { fd = "a" }

[[step]]
do = "close"
args = { fd = "d" }

[[step]]
do = "poll"
args = { fds = [["b", ["IN", "OUT"]]], timeout_ms = 0 }
"""


def _steps(out: str) -> list[str]:
    """The text of each step of a ``play --headless`` page, in order."""
    return out.split("\nstep ")[1:]


def test_play_headless_shows_the_real_interest_list_and_the_call_arrays(tmp_path: Path) -> None:
    # Issue 15: chapter 3-5 lessons rely on the pollfd array, the fd_set bitmaps and the real
    # interest list from /proc, which the player shows and --headless did not. The list is
    # printed after a step that names its epoll or changed it, compared with the model's.
    path = tmp_path / "real.toml"
    path.write_text(REAL_LIST)
    status, out, err = run_cli("play", str(path), "--headless", "--width", "100")
    assert status == 0, out + err
    steps = _steps(out)
    assert len(steps) == 8
    heading = "/proc/<pid>/fdinfo of ep: the real interest list"
    shown = [heading in step for step in steps]
    # created (empty), ADD, the send and the close of a dup'ed socket change nothing, the
    # last close removes the item.
    assert shown == [False, False, True, True, False, False, True, False], out
    assert "(empty)" in steps[2].split(heading)[1]
    assert re.search(r"\ba:3 +IN\|ERR\|HUP +3 +\d+ += model", steps[3]), steps[3]
    assert "(empty)" in steps[6].split(heading)[1]
    assert "struct pollfd[] poll(fds=[b:IN|OUT], timeout_ms=0)" in steps[7]
    status, out, err = run_cli("play", str(path), "--headless", "--no-live", "--width", "100")
    assert status == 0 and heading not in out  # no live kernel: no /proc to read


def test_the_documented_example_checks_clean(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "docs" / "scenario-format.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example)
    status, out, err = run_cli("check", str(path))
    assert status == 0, out + err


def test_play_json_implies_headless_as_the_readme_documents(tmp_path: Path) -> None:
    """README: ``muxlab play FILE --json`` prints the step records as JSON lines (no --headless,
    no terminal needed)."""
    path = str(GOLDEN / "play-headless.toml")
    status, out, err = run_cli("play", path, "--json", "--no-live")
    assert (status, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in records] == list(range(10))
    assert {r["verdict"] for r in records} == {"model_only"}


NON_FINITE_TIMEOUTS = """
[scenario]
title = "Non-finite timeouts"

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "select"
args = { rlist = ["a"], wlist = [], timeout_s = nan }

[[step]]
do = "select"
args = { rlist = ["a"], wlist = [], timeout_s = -inf }
"""


def strict_json(text: str) -> object:
    """`json.loads`, refusing the non-JSON words NaN, Infinity and -Infinity as jq does."""

    def refuse(word: str) -> object:
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_play_json_refuses_non_finite_timeouts_instead_of_printing_invalid_json(
    tmp_path: Path,
) -> None:
    # Python's json writes nan as the bare word NaN, which is not JSON; the format now refuses
    # non-finite timeouts, so --json never has one to print.
    path = tmp_path / "nan.toml"
    path.write_text(NON_FINITE_TIMEOUTS)
    status, out, err = run_cli("play", str(path), "--json", "--no-live")
    assert (status, out) == (1, "")
    assert str(path) in err and "forever" in err and "Traceback" not in err


def test_play_json_is_strict_json(tmp_path: Path) -> None:
    status, out, err = run_cli("play", str(SHIPPED / "select-fd-setsize.toml"), "--json")
    assert (status, err) == (0, "")
    *records, end = [strict_json(line) for line in out.splitlines()]
    assert records and all(isinstance(r, dict) and "verdict" in r for r in records)
    # A lesson of the course ends with what to remember and where to go next (issue 15).
    from simulator.scenario.course import next_lesson
    from simulator.scenario.loader import load_scenario

    meta = load_scenario(SHIPPED / "select-fd-setsize.toml").scenario
    following = next_lesson(SHIPPED / "select-fd-setsize.toml")
    assert following is not None and following.chapter in (3, 4)
    assert end == {
        "recap": list(meta.recap),
        "see": [{"title": link.title, "url": link.url} for link in meta.see],
        "next": str(SHIPPED / following.path.name),
    }


# --- a crash in the app ------------------------------------------------------------------------
CRASHING_APP = """
import sys

from textual.app import App

import tui.app
from tui.cli import main


class Crashing(App[None]):
    def on_mount(self) -> None:
        raise RuntimeError("boom \\x1b]0;pwned\\x07 at step 3")


# An app with a genuine bug, started by the real `muxlab` command line in a real terminal.
tui.app.make_app = lambda *args, **kwargs: Crashing()
sys.exit(main([]))
"""


def run_in_a_terminal(script: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `python -c script` with a pseudo-terminal (80x24) as stdin, stdout and stderr;
    returns its exit status and everything it wrote to the terminal."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=root,
        env={**os.environ, "TERM": "xterm-256color", **env},
        start_new_session=True,
    )
    os.close(slave)
    output = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                raise AssertionError(f"no output for 60 s; so far: {output[-2000:]!r}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        status = process.wait(timeout=60)
    return status, output.decode("utf-8", "replace")


def test_a_crash_in_the_app_exits_1_with_one_line_and_a_report_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    status, terminal = run_in_a_terminal(CRASHING_APP, {"XDG_STATE_HOME": str(state)})
    assert status == 1, terminal[-3000:]
    reports = list((state / "muxlab").glob("crash-*.txt"))
    assert len(reports) == 1, terminal[-3000:]
    report = reports[0]
    line = (
        f"muxlab crashed: RuntimeError: boom \\x1b]0;pwned\\x07 at step 3; full report in {report}"
    )
    assert line in terminal
    assert "Traceback" not in terminal and "\x1b]0;pwned" not in terminal
    assert report.stat().st_mode & 0o777 == 0o600
    text = report.read_text()
    assert "Traceback (most recent call last):" in text
    assert "RuntimeError: boom \\x1b]0;pwned\\x07 at step 3" in text and "on_mount" in text


def test_a_crash_report_goes_to_the_temporary_directory_when_the_state_dir_is_unusable(
    tmp_path: Path,
) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"XDG_STATE_HOME": str(not_a_folder), "TMPDIR": str(temp)}
    status, terminal = run_in_a_terminal(CRASHING_APP, env)
    assert status == 1
    reports = list(temp.glob("muxlab-crash-*.txt"))
    assert len(reports) == 1 and f"; full report in {reports[0]}" in terminal
    assert reports[0].stat().st_mode & 0o777 == 0o600


def test_an_app_that_quits_normally_still_exits_0(tmp_path: Path) -> None:
    script = CRASHING_APP.replace(
        'raise RuntimeError("boom \\x1b]0;pwned\\x07 at step 3")', "self.exit()"
    )
    assert "self.exit()" in script
    status, terminal = run_in_a_terminal(script, {"XDG_STATE_HOME": str(tmp_path)})
    assert status == 0
    assert "crashed" not in terminal and not (tmp_path / "muxlab").exists()


# --- every argument a user can type gets a clear message ---------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", ""], "muxlab check: argument PATH: an empty path"),
        (["validate", ""], "muxlab validate: argument FILE: an empty path"),
        (["play", "", "--headless"], "muxlab play: argument FILE: an empty path"),
        (["play", "x.toml", "--json", "--predict"], "--predict is for the app"),
        (["play", "x.toml", "--headless", "--predict"], "--predict is for the app"),
        (["play", "x.toml", "--json", "--no-live", "--record", "r.json"], "nothing to record"),
    ],
)
def test_meaningless_arguments_are_usage_errors(argv: list[str], message: str) -> None:
    status, out, err = run_cli(*argv)
    assert (status, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_record_never_overwrites_the_scenario_it_plays(tmp_path: Path) -> None:
    scenario = tmp_path / "lesson.toml"
    text = (GOLDEN / "play-headless.toml").read_text()
    scenario.write_text(text)
    alias = tmp_path / "sub" / ".." / "lesson.toml"
    (tmp_path / "sub").mkdir()
    for target in (scenario, alias):
        status, out, err = run_cli("play", str(scenario), "--json", "--record", str(target))
        assert (status, out) == (2, "")
        assert f"--record {target}: that is the scenario file itself" in err
        assert scenario.read_text() == text


def test_record_refuses_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    status, out, err = run_cli(
        "play", str(GOLDEN / "play-headless.toml"), "--json", "--record", str(notes)
    )
    assert (status, out) == (2, "")
    assert f"--record {notes}: the file exists and is not a muxlab recording" in err
    assert notes.read_text() == "my notes\n"


def test_record_overwrites_an_old_recording(tmp_path: Path) -> None:
    path = str(GOLDEN / "play-headless.toml")
    recording = tmp_path / "run.json"
    assert run_cli("play", path, "--json", "--record", str(recording))[0] == 0
    first = recording.read_text()
    assert run_cli("play", path, "--json", "--record", str(recording))[0] == 0
    assert json.loads(recording.read_text())["scenario_hash"] == json.loads(first)["scenario_hash"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("folder", "is a folder"),
        ("missing/run.json", "no such folder"),
    ],
)
def test_record_to_an_unusable_path_fails_before_the_run(
    tmp_path: Path, target: str, message: str
) -> None:
    (tmp_path / "folder").mkdir()
    record = tmp_path / target
    status, out, err = run_cli(
        "play", str(GOLDEN / "play-headless.toml"), "--json", "--record", str(record)
    )
    assert (status, out) == (2, "")  # nothing ran
    assert f"muxlab: --record {record}: {message}" in err


CRASHING_CHECK = """
import sys

import simulator.scenario.check
from tui.cli import main


def check_files(*args, **kwargs):
    raise KeyError("a bug \\x1b[2J in check")


# A genuine bug in a command that is not the app, run by the real command line.
simulator.scenario.check.check_files = check_files
sys.exit(main(["check", "scenarios/et-stall.toml"]))
"""


def test_a_crash_in_a_command_exits_1_with_one_line_and_a_report_file(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_CHECK],
        cwd=root,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    reports = list((tmp_path / "muxlab").glob("crash-*.txt"))
    assert (done.returncode, len(reports)) == (1, 1), done.stderr
    assert done.stderr == (
        f"muxlab crashed: KeyError: 'a bug \\x1b[2J in check'; full report in {reports[0]}\n"
    )
    assert "Traceback (most recent call last):" in reports[0].read_text()


def test_check_reports_a_link_in_a_folder_that_leads_nowhere(tmp_path: Path) -> None:
    # Found in review of issue 8: a dangling *.toml link was skipped in silence, so a folder of
    # lessons could look all green while one of them was missing.
    (tmp_path / "ok.toml").write_text((SHIPPED / "oneshot.toml").read_text())
    (tmp_path / "gone.toml").symlink_to(tmp_path / "nowhere.toml")
    (tmp_path / "esc\x1b]0;x\x07.toml").symlink_to(tmp_path / "esc\x1b]0;x\x07.toml")
    status, out, err = run_cli("check", "--no-live", str(tmp_path))
    assert status == 1
    assert "ERROR" in out and "gone.toml" in out and "ok    " in out
    assert "\x1b" not in out + err and "\x07" not in out + err
