"""The Lab screen: run the lab's experiments from the app and watch the curves appear.

Two plots side by side (textual-plotext): on the left what the real kernel measured, on the
right what the model counted. `c` runs the complexity sweep -- the real time per call of each
mechanism against N, and the model's work per call of one mechanism (`m` picks which) stacked
by category, so the learner sees *which* work grows --, `p` the polling problem, and `t`
thrashing: the requests each server shape handles as the arrival rate rises, and where one
shape's CPU time goes (`m` picks which), with what is modelled rather than measured said in
the plot's title. `g`
switches the axes between log and linear scales. A progress bar follows the sweep, which runs in
a worker thread; Escape stops it between two points, keeping every point measured (the live
child ends with the sweep, releasing its descriptors), and Escape again leaves the screen.
Before each experiment a predict question (`simulator.bench.predict`) asks what the curve will
do; when it ends, the real kernel's points judge the answer.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Generator
from contextlib import closing
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, ProgressBar, Static
from textual_plotext import PlotextPlot

from simulator.bench import predict
from simulator.bench.plan import Plan
from simulator.bench.polling import PollingPoint, polling
from simulator.bench.sweep import Point, sweep
from simulator.bench.thrash import ThrashPlan, ThrashPoint, thrash
from tui.commands import PaletteBinding
from tui.lab_figures import (
    THRASH_LAYERS,
    complexity_figure,
    polling_figure,
    rate_label,
    thrash_figure,
    thrash_shares,
)
from tui.predict import Question
from tui.screens.predict import PredictScreen
from tui.widgets.footer import Footer

#: The model's cost categories, bottom of the stack first (`observe.Cost` order).
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
_COLOURS = {
    "select": "red",
    "poll": "orange",
    "epoll": "blue",
    "kqueue": "green",
    "io_uring": "magenta",
}


class LabScreen(Screen[None]):
    """The lab's plots, the sweep's progress, and the keys that drive them."""

    DEFAULT_CSS = """
    LabScreen #plots {
        height: 1fr;
    }
    LabScreen PlotextPlot {
        width: 1fr;
        height: 1fr;
    }
    LabScreen #progress-row {
        height: 1;
    }
    LabScreen #progress {
        width: 22;
    }
    LabScreen #status {
        width: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        PaletteBinding(
            "c",
            "run('complexity')",
            "Complexity",
            title="Lab: run the complexity sweep",
            tooltip="time per call and the model's work against N (c)",
            id="lab-complexity",
        ),
        PaletteBinding(
            "p",
            "run('polling')",
            "Polling",
            title="Lab: run the polling problem",
            tooltip="a busy recv loop against one epoll_wait (p)",
            id="lab-polling",
        ),
        PaletteBinding(
            "t",
            "run('thrash')",
            "Thrashing",
            title="Lab: run thrashing and per-core loops",
            tooltip="server shapes as the arrival rate rises (t)",
            id="lab-thrash",
        ),
        PaletteBinding(
            "m",
            "next_mechanism",
            "Model of…",
            title="Lab: show another mechanism's model work",
            tooltip="which mechanism's work the model plot stacks (m)",
            id="lab-mechanism",
        ),
        PaletteBinding(
            "g",
            "toggle_log",
            "Log/linear",
            title="Lab: switch log and linear scales",
            tooltip="log or linear axes (g)",
            id="lab-log",
        ),
        PaletteBinding(
            "escape",
            "stop_or_leave",
            "Stop/Back",
            title="Lab: stop the sweep, or back to the menu",
            tooltip="stop keeps what was measured (Esc)",
            id="lab-stop",
        ),
    ]

    log_scales: reactive[bool] = reactive(True)
    """Whether the plots' axes are logarithmic."""
    running: reactive[bool] = reactive(False)
    """Whether a sweep is running."""

    def __init__(self, plan: Plan | None = None, thrash_plan: ThrashPlan | None = None) -> None:
        """`plan`: the sizes, active counts and samples of the complexity and polling
        experiments (default: `Plan.default()`, cut to this machine's descriptor limit);
        `thrash_plan`: the rates, CPUs and work of the thrashing one (default: its defaults)."""
        super().__init__()
        self.plan = (plan or Plan.default()).checked()
        self.thrash_plan = (thrash_plan or ThrashPlan()).checked()
        self.shape = "threads"
        """Whose CPU time the thrashing model plot stacks (`m` picks the next)."""
        self.experiment = "complexity"
        self.points: list[Any] = []
        self.mechanism = "poll" if "poll" in self.plan.mechanisms else self.plan.mechanisms[0]
        """Whose model work the model plot stacks by category (`m` picks the next)."""
        self.prediction: int | None = None
        """The choice picked in the predict dialog before the sweep (None: skipped)."""
        self.verdict: str | None = None
        """What the real kernel said about the last prediction (also shown as a toast)."""
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="plots"):
            yield PlotextPlot(id="real")
            yield PlotextPlot(id="model")
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="progress", show_eta=False)
            yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "muxlab"
        self.sub_title = "the lab"
        self._say("c: complexity · p: polling · t: thrashing · Esc: back")
        self._draw()

    def on_unmount(self) -> None:
        self._stop.set()  # a running sweep ends its live child at its next point

    # --- actions ---------------------------------------------------------------------------

    def action_run(self, experiment: str) -> None:
        """Ask the experiment's predict question, then run `experiment` ("complexity",
        "polling" or "thrash"), replacing the plots. Escape in the dialog skips the question."""
        if self.running:
            self.notify("A sweep is running: Esc stops it first", severity="warning")
            return
        asked = predict.question(
            experiment, self.thrash_plan if experiment == "thrash" else self.plan
        )
        dialog = PredictScreen(
            Question(0, asked.prompt, asked.choices, None, written=True),
            title=f"Predict, then measure: the {experiment} experiment",
        )

        def start(choice: int | None) -> None:
            self.prediction = choice
            self._start(experiment)

        self.app.push_screen(dialog, start)

    def _start(self, experiment: str) -> None:
        self.experiment = experiment
        self.points = []
        self.verdict = None
        self._stop.clear()
        self.running = True
        plan = self.plan
        total = plan.points if experiment == "complexity" else len(plan.sizes) * len(plan.active)
        if experiment == "thrash":
            total = self.thrash_plan.points
        self.query_one(ProgressBar).update(total=total, progress=0)
        what = "measuring this machine's costs" if experiment == "thrash" else "starting"
        self._say(f"{experiment}: {what} in the live child…")
        self._draw()
        self._sweep(experiment, plan)

    def action_stop_or_leave(self) -> None:
        """Stop a running sweep (keeping its points), or go back when none runs."""
        if self.running:
            self._stop.set()
            self._say("stopping after this point…")
        else:
            self.dismiss()

    def action_toggle_log(self) -> None:
        self.log_scales = not self.log_scales

    def action_next_mechanism(self) -> None:
        """Stack the next mechanism's model work (in the plan's order), or for thrashing the
        next shape's CPU time."""
        if self.experiment == "thrash":
            shapes = self.thrash_plan.shapes
            self.shape = shapes[(shapes.index(self.shape) + 1) % len(shapes)]
            self._draw()
            return
        names = self.plan.mechanisms
        self.mechanism = names[(names.index(self.mechanism) + 1) % len(names)]
        self._draw()

    def watch_log_scales(self) -> None:
        self._draw()

    # --- the sweep, in a worker thread -------------------------------------------------------

    @work(thread=True, exclusive=True, group="lab")
    def _sweep(self, experiment: str, plan: Plan) -> None:
        points: Generator[Point | PollingPoint | ThrashPoint, None, None]
        if experiment == "thrash":
            points = thrash(self.thrash_plan)
        else:
            points = sweep(plan) if experiment == "complexity" else polling(plan)
        failure: str | None = None
        try:
            with closing(points) as running:
                for point in running:
                    if self._stop.is_set():
                        break
                    self.app.call_from_thread(self._add, point)
        except OSError as exc:  # the live child died, a descriptor limit: say so, keep the points
            failure = f"{type(exc).__name__}: {exc}"
        self.app.call_from_thread(self._finished, failure)

    def _add(self, point: Point | PollingPoint | ThrashPoint) -> None:
        self.points.append(point)
        self.query_one(ProgressBar).advance(1)
        if isinstance(point, ThrashPoint):
            where = f"{point.shape} at {point.rate:,}/s"
        elif isinstance(point, Point):
            where = f"{point.mechanism} N={point.n} K={point.active}"
        else:
            where = f"N={point.n} K={point.active}"
        self._say(f"{self.experiment}: {len(self.points)} points · {where}")
        self._draw()

    def _finished(self, failure: str | None) -> None:
        self.running = False
        total = self.query_one(ProgressBar).total
        kept = f"{len(self.points)}/{total:.0f} points"
        if failure is not None:
            self._say(f"{self.experiment} ended early ({failure}); kept {kept}")
        elif self._stop.is_set() and len(self.points) < (total or 0):
            self._say(f"{self.experiment} stopped; kept {kept} · c/p: run again")
        else:
            walls = complexity_figure(p for p in self.points if isinstance(p, Point)).walls
            said = " · red: select's wall" if walls and self.experiment == "complexity" else ""
            if self.experiment == "thrash" and self.points:  # the plot's title says the rest
                kept = f"{len(self.points)}/{total:.0f}"
                said = " · " + _measured(self.points[0])
            self._say(f"{self.experiment}: done, {kept}{said}")
        self._judge()

    def _judge(self) -> None:
        """Tell the user what the real kernel says about their prediction."""
        verdict = predict.answer(self.experiment, self.points)
        if verdict is None or self.prediction is None:
            return
        choice, evidence = verdict
        mark = "right" if choice == self.prediction else "not quite"
        plan = self.thrash_plan if self.experiment == "thrash" else self.plan
        picked = predict.question(self.experiment, plan).choices[self.prediction]
        judge = (
            "The model at this machine's costs"
            if self.experiment == "thrash"
            else ("The real kernel")
        )
        self.verdict = f"You predicted: {picked}. {judge}: {evidence} -- {mark}."
        self.notify(
            self.verdict,
            title="Your prediction",
            timeout=15,
            markup=False,
        )

    # --- drawing -----------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def _draw(self) -> None:
        real = self.query_one("#real", PlotextPlot)
        model = self.query_one("#model", PlotextPlot)
        for widget in (real, model):
            widget.plt.clear_figure()
        if self.experiment == "complexity":
            self._draw_complexity(real.plt, model.plt)
        elif self.experiment == "thrash":
            self._draw_thrash(real.plt, model.plt)
        else:
            self._draw_polling(real.plt, model.plt)
        real.refresh()
        model.refresh()

    def _axes(self, plt: Any, lines: list[Line], y_unit: str) -> None:
        """Log axes, with ticks at the powers of ten, when asked for and there is something to
        scale (plotext cannot build an empty plot on log axes)."""
        if not (self.log_scales and lines):
            return
        plt.xscale("log")
        plt.yscale("log")
        xs = [x for _name, line in lines for x, _y in line]
        ys = [y for _name, line in lines for _x, y in line]
        plt.xticks(*_decades(xs, _count))
        plt.yticks(*_decades(ys, _NS if y_unit == "ns" else _count))

    def _draw_complexity(self, real: Any, model: Any) -> None:
        figure = complexity_figure(p for p in self.points if isinstance(p, Point))
        real.title("Real kernel: time per call")
        real.xlabel("N registered")
        for name, line in figure.real:
            xs, ys = zip(*line, strict=True)
            real.plot(xs, ys, label=name, color=_colour(name))
        self._axes(real, figure.real, "ns")
        if figure.walls and figure.real:
            # select's FD_SETSIZE wall, drawn as one: no point of select exists past it.
            real.vline(figure.walls[0], "red")
        mine = [
            p
            for p in self.points
            if isinstance(p, Point) and p.mechanism == self.mechanism and p.model is not None
        ]
        model.title(f"Model: {self.mechanism}'s work per call")
        model.xlabel("N registered · m: another")
        if mine:
            mine = [p for p in mine if p.active == mine[0].active]
            labels = [_count(p.n) for p in mine]
            stacks = [[(p.model or {})[c] for p in mine] for c in _CATEGORIES]
            used = [i for i, stack in enumerate(stacks) if any(stack)]
            # Always linear: on a log axis a stack's layers would not add up.
            model.stacked_bar(
                labels,
                [stacks[i] for i in used],
                labels=[_CATEGORIES[i] for i in used],
                width=0.6,
            )
            model.yticks(*_linear_ticks(max(sum(column) for column in zip(*stacks, strict=True))))

    def _draw_polling(self, real: Any, model: Any) -> None:
        figure = polling_figure(p for p in self.points if isinstance(p, PollingPoint))
        real.title("Real kernel: calls per second")
        real.xlabel("N sockets")
        for plt, lines in ((real, figure.real), (model, figure.model)):
            shown = self._shown(lines)
            for name, line in shown:
                xs, ys = zip(*line, strict=True)
                plt.plot(xs, ys, label=name, color=_polling_colour(name))
            self._axes(plt, shown, "count")
        model.title("Model: calls per round")
        model.xlabel("N sockets")

    def _draw_thrash(self, handled: Any, shares: Any) -> None:
        """Left: requests handled against the arrival rate, a line per shape and the offered
        rate (y always linear: it falls to zero). Right: where one shape's CPU time goes."""
        points = [p for p in self.points if isinstance(p, ThrashPoint)]
        figure = thrash_figure(points)
        title = "Handled/s"
        if points and not points[0].costs.interrupt.measured:
            title += f" · irq {_NS(points[0].costs.interrupt.ns)} MODELLED"
        handled.title(title)
        handled.xlabel("arrival rate /s")
        for name, line in figure.handled:
            xs, ys = zip(*line, strict=True)
            handled.plot(xs, ys, label=name, color=_THRASH_COLOURS[name])
        if figure.handled:
            handled.yticks(*_linear_ticks(max(y for _n, line in figure.handled for _x, y in line)))
        if self.log_scales and figure.handled:
            handled.xscale("log")
            handled.xticks(*_decades([x for _n, line in figure.handled for x, _y in line], _count))
        shares.title(f"Where the time goes: {self.shape}")
        shares.xlabel("arrival rate /s · m: another shape")
        mine = [p for p in points if p.shape == self.shape]
        if mine:
            percent = [[v / (p.cpus * 1e7) for v in thrash_shares(p)] for p in mine]
            # Always linear: on a log axis a stack's layers would not add up.
            shares.stacked_bar(
                [rate_label(p.rate) for p in mine],
                [list(layer) for layer in zip(*percent, strict=True)],
                labels=list(THRASH_LAYERS),
                width=0.6,
            )
            shares.yticks(*_linear_ticks(100))

    def _shown(self, lines: list[Line]) -> list[Line]:
        """`lines` as drawn: on log axes a zero (no useless call) has no place, so it is left
        out, and so is a line left with no point."""
        if not self.log_scales:
            return lines
        kept = [(name, [(x, y) for x, y in line if y > 0]) for name, line in lines]
        return [(name, line) for name, line in kept if line]


