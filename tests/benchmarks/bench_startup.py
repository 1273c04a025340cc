"""Benchmark: start to first frame of the app, against a bare Textual app.

Run it with the project's interpreter::

    .venv/bin/python tests/benchmarks/bench_startup.py [--runs 15] [--scenario FILE]

Three programs are started `--runs` times each, alternating (bare, menu, play, bare, ...), each
as a real process in a real pseudo-terminal of 140x44 cells: a bare Textual app (`Header`,
`Static`, `Footer`), ``muxlab`` (the lesson menu) and ``muxlab play SCENARIO`` (the player with
the live kernel). The time runs from the spawn to the moment the terminal has received a text
that only the first frame of the screen holds (the Static's text; the first chapter's heading
in the lesson list; the player's "Real kernel" panel title, which its empty frame shows
before the scenario is loaded): the process really starts, and really draws. Each run then
quits with ``q`` (the live child ends with it). For ``play`` the time until the player
shows the live child running ("child pid") is measured as well. The medians are compared
with the bare app's; the targets are 1.5 (menu) and 2.0 (play). For the menu, the time until
the highlighted lesson's summary is drawn is measured too ("your progress:", drawn one refresh
after the first frame). Because wall time on a shared machine is mostly the other processes,
each program is also run, alternating with the runs above, under a probe (`FIRST_FRAME_PROBE`,
run with ``python -I``; ``python -m tui`` is the ``muxlab`` command) that notes in the process
the CPU time it had used when its first frame was handed to the terminal (a frame Textual
holds back, drawn during its start-up batch, does not count): what the program
itself spent to get there, whatever the load (read from outside, at the moment the marker
arrives, it would also count what the program does after its first frame). The live child is a
process of its own and not counted. Results go to ``results/startup.json`` beside this file.

Findings (cProfile and ``python -X importtime``, before the change): importing ``tui.app``
took ~630 ms, which the menu paid in full before drawing. ~275 ms of it was
``simulator.scenario`` -- pydantic building the scenario models (one per call, the
discriminated union of steps) at import, ~85 ms of that in ``format``'s own body -- then
``tui.commands`` and ``tui.render`` (rich Markdown and every renderable, ~80 ms), the player
screen (~50 ms), the runner and ``check``. The menu needs none of that to draw: it lists
titles, summaries, mechanisms, tags and step counts.
What changed: ``tui.app`` imports the player, the session, the loader and the runner when a
scenario is first opened; the menu reads each lesson's ``[scenario]`` table with ``tomllib``
(`tui.lessons`), and a file whose table or steps are not well formed is still listed with the
loader's full report; a lesson is validated in full when it is opened, as before. In the
scenario format the models are built on first use. For ``play``, the live kernel's child is
started in a thread as the player opens, so it is up while the first frame draws, instead of
at the first step.
By how much (``--runs 3`` before, ``--runs 5`` after, same machine, 2 busy cores): menu 2.60x
-> 1.79x the bare app (1555 -> 741 ms; bare 597 / 414 ms), ``play`` 3.54x -> 3.45x, with the
child shown running 13 ms after the first frame instead of at the first step. Neither target
is met yet: the menu still imports rich's Markdown (markdown-it, linkify: ~125 ms) for its
summary pane, and ``play`` builds every pydantic model of the format before its first frame.

Second pass (py-spy and cProfile of the real process in a pty up to its first frame, issue
10). What was slow, in the menu: the lessons were read twice before the first frame (on mount
and on the screen's first resume), each a full ``tomllib`` parse of all 16 files (~8% of the
start under py-spy); rich's Markdown for the summary (~9%); ``secrets`` (hashlib) and
``shlex`` for serving and crash reports. In ``play``: the menu was built and listed under the
player; the narration's Markdown; the player styled twice (its mechanism's class added at the
first draw). What changed: the menu glances at each lesson (the text before the first
``[[step]]``, the steps counted) and reads them in full right after its first frame,
re-listing any that differ; a lesson is read again only when its file changes (size, mtime);
the summary and the player's first narration are drawn one refresh after the first frame,
which imports rich's Markdown then; ``play FILE`` makes the menu only when the player closes;
the player's class is set at construction; the menu is the app's default screen (composed with
the app, instead of pushed over a blank one, which cost a frame and a refresh). By how much
(``--runs 9``, same machine, 2 cores under a load of 3-7): menu 1.67x -> 1.01-1.13x wall,
1.58x -> 1.19-1.25x CPU at the first frame; the summary follows at 1.44-1.80x wall; ``play``
3.30x -> 2.71-2.85x wall, 2.91x -> 2.33-2.45x CPU (before: the first figures of this pass,
the CPU then read from ``/proc`` when the marker arrived, which over-counts). Left: ``play``
still builds the scenario format's pydantic models before its first frame
(``simulator.scenario.format``:
importing pydantic and building the ~40 models and the union is ~60% of the path from the
menu's cost to ``play``'s); building only the models of the calls a scenario uses, or
checking the scenario after the first frame, is the format's change to make.

Third pass, the format (``python -X importtime``, cProfile of ``load_scenario``): the models
are now declared with ``defer_build`` and the loader validates a well-formed file by the step
models of the calls it uses (`loader.validate_document`; errors still by the whole model), so
``play et-stall.toml`` builds 8 models instead of ~50 and the union. Importing the loader and
loading et-stall, in-process CPU, 7 interleaved runs each of the old and the new code: median
305 -> 245 ms. Not enough for the target: ``--runs 9`` after it, load 3.4-4.6: ``play`` 2.86x
wall, 2.63x CPU at the first frame (bare 516 / 321 ms; menu 1.46x / 1.40x) -- within this
machine's spread of the second pass's figures. What is left on ``play``'s path, by
``-X importtime`` (self times): pydantic itself (~110 ms with ``pydantic_core.core_schema``),
which any validation before the first frame pays; ``tui.render.cost_meter`` 33 ms,
``simulator.scenario.recording`` 21 ms (pydantic models built at import), the player and
runner. Reaching 2x needs the player to draw its first frame before the scenario is validated
(the TUI's change: `tui.app._player_for` validates, then builds the screen).

Fourth pass (issue 10, session 4), ``simulator.scenario.recording`` only: its five models
are declared with ``defer_build`` and each kind of raw result's validator is built when a
recording first needs it, instead of nine `TypeAdapter`s at import: importing it after the
loader, in-process CPU, 3 runs each, 20.6-24.9 -> 11.0-12.0 ms. Not re-measured end to end
(the machine's load was 17-57 that hour: ~10 ms is inside the spread of ``play``'s start);
the player drawing before validation remains the change that could reach 2x.

Fifth pass (issue 10, session 5), ``play``. Profiled (``-X importtime`` and cProfile of the
real process in a pty up to its first frame, through probes like the one below): of
``play``'s ~1.4 s of CPU at its first frame (menu ~0.8 s, bare ~0.5 s), the player imported
the scenario's whole stack before drawing -- `tui.screens.player` imports `tui.frame`,
`tui.session`, `tui.verdicts` and the views, each of which imports the runner, so the
format's pydantic models, the loader and pydantic (~260 ms in-process), then the views
(~80 ms) -- then loaded and checked the scenario and made the session (~50 ms), then drew
the full player. What changed: `muxlab play FILE` gives the player an opener instead of a
session (`tui.screens.player.Opener`, `MuxlabApp._opener`). The first frame is the player's
frame alone -- the lesson's title from a glance at the file (`tui.lessons.glance_title`), the
empty panels and their titles, "Loading the lesson...", the keys -- and the player's module
imports at its top only what that frame needs: nothing of the format, the runner or pydantic
is imported before it (a test checks). Right after that frame is shown, the opener loads and
checks the scenario and makes the session (the live child starts then, in its thread, while
the panels are composed and drawn); keys pressed meanwhile are held and run in order; a
scenario that cannot be played still ends in the loader's report over the menu. The opening
starts from the app's ``on_ready``: Textual holds back what is drawn during its start-up (a
batch), so an opening started when the player mounted delayed the first frame the terminal
got by all of it (the screen came at once, already open) -- which the probe did not see: it
noted the first `App._display` of the screen, written or not. It now notes the first one
written, and the figures below use it for both trees. The menu was checked too: it does not
read every lesson in full before its first frame (a glance at each, as in the second pass;
each file is read twice, once by `library.is_challenge`, which sorts challenges out).
By how much (``--runs 9``, this benchmark run with main's tree and venv, then with this
one, back to back, 2 cores under a load of 8-9): ``play`` 3.34x -> 1.54x wall (4244 -> 2633
ms; bare 1271 / 1705 ms), 2.91x -> 1.58x CPU at the first frame shown (1527 -> 839 ms; bare
525 / 530 ms); the live child shown running 3.66x -> 2.99x. The menu, unchanged: 1.70x ->
1.26x wall, 1.60x -> 1.51x CPU (799-839 ms), the spread of this machine.
Left on the menu's path, by cProfile: painting the option list (~10% of its first frame),
the app's stylesheet, and ``tui.cli.build_parser``, which imports `tui.lab_cli` (the lab's
modules and `simulator.uapi`, ~25 ms of CPU) for ``muxlab lab``'s options on every start.

Sixth pass (issue 10, session 5), the menu. ``muxlab`` without arguments builds no argument
parser (`tui.cli.main`): building it imported every command's options, the lab's and the
course's modules (62-72 ms of CPU in-process, part of it the course the menu reads anyway), and
`simulator.bench.thrash` imports `simulator.uapi` where it uses it. Measured on main after
it, two runs of ``--runs 9`` back to back, load ~1: menu 1.38x and 1.31x wall, 1.32x and 1.24x
CPU; ``play`` 1.73x and 1.69x wall, 1.56x and 1.45x CPU (bare 552 ms wall). Before it, the same
evening: menu 1.65x wall, 1.29x CPU; ``play`` 1.59x wall. Both targets met in both runs.

Seventh pass (issue 10, session 16): the CPU of opening the app in a process that already runs,
which ~200 TUI tests pay (`bench_open.py` measures it: ``run_test`` to the first settled frame).
Profiled with cProfile (one test, ``-n 0``; 20 opens in one process) and with `gc.callbacks`.
What was slow: (1) the cyclic collector. An app leaves 10,000-25,000 objects in cycles that
reach the oldest generation, and each full collection walks the whole test worker (0.5-2.5
million objects; Textual's `StylesCache.get_inner_outer` ``lru_cache`` also pins up to 1,024
dead widgets' caches and strips, Textual issue #6665): 8.7-9.8 s of the ~55 s of CPU of
test_tui_menu, _sandbox and _player (``-n 0``), and half of a menu's opening in a process of
that size. (2) Each footer key was styled three times as it mounted (its own ``compact``
default's class added, then removed by the binding), at each of the footer's composes. (3) The
menu resolved each lesson's progress key (two ``realpath``) ~6 times a listing, and read every
file again at each listing to tell challenges from lessons. (4) ``play FILE`` laid out and
painted the whole screen once more for the narration, a refresh after the panels. Not changed:
the stylesheet's parse (~20 ms an app: every widget's DEFAULT_CSS, kept per `Stylesheet`;
sharing it between apps would touch Textual's private parse cache, and a user runs one app),
and the widgets' own repaints once they know their size (5-6 partial updates an opening).
What changed: the test session collects its youngest generation every 3,000 allocations
(`tests/conftest.py`: full collections ~4x rarer, for ~2x a worker's peak memory); footer keys
are born with the footer's ``compact`` (`set_reactive`, styled once); the menu finds each key
once a listing, and `is_challenge` and the challenge entries are kept by (size, mtime) like
the lessons; the narration fills with the panels when the empty first frame was already shown.
By how much (same machine, load 2-4, base and this tree alternated): GC in those three files
9.75 -> 2.2-2.3 s, their CPU 55.6 -> 48.0-50.6 s (wall is mostly their waits: 107 -> 113-126 s
under load); all of ``tests/test_tui_*.py`` (``-n auto``, load 2-5): 353 -> 313 s user CPU,
428 -> 279 s wall, the largest worker's memory 0.53 -> 0.84 GB; `bench_open.py --runs 20`, two
rounds each: menu 199-275 -> 188-199 ms, player
model-only 487-521 -> 389-427 ms, live 499-546 -> 423-478 ms (bare app 43-53 ms); this
benchmark, ``--runs 9``: menu 1.45x -> 1.27x wall, 1.59x -> 1.41x CPU; ``play`` 1.59x ->
1.59x wall, 1.66x -> 1.60x CPU; the live child shown running 3.85x -> 3.23x. A player closed
while it opened (a file opened with ``o`` at once) went on mounting and ended the app with
``NoMatches``; the new timing showed it, and it now stops (`PlayerScreen._gone`).

Eighth pass (issue 10, session 17), the menu, which sat at 1.49-1.53x. Profiled (cProfile of
the real process in a pty up to its first frame, and `gc.callbacks` noting each collection
there): the menu made one full collection (generation 2) before its first frame, 22-30 ms of
its ~270 ms of CPU, walking the ~52,000 objects the imports had made; the bare app, ~40,000
objects, stayed under the threshold and made none. The 42 modules the menu imports beyond the
bare app's are ~15 ms. What changed: `tui.launch.run_app` moves what is alive once the app's
modules are imported to the collector's permanent generation (`gc.freeze`, O(1)); no full
collection comes before the first frame, and later ones walk only what the app made. By how
much (``--runs 9``, back to back, load ~1): menu 1.52x -> 1.22x wall, 1.49x -> 1.28x CPU;
``play`` 1.75x -> 1.54x wall, 1.48x -> 1.39x CPU.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results" / "startup.json"
TARGETS = {"menu": 1.5, "play": 2.0}
SIZE = (140, 44)  # columns, rows
TIMEOUT_S = 60.0
LATER_S = 5.0

BARE_APP = '''\
"""A bare Textual app: Header, Static, Footer."""
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Bare(App[None]):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("bare textual app drawn")
        yield Footer()


Bare().run()
'''

FIRST_FRAME_PROBE = '''\
"""Run a Textual program; write the CPU time it had used when it first showed `screen`.

