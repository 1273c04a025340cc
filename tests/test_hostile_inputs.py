"""Hostile inputs through the real command line: every one gives one clean message, never a
traceback or a raw control character (issue 8).

The files are in ``tests/hostile/`` (its README says what each attacks); what cannot or should
not be committed -- huge files, symbolic links, FIFOs, file names with escape sequences -- is
made here in ``tmp_path``. Each command runs as a real ``muxlab`` subprocess, from a scratch
directory, with several files per invocation where the command takes several -- except where
one command is run on each of many files one at a time (``play --headless``, ``--replay``):
those run the command line's `main` in this process (`muxlab_in_process`), and the console
script on a few of them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario.format import printable

HOSTILE = Path(__file__).parent / "hostile"
BASE = Path(__file__).parent / "golden" / "play-headless.toml"  #: what the recordings replay
MUXLAB = Path(sys.executable).with_name("muxlab")
#: C0 controls but newline, DEL, C1 controls (CSI U+009B among them), bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def muxlab(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    return subprocess.run(
        [str(MUXLAB), *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=120,
        check=False,
    )


def muxlab_in_process(
    *argv: str | Path, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> subprocess.CompletedProcess[str]:
    """`muxlab` as `muxlab` runs it, but through the command line's `main` in this process (as
    tests/test_cli.py does), with the same environment and working directory: for a command
    run on many files one at a time, where what is tested is how it reads each file, not the
    console script (~0.5 s of CPU for each new interpreter). An exception escaping `main`
    fails the test as a traceback would."""
    from tests.test_scenario_format import run_cli

    for name, value in {"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    status, stdout, stderr = run_cli(*map(str, argv))
    return subprocess.CompletedProcess(["muxlab", *map(str, argv)], status, stdout, stderr)


def assert_clean(done: subprocess.CompletedProcess[str], files: list[Path]) -> None:
    """Failed, said so plainly, named every file, and sent nothing raw to the terminal."""
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert not RAW_CONTROL.search(output), repr(RAW_CONTROL.search(output))
    for path in files:
        assert printable(str(path)) in output, f"{path} is not named:\n{output}"


def test_the_folder_holds_enough_hostile_inputs() -> None:
    files = [p for p in HOSTILE.rglob("*") if p.is_file() and p.name != "README.md"]
    assert len(files) >= 40
    readme = (HOSTILE / "README.md").read_text()
    for path in files:
        if path.suffix != ".md":
            assert f"`{path.name}`" in readme, f"{path.name} is not in tests/hostile/README.md"


@pytest.fixture
def generated(tmp_path: Path) -> dict[str, list[Path]]:
    """What is made at test time: huge files, links, FIFOs, escape sequences in file names."""
    made: dict[str, list[Path]] = {"scenarios": [], "recordings": [], "lessons": []}
    folder = tmp_path / "generated"
    folder.mkdir()
    head = '[scenario]\ntitle = "Generated"\n'
    step = '\n[[step]]\ndo = "socketpair"\n'

    def add(kind: str, name: str) -> Path:
        (folder / kind).mkdir(exist_ok=True)
        path = folder / kind / name
        made[kind].append(path)
        return path

    with add("scenarios", "huge.toml").open("wb") as f:
        f.truncate(100 << 20)
    add("scenarios", "deep-100k.toml").write_text(head + step + "expect = " + "[" * 100_000)
    add("scenarios", "loop-a.toml").symlink_to("loop-b.toml")
    add("scenarios", "loop-b.toml").symlink_to("loop-a.toml")
    add("scenarios", "dangling.toml").symlink_to("nowhere.toml")
    os.mkfifo(add("scenarios", "fifo.toml"))
    add("scenarios", "folder.toml").mkdir()
    add("scenarios", "\x1b]0;pwned\x07\x9b2J.toml").write_text(head + "tags = 3\n" + step)

    for name, lesson in [
        ("passwd", "/etc/passwd"),  # a link out of the folder, to a file that exists everywhere
        ("via-folder", "etc/passwd"),  # a file reached through a linked folder
        ("huge", None),
        ("fifo", None),
        ("loop", "loop.md"),
    ]:
        add("lessons", f"lesson-{name}.toml").write_text(
            head.replace("Generated", name) + f'lesson = "{lesson or name + ".md"}"\n' + step
        )
        target = folder / "lessons" / (lesson if lesson and name == "via-folder" else f"{name}.md")
        if name == "via-folder":
            (folder / "lessons" / "etc").symlink_to("/etc")
        elif name == "huge":
            with target.open("wb") as f:
                f.truncate(100 << 20)
        elif name == "fifo":
            os.mkfifo(target)
        else:
            target.symlink_to(lesson or "")

    with add("recordings", "huge.json").open("wb") as f:
        f.truncate(100 << 20)
    add("recordings", "loop.json").symlink_to("loop.json")
    os.mkfifo(add("recordings", "fifo.json"))
    add("recordings", "folder.json").mkdir()
    add("recordings", "deep.json").write_text("[" * 200_000)
    return made


def test_validate_refuses_every_hostile_scenario(
    tmp_path: Path, generated: dict[str, list[Path]]
) -> None:
    files = sorted((HOSTILE / "scenarios").glob("*.toml")) + generated["scenarios"]
    done = muxlab("validate", *files, cwd=tmp_path)
    assert_clean(done, files)
    assert done.stdout == ""
    named = tuple(printable(str(p)) + ":" for p in files)
    assert all(line.startswith(named) for line in done.stderr.splitlines()), done.stderr


def test_check_reports_each_hostile_scenario_and_goes_on(
    tmp_path: Path, generated: dict[str, list[Path]]
) -> None:
    """`check DIR` used to stop at the first RecursionError and never run the rest."""
    folder = HOSTILE / "scenarios"
    done = muxlab("check", "--no-live", folder, generated["scenarios"][0].parent, cwd=tmp_path)
    # A folder walk takes every *.toml that is not a folder: links that lead nowhere (dangling,
    # loops) and FIFOs are reported too, never skipped in silence.
    walked = sorted(folder.glob("*.toml")) + [p for p in generated["scenarios"] if not p.is_dir()]
    assert_clean(done, walked)
    errors = len(walked)
    assert f"{errors} scenarios could not be checked" in done.stdout


@pytest.mark.parametrize(
    "name",
    ["title-osc0.toml", "say-osc8.toml", "deep-expect.toml", "timeout-nan.toml", "binary.toml"],
)
def test_play_headless_refuses_hostile_scenarios(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (`muxlab_in_process`): the console script plays hostile files in
    `test_hostile_lessons_are_refused`."""
    path = HOSTILE / "scenarios" / name
    done = muxlab_in_process(
        "play", path, "--headless", "--no-live", cwd=tmp_path, monkeypatch=monkeypatch
    )
    assert_clean(done, [path])


