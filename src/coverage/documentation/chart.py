"""The rating-scale history as an SVG chart, drawn here: no browser, no plotting library.

One panel per instrument (their ranges differ), scores over time joined by a line, the
policy's minimum score drawn as a dashed red line and, for continuation requests, the
response target as a dashed green line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from coverage.documentation.history import ScoreRow

FONT = "DejaVu Sans"
WIDTH = 640
PANEL_HEIGHT = 112
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 18, 26
LINE = "#1f4e79"
THRESHOLD = "#b00020"
TARGET = "#2e7d32"
GRID = "#d0d7de"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, *, size: int = 9, anchor: str = "start", fill: str = "#222") -> str:
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-family="{FONT}" font-size="{size}" '
        f'text-anchor="{anchor}" fill="{fill}">{escape(content)}</text>'
    )


def _month_ticks(first: dt.date, last: dt.date) -> list[dt.date]:
    months = (last.year - first.year) * 12 + last.month - first.month
    step = max(1, -(-months // 8))
    ticks = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        tick = dt.date(year, month, 1)
        if first <= tick <= last:
            ticks.append(tick)
        month += step
        while month > 12:
            year, month = year + 1, month - 12
    return ticks


def score_chart_svg(
    scores: Sequence[ScoreRow],
    *,
    thresholds: Mapping[str, int],
    targets: Mapping[str, float] | None = None,
    marker_date: dt.date | None = None,
    marker_label: str = "",
    end_date: dt.date | None = None,
) -> str:
    """An inline ``<svg>`` of the scores; empty string when there are none."""
    if not scores:
        return ""
    targets = targets or {}
    instruments: list[str] = []
    for row in scores:
        if row.instrument not in instruments:
            instruments.append(row.instrument)
    dates = [row.date for row in scores] + ([marker_date] if marker_date else [])
    first, last = min(dates), max([*dates, end_date] if end_date else dates)
    if (last - first).days < 30:
        first, last = first - dt.timedelta(days=15), last + dt.timedelta(days=15)
    span = (last - first).days
    plot_w = WIDTH - LEFT - RIGHT
    height = PANEL_HEIGHT * len(instruments)
    title = "Rating-scale scores over time with the payer's thresholds"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label={quoteattr(title)}>'
    ]

    def x_of(day: dt.date) -> float:
        return LEFT + plot_w * (day - first).days / span

    for index, instrument in enumerate(instruments):
        rows = [r for r in scores if r.instrument == instrument]
        top = index * PANEL_HEIGHT + TOP
        plot_h = PANEL_HEIGHT - TOP - BOTTOM
        maximum = rows[0].maximum

        def y_of(score: float, top: int = top, plot_h: int = plot_h, maximum: int = maximum) -> float:
            return top + plot_h * (1 - score / maximum)

        parts.append(_text(LEFT, top - 5, f"{rows[0].label} (0-{maximum})", size=10, fill="#000"))
        parts.append(f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{GRID}"/>')
        for tick in (0, maximum // 2, maximum):
            y = y_of(tick)
            parts.append(f'<line x1="{LEFT}" y1="{_num(y)}" x2="{LEFT + plot_w}" y2="{_num(y)}" stroke="{GRID}"/>')
            parts.append(_text(LEFT - 4, y + 3, str(tick), anchor="end"))
        for tick_date in _month_ticks(first, last):
            x = x_of(tick_date)
            parts.append(
                f'<line x1="{_num(x)}" y1="{top + plot_h}" x2="{_num(x)}" y2="{top + plot_h + 3}" stroke="#666"/>'
            )
            parts.append(
                _text(x, top + plot_h + 13, f"{MONTHS[tick_date.month - 1]} {tick_date.year}", size=8, anchor="middle")
            )
        if instrument in thresholds:
            y = y_of(thresholds[instrument])
            parts.append(
                f'<line x1="{LEFT}" y1="{_num(y)}" x2="{LEFT + plot_w}" y2="{_num(y)}" stroke="{THRESHOLD}" '
                'stroke-width="1.2" stroke-dasharray="5,3"/>'
            )
            parts.append(_text(LEFT + plot_w + 6, y + 3, f"policy minimum {thresholds[instrument]}", fill=THRESHOLD))
        if instrument in targets:
            y = y_of(targets[instrument])
            parts.append(
                f'<line x1="{LEFT}" y1="{_num(y)}" x2="{LEFT + plot_w}" y2="{_num(y)}" stroke="{TARGET}" '
                'stroke-width="1.2" stroke-dasharray="5,3"/>'
            )
            parts.append(_text(LEFT + plot_w + 6, y + 3, f"response target {_num(targets[instrument])}", fill=TARGET))
        if marker_date is not None:
            x = x_of(marker_date)
            parts.append(
                f'<line x1="{_num(x)}" y1="{top}" x2="{_num(x)}" y2="{top + plot_h}" stroke="#666" '
                'stroke-dasharray="2,2"/>'
            )
            if index == 0 and marker_label:
                parts.append(_text(x + 3, top + 10, marker_label, size=8, fill="#444"))
        points = [(x_of(r.date), y_of(r.score), r) for r in rows]
        if len(points) > 1:
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.5"/>')
        for x, y, row in points:
            parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{LINE}"/>')
            parts.append(_text(x, y - 6, str(row.score), size=9, anchor="middle", fill=LINE))
    parts.append("</svg>")
    return "".join(parts)
