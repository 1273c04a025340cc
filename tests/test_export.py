"""``muxlab export`` (issue 14): each step of a scenario as an SVG frame, run as the real
command; the files exist, are well-formed XML and show the step's own text."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from simulator.scenario import Runner, load_scenario
from simulator.scenario.library import shipped_dir

MUXLAB = str(Path(sys.executable).parent / "muxlab")
_shipped = shipped_dir()
assert _shipped is not None
ET_STALL = _shipped / "et-stall.toml"


def muxlab(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MUXLAB, *argv], capture_output=True, text=True, check=False)


def svg_text(path: Path) -> str:
    """The text an SVG frame shows, its lines joined (rich writes spaces as U+00A0)."""
    root = ET.parse(path).getroot()  # raises on a file that is not well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [e.text or "" for e in root.iter() if e.tag.endswith("}text")]
    return "".join(texts).replace("\xa0", " ")


def test_every_step_becomes_a_frame_with_its_text(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    done = muxlab("export", str(ET_STALL), "--out", str(out))  # with the real kernel
    scenario = load_scenario(ET_STALL)
    total = len(scenario.steps)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{total} frames of {ET_STALL} in {out}\n"
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"et-stall-step{n:03d}.svg" for n in range(1, total + 1)]
    with Runner(scenario) as runner:
        records = list(runner)
    for record, file in zip(records, files, strict=True):
        text = svg_text(file)
        assert f"step {record.number}/{total}" in text
        assert record.call in text
        assert scenario.scenario.title in text
    assert all("(not run)" not in svg_text(file) for file in files)  # the real kernel answered


def test_one_step_at_a_width(tmp_path: Path) -> None:
    done = muxlab("export", str(ET_STALL), "--out", str(tmp_path), "--step", "5", "--no-live")
    assert done.returncode == 0, done.stderr
    (frame,) = tmp_path.iterdir()
    assert frame.name == "et-stall-step005.svg"
    assert "step 5/" in svg_text(frame) and "(not run)" in svg_text(frame)
    again = muxlab("export", str(ET_STALL), "--out", str(tmp_path), "--step", "5", "--width", "60")
    assert again.returncode == 0  # its own frame is overwritten
    assert 'viewBox="0 0 ' in frame.read_text()


def test_bad_input_is_one_message(tmp_path: Path) -> None:
    foreign = tmp_path / "et-stall-step001.svg"
    foreign.write_text("my drawing")
    done = muxlab("export", str(ET_STALL), "--out", str(tmp_path), "--no-live")
    assert done.returncode == 1 and foreign.read_text() == "my drawing"
    assert done.stderr == (
        f"muxlab: {foreign} exists and is not a frame muxlab wrote; choose another folder\n"
    )
    done = muxlab("export", str(ET_STALL), "--out", str(tmp_path / "x"), "--step", "99")
    assert done.returncode == 2 and done.stderr.startswith("muxlab: --step must be between 1 and")
    done = muxlab("export", str(ET_STALL), "--width", "5")
    assert done.returncode == 2 and "--width must be between 40 and 1000" in done.stderr
    done = muxlab("export", str(tmp_path / "missing.toml"))
    assert done.returncode == 1 and done.stderr.strip().endswith("no such file")
    assert "Traceback" not in done.stderr
