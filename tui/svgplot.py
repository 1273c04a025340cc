"""Line charts and stacked bars as standalone SVG files, for the lab's plots in slides and
reports.

A `Chart` is one panel: a title, axis labels, log or linear axes, and named series of points; a
series may be dashed (the model's, beside the real kernel's solid lines). `svg_document` lays
charts side by side in one well-formed SVG document (every text escaped), with ticks at the
powers of ten on a log axis and at round values on a linear one. A `StackedBars` panel stacks
named layers on a linear axis (the model's work by category). No dependency: the format is
a few elements, and writing them keeps the output identical from run to run.

Cost: O(points + ticks) per chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

#: Colours by series name (the same mechanism is the same colour in every chart), then a cycle.
COLOURS = {
    "select": "#d62728",
    "poll": "#ff7f0e",
    "epoll": "#1f77b4",
    "kqueue": "#2ca02c",
    "io_uring": "#9467bd",
}
_CYCLE = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_WIDTH, _HEIGHT = 480, 340
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 130, 64, 50


@dataclass(frozen=True, slots=True)
class Series:
    """One line: `name` (the legend), its points, whether it is drawn dashed, and its colour
    (default: by its first word, see `COLOURS`)."""

    name: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False
    colour: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    """One panel of a figure."""

    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    log_x: bool = True
    log_y: bool = True
    notes: tuple[str, ...] = field(default=())  # at most two lines, under the title
    walls: tuple[float, ...] = field(default=())  # x values drawn as red vertical lines


@dataclass(frozen=True, slots=True)
class StackedBars:
    """One panel of stacked bars on a linear axis (where layers add up): a bar per label of
    `labels`, each the sum of `layers` -- ``(name, one value per label)``, bottom first."""

    title: str
    x_label: str
    y_label: str
    labels: tuple[str, ...]
    layers: tuple[tuple[str, tuple[float, ...]], ...]


def _colour(series: Series, index: int) -> str:
    """The series' own colour, else its first word's (a mechanism), else the cycle's."""
    if series.colour:
        return series.colour
    return COLOURS.get(series.name.split()[0], _CYCLE[index % len(_CYCLE)])


class _Axis:
    """Maps data values to pixels along one axis, log or linear."""

    def __init__(self, values: list[float], log: bool, start: float, end: float) -> None:
        self.log = log
        usable = [v for v in values if v > 0] if log else values
        low, high = (min(usable), max(usable)) if usable else (1.0, 10.0)
        if log:
            low, high = 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high))
        elif low == high:
            low, high = low - 1, high + 1
        if high == low:
            high = low * 10
        self.low, self.high, self.start, self.end = low, high, start, end

    def _unit(self, value: float) -> float:
        if self.log:
            return (math.log10(value) - math.log10(self.low)) / (
                math.log10(self.high) - math.log10(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def at(self, value: float) -> float:
        return self.start + (self.end - self.start) * self._unit(value)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = round(math.log10(self.low)), round(math.log10(self.high))
            return [10.0**e for e in range(first, last + 1)]
        step = 10 ** math.floor(math.log10(self.high - self.low))
        value = math.ceil(self.low / step) * step
        found = []
        while value <= self.high:
            found.append(value)
            value += step
        return found


def _label(value: float) -> str:
    if value >= 1000 and math.log10(value).is_integer():
        return f"1e{round(math.log10(value))}"
    return f"{value:g}"


def _chart(chart: Chart, x0: float) -> list[str]:
    """The SVG elements of one chart whose frame starts at `x0`."""
    points = [p for s in chart.series for p in s.points if not chart.log_y or p[1] > 0]
    x = _Axis([p[0] for p in points], chart.log_x, x0 + _LEFT, x0 + _WIDTH - _RIGHT)
    y = _Axis([p[1] for p in points], chart.log_y, _HEIGHT - _BOTTOM, _TOP)
    out = [
        f'<text x="{x0 + _WIDTH / 2 - _RIGHT / 2:.1f}" y="20" text-anchor="middle" '
        f'font-weight="bold">{escape(chart.title)}</text>',
        f'<line x1="{x.start:.1f}" y1="{y.start:.1f}" x2="{x.end:.1f}" y2="{y.start:.1f}" '
        'stroke="black"/>',
        f'<line x1="{x.start:.1f}" y1="{y.start:.1f}" x2="{x.start:.1f}" y2="{y.end:.1f}" '
        'stroke="black"/>',
        f'<text x="{(x.start + x.end) / 2:.1f}" y="{_HEIGHT - 12}" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>",
        f'<text x="{x0 + 16}" y="{(y.start + y.end) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 + 16} {(y.start + y.end) / 2:.1f})">'
        f"{escape(chart.y_label)}</text>",
    ]
    for tick in x.ticks():
        px = x.at(tick)
        out.append(
            f'<line x1="{px:.1f}" y1="{y.start:.1f}" x2="{px:.1f}" y2="{y.start + 5:.1f}" '
            'stroke="black"/>'
        )
        out.append(
            f'<text x="{px:.1f}" y="{y.start + 18:.1f}" text-anchor="middle" font-size="11">'
            f"{_label(tick)}</text>"
        )
    for tick in y.ticks():
        py = y.at(tick)
        out.append(
            f'<line x1="{x.start - 5:.1f}" y1="{py:.1f}" x2="{x.end:.1f}" y2="{py:.1f}" '
            'stroke="#dddddd"/>'
        )
        out.append(
            f'<text x="{x.start - 8:.1f}" y="{py + 4:.1f}" text-anchor="end" font-size="11">'
            f"{_label(tick)}</text>"
        )
    for wall in chart.walls:
        px = x.at(wall)
        out.append(
            f'<line x1="{px:.1f}" y1="{y.start:.1f}" x2="{px:.1f}" y2="{y.end:.1f}" '
            'stroke="#d62728" stroke-width="1.5" stroke-dasharray="2 3"/>'
        )
        out.append(
            f'<text x="{px + 4:.1f}" y="{y.end + 12:.1f}" font-size="10" fill="#d62728">'
            f"FD_SETSIZE ({wall:g})</text>"
        )
    for index, series in enumerate(chart.series):
        colour = _colour(series, index)
        shown = [(px, py) for px, py in series.points if not chart.log_y or py > 0]
        dash = ' stroke-dasharray="6 4"' if series.dashed else ""
        if shown:
            path = " ".join(f"{x.at(px):.1f},{y.at(py):.1f}" for px, py in shown)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
                f"<title>{escape(series.name)}</title></polyline>"
            )
            out.extend(
                f'<circle cx="{x.at(px):.1f}" cy="{y.at(py):.1f}" r="2.5" fill="{colour}"/>'
                for px, py in shown
            )
        ly = _TOP + 16 * index
        lx = x0 + _WIDTH - _RIGHT + 10
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 18}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{lx + 22}" y="{ly + 4}" font-size="11">{escape(series.name)}</text>')
    for index, note in enumerate(chart.notes):
        out.append(
            f'<text x="{x.start:.1f}" y="{36 + 12 * index}" font-size="10" fill="#555555">'
            f"{escape(note)}</text>"
        )
    return out


