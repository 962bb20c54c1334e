"""The complaints-per-month chart as geometry for a server-rendered SVG (no script).

Pure: counts in, rectangles and label positions out; `templates/chart.svg.html` draws
them. Bars are scaled to the largest month (at least 1, so an empty year is flat).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 600, 220
TOP, BOTTOM, LEFT = 24, 28, 8
GAP = 6


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str
    label_x: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    total: int


def monthly(months: list[tuple[date, int]], names: list[str]) -> Chart:
    """Bars for `months` ((first day, count) each); `names` are the twelve month names."""
    slot = (WIDTH - 2 * LEFT) / max(len(months), 1)
    tallest = max((count for _, count in months), default=0) or 1
    plot = HEIGHT - TOP - BOTTOM
    bars = []
    for index, (first, count) in enumerate(months):
        height = plot * count / tallest
        x = LEFT + index * slot + GAP / 2
        label = names[first.month - 1]
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(TOP + plot - height, 1),
                width=round(slot - GAP, 1),
                height=round(height, 1),
                count=count,
                label=label,
                label_x=round(x + (slot - GAP) / 2, 1),
                title=f"{label} {first.year}: {count}",
            )
        )
    return Chart(WIDTH, HEIGHT, TOP + plot, bars, sum(count for _, count in months))
