"""Inline SVG charts of the reports and score cards.

Drawn as SVG strings rather than with matplotlib: a matplotlib figure costs about 0.1 s to
save, i.e. 1,000 s for the top 100 of 100 campaigns, while an SVG string costs well under a
millisecond, stays sharp at any zoom and keeps pages self-contained and small. The styles
(``.chart .up`` ...) are in ``templates/report.css``.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping

import numpy as np

from .pages import SHOWN_CONTRIBUTION
from .text import family_title

WATERFALL_BARS = 7  # families drawn in a waterfall; the rest are summed into one bar


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def waterfall_svg(labels: list[str], values: list[float], start_label: str = "Campaign average",
                  end_label: str = "This creator", width: int = 520) -> str:
    """Horizontal waterfall: from the campaign average (0), each family's push, to the creator.

    Parameters
    ----------
    labels, values : list
        Steps in drawing order (values in score points, relative to the campaign mean).
    start_label, end_label : str
        Names of the first (0) and last (the total) bars.
    width : int
        Pixel width; the height follows from the number of bars.
    """
    row, label_w, value_w, pad = 24, 190, 56, 8
    plot_w = width - label_w - value_w - 2 * pad
    steps = np.cumsum([0.0] + [float(v) for v in values])
    total = float(steps[-1])
    lo, hi = float(min(steps.min(), 0.0)), float(max(steps.max(), 0.0))
    if hi - lo < 1e-12:
        lo, hi = -1.0, 1.0
    span = hi - lo
    lo, hi = lo - 0.04 * span, hi + 0.04 * span

    def x(v: float) -> float:
        return label_w + pad + (v - lo) / (hi - lo) * plot_w

    n = len(values) + 2
    height = n * row + 22
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart"><title>{_esc(end_label)}: {_signed(total)} against '
           f'{_esc(start_label.lower())}</title>']
    zero = x(0.0)
    out.append(f'<line x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{n * row + 4}" class="zero"/>')

    def bar(i: int, a: float, b: float, cls: str, label: str, text: str, bold: bool = False) -> None:
        y = 4 + i * row
        left, right = sorted((x(a), x(b)))
        w = max(right - left, 1.5)
        weight = ' font-weight="600"' if bold else ""
        out.append(f'<text x="{label_w}" y="{y + 16}" text-anchor="end" class="lbl"{weight}>{_esc(label)}</text>')
        out.append(f'<rect x="{left:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2" class="{cls}"/>')
        # Values in their own right-hand column: a long bar can never run into them.
        out.append(f'<text x="{width - 2}" y="{y + 16}" text-anchor="end" class="val {cls}v"{weight}>{_esc(text)}</text>')

    y0 = 4
    out.append(f'<text x="{label_w}" y="{y0 + 16}" text-anchor="end" class="lbl">{_esc(start_label)}</text>')
    out.append(f'<circle cx="{zero:.1f}" cy="{y0 + row / 2:.1f}" r="4" class="mark"/>')
    for i, (label, v) in enumerate(zip(labels, values), start=1):
        a, b = float(steps[i - 1]), float(steps[i])
        bar(i, a, b, "up" if v >= 0 else "down", label, _signed(v))
        yc = 4 + i * row
        out.append(f'<line x1="{x(a):.1f}" y1="{yc - 4}" x2="{x(a):.1f}" y2="{yc + 4}" class="link"/>')
    bar(n - 1, 0.0, total, "total", end_label, _signed(total), bold=True)
    ticks = _ticks(lo, hi)
    for t in ticks:
        out.append(f'<text x="{x(t):.1f}" y="{n * row + 18}" text-anchor="middle" class="tick">{t:g}</text>')
    out.append("</svg>")
    return "".join(out)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / count)) if span > 0 else 1.0
    for m in (1, 2, 5, 10):
        if span / (step * m) <= count:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


def bars_svg(labels: list[str], values: list[float], width: int = 520, fmt: str = "{:.2f}",
             notes: list[str] | None = None) -> str:
    """Horizontal bars of non-negative values, largest first as given, each labelled."""
    row, label_w, value_w, pad = 24, 200, 52, 8
    plot_w = width - label_w - value_w - 2 * pad
    top = max([float(v) for v in values] + [1e-12])
    height = len(values) * row + 6
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart">']
    for i, (label, v) in enumerate(zip(labels, values)):
        y = 3 + i * row
        w = max(float(v) / top * plot_w, 1.0)
        tip = f"<title>{_esc(notes[i])}</title>" if notes else ""
        out.append(f'<g>{tip}<text x="{label_w}" y="{y + 16}" text-anchor="end" class="lbl">{_esc(label)}</text>'
                   f'<rect x="{label_w + pad}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2" class="bar"/>'
                   f'<text x="{label_w + pad + w + 4:.1f}" y="{y + 16}" class="val">{_esc(fmt.format(v))}</text></g>')
    out.append("</svg>")
    return "".join(out)


def family_waterfall(families: Mapping[str, float], bars: int = WATERFALL_BARS) -> str:
    """A creator's waterfall by family: the largest ``bars`` families, the rest in one bar."""
    items = sorted(families.items(), key=lambda kv: -abs(kv[1]))
    # Pushes that print as +0.00 / -0.00 are no drivers: they join the remainder, and a
    # remainder that itself rounds to zero is left out.
    shown = [kv for kv in items[:bars] if abs(kv[1]) >= SHOWN_CONTRIBUTION]
    rest = items[len(shown):]
    labels = [family_title(f) for f, _ in shown]
    values = [v for _, v in shown]
    rest_total = float(sum(v for _, v in rest))
    if rest and abs(rest_total) >= SHOWN_CONTRIBUTION:
        labels.append(f"{len(rest)} other families" if len(rest) > 1 else family_title(rest[0][0]))
        values.append(rest_total)
    return waterfall_svg(labels, values)

