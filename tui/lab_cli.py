"""``muxlab lab [complexity|polling|thrash]``: the lab's experiments on the command line.

Points are printed as they are measured (a line of text each, or a JSON object each with
``--json``); ``--csv FILE`` and ``--svg DIR`` are written at the end, from whatever was measured
-- after Ctrl+C too, which ends the sweep's live child (and so every descriptor it opened) and
exits with status 130. Bad input is one message and status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

# Only the plan's defaults at the top: `tui.cli.build_parser` imports this module for every
# ``muxlab`` command, and the experiments' modules are imported by the functions that run them.
from simulator.bench.plan import (
    DEFAULT_ACTIVE,
    DEFAULT_RATES,
    DEFAULT_REPEAT,
    DEFAULT_WORK_NS,
    MECHANISMS,
    Plan,
    PlanError,
)

if TYPE_CHECKING:
    from simulator.bench.polling import PollingPoint
    from simulator.bench.sweep import Point
    from simulator.bench.thrash import ThrashPoint

#: The experiments ``muxlab lab`` runs, each with its output file name.
EXPERIMENTS = ("complexity", "polling", "thrash")
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The model's cost categories, in `observe.Cost` order: the CSV's model columns.
_CATEGORIES = (
    "copy_in",
    "fd_scan",
    "tree_compare",
    "list_op",
    "callback",
    "wakeup",
    "copy_out",
    "context_switch",
)


def _numbers(text: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers (``10,100,1000``)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers (e.g. 10,100,1000)"
        ) from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_parser(commands: Any) -> None:
    """Add ``lab`` to the command line's sub-commands (`tui.cli.build_parser`)."""
    lab = commands.add_parser(
        "lab",
        help="measure select, poll, epoll and io_uring on the real kernel beside the model's "
        "counters; thrashing and per-core loops",
        description="complexity (the default): for N registered socket pairs (K of them with "
        "data queued), each mechanism's real time per call, measured inside the live child "
        "around the calls alone (median and quartiles of --repeat samples), and the model's "
        "work per call by category. select stops at its FD_SETSIZE wall (null past it); kqueue "
        "is the model's only on Linux, and io_uring where the kernel refuses it. polling: a "
        "busy loop of recv over N non-blocking sockets, K of them receiving, against one "
        "epoll_wait: useless (EAGAIN) and useful "
        "calls per second on the real kernel, calls per round in the model. thrash: the "
        "machine's cost of a null syscall and of a context switch, measured in the live child "
        "(an interrupt's is modelled), charged to what the model counts per request for three "
        "server shapes -- thread per connection, event loop + thread pool, event loop per core "
        "-- as the arrival rate rises: where the CPUs' time goes and where throughput "
        "collapses. Ctrl+C stops and keeps what was measured.",
    )
    lab.add_argument(
        "experiment",
        nargs="?",
        choices=EXPERIMENTS,
        default="complexity",
        help="which experiment (default: complexity)",
    )
    lab.add_argument(
        "--mechanisms",
        type=_names,
        metavar="LIST",
        help=f"complexity only: comma-separated, from {', '.join(MECHANISMS)} (default: all)",
    )
    lab.add_argument(
        "--sizes",
        type=_numbers,
        metavar="LIST",
        help="N, registered socket pairs, comma-separated (default: 10,30,100,300,1000,3000,"
        "10000, cut to this machine's descriptor limit)",
    )
    lab.add_argument(
        "--active",
        type=_numbers,
        metavar="LIST",
        help="K, pairs with data queued, comma-separated; at most the smallest N "
        f"(default: {','.join(map(str, DEFAULT_ACTIVE))})",
    )
    lab.add_argument(
        "--rates",
        type=_numbers,
        metavar="LIST",
        help="thrash only: arrival rates, requests per second, comma-separated "
        f"(default: {','.join(map(str, DEFAULT_RATES))})",
    )
    lab.add_argument(
        "--cpus",
        type=int,
        metavar="N",
        help="thrash only: the model's simulated CPUs (default: 2)",
    )
    lab.add_argument(
        "--work",
        type=int,
        metavar="NS",
        help=f"thrash only: useful work per request, in ns (default: {DEFAULT_WORK_NS})",
    )
    lab.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        metavar="SAMPLES",
        help=f"timed samples per point, each a batch of calls lasting >= 50 us; for thrash, "
        f"per measured cost (default: {DEFAULT_REPEAT})",
    )
    lab.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per point (mechanism, n, active, real_ns, model_cost, ...)",
    )
    lab.add_argument("--csv", type=Path, metavar="FILE", help="also write the points as CSV")
    lab.add_argument(
        "--svg", type=Path, metavar="DIR", help="also write each plot as an SVG file in DIR"
    )


