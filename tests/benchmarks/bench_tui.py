"""Benchmark: one step's whole-screen update in the player, at 10 and at 100,000 descriptors,
against a plain Textual app's full-screen update of the same size.

Run it with the project's interpreter::

    .venv/bin/python tests/benchmarks/bench_tui.py [--fds 100000] [--repeats 5] [--profile 25]
        [--steps thundering-herd,et-stall] [--only steps|fds]

The player is driven in ``App.run_test`` (headless, 160x50, animations off) on a small epoll
scenario. Phase "small" times the update after each of six steps with ten descriptors open;
then the model is grown, in the same run, to `--fds` descriptors, every one of them registered
in the epoll's interest tree (and a thousand of them on the ready list); phase "large" times
the update after six more steps. The update is what the player does after a step -- capture a
frame and push it into every widget (`PlayerScreen.draw`) -- then what the app does next
(`Pilot.pause`: messages, layout, repaint), then a forced full layout and repaint of the whole
screen (`App.refresh(layout=True)`, then `Pilot.pause` again). Only public API is used.

The reference is a plain Textual app of the same size -- Header, six `Static`s in two rows of
three, Footer -- whose statics are filled to the last cell with styled text (as much text as
the player's screen holds, or more); an update puts new text in every static and repaints the
screen the same way. It is measured before and after the player, in the same run.

Each update is timed `--repeats` times in CPU time of the process (`time.process_time`):
`Pilot.pause` waits for the app to go idle by sleeping, and on a shared machine the wall time
of those sleeps is noise, not repaint. Targets: large/small <= 1.5 (the views draw what is on
screen: line API, bounded captures, never the whole table or tree) and large/reference <= 2.

Profile (cProfile, `--profile`; issue 10): what was slow, what changed, by how much.
- The old benchmark timed wall clock around `Pilot.pause`, whose idle sleeps made an update
  look like ~180 ms for ~65 ms of CPU: under load the ratio was noise (1.35x-1.59x). It now
  times CPU and uses public API only.
- The fd table's ``highest_fd`` was ``max`` over every slot of the model's fd table at every
  repaint and at every micro-step an animation captures (it looked down from the table's
  capacity, twice the descriptors after a doubling); it now looks down from the table's
  high-water mark, O(1) (it was about 4 ms an update at 20,000 descriptors under cProfile,
  linear in them).
- `PlayerScreen.draw` queried the DOM for its views and reset the trace list twice per
  frame: draw's own cost fell by about a fifth (26 vs 33 ms a draw under cProfile).
- Left (measured, not fixed): at 100,000 descriptors the rest of the difference is the
  garbage collector walking the grown model during the update -- with ``gc.disable()`` the
  same run gives large/small 1.16 (64 vs 74 ms) against 1.74 with it on; freezing the model
  out of the collector after a step (``gc.freeze``) is the app's or the runner's policy.
  Against the plain app the player costs about 2x already at 10 descriptors (it has some
  twenty widgets to lay out); 2.1-2.3x measured, target 2x not met yet.
- Second pass (issue 10; gc callbacks timing each collection, 5 repeats): at 100,000
  descriptors the medians were already within the targets (large/small 1.25-1.34, against
  the plain app 1.65), but three updates in thirty took 260-330 ms instead of ~90: full
  collections (generation 2) walking the grown model, ~220 ms each. What changed: the player
  freezes what is alive after each position it draws (`tui.heap.HeapPolicy`, `gc.freeze`,
  O(1)); it collects it when the position goes back, every 100 positions, and on close. By
  how much: no generation-2 collection in the large phase any more; the slowest tenth of the
  updates went from 309-318 ms to 104-151 ms (same run length, same machine, 2 busy cores);
  medians unchanged within noise. The rest of the large phase's extra cost is the
  youngest generations' collections (each one reads the headers of the old objects the young
  ones point to, so it costs more in a big heap) and the screen holding more text (full
  tree, fd table and ready list instead of near-empty panels).
- Against the plain app (2.22x in one run under load): cProfile showed a quarter of an update
  in `tui.render.safe.Neutralised`, the net under every picture, rendering each auto-height
  picture two to four times per update -- Textual measures it (no height), then draws it (at
  that height), at each of the two layouts. `Neutralised` now keeps the drawing at the natural
  height and gives it again for the same options at that height: 294 renders instead of 494
  over the same run. Same machine, one run each, loaded: large/small 1.35 -> 1.13, large/plain
  2.22 -> 1.64 (plain 53 -> 70 ms: the reference moves with the load as much as the player).

A second figure (`--only steps`) is what a learner pays at each key press, and what the Pilot
tests pay at each position they look at: the CPU of one step in the player -- `PlayerScreen.go`
to the next position, then `Pilot.pause` until the screen is drawn (no forced layout) -- at
140x44, over every step of shipped lessons (`--steps`; the model alone, no animation), each
lesson stepped through `--repeats` times (back to the start untimed in between). Its reference
is the plain app above at the same size, measured in the same run: one full-screen update.

Profile of a step (cProfile of ``thundering-herd`` at 140x44, 36 steps; issue 10): what was
slow, what changed, by how much.
- A step drew the screen three times and laid it out twice: every picture (`Static.update`)
  and every line view (a new `virtual_size`) asked for a layout, each layout reflowed all
  forty-odd widgets, Textual reflowed again for what the first pass resized, and the
  scrollbars it touched were composed a third time, even at steps that change no height.
  The render was half of a step (`_compositor.render_update`), the two reflows a quarter.
- Widgets repainted what had not changed: the reactives `frame`/`event` repainted every view
  whatever its picture, the model panel's subtitle (``virtual time · calls``, new at every
  step) repainted the whole left panel -- a third of the screen, a fifth of the lines
  rendered -- and the fd table repainted all its rows for the two that changed.
- What changed: pictures ask for a layout only when their height at the laid-out width
  changes (`tui.widgets.measured.MeasuredStatic`), equal pictures are not shown again
  (`PictureView.COMPARES_PICTURES`), `frame`/`event` are plain `var`s; line views update
  their scrollbar themselves when it stays, and `reset` repaints only the changed rows
  (`LinesView._set_canvas`, `_changed_rows`); the subtitle repaints its border row only
  (`tui.widgets.panel.Panel`); the narration's Markdown is drawn once for its measure and
  its repaint (`Neutralised`); pictures and the player's containers are repainted once, not
  twice, when a layout resizes them (`tui.widgets.steady`).
- By how much (this benchmark, ``--only steps --repeats 2``, run on the code before and
  after, one after the other, on a loaded 2-core machine): a step 138 -> 110 ms and
  153 -> 90 ms of CPU, step/plain 1.91 -> 1.46 and 1.97 -> 1.65 (before the last change,
  the repaint-once containers); with it, 129 -> 100 ms, step/plain 1.98 -> 1.72: 1.2x-1.7x
  cheaper, not the 2x aimed at. Lines re-rendered over the 36 steps of ``thundering-herd``:
  7,145 -> 5,716; over the 15 of ``et-stall``: 2,151 -> 1,343; layouts 70 -> 63 and
  35 -> 34, as most steps there do change a height (the narration's, the threads').
- Left (measured, not fixed): a step that changes a height pays two reflows and two or three
  renders -- Textual sets `virtual_size` on every widget a layout resized, a reactive that
  asks for another layout (declaring it without that layout on the pictures and containers
  changed the screen in some frames: the second pass is not always redundant; without its
  repaint it is, and that is what `tui.widgets.steady` keeps); the resized ScrollBars are
  Textual's own. And a narration that grows by a line resizes the story area, which moves
  and repaints every panel above it. A step that changes no height costs about half of one
  that does (50-60 ms against 110-150 ms in the profile).

Profile of the frames the TUI tests draw (cProfile of single tests, ``-n 0 -p no:randomly``;
issue 10, the suite's row): what was slow, what changed, by how much.
- Reading the screen (`tests.tui_support.screen_text`, ~600 frames in the layout test, ~140
  calls elsewhere) took the public SVG screenshot and parsed it back: ~40 ms of CPU a frame
  at 140x44, two thirds of it rich's ``export_svg`` (a style and a tag per segment, and the
  repr of every segment hashed for the SVG's id). It now draws the screen from the widgets'
  own lines through public API -- `Screen.find_widget`'s paint order, `Widget.render_lines`,
  the front widget winning each cell, as the compositor does -- ~9 ms a frame; a modal (whose
  translucent background is drawn from Textual's private context) or a screen not laid out
  yet is still read from the screenshot. Over the layout test's 626 frames (all equal to the
  screenshot's text): 25.4 -> 5.9 s of CPU; `[thundering-herd]` 4.4/4.8 -> 3.9/4.2 s.
  `tests/test_tui_screen_text.py` holds the two equal; they were also asserted equal at
  every `screen_text` call of the TUI tests that use it (143 tests) before this landed.
- An animation tick (`test_every_animation_frame_is_a_state_the_model_passed_through`, a
  tick at every micro-step of every step) redrew every fd-table row on screen, and each
  row's strip computed the widget's `rich_style`, which walks the styles of every ancestor
  (~40 % of a tick under cProfile). `LinesView` now computes it once per reset and per line
  drawn, and a reset keeps the strip of a line whose text and style are those it was drawn
  from (most rows are the same from one micro-step to the next). A tick at 140x44 in
  ``thundering-herd``: 3.2-3.4 -> 1.7-2.3 ms of CPU (288 ticks); the test's calls
  (``thundering-herd``, ``thrashing``, ``epoll-workers``) 3.6-4.6, 3.4-4.1, 2.0-2.7 s ->
  2.9, 2.3-2.9, 1.3-2.0 s. The step figure above, same tree, one run each on a quiet
  machine: 73.7 -> 55.4 ms, step/plain 1.81 -> 1.47 (the fd table's unchanged rows are no
  longer redrawn at a step either).
- Together, the two files these tests are in (``pytest -q tests/test_tui_layout.py
  tests/test_tui_shipped.py``, two workers, one run each, same load): 182 -> 134 s of CPU
  (user + sys), 3:39 -> 2:36 wall; `tests/test_tui_screen_text.py`, new, costs ~10 s of it back.
- Left (measured, not fixed): a step that changes a picture's height still pays Textual's
  second layout pass (the containers and pictures the first pass resized set
  `virtual_size`, a reactive that asks for another layout: 78 + 53 + 32 such requests from
  Row/Column/ScrollColumn over the 36 steps of ``thundering-herd``, triggered by the wait
  queues, the narration, the live panel and the threads growing); the render after a
  layout (`render_lines` of some fifty widgets) is now the largest part of a step.

Results go to ``results/tui.json`` beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Grid
from textual.pilot import Pilot
from textual.widgets import Footer, Header, Static

from simulator.kernel import ModelKernel
from simulator.scenario.library import shipped_dir
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN
from tui.app import make_app
from tui.screens.player import PlayerScreen

TARGET_RATIO = 1.5
TARGET_REFERENCE_RATIO = 2.0
RESULTS = Path(__file__).parent / "results" / "tui.json"
SIZE = (160, 50)
STEP_SIZE = (140, 44)  # the size the README says shows everything, the layout tests' size
STEP_LESSONS = ("thundering-herd", "et-stall")

# Positions 4..15 only: the runner checkpoints (deep-copies the model) every 16 steps, which
# is the model's cost, not the screen's, and would only slow the setup of the large phase.
SCENARIO = """\
[scenario]
title = "bench: many descriptors"
mechanism = "epoll"

