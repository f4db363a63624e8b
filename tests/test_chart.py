"""Category volume charts: Mermaid text GitHub can render, PNG bytes that are reproducible."""

from __future__ import annotations

import logging
import math
import re
import sys

import pytest

from trenddigest.chart import (
    LEGEND_MARKS,
    PALETTE,
    VolumeSeries,
    legend_markdown,
    mermaid_xychart,
    png_lines,
    render_png,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# One statement of the xychart-beta grammar each (mermaid's xychart.jison): strings are
# double-quoted with no quote inside, numbers are plain decimals (no exponent).
QUOTED = r'"[^"\n]*"'
NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"
STATEMENTS = [
    re.compile(rf"^    title {QUOTED}$"),
    re.compile(rf"^    x-axis \[{QUOTED}(?:, {QUOTED})*\]$"),
    re.compile(rf'^    y-axis "Papers" {NUMBER} --> {NUMBER}$'),
    re.compile(rf"^    line {QUOTED} \[{NUMBER}(?:, {NUMBER})*\]$"),
]


def volume() -> VolumeSeries:
    return VolumeSeries(
        months=["2025-04", "2025-05", "2025-06"],
        series={
            "Object Detection": [85, 93, 70],
            'Vision "Transformers"': [71, 59, 62],
            "Tiny": [1, 0, 2],
            "Empty": [0, 0, 0],
            "Segmentation": [33, 57, 57],
        },
        totals=[4082, 5811, 5020],
    )


def test_mermaid_block_is_a_fenced_xychart_with_valid_statements():
    block = mermaid_xychart(volume(), "Papers per category, 2025-04 to 2025-06")
    lines = block.splitlines()
    assert lines[0] == "```mermaid"
    assert lines[1].startswith("%%{init: ") and lines[1].endswith("}%%")
    assert lines[2] == "xychart-beta"
    assert lines[-1] == "```"
    for line in lines[3:-1]:
        assert any(p.match(line) for p in STATEMENTS), line


def test_mermaid_block_quotes_month_labels_and_keeps_numbers_integer():
    block = mermaid_xychart(volume(), "t")
    assert '    x-axis ["2025-04", "2025-05", "2025-06"]' in block
    assert '    line "Object Detection" [85, 93, 70]' in block


def test_mermaid_block_orders_lines_by_volume_and_drops_all_zero_series():
    block = mermaid_xychart(volume(), "t", limit=6)
    names = re.findall(r'^    line "([^"]*)"', block, flags=re.MULTILINE)
    assert names == ["Object Detection", "Vision #34;Transformers#34;", "Segmentation", "Tiny"]


def test_mermaid_block_shows_at_most_the_requested_number_of_lines():
    block = mermaid_xychart(volume(), "t", limit=2)
    assert len(re.findall(r"^    line ", block, flags=re.MULTILINE)) == 2


def test_mermaid_palette_has_one_colour_per_line_in_order():
    block = mermaid_xychart(volume(), "t", limit=3)
    palette = re.search(r'"plotColorPalette": "([^"]*)"', block)
    assert palette is not None
    assert palette.group(1).split(", ") == PALETTE[:3]


def test_mermaid_y_axis_starts_at_zero_above_the_peak():
    block = mermaid_xychart(volume(), "t")
    match = re.search(r'y-axis "Papers" 0 --> (\d+)$', block, flags=re.MULTILINE)
    assert match is not None
    assert 93 <= int(match.group(1)) <= 150


def test_mermaid_title_cannot_break_out_of_its_quotes():
    block = mermaid_xychart(volume(), 'Say "hi"\nthere')
    assert '    title "Say #34;hi#34; there"' in block


def test_mermaid_block_is_empty_when_there_is_nothing_to_draw():
    assert mermaid_xychart(VolumeSeries(months=[], series={}), "t") == ""
    assert mermaid_xychart(VolumeSeries(["2025-04"], {"A": [0]}), "t") == ""


def test_legend_names_each_line_by_its_colour_square_in_chart_order():
    legend = legend_markdown(volume(), limit=2)
    assert legend == f'{LEGEND_MARKS[0]} Object Detection · {LEGEND_MARKS[1]} Vision "Transformers"'


def test_legend_escapes_markdown_in_names():
    series = VolumeSeries(["2025-04"], {"a_b [c]": [3]})
    assert legend_markdown(series) == f"{LEGEND_MARKS[0]} a\\_b \\[c\\]"


def test_png_is_byte_identical_for_the_same_input():
    first = render_png(volume(), "Papers per category")
    second = render_png(volume(), "Papers per category")
    assert first is not None and first.startswith(PNG_SIGNATURE)
    assert first == second


def test_png_carries_no_software_or_version_metadata():
    data = render_png(volume(), "t")
    assert data is not None
    assert b"Software" not in data
    assert b"matplotlib" not in data.lower()


def test_png_changes_when_the_data_change():
    other = volume()
    other.series["Object Detection"] = [85, 93, 120]
    assert render_png(volume(), "t") != render_png(other, "t")


def test_png_is_skipped_with_a_log_line_without_matplotlib(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with caplog.at_level(logging.INFO, logger="trenddigest.chart"):
        assert render_png(volume(), "t") is None
    assert caplog.messages == [
        "matplotlib is not installed, skipping the PNG chart "
        "(install it with: pip install 'trenddigest[plot]')"
    ]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, ["Object Detection"]),
        (6, ["Object Detection", 'Vision "Transformers"', "Segmentation", "Tiny"]),
    ],
)
def test_top_series_are_the_largest_categories_over_the_span(limit, expected):
    assert [name for name, _ in volume().top(limit)] == expected


def test_one_month_is_no_chart_in_either_form():
    # One point per line says nothing; the Markdown shows no chart for one month, so an
    # e-mail would show a chart of dots and `trends` would write a PNG nothing links to.
    one = VolumeSeries(months=["2025-04"], series={"Object Detection": [85]}, totals=[900])
    assert mermaid_xychart(one, "t") == ""
    assert render_png(one, "t") is None


def test_the_months_a_chart_leaves_out_are_named_as_single_months_or_ranges():
    series = VolumeSeries(months=["2024-05", "2024-07", "2024-08", "2024-12", "2025-01"])
    assert series.left_out == ["2024-06", "2024-09 to 2024-11"]
    assert volume().left_out == []


def test_png_lines_place_each_month_where_it_falls_and_break_over_a_gap():
    gapped = VolumeSeries(months=["2024-11", "2024-12", "2025-03"], series={"Detection": [5, 7, 6]})
    ((name, xs, ys),) = png_lines(gapped)
    assert name == "Detection"
    assert xs == [0, 1, 2, 4]
    assert ys[:2] == [5.0, 7.0] and math.isnan(ys[2]) and ys[3] == 6.0


def test_png_lines_of_consecutive_months_are_unbroken():
    ((_, xs, ys), *_) = png_lines(volume())
    assert xs == [0, 1, 2]
    assert ys == [85.0, 93.0, 70.0]
