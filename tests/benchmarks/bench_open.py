"""Benchmark: the CPU of opening the app in a process that already runs, as each TUI test does.

Run it with the project's interpreter::

    .venv/bin/python tests/benchmarks/bench_open.py [--runs 20]

Each run opens one app with ``App.run_test`` (140x44 cells), waits for its first settled frame
(the menu: one ``pilot.pause()``; the player: until it is open, then one pause) and closes it,
in this order: a bare Textual app (`Header`, `Static`, `Footer`), the lesson menu, the player
of a ten-step epoll scenario with the model alone, and the same with the live kernel. The CPU
time of this process (`time.process_time`, all its threads; the live child is a process of its
own and not counted) from ``run_test``'s entry to the settled frame is noted, and the medians
of `--runs` runs each are compared with the bare app's. A first round, not counted, imports
everything; each open starts from a collected heap (`gc.collect`, not counted), as where a full
collection falls in this process would otherwise decide much of the spread. No targets: it
shows where the opening's CPU goes (see `bench_startup`'s seventh pass). Results go to
``results/open.json`` beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results" / "open.json"
SIZE = (140, 44)


class Bare(App[None]):
    """The reference: a bare Textual app."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare textual app drawn")
        yield Footer()


async def open_once(make: Callable[[], App[Any]], *, player: bool) -> float:
    """CPU seconds from ``run_test``'s entry to the first settled frame of `make()`."""
    from tests.tui_support import until

    app = make()
    gc.collect()  # each open from a collected heap: a full collection's place varies
    start = time.process_time()
    async with app.run_test(size=SIZE) as pilot:
        if player:
            screen = app.screen
            await until(pilot, lambda: bool(getattr(screen, "opened", False)))
        await pilot.pause()
        spent = time.process_time() - start
    return spent


def measure(runs: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="muxlab-bench-") as tmp:
        os.environ["MUXLAB_DATA_DIR"] = str(Path(tmp) / "data")
        from tests.tui_support import EPOLL_SCENARIO, write
        from tui.app import make_app

        scenario = write(Path(tmp), "epoll.toml", EPOLL_SCENARIO)
        programs: dict[str, tuple[Callable[[], App[Any]], bool]] = {
            "bare": (Bare, False),
            "menu": (lambda: make_app(animate=False), False),
            "player_model": (lambda: make_app(scenario, live=False, animate=False), True),
            "player_live": (lambda: make_app(scenario, live=True, animate=False), True),
        }
        cpu: dict[str, list[float]] = {name: [] for name in programs}
        for round_ in range(runs + 1):
            for name, (make, player) in programs.items():
                spent = asyncio.run(open_once(make, player=player))
                if round_:
                    cpu[name].append(spent)
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "cpu_s": {name: [round(t, 4) for t in values] for name, values in cpu.items()},
        "cpu_median_ms": {name: round(m * 1000, 1) for name, m in medians.items()},
        "ratio": {name: round(m / medians["bare"], 2) for name, m in medians.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    result = measure(args.runs)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    median, ratio = result["cpu_median_ms"], result["ratio"]
    assert isinstance(median, dict) and isinstance(ratio, dict)
    print(f"CPU from run_test to the first settled frame, median of {args.runs} opens each:")
    for name in median:
        print(f"  {name}: {median[name]} ms, {ratio[name]:.2f}x the bare Textual app")
    return 0


if __name__ == "__main__":
    sys.exit(main())
