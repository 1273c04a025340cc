"""The lab's figures, as data: which series each plot of a sweep draws.

Shared by the SVG files (`muxlab lab --svg`) and the Lab screen's terminal plots, so both show
the same thing: for the complexity sweep, the real kernel's median time per call against N
(one line per mechanism measured live, per active count K) and the model's work per call
against N (every mechanism, model-only ones included), and the notes that say what is missing
and why (select's FD_SETSIZE wall, kqueue's absence on Linux). For the thrashing experiment,
the requests each server shape handles against the arrival rate, where its CPUs' time goes,
and each cost with its source (measured, or modelled).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from simulator.bench.polling import PollingPoint
from simulator.bench.sweep import SELECT_WALL, WALL_NOTE, Point
from simulator.bench.thrash import ThrashPoint
from tui.svgplot import Chart, Series, StackedBars

Line = tuple[str, list[tuple[float, float]]]


@dataclass(frozen=True, slots=True)
class ComplexityFigure:
    """The two plots of a complexity sweep: `real` (ns per call) and `model` (unit operations
    per call), each a list of named lines of ``(n, value)`` points, and `notes`."""

    real: list[Line]
    model: list[Line]
    notes: list[str]
    stacks: list[StackedBars]
    walls: tuple[float, ...] = ()  # where select hit FD_SETSIZE: drawn as a vertical line

    def charts(self) -> list[Chart | StackedBars]:
        """The panels, for `tui.svgplot.svg_document`: the real kernel's lines, the model's,
        then the model's work by category of each mechanism in `stacks`."""
        return [
            Chart(
                "Real kernel: time per call",
                "N registered descriptors",
                "ns per call (median)",
                tuple(Series(name, tuple(points)) for name, points in self.real),
                notes=tuple(self.notes),
                walls=self.walls,
            ),
            Chart(
                "Model: work per call",
                "N registered descriptors",
                "unit operations per call",
                tuple(Series(name, tuple(points), dashed=True) for name, points in self.model),
            ),
            *self.stacks,
        ]


def complexity_figure(points: Iterable[Point]) -> ComplexityFigure:
    """The figure of the points measured so far (any subset of a sweep, in sweep order)."""
    real: dict[str, list[tuple[float, float]]] = {}
    model: dict[str, list[tuple[float, float]]] = {}
    actives: set[int] = set()
    walls: set[str] = set()
    model_only: dict[str, str] = {}
    collected = list(points)
    for point in collected:
        actives.add(point.active)
    for point in collected:
        name = point.mechanism if len(actives) == 1 else f"{point.mechanism} K={point.active}"
        if point.real_ns is not None:
            real.setdefault(name, []).append((point.n, point.real_ns))
        elif point.note == WALL_NOTE:
            walls.add(point.mechanism)
        elif point.note:
            model_only[point.mechanism] = point.note
        if point.model_cost is not None:
            model.setdefault(name, []).append((point.n, point.model_cost))
    notes = [f"{m}: FD_SETSIZE wall at N = {SELECT_WALL}" for m in walls]
    notes += [f"{m}: model only ({why})" for m, why in model_only.items()]
    return ComplexityFigure(
        list(real.items()),
        list(model.items()),
        notes,
        _stacks(collected, STACKED),
        (float(SELECT_WALL),) if walls else (),
    )


#: The mechanisms whose model work `complexity_figure` stacks by category: one of each shape.
STACKED = ("poll", "epoll")


def _stacks(points: list[Point], mechanisms: tuple[str, ...]) -> list[StackedBars]:
    """One stacked-bar panel per mechanism: its model work per call at each N (the first K
    measured), by category, the categories that are never charged left out."""
    panels = []
    for mechanism in mechanisms:
        mine = [p for p in points if p.mechanism == mechanism and p.model is not None]
        mine = [p for p in mine if p.active == mine[0].active] if mine else []
        if not mine:
            continue
        categories = [c for c in (mine[0].model or {}) if any((p.model or {})[c] for p in mine)]
        panels.append(
            StackedBars(
                f"Model: {mechanism}'s work by category",
                f"N registered (K = {mine[0].active})",
                "unit operations per call",
                tuple(str(p.n) for p in mine),
                tuple((c, tuple(float((p.model or {})[c]) for p in mine)) for c in categories),
            )
        )
    return panels


@dataclass(frozen=True, slots=True)
class PollingFigure:
    """The two plots of the polling problem: `real` (calls per second on the real kernel:
    the busy loop's useless and useful ones, epoll's useful ones) and `model` (calls per round,
    counted by the model), each a list of named lines of ``(n, value)`` points."""

    real: list[Line]
    model: list[Line]

    def charts(self) -> list[Chart]:
        """The two panels, for `tui.svgplot.svg_document`."""
        return [
            Chart(
                "Real kernel: calls per second",
                "N non-blocking sockets",
                "calls per second",
                tuple(
                    Series(name, tuple(points), colour=_colour(name)) for name, points in self.real
                ),
            ),
            Chart(
                "Model: calls per round",
                "N non-blocking sockets",
                "calls per round",
                tuple(
                    Series(name, tuple(points), dashed=True, colour=_colour(name))
                    for name, points in self.model
                ),
            ),
        ]


