"""The ``muxlab`` command line: every shipped scenario checks clean, bad input never shows a
traceback, and ``play --headless`` output matches its golden file.

Set ``MUXLAB_UPDATE_GOLDEN=1`` to rewrite the golden output after an intended change (and
review the diff).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario.library import shipped_dir
from tests.test_scenario_format import good_document, run_cli, to_toml

GOLDEN = Path(__file__).parent / "golden"
SHIPPED = shipped_dir()
assert SHIPPED is not None
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
    lines = out.splitlines()
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
        f"ERROR {tmp_path / 'missing.toml'}: 0 steps",
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
        (["play", "x.toml", "--json"], 2, "--json needs --headless"),
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


def test_the_documented_example_checks_clean(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "docs" / "scenario-format.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example)
    status, out, err = run_cli("check", str(path))
    assert status == 0, out + err
