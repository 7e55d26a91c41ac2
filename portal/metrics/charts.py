"""Geometry for the server-drawn SVG charts on /metrics (no JavaScript chart library).

A chart is computed here and drawn by templates/metrics/_chart.html as one polyline (and an
optional filled area) with labelled axes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 28


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    points: str  # "x,y x,y ..." for <polyline>
    area: str | None  # a closed path down to the baseline, for filled charts
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int


def line_chart(title: str, days: Sequence[date], values: Sequence[float],
               format_value: Callable[[float], str], *, fill_to: float | None = None
               ) -> LineChart | None:
    """None when there are fewer than two points to draw."""
    if len(values) < 2:
        return None
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    low, high = min(values), max(values)
    if fill_to is not None:
        low, high = min(low, fill_to), max(high, fill_to)
    if high == low:
        high, low = high + 1.0, low - 1.0
    last = len(values) - 1

    def x(index: int) -> float:
        return LEFT + (right - LEFT) * index / last

    def y(value: float) -> float:
        return TOP + (bottom - TOP) * (high - value) / (high - low)

    coords = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)]
    area = None
    if fill_to is not None:
        base = y(fill_to)
        area = f"M{x(0):.1f},{base:.1f} L" + " L".join(coords) + f" L{x(last):.1f},{base:.1f} Z"
    middle = last // 2
    return LineChart(
        title=title, width=WIDTH, height=HEIGHT, points=" ".join(coords), area=area,
        x_ticks=[Tick(round(x(i), 1), days[i].isoformat()) for i in (0, middle, last)],
        y_ticks=[Tick(round(y(v), 1), format_value(v)) for v in (high, (high + low) / 2, low)],
        plot_left=LEFT, plot_right=right, plot_top=TOP, plot_bottom=bottom,
    )
