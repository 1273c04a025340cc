"""``muxlab lab`` as a user runs it: real processes, the real kernel, small sizes.

No test asserts a time; the figures of a full sweep come from tests/benchmarks/bench_lab.py.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator.bench.plan import largest_size
from tests.conftest import as_in_a_terminal
from tui.cli import main


def _muxlab(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-m", "tui", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--mechanisms", "--sizes", "--active", "--repeat", "--json", "--csv", "--svg"):
        assert option in text


def test_json_lines_csv_and_svg_of_a_small_sweep(tmp_path: Path) -> None:
    table = tmp_path / "points.csv"
    done = _muxlab(
        "lab",
        "--sizes",
        "10,511",
        "--active",
        "2",
        "--repeat",
        "2",
        "--json",
        "--csv",
        str(table),
        "--svg",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(p["mechanism"], p["n"]) for p in lines] == [
        (m, n) for n in (10, 511) for m in ("select", "poll", "epoll", "io_uring", "kqueue")
    ]
    by = {(p["mechanism"], p["n"]): p for p in lines}
    for point in lines:
        assert {"mechanism", "n", "active", "real_ns", "model_cost"} <= set(point)
        assert point["active"] == 2
    assert by["select", 10]["real_ns"] > 0 and by["select", 10]["model_cost"] > 0
    assert by["select", 511]["real_ns"] is None and by["select", 511]["model_cost"] is None
    assert "FD_SETSIZE" in by["select", 511]["note"]
    assert by["kqueue", 511]["real_ns"] is None and by["kqueue", 511]["model_cost"] > 0
    assert by["poll", 511]["model"]["copy_in"] == 511
    assert "kqueue: model only" in done.stderr

    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == len(lines)
    assert rows[0]["mechanism"] == "select" and rows[0]["fd_scan"] != ""
    assert [r["real_ns"] for r in rows if r["n"] == "511" and r["mechanism"] == "select"] == [""]

    svg = ET.parse(tmp_path / "complexity.svg").getroot()
    texts = {"".join(node.itertext()) for node in svg.iter() if node.tag.endswith("text")}
    assert {"Real kernel: time per call", "Model: work per call"} <= texts
    assert {"N registered descriptors", "ns per call (median)", "unit operations per call"} <= texts
    assert {"poll", "epoll", "io_uring", "kqueue", "select"} <= texts  # legends, real and model
    assert "select: FD_SETSIZE wall at N = 511" in texts
    assert "FD_SETSIZE (511)" in texts  # the wall, drawn
    assert sum(1 for node in svg.iter() if node.tag.endswith("polyline")) == 4 + 5
    # The model's work stacked by category, for poll (it grows) and epoll (it does not).
    assert {"Model: poll's work by category", "Model: epoll's work by category"} <= texts
    assert {"copy_in", "fd_scan", "copy_out", "list_op"} <= texts


def test_the_polling_problem_as_json_csv_and_svg(tmp_path: Path) -> None:
    done = _muxlab(
        *("lab", "polling", "--sizes", "10,40", "--active", "3", "--repeat", "2", "--json"),
        *("--csv", str(tmp_path / "polling.csv"), "--svg", str(tmp_path)),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(p["plot"], p["n"], p["active"]) for p in lines] == [
        ("polling", 10, 3),
        ("polling", 40, 3),
    ]
    assert [p["model_busy_useless"] for p in lines] == [7, 37]
    assert all(p["busy_useless_per_s"] > 0 and p["epoll_useful_per_s"] > 0 for p in lines)
    rows = list(csv.DictReader((tmp_path / "polling.csv").open(encoding="utf-8")))
    assert [row["model_busy_calls"] for row in rows] == ["10", "40"]
    svg = ET.parse(tmp_path / "polling.svg").getroot()
    texts = {"".join(node.itertext()) for node in svg.iter() if node.tag.endswith("text")}
    assert {"Real kernel: calls per second", "Model: calls per round"} <= texts
    assert {"busy useless", "busy useful", "epoll useful", "busy EAGAIN", "epoll calls"} <= texts


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "100000000"], f"the largest possible size is {largest_size()}"),
        (["--sizes", "0"], "--sizes must be 1 or more, got 0"),
        (["--sizes=-5"], "--sizes must be 1 or more, got -5"),
        (["--active", "0"], "--active must be 1 or more, got 0"),
        (["--repeat", "0"], "--repeat must be 1 or more, got 0"),
        (["--sizes", "5,50", "--active", "8"], "--active 8 is more than the smallest size, 5"),
        (["--mechanisms", "iocp"], "unknown mechanism 'iocp'"),
        (["--mechanisms", "io_uring,iouring"], "unknown mechanism 'iouring'"),
        (["--sizes", "ten"], "'ten' is not a list of whole numbers"),
        (["--svg", "/nonexistent/place"], "--svg /nonexistent/place: not a folder"),
        (["--csv", "/nonexistent/x.csv"], "no such folder /nonexistent"),
        (["polling", "--mechanisms", "poll"], "--mechanisms is for the complexity sweep"),
        (["thrashing"], "invalid choice: 'thrashing'"),
    ],
)
def test_bad_input_is_one_message_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lab", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def _children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            if fields[1] == str(pid):
                found.add(int(entry))
    return found


def test_ctrl_c_keeps_what_was_measured_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # Big enough that the sweep is still running when SIGINT comes: 4,000 pairs, poll there
    # taking hundreds of microseconds a call, 3,000 samples.
    sweep = subprocess.Popen(
        as_in_a_terminal(
            [
                *(sys.executable, "-I", "-m", "tui", "lab", "--json", "--sizes", "10,4000"),
                *("--mechanisms", "poll,epoll", "--active", "1", "--repeat", "3000"),
                *("--csv", str(tmp_path / "kept.csv")),
            ]
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sweep.stdout is not None
        first = json.loads(sweep.stdout.readline())  # the first point: the child is running
        assert first["mechanism"] == "poll" and first["n"] == 10
        children = _children_of(sweep.pid)
        assert children, "the sweep's live child should be running"
        fds = {child: len(os.listdir(f"/proc/{child}/fd")) for child in children}
        assert max(fds.values()) >= 3 + 1 + 2 * 10
        sweep.send_signal(signal.SIGINT)
        rest, err = sweep.communicate(timeout=30)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == 130, err
    assert "interrupted after" in err and "Traceback" not in err
    for child in children:
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not os.path.exists(f"/proc/{child}")
    kept = list(csv.DictReader((tmp_path / "kept.csv").open(encoding="utf-8")))
    assert len(kept) == 1 + len(rest.splitlines())
