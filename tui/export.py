"""``muxlab export FILE``: every step of a scenario as an SVG frame, for slides and handouts.

Each frame is what ``muxlab play FILE --headless`` prints for the step -- the scenario's title,
the call, both kernels' answers, the verdict, the narration and the pictures of the model
afterwards (`tui.render.step.StepView`, `tui.render.model_state.ModelStateView`) -- drawn by
rich at a chosen width and saved with `rich.console.Console.export_svg`. The steps run in
lockstep as in ``play`` (the live kernel, or the model alone with ``--no-live``). Text from the
file is made safe by the renderables themselves (`tui.render.safe`), and rich escapes it for
SVG. One step costs what ``play --headless`` costs for it, plus the SVG.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import cast

from rich.console import Console, Group
from rich.text import Text

from simulator.observe import Observable
from simulator.scenario.format import ResultKind, Scenario
from simulator.scenario.loader import ScenarioError, load_scenario
from simulator.scenario.runner import (
    Runner,
    ScenarioRunError,
    StepRecord,
    default_live_factory,
    default_model_factory,
)
from tui.render.model_state import ModelStateView, is_instance
from tui.render.safe import Neutralised, safe_text
from tui.render.step import StepView

#: Every frame's title starts so: an existing file is overwritten only if it says it.
MARK = "muxlab"
#: How much of an existing file is read to find `MARK` (a frame is far smaller).
_MAX_FRAME = 16 << 20


def frame_name(path: Path, number: int) -> str:
    """``et-stall-step03.svg``: the scenario's name and the step's number (0-padded to 3)."""
    return f"{path.stem}-step{number:03d}.svg"


def export(
    path: Path,
    out: Path,
    *,
    step: int | None = None,
    width: int = 100,
    live: bool = True,
    params: Mapping[str, str] | None = None,
) -> int:
    """Write the frames of `path` (every step, or only `step`; its knobs set by `params`) into
    the folder `out`; returns the exit status (1: the file, a knob's value, the folder or the
    run could not be used, with a message)."""
    try:
        scenario = load_scenario(path, params)
    except ScenarioError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    total = len(scenario.steps)
    if step is not None and not 1 <= step <= total:
        print(f"muxlab: --step must be between 1 and {total} (got {step})", file=sys.stderr)
        return 2
    wanted = range(1, total + 1) if step is None else range(step, step + 1)
    problem = _cannot_write(out, [out / frame_name(path, n) for n in wanted])
    if problem is not None:
        print(f"muxlab: {safe_text(problem)}", file=sys.stderr)
        return 1
    written = 0
    try:
        for record, svg in frames(scenario, wanted, width=width, live=live):
            (out / frame_name(path, record.number)).write_text(svg, encoding="utf-8")
            written += 1
    except ScenarioRunError as exc:
        print(safe_text(f"{path}: {exc}", multiline=True), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"muxlab: cannot write in {safe_text(str(out))}: {exc.strerror}", file=sys.stderr)
        return 1
    noun = "frame" if written == 1 else "frames"
    print(f"{written} {noun} of {safe_text(str(path))} in {safe_text(str(out))}")
    return 0


def frames(
    scenario: Scenario, wanted: range, *, width: int = 100, live: bool = True
) -> Iterator[tuple[StepRecord, str]]:
    """Run `scenario` in lockstep and yield each step numbered in `wanted` (1-based, within
    the scenario) with the SVG text of its frame; stops after the last one wanted. Raises
    `ScenarioRunError` if the run cannot go on. One step costs a ``play --headless`` step
    plus the SVG (`muxlab site` builds its pages' pictures with it)."""
    title = safe_text(scenario.scenario.title)
    total = len(scenario.steps)
    instances: set[int] = set()
    runner = Runner(scenario, default_model_factory, default_live_factory if live else None)
    with runner:
        observable = isinstance(runner.model, Observable)
        for record in runner:
            model = cast(Observable, runner.model)
            state = None
            if observable:
                if record.model.ok and record.step.call.result is ResultKind.FD:
                    instances.add(record.model.raw)
                instances = {fd for fd in instances if is_instance(model, fd)}
                state = ModelStateView(model, runner.bindings, instances)
            if record.number not in wanted:
                continue
            frame = Group(Text(title, style="bold underline"), StepView(record, total, state))
            yield record, _svg(frame, width, f"{MARK} · {title} · step {record.number}/{total}")
            if record.number == wanted[-1]:
                break


def _svg(frame: Group, width: int, title: str) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), highlight=False, emoji=False)
    console.print(Neutralised(frame))
    return console.export_svg(title=title)


def _cannot_write(out: Path, files: list[Path]) -> str | None:
    """Why the frames must not go to `out` (made if missing), or None. A file is overwritten
    only if it is a frame an earlier export wrote."""
    try:
        if out.exists() and not out.is_dir():
            return f"{out} is not a folder"
        out.mkdir(parents=True, exist_ok=True)
        for file in files:
            if file.exists():
                if not file.is_file():  # a FIFO or a device: reading it could block for ever
                    return f"{file} exists and is not a frame muxlab wrote; choose another folder"
                with file.open("rb") as existing:
                    start = existing.read(_MAX_FRAME)  # rich writes the title after its styles
                if not start.startswith(b"<svg") or MARK.encode() not in start:
                    return f"{file} exists and is not a frame muxlab wrote; choose another folder"
    except OSError as exc:
        return f"{out}: {exc.strerror or exc}"
    return None