#: The committed hostile recordings, and the names of those `generated` makes.
RECORDINGS = sorted((HOSTILE / "recordings").glob("*.json"))
GENERATED_RECORDINGS = ["huge.json", "loop.json", "fifo.json", "folder.json", "deep.json"]


def hostile_recording(recording: str, generated: dict[str, list[Path]]) -> Path:
    """The path of `recording` ("recordings/NAME" committed, "generated/NAME" made)."""
    made = {path.name: path for path in generated["recordings"]}
    assert list(made) == GENERATED_RECORDINGS  # each one made has its own test
    where, name = recording.split("/")
    return made[name] if where == "generated" else HOSTILE / where / name


@pytest.mark.parametrize(
    "recording",
    [str(path.relative_to(HOSTILE)) for path in RECORDINGS]
    + [f"generated/{name}" for name in GENERATED_RECORDINGS],
)
def test_replay_refuses_every_hostile_recording(
    tmp_path: Path,
    generated: dict[str, list[Path]],
    recording: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each hostile recording, replayed, is refused by name and nothing is played: in this
    process (`muxlab_in_process`), one file at a time; the console script itself replays two
    of them in `test_replay_of_a_hostile_recording_by_the_console_script`."""
    path = hostile_recording(recording, generated)
    done = muxlab_in_process(
        "play", BASE, "--headless", "--replay", path, cwd=tmp_path, monkeypatch=monkeypatch
    )
    assert_clean(done, [path])
    assert done.stdout == "", f"{path} was played:\n{done.stdout}"


def test_replay_of_a_hostile_recording_by_the_console_script(
    tmp_path: Path, generated: dict[str, list[Path]]
) -> None:
    """The real `muxlab` process refuses a recording whose text carries escape sequences (and
    one too deep to parse), exits 1 and prints nothing raw."""
    for recording in ("recordings/message-escape.json", "generated/deep.json"):
        path = hostile_recording(recording, generated)
        done = muxlab("play", BASE, "--headless", "--replay", path, cwd=tmp_path)
        assert_clean(done, [path])
        assert done.stdout == "", f"{path} was played:\n{done.stdout}"


def test_hostile_lessons_are_refused(tmp_path: Path, generated: dict[str, list[Path]]) -> None:
    files = sorted((HOSTILE / "lessons").glob("*.toml")) + generated["lessons"]
    done = muxlab("validate", *files, cwd=tmp_path)
    assert_clean(done, files)
    assert "root:" not in done.stderr
    assert len(done.stderr.splitlines()) == len(files)
    for path in (HOSTILE / "lessons" / "osc-title.toml", generated["lessons"][0]):
        assert_clean(muxlab("play", path, "--headless", "--no-live", cwd=tmp_path), [path])


@pytest.mark.parametrize("where", ["record", "save", "export"])
def test_an_output_path_that_is_a_fifo_is_refused_not_read(tmp_path: Path, where: str) -> None:
    """Checking whether an existing output file is ours used to open it: a FIFO there blocked
    for ever (nothing writes to it). Now it is refused at once, by name."""
    lesson = Path(__file__).parent.parent / "scenarios" / "et-stall.toml"
    fifo = tmp_path / ("et-stall-step001.svg" if where == "export" else "out")
    os.mkfifo(fifo)
    argv: tuple[str | Path, ...] = {
        "record": ("play", lesson, "--headless", "--record", fifo),
        "save": ("sandbox", "--headless", "--no-live", "--save", fifo, "-"),
        "export": ("export", lesson, "--no-live", "--out", tmp_path),
    }[where]
    done = subprocess.run(
        [str(MUXLAB), *map(str, argv)],
        cwd=tmp_path,
        input="a, b = socketpair()\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "regular file" in done.stderr or "not a frame muxlab wrote" in done.stderr, done.stderr