[model]
nofile = 400000
file_max = 400000

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "epoll_create"
as = "ep"

[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }
""" + "".join(
    f"""
[[step]]
do = "{call}"
args = {args}
say = "step {i}"
"""
    for i, (call, args) in enumerate(
        [
            ("send", '{ fd = "b", nbytes = 1 }'),
            ("epoll_wait", '{ epfd = "ep", maxevents = 8, timeout_ms = 0 }'),
            ("recv", '{ fd = "a", nbytes = 1 }'),
        ]
        * 4,
        start=4,
    )
)


def grow(model: ModelKernel, epfd: int, fds: int) -> None:
    """Open socket pairs until `fds` descriptors are registered in epoll `epfd`."""
    model.tracing = False
    pairs = []
    for _ in range(fds // 2):
        a, b = model.socketpair()
        model.epoll_ctl(epfd, EPOLL_CTL_ADD, a, EPOLLIN)
        model.epoll_ctl(epfd, EPOLL_CTL_ADD, b, EPOLLIN)
        pairs.append((a, b))
    for a, _b in pairs[:500]:
        model.send(a, 1)  # makes its peer readable: the ready list grows
    model.tracing = True


class Plain(App[None]):
    """The reference: a plain Textual app whose screen is full of text in a few widgets."""

    CSS = """
    Grid { grid-size: 3 2; }
    Static { height: 1fr; border: round $primary; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        with Grid():
            for _ in range(6):
                yield Static(markup=False)
        yield Footer()

    def fill(self, step: int) -> None:
        """New text in every static, to its last cell (a word of each line styled)."""
        for n, static in enumerate(self.query(Static)):
            width, height = static.content_size
            text = Text()
            for line in range(height):
                words = f"step {step} panel {n} line {line} " * (width // 16 + 1)
                text.append(words[: width // 2], style="bold cyan" if line % 3 else "")
                text.append(words[width // 2 : width], style="dim")
                if line + 1 < height:
                    text.append("\n")
            static.update(text)


async def _update(pilot: Pilot[Any], push: Callable[[], None]) -> float:
    """CPU seconds of one update: `push` new content, let the app repaint what changed, then
    lay out and repaint the whole screen (see the module docstring)."""
    start = time.process_time()
    push()
    await pilot.pause()
    pilot.app.refresh(layout=True)
    await pilot.pause()
    return time.process_time() - start


async def reference(repeats: int, steps: int = 6, size: tuple[int, int] = SIZE) -> list[float]:
    """Update times of the plain app (`Plain`), `repeats` per step."""
    app = Plain()
    times: list[float] = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for step in range(steps):
            for _ in range(repeats):
                times.append(await _update(pilot, partial(app.fill, step)))
    return times


async def player(
    fds: int, repeats: int, profiles: tuple[cProfile.Profile, cProfile.Profile] | None
) -> dict[str, object]:
    """Update times of the player at 10 descriptors, then at `fds`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(SCENARIO, encoding="utf-8")
        app = make_app(path, live=False, animate=False, data_dir=Path(tmp) / "data")
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, PlayerScreen)
            while not screen.opened:  # `muxlab play` draws the player's frame, then opens it
                await pilot.pause()
            session = screen.session

            def draw() -> None:
                screen.draw(animate=False)

            async def update_times(position: int, profile: cProfile.Profile | None) -> list[float]:
                session.seek(position)
                times = []
                for _ in range(repeats):
                    if profile is not None:
                        profile.enable()
                    times.append(await _update(pilot, draw))
                    if profile is not None:
                        profile.disable()
                return times

            small: list[float] = []
            for position in range(4, 10):
                small += await update_times(position, profiles and profiles[0])
            model = session.model
            assert isinstance(model, ModelKernel)
            started = time.perf_counter()
            grow(model, session.names.fds["ep"], fds)
            grown_s = time.perf_counter() - started
            registered = len(model.epoll(session.names.fds["ep"]).rbr)
            large: list[float] = []
            for position in range(10, 16):
                large += await update_times(position, profiles and profiles[1])
            open_fds = len(model.fdt)
    return {
        "small": small,
        "large": large,
        "open_fds": open_fds,
        "registered": registered,
        "grow_s": grown_s,
    }


async def player_steps(
    lesson: Path, repeats: int, profile: cProfile.Profile | None = None
) -> list[float]:
    """CPU seconds of each step of `lesson` in the player at `STEP_SIZE` (see the module
    docstring), `repeats` passes from the start."""
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(lesson, live=False, animate=False, data_dir=Path(tmp) / "data")
        async with app.run_test(size=STEP_SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, PlayerScreen)
            while not screen.opened:
                await pilot.pause()
            total = screen.session.total
            for _ in range(repeats):
                screen.go(0)
                await pilot.pause()
                for position in range(1, total + 1):
                    if profile is not None:
                        profile.enable()
                    start = time.process_time()
                    screen.go(position)
                    await pilot.pause()
                    times.append(time.process_time() - start)
                    if profile is not None:
                        profile.disable()
    return times


async def measure_steps(
    lessons: list[Path], repeats: int, profile: cProfile.Profile | None = None
) -> dict[str, object]:
    """The player's step against the plain app's full-screen update at `STEP_SIZE`."""
    plain = await reference(repeats, size=STEP_SIZE)
    steps: dict[str, list[float]] = {}
    for lesson in lessons:
        steps[lesson.stem] = await player_steps(lesson, repeats, profile)
    plain += await reference(repeats, size=STEP_SIZE)
    every = [t for times in steps.values() for t in times]
    plain_ms = statistics.median(plain) * 1000
    step_ms = statistics.median(every) * 1000
    return {
        "step_terminal": f"{STEP_SIZE[0]}x{STEP_SIZE[1]}",
        "step_lessons": {name: len(times) for name, times in steps.items()},
        "step_median_ms": round(step_ms, 2),
        "step_mean_ms": round(statistics.mean(every) * 1000, 2),
        "step_median_ms_by_lesson": {
            name: round(statistics.median(times) * 1000, 2) for name, times in steps.items()
        },
        "step_reference_median_ms": round(plain_ms, 2),
        "step_reference_ratio": round(step_ms / plain_ms, 3),
    }


async def measure(
    fds: int, repeats: int, profiles: tuple[cProfile.Profile, cProfile.Profile] | None = None
) -> dict[str, object]:
    plain = await reference(repeats)
    run = await player(fds, repeats, profiles)
    plain += await reference(repeats)
    small, large = run["small"], run["large"]
    assert isinstance(small, list) and isinstance(large, list)
    small_ms = statistics.median(small) * 1000
    large_ms = statistics.median(large) * 1000
    large_p90_ms = statistics.quantiles(large, n=10)[-1] * 1000  # the stalls a median hides
    plain_ms = statistics.median(plain) * 1000
    return {
        "benchmark": "tui whole-screen update after one step (CPU time)",
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "repeats_per_step": repeats,
        "small_open_fds": 10,
        "large_open_fds": run["open_fds"],
        "large_registered": run["registered"],
        "grow_seconds": round(float(run["grow_s"]), 1),  # type: ignore[arg-type]
        "reference_median_ms": round(plain_ms, 2),
        "small_median_ms": round(small_ms, 2),
        "large_median_ms": round(large_ms, 2),
        "large_p90_ms": round(large_p90_ms, 2),
        "ratio": round(large_ms / small_ms, 3),
        "target_ratio": TARGET_RATIO,
        "reference_ratio": round(large_ms / plain_ms, 3),
        "target_reference_ratio": TARGET_REFERENCE_RATIO,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fds", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the N costliest functions"
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEP_LESSONS),
        metavar="LESSONS",
        help="shipped lessons whose steps are timed (comma-separated names)",
    )
    parser.add_argument("--only", choices=("steps", "fds"), help="one of the two figures")
    args = parser.parse_args(argv)
    result: dict[str, object] = {"python": platform.python_version()}
    if args.only != "steps":
        profiles = (cProfile.Profile(), cProfile.Profile()) if args.profile else None
        result.update(asyncio.run(measure(args.fds, args.repeats, profiles)))
        report_fds(result)
        if profiles is not None:
            for name, profile in zip(("small", "large"), profiles, strict=True):
                print(f"--- cProfile of the player's updates, phase {name}")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    if args.only != "fds":
        shipped = shipped_dir()
        if shipped is None:
            parser.error("no shipped lessons in this installation")
        lessons = [shipped / f"{name}.toml" for name in args.steps.split(",")]
        for lesson in lessons:
            if not lesson.is_file():
                parser.error(f"no shipped lesson {lesson.stem!r} (in {shipped})")
        step_profile = cProfile.Profile() if args.profile else None
        result.update(asyncio.run(measure_steps(lessons, args.repeats, step_profile)))
        report_steps(result)
        if step_profile is not None:
            print("--- cProfile of the player's steps")
            pstats.Stats(step_profile).sort_stats("cumulative").print_stats(args.profile)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


def report_steps(result: dict[str, object]) -> None:
    lessons = result["step_lessons"]
    assert isinstance(lessons, dict)
    print(
        f"a step in the player at {result['step_terminal']} (CPU, median of "
        f"{sum(lessons.values())} steps of {', '.join(lessons)}): "
        f"{result['step_median_ms']} ms (by lesson: {result['step_median_ms_by_lesson']}); "
        f"a plain Textual app's full-screen update: {result['step_reference_median_ms']} ms; "
        f"step/plain {float(result['step_reference_ratio']):.2f}"  # type: ignore[arg-type]
    )


def report_fds(result: dict[str, object]) -> None:
    print(
        f"whole-screen update after a step (CPU): {result['small_median_ms']} ms with 10 fds, "
        f"{result['large_median_ms']} ms with {result['large_open_fds']:,} fds "
        f"({result['large_registered']:,} in the interest tree); "
        f"a plain Textual app of the same size: {result['reference_median_ms']} ms"
    )
    print(
        f"slowest tenth of the updates with {result['large_open_fds']:,} fds: "
        f"{result['large_p90_ms']} ms and more (no target)"
    )
    for key, target, what in (
        ("ratio", TARGET_RATIO, "large/small"),
        ("reference_ratio", TARGET_REFERENCE_RATIO, "large/plain Textual"),
    ):
        ratio = float(result[key])  # type: ignore[arg-type]
        verdict = "meets" if ratio <= target else "MISSES"
        print(f"{what} {ratio:.2f} ({verdict} the target of {target})")


if __name__ == "__main__":
    sys.exit(main())
