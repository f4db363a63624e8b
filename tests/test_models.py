"""arXiv ids and months: the keys every other stage relies on."""

import pytest

from trenddigest.errors import InputError
from trenddigest.models import Month, Paper, split_id, yymm_to_month


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2505.01234", ("2505.01234", None)),
        ("2505.01234v3", ("2505.01234", 3)),
        ("0704.0001", ("0704.0001", None)),
        ("http://arxiv.org/abs/2104.12255v1", ("2104.12255", 1)),
        ("https://arxiv.org/pdf/2205.12740.pdf", ("2205.12740", None)),
        ("oai:arXiv.org:2203.01250v3", ("2203.01250", 3)),
        ("arXiv:1503.02531", ("1503.02531", None)),
        ("math/0601001", ("math/0601001", None)),
        ("http://arxiv.org/abs/astro-ph/0601001v2", ("astro-ph/0601001", 2)),
        ("math.AG/0601001", ("math/0601001", None)),
    ],
)
def test_split_id_accepts_every_spelling_arxiv_uses(raw, expected):
    assert split_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "hello", "2505.123", "12345.67890", "http://example.com/x"])
def test_split_id_rejects_what_is_not_an_arxiv_id(raw):
    with pytest.raises(ValueError, match="not an arXiv identifier"):
        split_id(raw)


def test_yymm_maps_to_the_right_century():
    assert yymm_to_month("9108") == "1991-08"
    assert yymm_to_month("0704") == "2007-04"
    assert yymm_to_month("2505") == "2025-05"


def test_paper_month_comes_from_the_new_style_id():
    assert Paper(id="2505.01234", title="t").month == "2025-05"


def test_paper_month_comes_from_the_old_style_id():
    assert Paper(id="math/0601001", title="t").month == "2006-01"


def test_month_parses_and_prints_yyyy_mm():
    month = Month.parse("2025-05")
    assert (month.year, month.month, str(month), month.yymm) == (2025, 5, "2025-05", "2505")


@pytest.mark.parametrize("bad", ["2025-13", "2025-00", "25-05", "2025/05", "May 2025", "1990-01"])
def test_month_rejects_bad_values_with_the_fix(bad):
    with pytest.raises(InputError) as err:
        Month.parse(bad)
    assert str(err.value) == (
        f"invalid month {bad!r}: use YYYY-MM with a month from 01 to 12, e.g. 2025-05"
    )


def test_month_shift_crosses_year_boundaries():
    assert str(Month.parse("2025-01").shift(-1)) == "2024-12"
    assert str(Month.parse("2025-12").shift(1)) == "2026-01"
    assert str(Month.parse("2025-05").shift(-12)) == "2024-05"


def test_month_label_matches_the_seed_headings():
    assert Month.parse("2022-06").label == "June, 2022"
