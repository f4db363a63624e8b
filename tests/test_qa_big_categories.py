"""QA of a large lab's categories file: 120 categories, long keyword lists.

A mistake deep in such a file must be findable from its one-line message, and the
digest's tables and chart must stay readable with many (partly empty) categories.
All data here is synthetic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic import categories_error
from trenddigest.categories import Category, Exemplar, Keyword, category_to_toml, loads_categories
from trenddigest.chart import VolumeSeries, legend_markdown, mermaid_xychart
from trenddigest.cli import main


def big_file(count: int = 120, keywords: int = 55) -> str:
    """``count`` categories, each with ``keywords`` keywords and a few exemplars."""
    categories = [
        Category(
            f"Topic {n:03d}",
            f"Synthetic research area number {n}.",
            [Keyword(f"topic{n} term{k}", 1.0 + (k % 3) / 2) for k in range(keywords)],
            [],
            [
                Exemplar(f"2401.{10000 + n * 10 + i}", f"Exemplar {i} of topic {n}")
                for i in range(3)
            ],
        )
        for n in range(1, count + 1)
    ]
    return "\n".join(category_to_toml(c) for c in categories)


def header_line(text: str, index: int) -> int:
    """The 1-based line of the ``index``-th ``[[category]]`` header."""
    headers = [n for n, line in enumerate(text.splitlines(), 1) if line == "[[category]]"]
    return headers[index - 1]


def error_of(text: str) -> str:
    return categories_error(text, "big.toml")


# --------------------------------------------------------------------------- loading


def test_a_big_file_loads_every_category_and_keyword() -> None:
    categories = loads_categories(big_file(), "big.toml")
    assert len(categories) == 120
    assert {len(c.keywords) for c in categories} == {55}


def test_a_category_without_a_name_deep_in_a_big_file_is_located_by_its_line() -> None:
    text = big_file().replace('name = "Topic 117"\n', "", 1)
    line = header_line(text, 117)
    assert error_of(text) == (
        "big.toml: category 117: missing required key 'name'; "
        f'add name = "Object Detection" (category 117 begins at line {line})'
    )


def test_an_unknown_key_in_a_nameless_category_names_the_line_of_its_header() -> None:
    text = big_file().replace('name = "Topic 117"', 'title = "Topic 117"', 1)
    line = header_line(text, 117)
    assert error_of(text) == (
        "big.toml: category 117: unknown key 'title' (allowed keys: name, description, "
        f"keywords, exclude, require, papers, threshold) (category 117 begins at line {line})"
    )


def test_a_named_category_deep_in_a_big_file_is_named_without_a_line() -> None:
    text = big_file().replace('name = "Topic 117"', 'name = "Topic 117"\ncolour = "red"', 1)
    assert error_of(text) == (
        "big.toml: category 117 (\"Topic 117\"): unknown key 'colour' "
        "(allowed keys: name, description, keywords, exclude, require, papers, threshold)"
    )


def test_no_line_is_claimed_when_headers_cannot_be_told_from_the_text() -> None:
    # A multi-line string holding a header-like line: counting lines would point at
    # the wrong table, so the message keeps to the category's number.
    text = big_file(3, 2).replace(
        'description = "Synthetic research area number 1."',
        'description = """Area one.\n[[category]]\nstill the description."""',
        1,
    )
    text = text.replace('name = "Topic 003"\n', "", 1)
    assert error_of(text) == (
        "big.toml: category 3: missing required key 'name'; add name = \"Object Detection\""
    )


def test_the_cli_names_the_line_of_a_nameless_category_in_a_big_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text = big_file().replace('name = "Topic 117"\n', "", 1)
    (tmp_path / "big.toml").write_text(text, encoding="utf-8")
    code = main(
        ["--store", str(tmp_path / "s.sqlite3"), "categories", "list"]
        + [
            "--categories",
            "big.toml",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert err == (
        "trenddigest: error: big.toml: category 117: missing required key 'name'; "
        f'add name = "Object Detection" (category 117 begins at line {header_line(text, 117)})\n'
    )


def test_a_bad_weight_in_a_long_keyword_list_names_the_term() -> None:
    text = big_file().replace(
        '{ term = "topic101 term43", weight = 1.5 }',
        '{ term = "topic101 term43", weight = -1.5 }',
        1,
    )
    assert "keywords[44] ('topic101 term43'): 'weight'" in error_of(text)


# --------------------------------------------------------------------------- digest


def test_the_chart_of_a_big_file_draws_the_six_largest_categories_over_the_span() -> None:
    series = {f"Topic {n:03d}": [n, n % 7] for n in range(1, 121)}
    volume = VolumeSeries(["2025-04", "2025-05"], series, [5000, 6000])
    block = mermaid_xychart(volume, "Papers per category")
    drawn = [line.split('"')[1] for line in block.splitlines() if line.startswith("    line ")]
    assert drawn == ["Topic 118", "Topic 117", "Topic 120", "Topic 116", "Topic 119", "Topic 115"]
    assert legend_markdown(volume).count("·") == 5
