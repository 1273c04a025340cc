"""``muxlab play FILE --headless``: every step printed with rich, or as JSON lines.

For slides, CI logs and screen readers: plain words carry the meaning (colour only decorates,
and ``NO_COLOR`` or a pipe turns it off), and nothing depends on the terminal's size unless
asked (``--width``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import cast

from rich.console import Console, Group, RenderableType
from rich.text import Text

from simulator.observe import Observable, Threaded
from simulator.scenario.format import ResultKind
from simulator.scenario.loader import ScenarioError, load_scenario
from simulator.scenario.recording import Recording, RecordingError
from simulator.scenario.runner import (
    Runner,
    ScenarioRunError,
    StepRecord,
    Verdict,
    default_live_factory,
    default_model_factory,
)
from simulator.scenario.threadsteps import thread_ids
from tui.render.model_state import ModelStateView, is_instance
from tui.render.safe import Neutralised, safe_markdown, safe_text
from tui.render.step import StepView
from tui.render.threads import ThreadsPicture, sleepers_files, step_threads
from tui.verdicts import counts_text

# Spaces at the end of a line, possibly followed by colour codes: rich pads lines to the full
# width, which is noise in logs and golden files.
_TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def _print(console: Console, renderable: RenderableType) -> None:
    # Every renderable makes the file's text safe itself; `Neutralised` is the net under them.
    with console.capture() as captured:
        console.print(Neutralised(renderable))
    sys.stdout.write(_TRAILING.sub(r"\1", captured.get()))


def _threads(
    model: Threaded, record: StepRecord, runner: Runner, thread_names: dict[int, str]
) -> ThreadsPicture:
    """The model's threads after the step, as the player's threads panel shows them."""
    snapshot = model.threads()
    files = sleepers_files(cast(Observable, model), snapshot, runner.bindings)
    started, results = step_threads(record, runner.steps, thread_names)
    picture = ThreadsPicture.capture(snapshot, files, thread_names)
    return picture.after(record.trace, started, results)


def play(
    path: Path,
    *,
    as_json: bool = False,
    live: bool = True,
    replay: Path | None = None,
    record: Path | None = None,
    width: int | None = None,
) -> int:
    """Play a scenario to stdout; returns the exit status (1 on any divergence or failed
    expectation, or a file or run that could not be used)."""
    try:
        scenario = load_scenario(path)
        recording = Recording.load(replay) if replay is not None else None
        runner = Runner(
            scenario,
            default_model_factory,
            default_live_factory if live and recording is None else None,
            recording,
        )
    except (ScenarioError, RecordingError, ScenarioRunError) as exc:
        print(safe_text(str(exc), multiline=True), file=sys.stderr)
        return 1
    console = Console(file=sys.stdout, width=width, highlight=False, emoji=False)
    bad = False
    # Descriptors that may be epolls or kqueues: any fd a call returned that was one (an
    # instance is only ever made by a call that returns its fd). Looking only at these, not
    # at every open descriptor, keeps a step's picture O(what it shows).
    instances: set[int] = set()
    observable = isinstance(runner.model, Observable)  # a protocol check: once, not per step
    thread_names = {tid: name for name, tid in thread_ids(scenario.steps).items()}
    with runner:
        if not as_json:
            meta = scenario.scenario
            _print(console, Text(safe_text(meta.title), style="bold underline"))
            if meta.summary:
                _print(console, safe_markdown(meta.summary))
            source = f"recording {replay}" if replay else "live kernel" if live else "model only"
            _print(console, Text(safe_text(f"{path} -- model vs {source}") + "\n", style="dim"))
        try:
            for step in runner:
                bad = bad or step.verdict in (Verdict.DIVERGE, Verdict.EXPECT_FAILED)
                if as_json:
                    sys.stdout.write(json.dumps(step.to_json(), allow_nan=False) + "\n")
                    continue
                model = cast(Observable, runner.model)
                state: RenderableType | None = None
                if observable:
                    if step.model.ok and step.step.call.result is ResultKind.FD:
                        instances.add(step.model.raw)
                    instances = {fd for fd in instances if is_instance(model, fd)}
                    state = ModelStateView(model, runner.bindings, instances)
                    if thread_names and isinstance(model, Threaded):
                        state = Group(state, _threads(model, step, runner, thread_names))
                _print(console, StepView(step, len(runner.steps), state))
        except ScenarioRunError as exc:
            print(safe_text(f"{path}: {exc}", multiline=True), file=sys.stderr)
            return 1
        if not as_json:
            counts = {v: sum(1 for r in runner.records if r.verdict is v) for v in Verdict}
            _print(
                console,
                Text(
                    f"{len(runner.records)} steps: {counts_text(counts, marks=False, zeros=True)}"
                ),
            )
    if record is not None:
        try:
            runner.recording().save(record)
        except OSError as exc:
            print(
                safe_text(f"muxlab: cannot write the recording {record}: {exc.strerror}"),
                file=sys.stderr,
            )
            return 1
    return 1 if bad else 0