#: The polling problem's series colours: wasted work red, useful work green, epoll blue.
_POLLING_COLOURS = {"useless": "#d62728", "EAGAIN": "#d62728", "useful": "#2ca02c"}


def _colour(name: str) -> str:
    if name.startswith("epoll"):
        return "#1f77b4"
    words = name.split()
    return next((_POLLING_COLOURS[w] for w in words if w in _POLLING_COLOURS), "#ff7f0e")


def polling_figure(points: Iterable[PollingPoint]) -> PollingFigure:
    """The figure of the polling points measured so far."""
    collected = list(points)
    several = len({p.active for p in collected}) > 1
    real: dict[str, list[tuple[float, float]]] = {}
    model: dict[str, list[tuple[float, float]]] = {}
    for p in collected:
        k = f" K={p.active}" if several else ""
        for name, value in (
            (f"busy useless{k}", p.busy_useless_per_s),
            (f"busy useful{k}", p.busy_useful_per_s),
            (f"epoll useful{k}", p.epoll_useful_per_s),
        ):
            real.setdefault(name, []).append((p.n, value))
        for name, count in (
            (f"busy calls{k}", p.model_busy_calls),
            (f"busy EAGAIN{k}", p.model_busy_useless),
            (f"epoll calls{k}", p.model_epoll_calls),
        ):
            model.setdefault(name, []).append((p.n, count))
    return PollingFigure(list(real.items()), list(model.items()))


@dataclass(frozen=True, slots=True)
class ThrashFigure:
    """The plots of the thrashing experiment: `handled` (requests handled per second against
    the arrival rate, one line per shape, and the offered rate itself), `shares` (per shape:
    where its CPUs' time goes at each rate, percent by category) and `notes` (each cost with
    where it comes from: measured on this machine, or modelled)."""

    handled: list[Line]
    shares: list[tuple[str, tuple[str, ...], list[tuple[str, tuple[float, ...]]]]]
    notes: list[str]

    def charts(self) -> list[Chart | StackedBars]:
        """The panels, for `tui.svgplot.svg_document`."""
        return [
            Chart(
                "Requests handled (model x this machine's costs)",
                "arrival rate, requests per second",
                "requests handled per second",
                tuple(
                    Series(name, tuple(points), dashed=name == "offered", colour=_SHAPE[name])
                    for name, points in self.handled
                ),
                log_y=False,
                notes=tuple(self.notes),
            ),
            *(
                StackedBars(
                    f"Where the time goes: {shape}",
                    "arrival rate, requests per second",
                    "% of the CPUs' time",
                    labels,
                    tuple(layers),
                )
                for shape, labels, layers in self.shares
            ),
        ]


#: The thrashing plot's colours: a colour per shape, the offered rate grey.
_SHAPE = {"threads": "#d62728", "pool": "#ff7f0e", "percore": "#1f77b4", "offered": "#7f7f7f"}
#: Where the CPUs' time goes, bottom of each bar first.
THRASH_LAYERS = ("interrupts", "switches", "syscalls", "work", "idle")


def thrash_figure(points: Iterable[ThrashPoint]) -> ThrashFigure:
    """The figure of the thrashing points computed so far."""
    collected = list(points)
    handled: dict[str, list[tuple[float, float]]] = {}
    for p in collected:
        handled.setdefault(p.shape, []).append((p.rate, p.throughput))
    lines = list(handled.items())
    if lines:
        rates = sorted({p.rate for p in collected})
        lines.append(("offered", [(r, r) for r in rates]))
    shares = []
    for shape in handled:
        mine = [p for p in collected if p.shape == shape]
        second = mine[0].cpus * 1e9 / 100
        layers = [
            (name, tuple(value / second for value in values))
            for name, values in zip(
                THRASH_LAYERS, zip(*(thrash_shares(p) for p in mine), strict=True), strict=True
            )
        ]
        shares.append((shape, tuple(rate_label(p.rate) for p in mine), layers))
    notes = []
    if collected:
        costs = collected[0].costs
        notes = [
            f"{name}: {cost.ns:,.0f} ns, {'measured' if cost.measured else 'MODELLED'}"
            for name, cost in (
                ("syscall", costs.syscall),
                ("context switch", costs.switch),
                ("interrupt", costs.interrupt),
            )
        ]
    return ThrashFigure(lines, shares, notes)


def thrash_shares(point: ThrashPoint) -> tuple[float, ...]:
    """The point's CPU time in ns by category, in `THRASH_LAYERS` order."""
    return (point.interrupt_ns, point.switch_ns, point.syscall_ns, point.work_ns, point.idle_ns)


def rate_label(rate: float) -> str:
    """10k, 200k, 1M: a rate in a few characters."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if rate >= size:
            return f"{rate / size:.3g}{suffix}"
    return f"{rate:.3g}"