def _bars(chart: StackedBars, x0: float) -> list[str]:
    """The SVG elements of one stacked-bar panel whose frame starts at `x0`."""
    totals = [sum(values[i] for _name, values in chart.layers) for i in range(len(chart.labels))]
    y = _Axis([0.0, max(totals, default=1.0) or 1.0], False, _HEIGHT - _BOTTOM, _TOP)
    left, right = x0 + _LEFT, x0 + _WIDTH - _RIGHT
    slot = (right - left) / max(1, len(chart.labels))
    out = [
        f'<text x="{x0 + _WIDTH / 2 - _RIGHT / 2:.1f}" y="20" text-anchor="middle" '
        f'font-weight="bold">{escape(chart.title)}</text>',
        f'<line x1="{left:.1f}" y1="{y.start:.1f}" x2="{right:.1f}" y2="{y.start:.1f}" '
        'stroke="black"/>',
        f'<line x1="{left:.1f}" y1="{y.start:.1f}" x2="{left:.1f}" y2="{y.end:.1f}" '
        'stroke="black"/>',
        f'<text x="{(left + right) / 2:.1f}" y="{_HEIGHT - 12}" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>",
        f'<text x="{x0 + 16}" y="{(y.start + y.end) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 + 16} {(y.start + y.end) / 2:.1f})">'
        f"{escape(chart.y_label)}</text>",
    ]
    for tick in y.ticks():
        py = y.at(tick)
        out.append(
            f'<line x1="{left - 5:.1f}" y1="{py:.1f}" x2="{right:.1f}" y2="{py:.1f}" '
            'stroke="#dddddd"/>'
        )
        out.append(
            f'<text x="{left - 8:.1f}" y="{py + 4:.1f}" text-anchor="end" font-size="11">'
            f"{tick:g}</text>"
        )
    for i, label in enumerate(chart.labels):
        cx = left + slot * (i + 0.5)
        out.append(
            f'<text x="{cx:.1f}" y="{y.start + 18:.1f}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
        base = 0.0
        for index, (name, values) in enumerate(chart.layers):
            if values[i] <= 0:
                continue
            top, bottom = y.at(base + values[i]), y.at(base)
            out.append(
                f'<rect x="{cx - slot * 0.3:.1f}" y="{top:.1f}" width="{slot * 0.6:.1f}" '
                f'height="{bottom - top:.1f}" fill="{_CYCLE[index % len(_CYCLE)]}">'
                f"<title>{escape(name)}: {values[i]:g}</title></rect>"
            )
            base += values[i]
    for index, (name, _values) in enumerate(chart.layers):
        ly, lx = _TOP + 16 * index, right + 10
        out.append(
            f'<rect x="{lx}" y="{ly - 6}" width="14" height="12" '
            f'fill="{_CYCLE[index % len(_CYCLE)]}"/>'
        )
        out.append(f'<text x="{lx + 20}" y="{ly + 4}" font-size="11">{escape(name)}</text>')
    return out


def svg_document(charts: Sequence[Chart | StackedBars], title: str) -> str:
    """One SVG document holding `charts` side by side, titled `title`."""
    width = _WIDTH * len(charts)
    body = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
        f'viewBox="0 0 {width} {_HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{_HEIGHT}" fill="white"/>',
    ]
    for index, chart in enumerate(charts):
        body.append(f"<g aria-label={quoteattr(chart.title)}>")
        x0 = index * _WIDTH
        body.extend(_chart(chart, x0) if isinstance(chart, Chart) else _bars(chart, x0))
        body.append("</g>")
    body.append("</svg>")
    return "\n".join(body) + "\n"
