"""Benchmark: the lockstep runner and ``play --headless --no-live`` against the bare model calls.

Run it with the project's interpreter::

    .venv/bin/python tests/benchmarks/bench_runner.py [--pairs 500] [--socketpairs 10000]

Two generated scenarios: `--pairs` socket pairs each registered in one epoll (2 * pairs + 1
steps), and `--socketpairs` ``socketpair`` steps. For each, in the same run (only ratios mean
anything on a shared machine):

(a) the bare model calls: the same calls straight on ``ModelKernel``, tracing on (the runner's
    default);
(b) the Runner alone (what ``muxlab check --no-live`` runs), and its per-step time in the
    first and the last tenth of the scenario (flat: the same, however many descriptors are
    registered);
(c) the whole ``play --headless --no-live`` path, printed into a buffer, and apart from it
    the loading of the file alone (TOML and validation), which (c) includes;
(d) the floor of (c) on this interpreter: the file's TOML parsed alone (tomli, as the loader
    does), the parsed document validated alone, and the exact output (precomputed) written to
    a buffer, as ratios ("TOML alone Nx, the bare calls + TOML = Mx; + validating ...");
    and rtoml and pytomlpp, compiled parsers, when installed (not dependencies: figures for a
    choice the loader has not made).

Times are the CPU time of this process (`time.process_time`), the best of `--repeat`
interleaved rounds, so that the other processes of a shared machine weigh less on the ratios
(the bare calls still vary by 1.5x between runs: the garbage collector's full passes, which
walk whatever the process holds, are a third of them). Results go to ``results/runner.json``.

Findings, issue 10 (cProfile on the runner and on ``headless.play``):

- Session 1: the Runner deep-copied the model every 16 steps (90 % of its time at 500 pairs,
  quadratic); records copied every name; the picture sorted every descriptor. Checkpoints were
  spaced by what a copy costs, records given an O(1) view of the names, pictures bounded.
- Session 2, the runner: reading a validated (pydantic) step cost more than the model call --
  iterating its ``args`` looks for extra fields through a failing ``__getattr__``, ~10 us. A
  step is now prepared once (`calls.CallPlan`: spec, names, arguments converted); the live
  side's arguments are resolved only when it runs; records and outcomes are slotted; the model's
  size is read for the checkpoint rule once every 16 steps. Same command, same machine, before
  -> after: 500 pairs 4.64x -> 2.69-2.82x; 10,000 socketpairs 8.00x -> 3.28-4.52x; flat (last
  tenth / first: 1.07-1.19 and 0.96-0.97). Left: ~35 us a step of bookkeeping (a plan, an
  outcome, a record, the names' snapshot) against a ``socketpair`` of ~10 us; it does not
  reach 2x.
- Session 2, the printer: rich's layout was ~95 % of ``play --headless``. `LineWriter`
  (``tui/render/lines.py``) writes what needs no layout itself, and past 64 fd rows a step
  draws only its own rows (the whole picture once after the last step): 500 pairs 419x ->
  15-16x, 10,000 socketpairs 729x (87 s) -> 14-22x (3.3 s). Of that, loading the file (TOML and
  pydantic validation: the loader, not the runner) is 4-8x the bare calls at 10,000 steps; the
  rest is ~15 rich `Text` objects a step.
- Session 3, loading (cProfile of ``parse_scenario`` on the 10,000-step file): the names
  check was quadratic (the list of bound names copied at every step and searched with ``in``:
  0.42 s of 1.4 s under the profiler); ``tomllib`` (pure Python) was ~0.2-0.26 s; a failing
  ``getattr`` on every step for kevent changes; the source map scanned the whole text even
  for a file without problems. Now: names in a dict, checked in one pass; the source map
  scans on the first error; TOML by tomli 2.2 (the code tomllib was made from, compiled:
  0.07-0.09 s against 0.22-0.30 s, the same document) with tomllib kept for every file tomli
  refuses, so syntax messages stay; the models are built on first use and a well-formed file is
  validated by the step models of its calls (errors by the whole model, as before). Loading
  the 10,000-step file: 6.96-8.07x -> 2.19-3.94x the bare calls (0.75-0.89 s -> 0.21-0.44 s;
  names and lazy models alone: 3.31-3.58x; ``--pairs 200 --repeat 3``, the old code and the new
  one after the other, load average 3-5).
  Not reached: ``play --headless`` stays 27-37x at 10,000 socketpairs on this loaded machine
  (the printer, ~28x without the loading, is ``tui.render.lines``/``tui.headless``; and the
  runner's per-step time grows 2.8-3.7x from the first tenth to the last, old code alike).
- Session 4 (py-spy and cProfile of ``headless.play`` and of the Runner, 10,000 socketpairs).
  What was slow: the cyclic collector -- its full passes walk every model object and record
  the run keeps: a third of the runner's time (0.84 s with it, 0.55 s with it off), and the
  reason a step of the last tenth cost 2-4x one of the first; in the printer, ~12 rich
  `Text` a step (each copies its spans and strips control codes), a recursive dispatch of
  ~17 renderables a step, `cell_len` walking the "… N other rows" line, and
  `dataclasses.fields` in `Cost.total`. What changed: `Runner.__iter__` freezes what the run
  keeps (`collector.ForwardRun`: every 256 steps, a collection of what they made); the step's
  lines, fd rows and summary lines are `tui.render.lines.Line` (a string, a style, spans),
  printed by the writer without a `Text` (rich gets the same `Text` from `Line.__rich__`;
  output byte-identical: golden file, every shipped and hostile scenario, plain and colour);
  Line parts printed without a second dispatch; `_fits` bounds cells in C. By how much
  (the session's starting commit extracted to ``/tmp`` and this tree, interleaved,
  ``--pairs 500 --repeat 1`` x 3 each, medians, load 7-20): 10,000 socketpairs ``play
  --headless`` 31.8x -> 20.8x (3.30 s -> 1.98 s), runner 9.4x -> 5.4x (0.97 s -> 0.54 s),
  runner flatness 3.16x -> 1.03x; 500 pairs ``play`` 21.6x -> 14.5x (0.51 s -> 0.33 s),
  runner 5.7x -> 4.2x. Not reached (target 2x): the runner is ~50 us
  of bookkeeping a step around a ~10 us ``socketpair`` (~85 Python calls a step more than the
  bare call: the plan, the outcome and its names, the record, the live side's checks), and
  loading 10,000 steps alone is 2.3-3.3x the bare calls; reaching 2x needs a model-only run
  that skips the lockstep bookkeeping, and a printer that formats a step in one pass.
- Session 5 (py-spy and cProfile of the Runner at 10,000 socketpairs and 500 pairs, and of
  ``headless.play``). What was slow: the runner did ~85 Python calls of bookkeeping a step --
  the live side's path for a run without one (``_run_live``, its skip checks, the model-only
  notes nobody reads), the step's plan made at its first run (~20 us: pydantic fields read
  one property at a time), frozen dataclasses (`StepRecord`'s ``__init__`` sets 16 fields
  through ``object.__setattr__``: 4.9 us against 0.9 us for a plain slotted one; `Outcome`
  2 us), a snapshot of the live names a step, ``gc.collect`` every 256 steps (~8 %), and at
  500 pairs the record's ``tuple(model.trace)``, which unfolded every ``epoll_ctl``'s tree
  descent the model keeps folded (28 % of the runner). ``play``: the writer's walk over a
  step's renderables (~300 Python calls a step), and `course.ending` reading every shipped
  lesson for a file outside the course. What changed: one step path (`Runner._run_step`)
  whose live side's work is skipped when there is none; plans made in one pass when the
  Runner is made (~4 us a step; this benchmark's runner figure starts after that, play's
  includes it); `Outcome` and `StepRecord` plain slotted dataclasses (read only by
  convention); one shared snapshot of unchanged names; the forward run's collector freezes
  without collecting; records keep `ModelKernel.trace_frame()` (events made when read:
  ``tests/test_runner_lean.py`` holds them to the eager ones on every shipped scenario);
  without colour the common step prints itself in one pass of string operations
  (`StepView.plain`; held to the writer by ``tests/test_headless_lines.py``; output
  byte-identical: every shipped, hostile and golden scenario, plain and colour, widths 40
  and 100); `next_lesson` looks at the course's file names first; `deepest` measures before
  it makes paths. By how much (the session's start extracted to ``/tmp``; best of
  ``--repeat 3``, old then new, load average 9-11 on 2 cores): 10,000 socketpairs runner
  0.685 s -> 0.302 s (5.83x -> 2.52x the bare calls), ``play --headless`` 2.49 s -> 1.72 s
  (21.2x -> 14.4x); 500 pairs runner 0.115 s -> 0.055 s (4.22x -> 2.07x), play 0.495 s ->
  0.380 s (18.1x -> 14.2x); flat (last tenth / first: 1.01x, 0.99x). Old and new alternated,
  ``--repeat 1`` x 3 (CPU seconds, as the bare calls swung 0.12-0.18 s): socketpairs runner
  0.75-0.81 -> 0.34-0.44, play 3.4-3.7 -> 1.9-2.6; pairs runner 0.15-0.25 -> 0.07-0.09, play
  0.75-0.91 -> 0.43-0.54. Not reached: the runner at 2x (2.1-2.9x): ~25 Python calls a step
  remain around the model call (resolving the plan's arguments, two binds, the outcome, the
  cost's copy, the record, the iteration); ``play`` stays ~11-18x: loading alone is 2.4-3.6x
  the bare calls (tomli ~0.1 s, a pydantic validation and a plan a step, the names check),
  and a step's picture (`ModelStateView.rows_alone`: `FdRows.of` and the model's snapshot
  objects) with its text ~100 us. Next: validate the ``[[step]]`` array in one pydantic-core
  call (a TypeAdapter over the used step models, errors still by the whole model), make plans
  from the raw TOML tables, and read a step's fd rows without snapshot objects.
- Session 6 (the Runner alone at 10,000 socketpairs and 500 pairs: cProfile, py-spy, the
  Python opcodes a step executes counted with ``sys.settrace``, and the model call timed
  inside the run). What was slow: (1) the model itself, ~17 % of it: the Runner deep-copied
  the running model for step 0's checkpoint, and `copy.deepcopy` reads every object's
  ``__dict__``, which CPython 3.11 then keeps as a dict instead of inline values (a copied
  model against a fresh one, turns of 200 ``socketpair``: 1.17-1.19x; a copy of another model:
  0.96-1.02x); (2) ~570 opcodes and ~12 Python calls of bookkeeping a step (the model's
  ``socketpair``: ~850): arguments resolved for a call that has none, each bind logged for
  names nobody snapshots, a new `Cost` a step (its ``__init__``: 0.75 us), the verdict's
  general checks, ``advance`` calling ``_run_step``; (3) this benchmark: ``process_time`` read
  after every step, a ~1 us system call counted as the runner's (a tenth of a ``socketpair``).
  What changed: step 0's checkpoint is the factory's first model and the second one runs
  (`_State` slotted); ``advance`` is the one step path, and a step only the model answered,
  with nothing to check and no thread asleep, is judged at once (any other: `Runner._judge`,
  the logic unchanged); `calls.issue` passes the plan's arguments when no name needs
  resolving, and `CallPlan.shape` picks once the common results (two fds, one, nothing);
  `Bindings` logs binds only once a snapshot shares them; `StepRecord.costs` keeps the counts
  as a tuple read in C (``cost``: a property); the clock is read at the tenths' ends; and
  a new figure: the runner against the bare calls in turns of 200 steps, the median of the
  turns' ratios, which a loaded machine moves by a few % where whole-run ratios swing 1.5x.
  Opcodes a step beyond the model's: 567 -> 415 (socketpairs), 603 -> 434 (pairs). By how
  much (the session's start extracted to ``/tmp`` and run with this harness, ``--repeat 3``,
  old and new alternated twice, load average 7.5-10 on 2 cores), in turns: 10,000
  socketpairs 2.31-2.37x -> 1.78-1.90x, 500 pairs 1.87-2.10x -> 1.57-1.63x; whole runs
  (noise): socketpairs 2.30-2.57x -> 1.20-2.06x, pairs 1.88-2.83x -> 1.57-1.75x; flat (last
  tenth / first) 0.75-1.42x, old 0.97-1.18x, both moving with the load; ``play --headless``
  untouched by this session (10.6-13.7x). The old harness on the old code: 1.42x and 2.29x.
  The final tree, once more (load 7.8): socketpairs 1.59x (turns 1.86x), flat 1.06x; pairs
  1.52x (turns 1.65x), flat 1.02x; turns alone, old and new alternated twice (``--repeat
  3``): socketpairs 2.37-2.43x -> 1.80-1.86x, pairs 1.83-1.90x -> 1.50-1.53x.
  Not reached with a margin: socketpairs sit at the 1.8x aimed for. What is left is
  allocation more than opcodes: the call, binds, outcome, trace and counts alone measured
  1.38x, and with a record kept for every step 1.66-1.78x (the runner: 1.74-1.81x, same
  turns); a model whose classes had ``__slots__`` would also copy without slowing down.
- Session 6 (play: the printer and the loader; py-spy of ``headless.play`` at 10,000
  socketpairs and 500 pairs). What was slow: a summarised step's rows were made through
  ``ModelStateView.rows_alone`` -- `FdRows.of`, a frozen `FileSnapshot` a row, the counters'
  snapshot, a `Line` a row -- and checked line by line; a step touching an epoll or a kqueue
  (half the 500-pair steps) and every whole picture of a table of at most 64 rows (with its
  trees) went to the writer, and any line too long (the registrations, a ready list) to rich's
  layout; the ``[[step]]`` array was validated by a Python loop, a model call a step. What
  changed: `Observable.fd_rows` reads rows as tuples straight from the model's table;
  `ModelStateView.plain_lines` makes every picture but an io_uring's rings as strings (a
  summary, its epolls' and kqueues' lines and ready lists, a whole table with its trees),
  `StepView.plain` checks a step's lines in one pass of C string methods and wraps what is too
  long as rich does (`lines.wrap_plain`, rich's greedy rule: held to rich at every width);
  output byte-identical (every shipped, hostile and golden scenario and the benchmark's, plain
  and colour, widths 40 and 100: a script dumping both trees' output) but a summarised step
  touching an io_uring, which crashed and now has its line. One TypeAdapter over the used step
  models validates the array (errors still the whole model's). By how much: a summarised
  socketpair step's printing 50-53 us -> 37-38 us (best of 60 x 300, CPU time); validation of
  500 pairs 12.6 -> 6.9 ms, of 10,000 socketpairs unchanged (~55-70 ms: pydantic-core's own
  work, 3.7 us a step, 1.7 us of it the ``as`` validator, a Python function). This benchmark
  on the session's start (extracted to ``/tmp``) and on this tree, alternated, ``--repeat 3``,
  three runs each, load average 7-10 on 2 cores, CPU seconds: 500 pairs play 0.57-0.67 s ->
  0.34-0.42 s (16.8-24.2x -> 8.0-14.5x the bare calls), 10,000 socketpairs play 2.07-2.60 s ->
  1.62-1.98 s (11.0-14.9x -> 8.0-13.1x); once more at the session's end, load average 5-7:
  500 pairs 0.428 -> 0.228 s (17.3x -> 10.2x), 10,000 socketpairs 1.706 -> 1.226 s (14.8x ->
  11.5x; loading alone 2.21x -> 2.06x). The floor, same runs: tomli alone is 0.50-1.19x the
  bare calls (the bare calls vary 0.15-0.21 s), so the bare calls + TOML are already 1.5-2.2x:
  with tomli, 2x is at or under the floor in Python; writing the output costs ~1 ms. rtoml and
  pytomlpp (wheels) parse the same documents in 0.27-0.47x tomli's time (the bare calls +
  rtoml = 1.17-1.38x); the loader keeps tomli (its syntax messages). Not reached: play stays
  8-15x: the runner (~25-30 % of play; another session's), loading (~20 %: tomli ~45 % of it,
  validation ~25 %, `check_steps` ~20 %), the plans (~5-9 %), the printer (~30 %: ~30 us a
  step of string formatting, ten lines of f-strings). Next: the step models' ``as`` validator
  in pydantic-core (a pattern) rather than Python; a compiled TOML parser if its messages can
  be mapped to ours; the printer's counters and rows formatted without ``:,`` specs.
- Session 7 (the floor, no change to play): the floor now includes validating the parsed
  document (`validate_document`, pydantic-core: compiled, one step model a step), which the
  loader must do before anything runs. This benchmark, ``--repeat 3``, load ~1: 500 pairs,
  TOML alone 0.72x, + validation 0.27x: the bare calls + TOML + validation = 1.98x; 10,000
  socketpairs 1.12x + 0.37x = 2.49x (rtoml, compiled Rust, in place of tomli: 1.23x and
  1.28-1.69x, so 1.5-2.0x with validation). That is before the runner's own bookkeeping
  (0.6-0.7x the bare calls) and before a single step is formatted (play prints ~8 lines a
  step: 6-9x the bare calls without the loading). ``play --headless`` within 2x of the bare
  model calls is below what loading a checked file costs on CPython; the runner row (the
  lockstep machinery alone, 1.5-1.7x, flat) is what this benchmark can hold to 2x.
- Rewind: a grown model copies slower than its steps re-run (500 pairs: 82 ms against 60 ms),
  so a growing scenario keeps its step-0 checkpoint only, and `Runner.seek` now re-runs
  recorded steps on the model side only, keeping their records.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import itertools
import json
import platform
import re
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from time import process_time as clock

import tomli

from simulator.kernel import ModelKernel
from simulator.scenario.loader import load_scenario, parse_scenario, validate_document
from simulator.scenario.runner import Runner
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN
from tui import headless

RESULTS = Path(__file__).parent / "results" / "runner.json"


def pairs_scenario(n: int) -> str:
    steps = ['[[step]]\ndo = "epoll_create"\nas = "ep"\n']
    for i in range(n):
        steps.append(f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n')
        steps.append(
            f'[[step]]\ndo = "epoll_ctl"\nargs = {{ epfd = "ep", op = "ADD", fd = "a{i}", '
            'events = ["IN"] }\n'
        )
    return f'[scenario]\ntitle = "bench"\n[model]\nnofile = {2 * n + 64}\n' + "\n".join(steps)


def socketpairs_scenario(n: int) -> str:
    steps = [f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n' for i in range(n)]
    return f'[scenario]\ntitle = "bench"\n[model]\nnofile = {2 * n + 64}\n' + "\n".join(steps)


def bare_pairs(n: int) -> float:
    k = ModelKernel(nofile=2 * n + 64)
    start = clock()
    ep = k.epoll_create()
    for _ in range(n):
        a, _b = k.socketpair()
        k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
    return clock() - start


def bare_socketpairs(n: int) -> float:
    k = ModelKernel(nofile=2 * n + 64)
    start = clock()
    for _ in range(n):
        k.socketpair()
    return clock() - start


def runner_run(text: str) -> tuple[float, float, float]:
    """Seconds for the whole run, and the mean step time in the first and the last tenth.

    The clock is read at the ends of those tenths only: `process_time` is a system call of
    ~1 us, a tenth of a ``socketpair``, which read after every step was counted as the
    runner's."""
    runner = Runner(parse_scenario(text, "bench.toml"))
    steps = len(runner.steps)
    tenth = max(1, steps // 10)
    marks = {tenth, steps - tenth}
    stamps = {}
    start = clock()
    for done, _record in enumerate(runner, 1):
        if done in marks:
            stamps[done] = clock()
    end = clock()
    return end - start, (stamps[tenth] - start) / tenth, (end - stamps[steps - tenth]) / tenth


#: Steps a side runs before the other takes its turn, in `interleaved`.
CHUNK = 200


def bare_pairs_steps(n: int) -> Iterator[None]:
    """`bare_pairs`, one call a step (for `interleaved`)."""
    k = ModelKernel(nofile=2 * n + 64)
    ep = k.epoll_create()
    yield
    for _ in range(n):
        a, _b = k.socketpair()
        yield
        k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
        yield


def bare_socketpairs_steps(n: int) -> Iterator[None]:
    """`bare_socketpairs`, one call a step (for `interleaved`)."""
    k = ModelKernel(nofile=2 * n + 64)
    for _ in range(n):
        k.socketpair()
        yield


def interleaved(text: str, bare: Iterator[None]) -> list[float]:
    """The runner against the bare calls in turns of `CHUNK` steps each, the same steps: each
    turn's ratio. Both sides see the same moments of a shared machine's load, so the median
    moves far less between runs than a ratio of two whole runs (1.5x swings at a load of 4-8
    on 2 cores; the median of these: a few %)."""
    steps = iter(Runner(parse_scenario(text, "bench.toml")))
    ratios: list[float] = []
    while True:
        start = clock()
        ran = sum(1 for _ in itertools.islice(steps, CHUNK))
        middle = clock()
        called = sum(1 for _ in itertools.islice(bare, ran))
        end = clock()
        if ran < CHUNK or called < ran or end == middle:
            return ratios
        ratios.append((middle - start) / (end - middle))


def play_run(text: str) -> tuple[float, float, str]:
    """Seconds of ``play --headless --no-live`` (loading the file included), of loading the
    file alone, and what play printed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.toml"
        path.write_text(text)
        start = clock()
        load_scenario(path)
        load = clock() - start
        out = io.StringIO()
        start = clock()
        with contextlib.redirect_stdout(out):
            status = headless.play(path, live=False, width=100)
        elapsed = clock() - start
    if status != 0:
        raise RuntimeError(f"play exited {status}")
    return elapsed, load, out.getvalue()


#: Compiled TOML parsers measured beside tomli when installed (not dependencies of muxlab:
#: figures for choosing; the loader's parser decides its syntax messages).
OTHER_PARSERS = ("rtoml", "pytomlpp")


def floor_run(text: str, output: str) -> tuple[float, float, float, dict[str, tuple[float, bool]]]:
    """The bare minimum of ``play --headless`` beyond the model calls, on this interpreter:
    seconds to parse the file's TOML alone (tomli, as the loader does), to validate the parsed
    document alone (`validate_document`: pydantic-core, compiled, a step model a step), and to
    write the exact output (precomputed) to a buffer a step at a time, as play writes it; and,
    for each of `OTHER_PARSERS` installed, its seconds and whether it made the same
    document."""
    start = clock()
    document = tomli.loads(text)
    toml = clock() - start
    validate_document(document)  # its step models built first, as a loaded program has them
    validation = float("inf")
    for _ in range(3):  # the best of three: a full collection can fall in any one
        start = clock()
        validate_document(document)
        validation = min(validation, clock() - start)
    chunks = re.split(r"(?=^step \d+/\d+: )", output, flags=re.MULTILINE)
    buffer = io.StringIO()
    write = buffer.write
    start = clock()
    for chunk in chunks:
        write(chunk)
    written = clock() - start
    others: dict[str, tuple[float, bool]] = {}
    for name in OTHER_PARSERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        start = clock()
        parsed = module.loads(text)
        others[name] = (clock() - start, parsed == document)
    return toml, validation, written, others


def measure(
    name: str,
    text: str,
    bare: Callable[[], float],
    bare_steps: Callable[[], Iterator[None]],
    repeat: int,
) -> dict[str, float | str]:
    # Interleaved rounds, the best of each: a burst of load elsewhere hits all of them alike.
    rounds = []
    for _ in range(repeat):
        row = (bare(), runner_run(text), play_run(text))
        rounds.append((*row, floor_run(text, row[2][2])))
    turns = [ratio for _ in range(repeat) for ratio in interleaved(text, bare_steps())]
    # A scenario shorter than one turn has none: its figure is NaN (JSON's NaN, "n/a" printed).
    in_turns = statistics.median(turns) if turns else float("nan")
    bare_s = min(r[0] for r in rounds)
    total, first, last = min(r[1] for r in rounds)
    play, load, _ = min(r[2] for r in rounds)
    toml = min(r[3][0] for r in rounds)
    validation = min(r[3][1] for r in rounds)
    written = min(r[3][2] for r in rounds)
    figures: dict[str, float | str] = {
        "scenario": name,
        "bare_s": bare_s,
        "runner_s": total,
        "play_s": play,
        "load_s": load,
        "runner_ratio": total / bare_s,
        "runner_interleaved_ratio": in_turns,
        "play_ratio": play / bare_s,
        "play_without_load_ratio": (play - load) / bare_s,
        "load_ratio": load / bare_s,
        "first_tenth_step_us": first * 1e6,
        "last_tenth_step_us": last * 1e6,
        "flatness": last / first,
        "toml_s": toml,
        "write_s": written,
        "validation_s": validation,
        "toml_ratio": toml / bare_s,
        "validation_ratio": validation / bare_s,
        "floor_ratio": (bare_s + toml + validation + written) / bare_s,
    }
    print(
        f"{name}: bare model {bare_s:.3f} s; runner {total:.3f} s ({total / bare_s:.2f}x, "
        f"target <= 2; {f'{in_turns:.2f}x' if turns else 'n/a'} in turns of {CHUNK} steps, "
        f"median of {len(turns)}); play --headless {play:.3f} s ({play / bare_s:.2f}x; "
        f"{(play - load) / bare_s:.2f}x without loading the file, which takes {load:.3f} s, "
        f"{load / bare_s:.2f}x); runner per step {first * 1e6:.0f} us first tenth, "
        f"{last * 1e6:.0f} us last ({last / first:.2f}x)"
    )
    # The floor: what this path cannot go below in Python with this parser -- before the
    # runner's bookkeeping and the printer's formatting, which it leaves out.
    floor = f"TOML alone {toml / bare_s:.2f}x, the bare calls + TOML = {1 + toml / bare_s:.2f}x"
    checked = (bare_s + toml + validation) / bare_s
    print(
        f"  floor: {floor} ({toml:.3f} s); + validating the document "
        f"({validation:.3f} s, {validation / bare_s:.2f}x) = {checked:.2f}x; + writing the "
        f"output ({written:.3f} s) = {(bare_s + toml + validation + written) / bare_s:.2f}x"
    )
    for parser in OTHER_PARSERS:
        times = [r[3][3][parser] for r in rounds if parser in r[3][3]]
        if not times:
            print(f"  {parser}: not installed (pip install {parser} to measure it)")
            continue
        seconds, same = min(t[0] for t in times), all(t[1] for t in times)
        figures[f"{parser}_s"] = seconds
        print(
            f"  {parser}: {seconds:.3f} s, {seconds / bare_s:.2f}x the bare calls, "
            f"{seconds / toml:.2f}x tomli; the bare calls + {parser} = "
            f"{(bare_s + seconds) / bare_s:.2f}x; the same document: {'yes' if same else 'NO'}"
        )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--socketpairs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [
        measure(
            f"{args.pairs} pairs in one epoll",
            pairs_scenario(args.pairs),
            lambda: bare_pairs(args.pairs),
            lambda: bare_pairs_steps(args.pairs),
            args.repeat,
        ),
        measure(
            f"{args.socketpairs} socketpairs",
            socketpairs_scenario(args.socketpairs),
            lambda: bare_socketpairs(args.socketpairs),
            lambda: bare_socketpairs_steps(args.socketpairs),
            args.repeat,
        ),
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"rows": rows, "python": sys.version.split()[0], "machine": platform.machine()},
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
