"""arXiv ids and months: the keys every other stage relies on."""

from datetime import UTC, datetime, timedelta

import pytest

from trenddigest.errors import InputError
from trenddigest.models import (
    OLD_ARCHIVES,
    InvalidArxivIdError,
    Month,
    Paper,
    current_month,
    id_month,
    papers_of,
    split_id,
)


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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.arxiv.org/abs/2505.01234", ("2505.01234", None)),
        ("http://export.arxiv.org/pdf/2505.01234v1", ("2505.01234", 1)),
        ("https://export.arxiv.org/pdf/2505.01234v2.pdf", ("2505.01234", 2)),
        ("http://www.arxiv.org/pdf/math/0601001v1", ("math/0601001", 1)),
        ("arXiv: 2505.01234", ("2505.01234", None)),
        ("arXiv:  math/0601001", ("math/0601001", None)),
        ("2505.01234V2", ("2505.01234", 2)),
        ("ARXIV:2505.01234V2", ("2505.01234", 2)),
        ("hep-th/0601001V3", ("hep-th/0601001", 3)),
    ],
)
def test_split_id_accepts_www_and_export_urls_a_spaced_prefix_and_a_capital_v(raw, expected):
    # Spellings people paste from browsers, mirrors and reference lists.
    assert split_id(raw, "2026-11") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "\uff12\uff15\uff10\uff15.\uff10\uff11\uff12\uff13\uff14",  # full-width digits
        "\u0662\u0665\u0660\u0665.01234",  # Arabic-Indic digits
        "math/\uff10\uff16\uff10\uff11001",
    ],
)
def test_an_id_with_digits_other_than_ascii_is_not_an_arxiv_id(raw):
    # Unicode digits would key the same paper twice and file it under a month
    # such as "2025-\uff10\uff15" that no month lookup finds.
    with pytest.raises(ValueError, match="not an arXiv identifier"):
        split_id(raw)


def test_id_month_of_an_id_with_unicode_digits_is_no_month():
    with pytest.raises(ValueError, match="not an arXiv identifier"):
        id_month("\uff12\uff15\uff10\uff15.\uff10\uff11\uff12\uff13\uff14")


@pytest.mark.parametrize("raw", ["", "hello", "2505.123", "12345.67890", "http://example.com/x"])
def test_split_id_rejects_what_is_not_an_arxiv_id(raw):
    with pytest.raises(ValueError, match="not an arXiv identifier"):
        split_id(raw)


def rejection(raw: str, latest: str = "2026-11") -> str:
    """Why split_id refuses ``raw`` (it must refuse it) in ``latest``, the current month."""
    with pytest.raises(InvalidArxivIdError) as err:
        split_id(raw, latest)
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


# -- new-style ids end at the current month ------------------------------------------


def test_new_style_id_of_the_current_month_is_accepted():
    assert split_id("2611.00001", latest="2026-11") == ("2611.00001", None)


def test_new_style_id_of_the_month_after_the_current_one_is_rejected():
    assert rejection("2612.00001", latest="2026-11") == (
        "YYMM 2612 is December 2026, after the current month (November 2026): "
        "arXiv has issued no such id yet"
    )


def test_new_style_id_9107_is_july_2091_and_rejected_as_in_the_future():
    assert rejection("9107.00001", latest="2026-11") == (
        "YYMM 9107 is July 2091, after the current month (November 2026): "
        "arXiv has issued no such id yet"
    )


def test_the_current_month_may_be_given_as_a_month():
    assert split_id("2611.00001", latest=Month(2026, 11)) == ("2611.00001", None)


def test_without_a_current_month_split_id_reads_the_clock():
    too_late = current_month().shift(1)
    with pytest.raises(InvalidArxivIdError, match="after the current month"):
        split_id(f"{too_late.yymm}.00001")


def test_the_current_month_is_that_of_utc_now():
    assert current_month(datetime(2026, 11, 15, 12, 0, tzinfo=UTC)) == Month(2026, 11)


def test_the_current_month_turns_when_it_is_next_month_in_utc_plus_14():
    last_evening = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 1 December, 00:00 in UTC+14
    assert current_month(last_evening - timedelta(seconds=1)) == Month(2026, 11)
    assert current_month(last_evening) == Month(2026, 12)


# -- new-style numbers: 4 digits up to 1412, 5 digits from 1501 ------------------------


def test_new_style_id_of_1412_with_a_4_digit_number_is_accepted():
    assert split_id("1412.9999") == ("1412.9999", None)


def test_new_style_id_before_1501_with_a_5_digit_number_names_its_month():
    # Not a number arXiv issued (4 digits until 1412), but a real month: kept, because
    # the benchmark's synthetic store of all of arXiv numbers 13,500 papers a month so.
    assert split_id("1412.00001") == ("1412.00001", None)


def test_new_style_id_of_1501_with_a_5_digit_number_is_accepted():
    assert split_id("1501.00001") == ("1501.00001", None)


def test_new_style_id_of_1501_with_a_4_digit_number_is_rejected():
    assert rejection("1501.0001") == (
        "YYMM 1501 takes a 5-digit number, as in 1501.00001: 4-digit numbers ended at 1412, "
        "December 2014"
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2505.00000", "number 00000 does not exist: numbering starts at 00001"),
        ("1205.0000", "number 0000 does not exist: numbering starts at 0001"),
        ("math/0601000", "number 000 does not exist: numbering starts at 001"),
    ],
)
def test_paper_number_zero_is_rejected(raw, reason):
    assert rejection(raw) == reason


