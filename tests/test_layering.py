"""Architecture checks: the dependency direction docs/architecture.md fixes."""

from __future__ import annotations

import subprocess
import sys


def test_simulator_never_imports_textual() -> None:
    code = (
        "import sys, simulator, simulator.kernel, simulator.live, simulator.scenario;"
        "import simulator.scenario.runner;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