def cmd_lab(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``muxlab lab``; returns the exit status (points to `out`, messages to `err`:
    by default the standard streams as they are at the call)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    from simulator.bench.polling import polling
    from simulator.bench.sweep import URING_REFUSED, sweep

    if args.experiment == "thrash":
        return _cmd_thrash(args, out, err)
    wrong = [name for name in ("rates", "cpus", "work") if getattr(args, name) is not None]
    if wrong:
        print(
            f"muxlab lab: --{wrong[0]} is for the thrash experiment (muxlab lab thrash)", file=err
        )
        return EXIT_USAGE
    active = DEFAULT_ACTIVE if args.active is None else args.active
    sizes = Plan.default().sizes if args.sizes is None else args.sizes
    if args.mechanisms is not None and args.experiment != "complexity":
        print(
            "muxlab lab: --mechanisms is for the complexity sweep; polling compares a busy "
            "loop of recv with epoll_wait",
            file=err,
        )
        return EXIT_USAGE
    mechanisms = tuple(MECHANISMS) if args.mechanisms is None else args.mechanisms
    if args.experiment == "polling":
        mechanisms = ("epoll",)
    try:
        plan = Plan(mechanisms, sizes, active, args.repeat).checked()
    except PlanError as exc:
        print(f"muxlab lab: {exc}", file=err)
        return EXIT_USAGE
    problem = _unwritable(args.csv, args.svg)
    if problem:
        print(f"muxlab lab: {problem}", file=err)
        return EXIT_USAGE
    for name in plan.mechanisms:
        if MECHANISMS[name].where != "live":
            print(f"muxlab lab: {name}: model only -- {MECHANISMS[name].why}", file=err)
    show: Callable[[Any], str] = (
        _json_line
        if args.json
        else _text_line
        if args.experiment == "complexity"
        else _polling_line
    )
    points: list[Any] = []
    status = EXIT_OK
    total = plan.points if args.experiment == "complexity" else len(plan.sizes) * len(plan.active)
    experiment = sweep(plan) if args.experiment == "complexity" else polling(plan)
    try:
        with closing(experiment) as running:
            for point in running:
                points.append(point)
                print(show(point), file=out, flush=True)
    except KeyboardInterrupt:
        print(
            f"muxlab lab: interrupted after {len(points)} of {total} points; "
            "the live child and its descriptors are gone",
            file=err,
        )
        status = EXIT_INTERRUPTED
    if any(getattr(p, "note", "") == URING_REFUSED for p in points):
        print(f"muxlab lab: io_uring: model only -- {URING_REFUSED}", file=err)
    if args.csv is not None:
        _write_csv(args.csv, args.experiment, points)
    if args.svg is not None and points:
        _write_svg(args.svg, args.experiment, points)
    return status


def _cmd_thrash(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``muxlab lab thrash``: the machine's costs first (with their sources), then a point per
    shape and rate; the CSV and SVG from whatever was computed."""
    from simulator.bench.thrash import ThrashError, ThrashPlan, measure_costs, thrash

    wrong = [name for name in ("mechanisms", "sizes", "active") if getattr(args, name)]
    if wrong:
        print(
            f"muxlab lab: --{wrong[0]} is for the complexity and polling experiments; thrash "
            "sweeps --rates against the server shapes",
            file=err,
        )
        return EXIT_USAGE
    try:
        plan = ThrashPlan(
            rates=DEFAULT_RATES if args.rates is None else args.rates,
            cpus=2 if args.cpus is None else args.cpus,
            work_ns=DEFAULT_WORK_NS if args.work is None else args.work,
            repeat=args.repeat,
        ).checked()
    except ThrashError as exc:
        print(f"muxlab lab: {exc}", file=err)
        return EXIT_USAGE
    problem = _unwritable(args.csv, args.svg)
    if problem:
        print(f"muxlab lab: {problem}", file=err)
        return EXIT_USAGE
    points: list[ThrashPoint] = []
    status = EXIT_OK
    try:
        costs = measure_costs(plan.repeat)
        if args.json:
            print(json.dumps(costs.as_json()), file=out, flush=True)
        else:
            for name in ("syscall", "switch", "interrupt"):
                cost = getattr(costs, name)
                print(f"{name:<9} {_ns(cost.ns):>9}  {cost.source}", file=out, flush=True)
        with closing(thrash(plan, costs)) as running:
            for point in running:
                points.append(point)
                print(json.dumps(point.as_json()) if args.json else _thrash_line(point), file=out)
    except KeyboardInterrupt:
        print(
            f"muxlab lab: interrupted after {len(points)} of {plan.points} points; "
            "the live child is gone",
            file=err,
        )
        status = EXIT_INTERRUPTED
    if args.csv is not None:
        _write_csv(args.csv, "thrash", points)
    if args.svg is not None and points:
        _write_svg(args.svg, "thrash", points)
    return status


def _thrash_line(point: ThrashPoint) -> str:
    second = point.cpus * 1e9
    shares = ", ".join(
        f"{name} {value / second:.0%}"
        for name, value in (
            ("interrupts", point.interrupt_ns),
            ("switches", point.switch_ns),
            ("syscalls", point.syscall_ns),
            ("work", point.work_ns),
            ("idle", point.idle_ns),
        )
    )
    state = "  [overloaded]" if point.overloaded else ""
    return (
        f"{point.shape:<8} {point.rate:>9,}/s  handled {point.throughput:>11,.0f}/s  "
        f"batch {point.batch:>5.1f}  {shares}{state}"
    )


def _unwritable(csv_path: Path | None, svg_dir: Path | None) -> str | None:
    """Why an output cannot be written (checked before the sweep, so none is wasted)."""
    if csv_path is not None:
        if csv_path.is_dir():
            return f"--csv {csv_path}: is a folder; give a file name"
        if not csv_path.parent.is_dir():
            return f"--csv {csv_path}: no such folder {csv_path.parent}"
    if svg_dir is not None and not svg_dir.is_dir():
        return f"--svg {svg_dir}: not a folder; create it first"
    return None


def _json_line(point: Point | PollingPoint) -> str:
    return json.dumps(point.as_json())


def _text_line(point: Point) -> str:
    head = f"{point.mechanism:<8} N={point.n:>6} K={point.active:>5}"
    if point.real_ns is None:
        real = "real      --"
    else:
        real = (
            f"real {_ns(point.real_ns):>9} "
            f"[{_ns(point.real_q1_ns or 0)} .. {_ns(point.real_q3_ns or 0)}]"
        )
    if point.model is None:
        model = "model --"
    else:
        work = ", ".join(f"{k} {v}" for k, v in point.model.items() if v)
        model = f"model {point.model_cost} ({work})"
    note = f"  [{point.note}]" if point.note else ""
    return f"{head}  {real}  {model}{note}"


def _polling_line(point: PollingPoint) -> str:
    return (
        f"N={point.n:>6} K={point.active:>5}  busy loop {_ns(point.busy_ns):>9}/round: "
        f"{point.busy_useless_per_s:,.0f} useless and {point.busy_useful_per_s:,.0f} useful "
        f"calls/s  |  epoll {_ns(point.epoll_ns):>9}/round: "
        f"{point.epoll_useful_per_s:,.0f} useful calls/s  |  model per round: busy "
        f"{point.model_busy_calls} calls ({point.model_busy_useless} EAGAIN), epoll "
        f"{point.model_epoll_calls} calls ({point.model_epoll_cost} units)"
    )


def _ns(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f} ms"
    if value >= 1_000:
        return f"{value / 1_000:.1f} us"
    return f"{value:.0f} ns"


def _write_csv(path: Path, experiment: str, points: list[Any]) -> None:
    """The points as CSV: for the complexity sweep one column per model category (empty where
    a value is null); for the polling problem the fields of its JSON lines."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if experiment in ("polling", "thrash"):
            if not points:
                return
            names = list(points[0].as_json())[1:]  # all but "plot"
            writer.writerow(names)
            writer.writerows([p.as_json()[name] for name in names] for p in points)
            return
        head = ["mechanism", "n", "active", "real_ns", "real_q1_ns", "real_q3_ns", "repeat"]
        writer.writerow([*head, "batch", "model_cost", *_CATEGORIES, "note"])
        for p in points:
            model = p.model or {}
            writer.writerow(
                [
                    p.mechanism,
                    p.n,
                    p.active,
                    _blank(p.real_ns),
                    _blank(p.real_q1_ns),
                    _blank(p.real_q3_ns),
                    p.repeat,
                    p.batch,
                    _blank(p.model_cost),
                    *(_blank(model.get(c)) for c in _CATEGORIES),
                    p.note,
                ]
            )


def _blank(value: object) -> object:
    return "" if value is None else value


def _write_svg(folder: Path, experiment: str, points: list[Any]) -> None:
    """``DIR/<experiment>.svg``: the experiment's plots side by side."""
    from tui.lab_figures import complexity_figure, polling_figure, thrash_figure
    from tui.svgplot import Chart, StackedBars, svg_document

    charts: list[Chart | StackedBars]
    if experiment == "complexity":
        charts = complexity_figure(points).charts()
        title = "muxlab lab: the complexity sweep"
    elif experiment == "thrash":
        charts = thrash_figure(points).charts()
        title = "muxlab lab: thrashing and per-core loops"
    else:
        charts = list(polling_figure(points).charts())
        title = "muxlab lab: the polling problem"
    (folder / f"{experiment}.svg").write_text(svg_document(charts, title), encoding="utf-8")
