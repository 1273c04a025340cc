"""``muxlab play FILE --headless``: every step printed with rich, or as JSON lines.

For slides, CI logs and screen readers: plain words carry the meaning (colour only decorates,
and ``NO_COLOR`` or a pipe turns it off), and nothing depends on the terminal's size unless
asked (``--width``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from simulator.observe import Observable, Threaded
from simulator.scenario.calls import Bindings
from simulator.scenario.course import Ending, ending, shown_path
from simulator.scenario.format import ResultKind
from simulator.scenario.loader import ScenarioError, argument_refs, load_scenario
from simulator.scenario.program import ProgramError, load_program, step_lines
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
from tui.render.lines import LineWriter
from tui.render.model_state import ModelStateView, is_instance
from tui.render.poll_sets import call_arrays
from tui.render.real_interest import RealInterestLists
from tui.render.safe import safe_markdown, safe_text
from tui.render.step import StepView
from tui.render.threads import ThreadsPicture, sleepers_files, step_threads
from tui.verdicts import counts_text


def step_fds(record: StepRecord, names: Bindings) -> list[int]:
    """The model's descriptors a step named or returned (what its picture shows of a long
    table), in the model's numbers. O(the step's arguments)."""
    fds = []
    for _, ref in argument_refs(record.step):
        fd = names.fds.get(ref) if isinstance(ref, str) else ref
        if fd is not None:
            fds.append(fd)
    if record.model.ok:
        kind = record.step.call.result
        if kind is ResultKind.FD:
            fds.append(record.model.raw)
        elif kind is ResultKind.PAIR:
            fds.extend(record.model.raw)
    return fds


def _threads(
    model: Threaded, record: StepRecord, runner: Runner, thread_names: dict[int, str]
) -> ThreadsPicture:
    """The model's threads after the step, as the player's threads panel shows them."""
    snapshot = model.threads()
    files = sleepers_files(cast(Observable, model), snapshot, runner.bindings)
    started, results = step_threads(record, runner.steps, thread_names)
    picture = ThreadsPicture.capture(snapshot, files, thread_names)
    return picture.after(record.trace, started, results)


def recap_block(end: Ending, path: Path) -> Text:
    """The ``Recap`` block printed after a lesson's last step: the things to remember, the
    links, and the next lesson (as a command to play it). Text from the file is made safe."""
    text = Text("\n")
    if end.recap:
        text.append("Recap\n", style="bold")
        for line in end.recap:
            text.append(f"  • {safe_text(line)}\n")
    if end.see:
        text.append("Read more\n", style="bold")
        for title, url in end.see:
            text.append(f"  • {safe_text(title)}: {safe_text(url)}\n")
    if end.next is not None:
        shown = safe_text(str(shown_path(end.next.path, path)))
        text.append("Next lesson: ", style="bold")
        text.append(f"{safe_text(end.next.title)} (muxlab play {shown})\n")
    return text


def play(
    path: Path,
    *,
    as_json: bool = False,
    live: bool = True,
    replay: Path | None = None,
    record: Path | None = None,
    width: int | None = None,
    params: Mapping[str, str] | None = None,
) -> int:
    """Play a scenario to stdout, its knobs set by `params`; returns the exit status (1 on any
    divergence or failed expectation, or a file or run that could not be used)."""
    try:
        scenario = load_scenario(path, params)
        meta = scenario.scenario
        program = load_program(path, meta.program) if meta.program is not None else None
        recording = Recording.load(replay) if replay is not None else None
        # The real interest lists (what the player shows from /proc), read from the live kernel.
        real = RealInterestLists(
            [name for s in scenario.steps if s.call.name == "epoll_create" for name in s.names]
        )
        runner = Runner(
            scenario,
            default_model_factory,
            real.wrap(default_live_factory) if live and recording is None else None,
            recording,
        )
    except (ScenarioError, RecordingError, ScenarioRunError, ProgramError) as exc:
        print(safe_text(str(exc), multiline=True), file=sys.stderr)
        return 1
    console = Console(file=sys.stdout, width=width, highlight=False, emoji=False)
    # Every renderable makes the file's text safe itself; the writer is the net under them.
    writer = LineWriter(console, sys.stdout)
    write = writer.write
    bad = False
    # Descriptors that may be epolls or kqueues: any fd a call returned that was one (an
    # instance is only ever made by a call that returns its fd). Looking only at these, not
    # at every open descriptor, keeps a step's picture O(what it shows).
    instances: set[int] = set()
    observable = isinstance(runner.model, Observable)  # a protocol check: once, not per step
    summarised = False  # whether a step's picture was only its own rows (a long table)
    thread_names = {tid: name for name, tid in thread_ids(scenario.steps).items()}
    with runner:
        if not as_json:
            write(Text(safe_text(meta.title), style="bold underline"))
            if meta.summary:
                write(safe_markdown(meta.summary))
            source = f"recording {replay}" if replay else "live kernel" if live else "model only"
            write(Text(safe_text(f"{path} -- model vs {source}") + "\n", style="dim"))
        try:
            for step in runner:
                bad = bad or step.verdict in (Verdict.DIVERGE, Verdict.EXPECT_FAILED)
                code = program.excerpt(step_lines(step.step.line)) if program else []
                if as_json:
                    line = step.to_json()
                    if program is not None:  # the program's lines the step comes from
                        line["program"] = [{"line": n, "text": text} for n, text in code]
                    sys.stdout.write(json.dumps(line, allow_nan=False) + "\n")
                    continue
                model = cast(Observable, runner.model)
                state: RenderableType | None = None
                long_table = False  # whether this step's picture is only its own rows
                if observable:
                    if step.model.ok and step.step.call.result is ResultKind.FD:
                        instances.add(step.model.raw)
                    # Only a step's own descriptors can have stopped being an instance (closed,
                    # or their number reused): looking at those keeps a step O(its arguments).
                    touched = step_fds(step, runner.bindings)
                    instances.difference_update(
                        [fd for fd in touched if fd in instances and not is_instance(model, fd)]
                    )
                    state = ModelStateView(model, runner.bindings, instances, touched)
                    long_table = state.summarised
                    summarised = summarised or long_table
                    if thread_names and isinstance(model, Threaded):
                        state = Group(state, _threads(model, step, runner, thread_names))
                # As in the player: a poll's or select's arrays, the real interest lists.
                arrays = call_arrays(step, runner.bindings)
                # (Not beside a long table's summary: a step would cost what the lists hold.)
                lists = (
                    []
                    if long_table
                    else real.after(step, model if observable else None, runner.bindings)
                )
                if arrays is not None or lists:
                    gap = Text("") if arrays is not None and state is not None else None
                    parts = [arrays, gap, state, *(p for view in lists for p in (Text(""), view))]
                    state = Group(*(part for part in parts if part is not None))
                view = StepView(step, len(runner.steps), state, code)
                # Without colour, the common step prints itself in one pass; else the writer.
                text = view.plain(writer.width, writer.ascii_only) if writer.plain else None
                if text is None:
                    write(view)
                else:
                    sys.stdout.write(text)
        except ScenarioRunError as exc:
            print(safe_text(f"{path}: {exc}", multiline=True), file=sys.stderr)
            return 1
        if summarised:
            # The steps showed their own rows: here is the whole picture, once.
            write(Text(f"the model after step {len(runner.records):,}", style="bold"))
            model = cast(Observable, runner.model)
            write(Padding(ModelStateView(model, runner.bindings, instances), (0, 0, 1, 2)))
        if not as_json:
            counts = {v: sum(1 for r in runner.records if r.verdict is v) for v in Verdict}
            write(
                Text(f"{len(runner.records)} steps: {counts_text(counts, marks=False, zeros=True)}")
            )
        # --- the lesson's end (issue 15): what to remember, and where to go next ---
        end = ending(path, meta.recap, [(link.title, link.url) for link in meta.see])
        if as_json and not end.empty:
            following = None if end.next is None else str(shown_path(end.next.path, path))
            see = [{"title": title, "url": url} for title, url in end.see]
            final = {"recap": list(end.recap), "see": see, "next": following}
            sys.stdout.write(json.dumps(final) + "\n")
        elif not end.empty:
            write(recap_block(end, path))
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
