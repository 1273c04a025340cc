"""`--param NAME=VALUE` on `validate`, `export` and `serve FILE` (issue 14: knobs), as on `play`
and `check`: the value is used, and one outside the declared range is refused with the range,
in one line, before anything runs -- each command a real subprocess (`serve` a real server
and a real websocket client)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_browser import ROOT, free_port
from tests.test_serve_security import read_until, serving

COSTS = ROOT / "scenarios" / "select-poll-epoll-costs.toml"
OUT_OF_RANGE = "parameter N: 10002 is out of range: 10..10000 (step 2)"


def muxlab(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def steps(result: subprocess.CompletedProcess[str]) -> int:
    """The step count `validate` printed (`FILE: ok (N steps)`)."""
    assert result.returncode == 0, result
    return int(result.stdout.rsplit("(", 1)[1].split()[0])


def test_validate_expands_the_knobs_it_is_given_and_refuses_a_value_out_of_range() -> None:
    small, large = (steps(muxlab("validate", str(COSTS), "--param", f"N={n}")) for n in (10, 100))
    assert small < large, (small, large)  # the steps repeat N times
    result = muxlab("validate", str(COSTS), "--param", "N=10002")
    assert result.returncode == 1 and OUT_OF_RANGE in result.stderr, result
    assert "Traceback" not in result.stderr
    challenge = next((ROOT / "scenarios" / "challenges").glob("*.toml"))
    result = muxlab("validate", str(challenge), "--param", "N=10")
    assert result.returncode == 1 and "a challenge has no knobs (--param)" in result.stderr


def test_export_draws_the_step_of_the_value_given_and_refuses_one_out_of_range(
    tmp_path: Path,
) -> None:
    out = tmp_path / "frames"
    result = muxlab("export", str(COSTS), "--no-live", "--param", "N=10", "--out", str(out))
    assert result.returncode == 0, result
    ten = len(list(out.glob("*.svg")))
    assert ten == steps(muxlab("validate", str(COSTS), "--param", "N=10")), ten
    refused = tmp_path / "refused"
    result = muxlab("export", str(COSTS), "--param", "N=10002", "--out", str(refused))
    assert result.returncode == 1 and OUT_OF_RANGE in result.stderr, result
    assert not refused.exists() and "Traceback" not in result.stderr


def test_serve_file_refuses_a_value_out_of_range_before_it_listens() -> None:
    result = muxlab("serve", str(COSTS), "--port", str(free_port()), "--param", "N=10002")
    assert result.returncode == 1 and OUT_OF_RANGE in result.stderr, result
    assert "token=" not in result.stdout and "Traceback" not in result.stderr
    result = muxlab("serve", "--port", str(free_port()), "--param", "N=10")
    assert result.returncode == 2 and "muxlab: --param needs a FILE" in result.stderr, result


def test_serve_file_plays_the_value_given_in_every_tab(tmp_path: Path) -> None:
    with (
        serving(tmp_path, str(COSTS), "--no-live", "--param", "N=12") as served,
        served.ws(f"/ws/{served.token}?width=160&height=40") as ws,
    ):
        read_until(ws, "N = 12")
