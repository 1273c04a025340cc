"""The README's Python example runs, and prints what its comments say it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs_on_both_kernels() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README lost its Python example"
    out = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, cwd=ROOT, check=True
    )
    # One line per kernel: the model's and the real kernel's answers are the same.
    assert out.stdout.splitlines() == ["[(3, 1)] []", "[(3, 1)] []"]


def test_readme_scenario_example_agrees_on_both_kernels(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert blocks, "the README lost its scenario example"
    path = tmp_path / "example.toml"
    path.write_text(blocks[0])
    out = subprocess.run(
        [sys.executable, "-m", "tui", "check", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 steps: 6 agree" in out.stdout
