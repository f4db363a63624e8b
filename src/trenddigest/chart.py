"""Category volume charts: a Mermaid block for GitHub, a PNG for e-mail.

GitHub renders ```` ```mermaid ```` fences itself, so the Markdown digest needs no
image file and no tool; an e-mail client renders no Mermaid, so the e-mail version
gets a PNG drawn with matplotlib (the optional ``[plot]`` extra).  Both use the same
palette, and the Markdown legend uses the coloured squares that match it, because
Mermaid's ``xychart-beta`` draws no legend of its own in the versions GitHub ships.

Everything here is deterministic: the same series give the same Mermaid text and the
same PNG bytes (no timestamp or software version in the PNG metadata).
"""

from __future__ import annotations

import io
import logging
import math
import re
from dataclasses import dataclass, field

from .models import Month
from .render import md_escape

log = logging.getLogger(__name__)

# matplotlib's tab10 colours in the order of the emoji squares that resemble them, so
# the Markdown legend under a Mermaid chart names each line by its colour.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
LEGEND_MARKS = ["🟦", "🟧", "🟩", "🟥", "🟪", "🟫"]
MAX_SERIES = len(PALETTE)


@dataclass
class VolumeSeries:
    """Papers per category per month, oldest month first.

    ``series`` keeps the caller's order; :meth:`top` picks what a chart shows.
    ``totals`` are all papers of each month (matched or not).
    """

    months: list[str]
    series: dict[str, list[int]] = field(default_factory=dict)
    totals: list[int] = field(default_factory=list)

    @property
    def drawable(self) -> bool:
        """Whether a line chart says anything: two months at least (one month's
        single point per line is no trend, and the Markdown shows no chart for it)."""
        return len(self.months) > 1

    @property
    def left_out(self) -> list[str]:
        """The months between the first and the last that the chart leaves out, as
        "2024-06" or "2025-08 to 2026-01": its points are evenly spaced, so a gap
        would otherwise read as one month's change."""
        gaps = []
        for before, after in zip(self.months, self.months[1:], strict=False):
            first, last = Month.parse(before).shift(1), Month.parse(after).shift(-1)
            if first < last:
                gaps.append(f"{first} to {last}")
            elif first == last:
                gaps.append(str(first))
        return gaps

    def top(self, limit: int = MAX_SERIES) -> list[tuple[str, list[int]]]:
        """The ``limit`` largest categories over the whole span (ties by name)."""
        ranked = sorted(self.series.items(), key=lambda item: (-sum(item[1]), item[0]))
        return [(name, values) for name, values in ranked[: min(limit, MAX_SERIES)] if any(values)]


# Mermaid reads "%%" anywhere in a block as a comment or an %%{init}%% directive (the
# chart fails to parse), decodes "#name;" / "#123;" entity codes in labels, and its
# string grammar has no escape for '"' (a backtick opens a Markdown string): its own
# entity codes for the four show each as written.
_MERMAID_ENTITIES = re.compile('[#%"`]')


def _mermaid_text(text: str) -> str:
    """A Mermaid xychart string literal showing ``text`` as written, on one line."""
    cleaned = " ".join(text.split())
    encoded = _MERMAID_ENTITIES.sub(lambda m: f"#{ord(m[0])};", cleaned)
    return f'"{encoded}"'


def _nice_ceiling(value: float) -> int:
    """A round axis maximum a little above ``value`` (1, 1.2, 1.5 ... 8 x 10^k)."""
    if value <= 0:
        return 1
    target = value * 1.05
    magnitude = 10 ** math.floor(math.log10(target))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= target:
            return max(1, math.ceil(step * magnitude))
    return math.ceil(target)  # pragma: no cover - the loop always returns