Line = tuple[str, list[tuple[float, float]]]


def _count(value: float) -> str:
    """10, 300, 3k, 10k, 1M: a count in a few characters."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _NS(value: float) -> str:
    """A time in nanoseconds, in the unit that keeps it short: 100ns, 10µs, 1ms, 1s."""
    for size, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}ns"


def _decades(values: list[float], label: Callable[[float], str]) -> tuple[list[float], list[str]]:
    """Ticks at every power of ten that spans `values`, labelled by `label`."""
    low = math.floor(math.log10(min(values)))
    high = math.ceil(math.log10(max(values)))
    ticks = [10.0**e for e in range(low, high + 1)]
    return ticks, [label(t) for t in ticks]


def _linear_ticks(top: float) -> tuple[list[float], list[str]]:
    """About four round ticks from 0 to `top`."""
    step = 10 ** math.floor(math.log10(max(top, 1) / 4))
    step *= next(m for m in (1, 2, 5, 10) if top / (step * m) <= 5)
    ticks = [step * i for i in range(int(top // step) + 1)]
    return ticks, [_count(t) if t else "0" for t in ticks]


#: The thrashing plot's colours: a shape each, the offered rate grey.
_THRASH_COLOURS = {"threads": "red", "pool": "orange", "percore": "blue", "offered": "gray"}


def _measured(point: ThrashPoint) -> str:
    """The costs measured on this machine, in a few words (the modelled one is in the plot's
    title)."""
    costs = point.costs
    named = (("syscall", costs.syscall), ("switch", costs.switch), ("irq", costs.interrupt))
    return "measured: " + ", ".join(f"{n} {_NS(c.ns)}" for n, c in named if c.measured)


def _colour(name: str) -> str:
    return _COLOURS.get(name.split()[0], "white")


def _polling_colour(name: str) -> str:
    if name.startswith("epoll"):
        return "blue"
    if "useful" in name:
        return "green"
    return "red" if "useless" in name or "EAGAIN" in name else "orange"