# -- versions start at v1 --------------------------------------------------------------


@pytest.mark.parametrize("raw", ["2505.99999v0", "math/0601001v0"])
def test_version_0_is_rejected(raw):
    assert rejection(raw) == "version v0 does not exist: versions start at v1"


def test_version_1_is_accepted():
    assert split_id("2505.99999v1") == ("2505.99999", 1)


# -- old-style ids (archive/YYMMNNN): August 1991 to March 2007 -----------------------


def test_old_style_id_with_an_archive_arxiv_never_had_is_rejected_naming_it():
    assert rejection("foo/0601001") == (
        "archive 'foo' is not an arXiv archive: old-style ids begin with one such as "
        "math, hep-th or cond-mat, as in math/0601001"
    )


def test_old_style_id_with_a_subject_class_of_an_unknown_archive_names_the_archive():
    assert rejection("foo.AI/0601001").startswith("archive 'foo' is not an arXiv archive")


@pytest.mark.parametrize("archive", sorted(OLD_ARCHIVES))
def test_old_style_id_of_every_arxiv_archive_is_accepted(archive):
    assert split_id(f"{archive}/0601001") == (f"{archive}/0601001", None)


@pytest.mark.parametrize(
    ("raw", "expected"), [("math.GT/0309136", "math/0309136"), ("cs.AI/0101001", "cs/0101001")]
)
def test_old_style_id_with_a_subject_class_is_keyed_by_its_archive(raw, expected):
    assert split_id(raw) == (expected, None)


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


@pytest.mark.parametrize(
    "bad",
    ["2025-13", "2025-00", "25-05", "2025/05", "May 2025", "\uff12\uff10\uff12\uff15-\uff10\uff15"],
)
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


def test_messages_name_a_months_papers_by_id_or_by_announce_date():
    assert papers_of("submitted", "2025-05") == "from 2025-05 (by arXiv id)"
    assert papers_of("announced", "2025-05") == "announced in 2025-05"
    assert papers_of("submitted", "2025-04", "2025-07") == "from 2025-04 to 2025-07 (by arXiv id)"
    assert papers_of("announced", "2025-04", "2025-07") == "announced from 2025-04 to 2025-07"


# -- withdrawn papers ------------------------------------------------------------------

# Withdrawal notices as arXiv, its administrators and authors word them (in the comments
# or in place of the abstract); all synthetic.
WITHDRAWAL_NOTICES = [
    "The paper has been withdrawn by the authors",
    "This paper has been withdrawn",
    "Withdrawn due to a crucial error in the proof of Lemma 3",
    "Withdrawn: error in Theorem 2",
    "withdrawn, see 2301.00001 instead",
    "Withdrawn.",
    "The authors have withdrawn this paper due to an error",
    "We withdraw this paper because of an error in Section 2",
    "arXiv admin note: this paper has been withdrawn by arXiv administrators",
    "arXiv admin note: withdrawn by arXiv administrators due to text overlap",
    "This submission has been withdrawn by arXiv administrators due to text reuse",
    "This paper has been withdrawn from arXiv because of a flaw",
]
# Texts that mention a withdrawal without being a notice of this paper's.
NOT_WITHDRAWAL_NOTICES = [
    "This paper was withdrawn from NeurIPS 2023 and is under review elsewhere",
    "Paper withdrawn from ICLR; accepted at CVPR 2025",
    "Withdrawn users of social networks post less; we model why",
    "Withdrawn baselines are discussed in Section 4",
    "The authors have withdrawn their earlier claim of optimality",
    "arXiv admin note: text overlap with arXiv:2301.00001",
    "12 pages, 4 figures",
]


@pytest.mark.parametrize("notice", WITHDRAWAL_NOTICES)
def test_a_withdrawal_notice_in_the_comments_marks_the_paper_withdrawn(notice):
    assert Paper("2505.00001", "A Title", "An abstract.", comment=notice).withdrawn


@pytest.mark.parametrize("notice", WITHDRAWAL_NOTICES)
def test_a_withdrawal_notice_in_place_of_the_abstract_marks_the_paper_withdrawn(notice):
    assert Paper("2505.00001", "A Title", notice).withdrawn


@pytest.mark.parametrize("text", NOT_WITHDRAWAL_NOTICES)
def test_a_comment_that_only_mentions_a_withdrawal_leaves_the_paper_in(text):
    assert not Paper("2505.00001", "A Title", "An abstract.", comment=text).withdrawn


@pytest.mark.parametrize("text", NOT_WITHDRAWAL_NOTICES)
def test_an_abstract_that_only_mentions_a_withdrawal_leaves_the_paper_in(text):
    assert not Paper("2505.00001", "A Title", text).withdrawn


def test_a_paper_whose_comment_is_unknown_is_withdrawn_only_by_its_abstract():
    # A listing feed's record: no comment to read, the abstract still says it.
    assert not Paper("2505.00001", "A Title", "An abstract.", comment=None).withdrawn
    assert Paper("2505.00001", "A Title", WITHDRAWAL_NOTICES[0], comment=None).withdrawn


def test_a_paper_states_that_it_has_no_comment_unless_told_otherwise():
    # Only a source that cannot know the comment says None (see the store's merge).
    assert Paper("2505.00001", "A Title").comment == ""