Usage: probe.py OUT SCREEN (SCRIPT | -m MODULE) [ARGS...]. The time is taken in the process,
right after the frame was handed to the terminal (`App._display`), so work the program does
after its first frame, and other processes, do not count.
"""
import runpy
import sys
import time

import textual.app

out, screen, *argv = sys.argv[1:]
_display = textual.app.App._display


def display(self, shown, renderable):
    # Textual holds back what is drawn during a batch (its start-up is one): not shown.
    shown_now = renderable is not None and not self._batch_count
    _display(self, shown, renderable)
    if shown_now and type(shown).__name__ == screen and not display.noted:
        display.noted = True
        with open(out, "w") as f:
            f.write(repr(time.process_time()))


display.noted = False
textual.app.App._display = display
if argv[0] == "-m":
    sys.argv = argv[1:]
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")
'''

# Escape sequences (CSI, OSC, DCS and two-byte ones): what is left is the text on screen.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def _screen_text(raw: bytes) -> str:
    return _ESCAPES.sub("", raw.decode("utf-8", "replace"))


def run_once(argv: list[str], markers: list[str], env: dict[str, str]) -> list[float | None]:
    """Start `argv` in a new pty; seconds from spawn until each of `markers` has been drawn
    (None for a marker after the first that did not come within `LATER_S` of the first)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    start = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    found: list[float | None] = []
    try:
        while len(found) < len(markers):
            if found and time.perf_counter() - start > (found[0] or 0) + LATER_S:
                found += [None] * (len(markers) - len(found))
                break
            if time.perf_counter() - start > TIMEOUT_S:
                tail = _screen_text(seen)[-400:]
                raise RuntimeError(
                    f"{argv!r}: no {markers[len(found)]!r} after {TIMEOUT_S}s: {tail}"
                )
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            if not chunk:
                raise RuntimeError(f"{argv!r} ended before drawing: {_screen_text(seen)[-400:]}")
            seen += chunk
            now = time.perf_counter()
            text = _screen_text(seen)
            while len(found) < len(markers) and markers[len(found)] in text:
                found.append(now - start)
        os.write(master, b"q")
        _drain_until_exit(master, process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
    return found


def _drain_until_exit(master: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.perf_counter() + 10
    while process.poll() is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                os.read(master, 1 << 16)
            except OSError:
                break
    process.wait(timeout=10)


def measure(runs: int, scenario: Path) -> dict[str, object]:
    bin_dir = Path(sys.executable).parent
    muxlab = str(bin_dir / "muxlab")
    with tempfile.TemporaryDirectory(prefix="muxlab-bench-") as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        probe = Path(tmp) / "probe.py"
        probe.write_text(FIRST_FRAME_PROBE, encoding="utf-8")
        noted = Path(tmp) / "cpu.txt"

        def probed(screen: str, *argv: str) -> list[str]:
            return [sys.executable, "-I", str(probe), str(noted), screen, *argv]

        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "XDG_DATA_HOME": tmp,
            "XDG_STATE_HOME": tmp,
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "LANG": "C.UTF-8",
        }
        programs = {
            "bare": ([sys.executable, "-I", str(bare)], ["bare textual app drawn"]),
            "menu": ([muxlab], ["1 · Blocking and non-blocking I/O", "your progress:"]),
            "play": ([muxlab, "play", str(scenario)], ["Real kernel", "child pid"]),
        }
        times: dict[str, list[float]] = {
            "bare": [],
            "menu": [],
            "menu_summary": [],
            "play": [],
            "play_live": [],
        }
        # The same programs under the probe, for the CPU time at the first frame.
        probes = {
            "bare": (probed("Screen", str(bare)), "bare textual app drawn"),
            "menu": (probed("LessonMenuScreen", "-m", "tui"), "1 · Blocking and non-blocking I/O"),
            "play": (probed("PlayerScreen", "-m", "tui", "play", str(scenario)), "Real kernel"),
        }
        cpu_times: dict[str, list[float]] = {"bare": [], "menu": [], "play": []}
        for _ in range(runs):
            for name, (argv, markers) in programs.items():
                first, *later = run_once(argv, markers, env)
                assert first is not None
                times[name].append(first)
                if later and later[0] is not None:
                    times[f"{name}_{'live' if name == 'play' else 'summary'}"].append(later[0])
                noted.unlink(missing_ok=True)
                probe_argv, marker = probes[name]
                run_once(probe_argv, [marker], env)
                cpu_times[name].append(float(noted.read_text(encoding="ascii")))
    medians = {name: statistics.median(values) for name, values in times.items() if values}
    cpu_medians = {name: statistics.median(values) for name, values in cpu_times.items()}
    cpu_ratios = {
        name: round(cpu_medians[name] / cpu_medians["bare"], 3) for name in ("menu", "play")
    }
    ratios = {
        name: round(medians[name] / medians["bare"], 3)
        for name in ("menu", "play", "menu_summary", "play_live")
        if name in medians
    }
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "scenario": str(scenario),
        "times_s": {name: [round(t, 4) for t in values] for name, values in times.items()},
        "median_ms": {name: round(m * 1000, 1) for name, m in medians.items()},
        "ratio": ratios,
        "cpu_s": {name: [round(t, 3) for t in values] for name, values in cpu_times.items()},
        "cpu_median_ms": {name: round(m * 1000, 1) for name, m in cpu_medians.items()},
        "cpu_ratio": cpu_ratios,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "et-stall.toml")
    args = parser.parse_args(argv)
    result = measure(args.runs, args.scenario.resolve())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    median, ratio = result["median_ms"], result["ratio"]
    assert isinstance(median, dict) and isinstance(ratio, dict)
    print(f"start to first frame, median of {args.runs} runs each, alternating:")
    print(f"  bare Textual app (Header, Static, Footer): {median['bare']} ms")
    for name, what in (("menu", "muxlab (lesson menu)"), ("play", "muxlab play (live)")):
        verdict = "meets" if ratio[name] <= TARGETS[name] else "MISSES"
        print(
            f"  {what}: {median[name]} ms, ratio {ratio[name]:.2f} "
            f"({verdict} the target of {TARGETS[name]})"
        )
    cpu_median, cpu_ratio = result["cpu_median_ms"], result["cpu_ratio"]
    assert isinstance(cpu_median, dict) and isinstance(cpu_ratio, dict)
    print(
        f"CPU time of the process at its first frame (in the process, median): bare "
        f"{cpu_median['bare']} ms, menu {cpu_median['menu']} ms, ratio {cpu_ratio['menu']:.2f}; "
        f"play {cpu_median['play']} ms, ratio {cpu_ratio['play']:.2f}"
    )
    if "menu_summary" in ratio:
        print(
            f"  muxlab, until the highlighted lesson's summary shows: {median['menu_summary']} "
            f"ms, ratio {ratio['menu_summary']:.2f} (no target)"
        )
    if "play_live" in ratio:
        print(
            f"  muxlab play, until the live child shows as running: {median['play_live']} ms, "
            f"ratio {ratio['play_live']:.2f} (no target)"
        )
    else:
        print("  muxlab play: the live child did not show as running before the first step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