def mermaid_xychart(volume: VolumeSeries, title: str, limit: int = MAX_SERIES) -> str:
    """A fenced ``xychart-beta`` block, one ``line`` per top category.

    Labels are quoted (the grammar needs quotes for anything but one plain word) and
    the data are plain integers (the grammar accepts no exponent notation).  Empty
    string when there is nothing to draw (no category with papers, or one month).
    """
    chosen = volume.top(limit)
    if not volume.drawable or not chosen:
        return ""
    palette = ", ".join(PALETTE[: len(chosen)])
    peak = max(max(values) for _, values in chosen)
    lines = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f"    title {_mermaid_text(title)}",
        "    x-axis [" + ", ".join(_mermaid_text(m) for m in volume.months) + "]",
        f'    y-axis "Papers" 0 --> {_nice_ceiling(peak)}',
    ]
    for name, values in chosen:
        numbers = ", ".join(str(int(v)) for v in values)
        lines.append(f"    line {_mermaid_text(name)} [{numbers}]")
    lines.append("```")
    return "\n".join(lines)


def legend_markdown(volume: VolumeSeries, limit: int = MAX_SERIES) -> str:
    """``🟦 Detection · 🟧 Segmentation`` in the chart's colour order."""
    chosen = volume.top(limit)
    return " · ".join(f"{LEGEND_MARKS[i]} {md_escape(name)}" for i, (name, _) in enumerate(chosen))


def _months_since(first: str, month: str) -> int:
    start, at = Month.parse(first), Month.parse(month)
    return (at.year - start.year) * 12 + at.month - start.month


def png_lines(
    volume: VolumeSeries, limit: int = MAX_SERIES
) -> list[tuple[str, list[int], list[float]]]:
    """Each line the PNG draws: its name, x (months since the first) and y values.

    Unlike Mermaid's evenly spaced categories, the PNG places each month where it
    falls, and a line breaks (a NaN point) over the months left out (none or only
    part of them stored): a line drawn across the gap would read as a change nobody
    counted.
    """
    positions = [_months_since(volume.months[0], m) for m in volume.months]
    lines = []
    for name, values in volume.top(limit):
        xs: list[int] = []
        ys: list[float] = []
        for i, (x, y) in enumerate(zip(positions, values, strict=True)):
            if i and x > positions[i - 1] + 1:
                xs.append(positions[i - 1] + 1)
                ys.append(math.nan)
            xs.append(x)
            ys.append(float(y))
        lines.append((name, xs, ys))
    return lines


def render_png(
    volume: VolumeSeries, title: str, limit: int = MAX_SERIES, dpi: int = 100
) -> bytes | None:
    """The chart as PNG bytes, or ``None`` when matplotlib (``[plot]`` extra) is missing
    or there is nothing to draw (as for :func:`mermaid_xychart`).

    Uses the object-oriented API with the Agg canvas (no pyplot state, safe in a
    scheduler thread) and drops the ``Software`` text chunk so the bytes depend only
    on the data.
    """
    chosen = volume.top(limit)
    if not volume.drawable or not chosen:
        return None
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log.info(
            "matplotlib is not installed, skipping the PNG chart "
            "(install it with: pip install 'trenddigest[plot]')"
        )
        return None
    with matplotlib.rc_context(
        {
            "font.family": "DejaVu Sans",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "text.parse_math": False,  # a "$" in a category name is text, not TeX
        }
    ):
        fig = Figure(figsize=(8, 4.5), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for i, (name, xs, ys) in enumerate(png_lines(volume, limit)):
            ax.plot(xs, ys, marker="o", linewidth=2, color=PALETTE[i], label=name)
        ticks = [_months_since(volume.months[0], m) for m in volume.months]
        ax.set_xticks(ticks, volume.months, rotation=45 if len(ticks) > 6 else 0)
        if volume.left_out:
            # As the Markdown says it under the Mermaid chart.
            ax.set_xlabel(
                "Not in the chart (the store holds none or only part of them): "
                + ", ".join(volume.left_out)
            )
        ax.set_ylim(bottom=0)
        ax.set_ylabel("Papers")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
