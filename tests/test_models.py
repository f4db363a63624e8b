"""arXiv ids and months: the keys every other stage relies on."""

import pytest

from trenddigest.errors import InputError
from trenddigest.models import InvalidArxivIdError, Month, Paper, id_month, split_id


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


def rejection(raw: str) -> str:
    """Why split_id refuses ``raw`` (it must refuse it)."""
    with pytest.raises(InvalidArxivIdError) as err:
        split_id(raw)
    return err.value.reason


# -- new-style ids (YYMM.NNNN / YYMM.NNNNN): April 2007 onwards, always 20YY ----------


def test_new_style_id_of_the_first_month_is_april_2007():
    assert id_month("0704.0001") == "2007-04"


def test_new_style_id_before_april_2007_is_rejected():
    assert rejection("0703.0001") == (
        "YYMM 0703 is too early: ids like 0704.0001 start at 0704, April 2007"
    )


def test_new_style_id_with_month_13_is_rejected():
    assert rejection("2513.12345") == "month 13 in YYMM 2513 does not exist"


def test_new_style_id_with_month_00_is_rejected():
    assert rejection("0000.00000") == "month 00 in YYMM 0000 does not exist"


def test_new_style_id_9999_is_month_99_of_2099_and_rejected():
    assert rejection("9999.99999") == "month 99 in YYMM 9999 does not exist"


def test_new_style_id_from_the_nineties_digits_is_in_the_2090s():
    assert id_month("9912.12345") == "2099-12"


def test_new_style_id_with_month_12_is_accepted():
    assert id_month("2512.00001") == "2025-12"


def test_impossible_id_is_rejected_whatever_its_spelling():
    assert rejection("https://arxiv.org/abs/2513.12345v2") == "month 13 in YYMM 2513 does not exist"


def test_impossible_id_error_is_a_value_error_naming_the_id_and_the_reason():
    with pytest.raises(ValueError) as err:
        split_id("2513.12345")
    assert str(err.value) == (
        "not an arXiv identifier: '2513.12345' (month 13 in YYMM 2513 does not exist)"
    )


# -- old-style ids (archive/YYMMNNN): August 1991 to March 2007 -----------------------


def test_old_style_id_of_the_first_month_is_august_1991():
    assert id_month("hep-th/9108001") == "1991-08"


def test_old_style_id_before_august_1991_is_rejected():
    assert rejection("hep-th/9107001") == (
        "YYMM 9107 is out of range: ids like math/0601001 ran from 9108 to 0703, "
        "August 1991 to March 2007"
    )


def test_old_style_id_of_the_last_month_is_march_2007():
    assert id_month("math/0703001") == "2007-03"


def test_old_style_id_after_march_2007_is_rejected():
    assert rejection("math/0704001") == (
        "YYMM 0704 is out of range: ids like math/0601001 ran from 9108 to 0703, "
        "August 1991 to March 2007"
    )


def test_old_style_id_from_the_nineties_is_in_the_1990s():
    assert id_month("hep-th/9912001") == "1999-12"


def test_old_style_id_with_month_13_is_rejected():
    assert rejection("math/0613001") == "month 13 in YYMM 0613 does not exist"


def test_old_style_id_with_month_00_is_rejected():
    assert rejection("math/0000001") == "month 00 in YYMM 0000 does not exist"


def test_paper_month_comes_from_the_new_style_id():
    assert Paper(id="2505.01234", title="t").month == "2025-05"


def test_paper_month_comes_from_the_old_style_id():
    assert Paper(id="math/0601001", title="t").month == "2006-01"


def test_month_parses_and_prints_yyyy_mm():
    month = Month.parse("2025-05")
    assert (month.year, month.month, str(month), month.yymm) == (2025, 5, "2025-05", "2505")


@pytest.mark.parametrize("bad", ["2025-13", "2025-00", "25-05", "2025/05", "May 2025"])
def test_month_rejects_bad_values_with_the_fix(bad):
    with pytest.raises(InputError) as err:
        Month.parse(bad)
    assert str(err.value) == (
        f"invalid month {bad!r}: use YYYY-MM with a month from 01 to 12, e.g. 2025-05"
    )


@pytest.mark.parametrize("early", ["1991-07", "1985-01", "0000-01"])
def test_a_month_before_arxiv_began_is_refused_saying_so(early):
    with pytest.raises(InputError) as err:
        Month.parse(early)
    assert str(err.value) == (
        f"invalid month {early!r}: arXiv began in August 1991; give 1991-08 or later"
    )


def test_the_first_arxiv_month_is_accepted():
    assert str(Month.parse("1991-08")) == "1991-08"


def test_month_shift_crosses_year_boundaries():
    assert str(Month.parse("2025-01").shift(-1)) == "2024-12"
    assert str(Month.parse("2025-12").shift(1)) == "2026-01"
    assert str(Month.parse("2025-05").shift(-12)) == "2024-05"


def test_month_label_matches_the_seed_headings():
    assert Month.parse("2022-06").label == "June, 2022"
