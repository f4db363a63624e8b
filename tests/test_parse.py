"""Parsers: arXiv API Atom pages, listing feeds and JSON Lines records (bytes in, no I/O)."""

from __future__ import annotations

import gzip
import json
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from trenddigest.errors import InputError
from trenddigest.models import Paper
from trenddigest.sources.parse import (
    parse_api_page,
    parse_jsonl_record,
    parse_listing_feed,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def shared_record(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "2505.01001",
        "title": "Synthetic Lattice Priors",
        "authors": ["Ada Example", "Bo Placeholder"],
        "categories": ["cs.CV", "cs.LG"],
        "primary_category": "cs.CV",
        "abstract": "An invented\nabstract.",
        "comment": "12 pages",
        "id_yymm": "2505",
        "first_seen": "2025-05-05",
    }
    record.update(overrides)
    return record


def kaggle_record(**overrides: object) -> dict[str, object]:
    record = json.loads((FIXTURES / "kaggle.jsonl").read_text().splitlines()[0])
    record.update(overrides)
    return record


# --------------------------------------------------------------------- API pages


def test_api_page_reads_opensearch_header() -> None:
    page = parse_api_page(fixture_bytes("api_page.xml"))
    assert (page.total_results, page.start_index, page.items_per_page) == (57, 0, 4)


def test_api_page_maps_entry_to_paper() -> None:
    paper = parse_api_page(fixture_bytes("api_page.xml")).papers[0]
    assert paper == Paper(
        id="2505.01001",
        version=2,
        title="Synthetic Lattice Priors for Sparse-View Reconstruction",
        abstract=(
            "We describe an invented method used only as a test fixture. It places a "
            "lattice prior on sparse camera views & reports made-up gains where $a<b$."
        ),
        authors=["Ada Example", "Bo Placeholder"],
        categories=["cs.CV", "cs.LG"],
        primary_category="cs.CV",
        comment="12 pages, 4 figures (synthetic)",
        published="2025-05-02T17:59:01+00:00",
        updated="2025-05-20T08:00:00+00:00",
        source="api",
    )


def test_an_api_entry_without_arxiv_comment_states_that_the_paper_has_none() -> None:
    # The API writes arxiv:comment for every paper that has one: its absence is an answer.
    page = parse_api_page(fixture_bytes("api_page.xml"))
    assert [p.comment for p in page.papers] == ["12 pages, 4 figures (synthetic)", "", ""]


def test_api_primary_category_falls_back_to_first_category() -> None:
    paper = parse_api_page(fixture_bytes("api_page.xml")).papers[1]
    assert paper.primary_category == "cs.CL"


def test_api_old_style_id_is_split_from_its_version() -> None:
    paper = parse_api_page(fixture_bytes("api_page.xml")).papers[2]
    assert (paper.id, paper.version) == ("math/0601001", 1)


def test_api_entry_without_published_date_is_rejected_with_reason() -> None:
    page = parse_api_page(fixture_bytes("api_page.xml"))
    assert page.rejected == [("http://arxiv.org/abs/2505.01004v1", "missing <published>")]
    assert [p.id for p in page.papers] == ["2505.01001", "2505.01002", "math/0601001"]


def test_api_unparseable_timestamp_rejects_only_that_entry() -> None:
    body = fixture_bytes("api_page.xml").replace(
        b"<published>2025-05-03T09:30:00Z</published>", b"<published>yesterday</published>"
    )
    page = parse_api_page(body)
    assert [p.id for p in page.papers] == ["2505.01001", "math/0601001"]
    assert [ref for ref, _ in page.rejected] == [
        "http://arxiv.org/abs/2505.01002v1",
        "http://arxiv.org/abs/2505.01004v1",
    ]


def test_api_entry_without_published_date_is_logged_once_by_us_not_by_arxiv(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        parse_api_page(fixture_bytes("api_page.xml"))
    assert [(r.name, r.getMessage()) for r in caplog.records if "2505.01004" in r.getMessage()] == [
        (
            "trenddigest.sources.parse",
            "skipped an arXiv API entry: missing <published> (http://arxiv.org/abs/2505.01004v1)",
        )
    ]


def test_api_entry_with_an_impossible_id_is_rejected_with_the_reason() -> None:
    body = fixture_bytes("api_page.xml").replace(b"2505.01002", b"2513.01002")
    page = parse_api_page(body)
    assert [p.id for p in page.papers] == ["2505.01001", "math/0601001"]
    assert page.rejected[0] == (
        "http://arxiv.org/abs/2513.01002v1",
        "bad id 'http://arxiv.org/abs/2513.01002v1': month 13 in YYMM 2513 does not exist",
    )


def test_api_entry_with_an_id_after_the_current_month_is_rejected() -> None:
    body = fixture_bytes("api_page.xml").replace(b"2505.01002", b"2612.01002")
    page = parse_api_page(body, latest="2026-11")
    assert [p.id for p in page.papers] == ["2505.01001", "math/0601001"]
    assert page.rejected[0] == (
        "http://arxiv.org/abs/2612.01002v1",
        "bad id 'http://arxiv.org/abs/2612.01002v1': YYMM 2612 is December 2026, after the "
        "current month (November 2026): arXiv has issued no such id yet",
    )


def test_api_entry_with_version_0_is_rejected() -> None:
    body = fixture_bytes("api_page.xml").replace(b"2505.01002v1", b"2505.01002v0")
    page = parse_api_page(body)
    assert page.rejected[0][1] == (
        "bad id 'http://arxiv.org/abs/2505.01002v0': version v0 does not exist: "
        "versions start at v1"
    )


def test_api_legacy_format_parses() -> None:
    page = parse_api_page(fixture_bytes("api_page_legacy.xml"))
    assert (page.total_results, page.items_per_page, page.malformed) == (2, 10, False)
    assert [(p.id, p.version, p.primary_category) for p in page.papers] == [
        ("1205.0011", 3, "cond-mat.str-el"),
        ("cond-mat/0607999", 1, "cond-mat.supr-con"),
    ]


def test_api_legacy_format_abstract_is_unwrapped() -> None:
    paper = parse_api_page(fixture_bytes("api_page_legacy.xml")).papers[0]
    assert paper.abstract == (
        "A synthetic legacy-format abstract wrapped at seventy-odd columns the way the "
        "old API wrapped it."
    )


def test_api_error_feed_gives_arxiv_message_and_no_papers() -> None:
    page = parse_api_page(fixture_bytes("api_error.xml"))
    assert page.error == "incorrect id format for not-an-id"
    assert (page.papers, page.rejected, page.malformed) == ([], [], False)


def test_api_truncated_body_is_malformed() -> None:
    page = parse_api_page(fixture_bytes("api_truncated.xml"))
    assert page.malformed
    assert page.papers == []


def test_api_body_cut_at_any_point_is_malformed() -> None:
    body = fixture_bytes("api_page.xml")
    end = body.rindex(b"</feed>")
    not_flagged = [cut for cut in range(0, end, 23) if not parse_api_page(body[:cut]).malformed]
    assert not_flagged == []


def test_api_empty_body_is_malformed() -> None:
    assert parse_api_page(b"").malformed_reason == "empty body"


def test_api_feed_without_opensearch_header_is_malformed() -> None:
    page = parse_api_page(fixture_bytes("listing_atom.xml"))
    assert page.malformed
    assert page.malformed_reason == (
        "no opensearch:totalResults header (not an arXiv API response)"
    )


def test_api_complete_page_with_a_stray_control_character_is_still_read() -> None:
    body = fixture_bytes("api_page.xml").replace(b"Dana Sample", b"Dana\x0bSample")
    page = parse_api_page(body)
    assert not page.malformed
    assert len(page.papers) == 3


# ------------------------------------------------------------------ listing feeds


def test_rss_item_maps_to_paper() -> None:
    item = parse_listing_feed(fixture_bytes("listing_rss.xml")).papers[0]
    assert item.paper == Paper(
        id="2505.01001",
        version=1,
        title="Synthetic Lattice Priors for Sparse-View Reconstruction",
        abstract=(
            "We describe an invented method used only as a test fixture. It places a "
            "lattice prior on sparse camera views & reports made-up gains where $a<b$ holds."
        ),
        authors=["Ada Example", "Bo Placeholder", "Chen Fixture"],
        categories=["cs.CV", "cs.LG"],
        primary_category="cs.CV",
        comment=None,  # listing feeds carry no comments
        announced="2025-05-14",
        source="feed",
    )


@pytest.mark.parametrize("name", ["listing_rss.xml", "listing_atom.xml"])
def test_listing_feed_items_leave_the_comment_unknown(name: str) -> None:
    # Neither feed format has a comments element (format-specs-arxiv-docs): a feed's
    # paper is not one without comments, so it must not clear a stored comment.
    page = parse_listing_feed(fixture_bytes(name))
    assert page.papers and {i.paper.comment for i in page.papers} == {None}


def test_rss_announce_types_are_read() -> None:
    page = parse_listing_feed(fixture_bytes("listing_rss.xml"))
    assert [i.announce_type for i in page.papers] == ["new", "cross", "replace", "replace-cross"]


def test_rss_versions_come_from_the_guid() -> None:
    page = parse_listing_feed(fixture_bytes("listing_rss.xml"))
    assert [(i.paper.id, i.paper.version) for i in page.papers] == [
        ("2505.01001", 1),
        ("2505.01002", 1),
        ("2504.00003", 2),
        ("2409.00004", 3),
    ]


def test_rss_replacements_do_not_claim_the_paper_was_announced_that_day() -> None:
    page = parse_listing_feed(fixture_bytes("listing_rss.xml"))
    assert [(i.paper.announced, i.announced) for i in page.papers] == [
        ("2025-05-14", "2025-05-14"),
        ("2025-05-14", "2025-05-14"),
        (None, "2025-05-14"),
        (None, "2025-05-14"),
    ]


def test_rss_channel_date_and_skip_days_are_read() -> None:
    page = parse_listing_feed(fixture_bytes("listing_rss.xml"))
    assert (page.channel_date, page.skip_days, page.is_empty) == (
        "2025-05-14",
        ["Saturday", "Sunday"],
        False,
    )


def test_rss_abstract_keeps_latex_comparisons_verbatim() -> None:
    # feedparser treats <description> as HTML and would eat "$k<n$ and $n>m$".
    body = fixture_bytes("listing_rss.xml").replace(
        b"the benchmark it names does not exist.",
        b"we show $k&lt;n$ and $n&gt;m$ with &lt;script&gt; left as text.",
    )
    item = parse_listing_feed(body).papers[1]
    assert item.paper.abstract == (
        "This abstract is hand-written for tests; we show $k<n$ and $n>m$ with <script> "
        "left as text."
    )


def test_rss_item_without_an_arxiv_id_is_rejected() -> None:
    body = fixture_bytes("listing_rss.xml")
    body = body.replace(b"oai:arXiv.org:2505.01002v1", b"urn:something-else")
    body = body.replace(b"https://arxiv.org/abs/2505.01002", b"https://example.org/post")
    page = parse_listing_feed(body)
    assert len(page.papers) == 3
    assert page.rejected[0][0] == "urn:something-else"
    assert "no arXiv id" in page.rejected[0][1]


def test_rss_item_with_an_impossible_id_is_rejected_with_the_reason() -> None:
    body = fixture_bytes("listing_rss.xml").replace(b"2505.01002", b"2513.01002")
    page = parse_listing_feed(body)
    assert [i.paper.id for i in page.papers] == ["2505.01001", "2504.00003", "2409.00004"]
    assert page.rejected == [
        (
            "oai:arXiv.org:2513.01002v1",
            "bad id 'oai:arXiv.org:2513.01002v1': month 13 in YYMM 2513 does not exist",
        )
    ]


def test_rss_item_with_an_id_after_the_current_month_is_rejected() -> None:
    body = fixture_bytes("listing_rss.xml").replace(b"2505.01002", b"2506.01002")
    page = parse_listing_feed(body, latest="2025-05")
    assert [i.paper.id for i in page.papers] == ["2505.01001", "2504.00003", "2409.00004"]
    assert page.rejected == [
        (
            "oai:arXiv.org:2506.01002v1",
            "bad id 'oai:arXiv.org:2506.01002v1': YYMM 2506 is June 2025, after the current "
            "month (May 2025): arXiv has issued no such id yet",
        )
    ]


def test_rss_item_of_the_current_month_is_kept() -> None:
    page = parse_listing_feed(fixture_bytes("listing_rss.xml"), latest="2025-05")
    assert "2505.01002" in [i.paper.id for i in page.papers]


def test_atom_listing_feed_parses() -> None:
    page = parse_listing_feed(fixture_bytes("listing_atom.xml"))
    assert [(i.paper.id, i.paper.version, i.announce_type) for i in page.papers] == [
        ("2505.01002", 1, "new"),
        ("2503.00005", 2, "replace-cross"),
    ]
    assert page.channel_date == "2025-05-14"


def test_atom_listing_abstract_has_prefix_stripped_and_entities_decoded() -> None:
    item = parse_listing_feed(fixture_bytes("listing_atom.xml")).papers[0]
    assert item.paper.abstract == (
        "This abstract is hand-written for tests; it keeps $x<y$ and R&D verbatim."
    )
    assert item.paper.authors == ["Dana Sample", "Jo Synthetic"]


def test_empty_weekend_feed_is_valid_and_empty() -> None:
    page = parse_listing_feed(fixture_bytes("listing_rss_empty.xml"))
    assert (page.is_empty, page.papers, page.channel_date) == (True, [], "2025-05-17")
    assert page.skip_days == ["Saturday", "Sunday"]


def test_truncated_listing_feed_raises_input_error() -> None:
    body = fixture_bytes("listing_rss.xml")
    with pytest.raises(InputError, match="malformed listing feed"):
        parse_listing_feed(body[: body.index(b"Imaginary Diffusion")])


def test_listing_feed_cut_at_any_point_raises_input_error() -> None:
    body = fixture_bytes("listing_rss.xml")
    end = body.rindex(b"</rss>")
    accepted = []
    for cut in range(0, end, 31):
        try:
            parse_listing_feed(body[:cut])
        except InputError:
            continue
        accepted.append(cut)
    assert accepted == []


def test_bytes_that_are_not_a_feed_raise_input_error() -> None:
    with pytest.raises(InputError, match="malformed listing feed"):
        parse_listing_feed(b"<html><body>Service unavailable</body></html>")


# ------------------------------------------------------------------- JSON Lines


def test_shared_record_maps_to_paper() -> None:
    assert parse_jsonl_record(shared_record()) == Paper(
        id="2505.01001",
        title="Synthetic Lattice Priors",
        abstract="An invented abstract.",
        authors=["Ada Example", "Bo Placeholder"],
        categories=["cs.CV", "cs.LG"],
        primary_category="cs.CV",
        comment="12 pages",
        announced="2025-05-05",
        source="jsonl",
    )


def test_shared_record_null_comment_becomes_empty() -> None:
    assert parse_jsonl_record(shared_record(comment=None)).comment == ""


def test_shared_record_without_primary_uses_first_category() -> None:
    record = shared_record(primary_category=None, categories=["cs.CL", "cs.AI"])
    assert parse_jsonl_record(record).primary_category == "cs.CL"


def test_an_empty_comment_does_not_hide_the_comments_field() -> None:
    record = shared_record(comment="", comments="Withdrawn: an error in Lemma 2")
    assert parse_jsonl_record(record).comment == "Withdrawn: an error in Lemma 2"


@pytest.mark.parametrize(
    "stated",
    [{"comment": None}, {"comment": ""}, {"comment": "  \n"}, {"comment": None, "comments": None}],
    ids=["null", "empty", "blank", "both null"],
)
def test_a_record_with_a_comment_key_but_no_comment_states_that_the_paper_has_none(
    stated: dict[str, object],
) -> None:
    assert parse_jsonl_record(shared_record(**stated)).comment == ""


def test_a_kaggle_record_with_null_comments_states_that_the_paper_has_none() -> None:
    assert parse_jsonl_record(kaggle_record(comments=None)).comment == ""


def test_a_record_without_a_comment_key_leaves_the_comment_unknown() -> None:
    record = shared_record()
    del record["comment"]
    assert parse_jsonl_record(record).comment is None


def test_a_kaggle_record_without_a_comments_key_leaves_the_comment_unknown() -> None:
    record = kaggle_record()
    del record["comments"]
    assert parse_jsonl_record(record).comment is None


@pytest.mark.parametrize("value", [42, ["12 pages"], {"text": "12 pages"}, True])
def test_a_comment_that_is_no_text_leaves_the_comment_unknown(value: object) -> None:
    assert parse_jsonl_record(shared_record(comment=value)).comment is None


@pytest.mark.parametrize("first_seen", ["06/02/2025", "2025-13-01", "yesterday", "2025-06-3"])
def test_a_first_seen_that_is_no_date_is_no_announce_date_and_the_paper_is_kept(
    first_seen: str,
) -> None:
    paper = parse_jsonl_record(shared_record(first_seen=first_seen))
    assert (paper.id, paper.announced) == ("2505.01001", None)


@pytest.mark.parametrize("first_seen", ["2015-05-05", "1970-01-01T00:00:00Z", "2025-04-30"])
def test_a_first_seen_before_the_month_of_the_papers_id_is_no_announce_date(
    first_seen: str,
) -> None:
    # arXiv numbers a paper in the month it is submitted and announces it after.
    paper = parse_jsonl_record(shared_record(first_seen=first_seen))
    assert (paper.id, paper.announced) == ("2505.01001", None)


def test_a_first_seen_after_the_latest_possible_month_is_no_announce_date() -> None:
    paper = parse_jsonl_record(shared_record(first_seen="2025-07-01"), latest="2025-06")
    assert paper.announced is None


@pytest.mark.parametrize("first_seen", ["2025-08-01", "2026-04-09"])
def test_a_first_seen_three_months_or_more_after_the_papers_id_is_a_relisting_not_its_announcement(
    first_seen: str,
) -> None:
    # A crawl that first saw a 2505 paper in 2026 saw a cross-list or a new version.
    paper = parse_jsonl_record(shared_record(first_seen=first_seen), latest="2026-11")
    assert paper.announced is None


def test_a_first_seen_two_months_after_the_papers_id_is_still_its_announce_date() -> None:
    paper = parse_jsonl_record(shared_record(first_seen="2025-07-31"), latest="2026-11")
    assert paper.announced == "2025-07-31"


def test_a_first_seen_months_after_the_papers_id_is_its_announce_date() -> None:
    # A paper held in moderation is announced in a later month than its id's.
    paper = parse_jsonl_record(shared_record(first_seen="2025-06-02"), latest="2025-06")
    assert paper.announced == "2025-06-02"


def test_a_first_seen_with_a_time_gives_its_date() -> None:
    paper = parse_jsonl_record(shared_record(first_seen="2025-05-05T20:00:00-04:00"))
    assert paper.announced == "2025-05-05"


@pytest.mark.parametrize("categories", ["cs.CV, cs.LG", "cs.CV,cs.LG", " cs.CV ,  cs.LG "])
def test_a_comma_separated_category_string_keeps_every_category(categories: str) -> None:
    paper = parse_jsonl_record(kaggle_record(categories=categories))
    assert (paper.categories, paper.primary_category) == (["cs.CV", "cs.LG"], "cs.CV")


@pytest.mark.parametrize(
    "categories",
    [["bogus", "cs.CV", "I.2.7", "68T07", "cs.LG"], "bogus cs.CV I.2.7 68T07 cs.LG"],
    ids=["list", "string"],
)
def test_categories_of_no_arxiv_archive_are_dropped_acm_and_msc_classes_too(
    categories: object,
) -> None:
    paper = parse_jsonl_record(shared_record(categories=categories, primary_category="bogus"))
    assert (paper.categories, paper.primary_category) == (["cs.CV", "cs.LG"], "cs.CV")


def test_categories_of_old_archives_are_kept() -> None:
    paper = parse_jsonl_record(shared_record(categories=["chao-dyn", "solv-int"]))
    assert paper.categories == ["chao-dyn", "solv-int"]


def test_category_list_items_are_trimmed() -> None:
    paper = parse_jsonl_record(
        shared_record(categories=[" cs.CV", "cs.LG "], primary_category=None)
    )
    assert (paper.categories, paper.primary_category) == (["cs.CV", "cs.LG"], "cs.CV")


def test_record_with_a_digit_other_than_ascii_in_its_id_is_rejected() -> None:
    # An Arabic-Indic one (U+0661) would store the paper again under a phantom id.
    with pytest.raises(ValueError, match="bad id '2505.0\u0661001'"):
        parse_jsonl_record(shared_record(id="2505.0\u0661001"), "2026-11")


def test_shared_record_author_names_are_trimmed() -> None:
    record = shared_record(authors=[" Ada  Example", "", "Bo\nPlaceholder"])
    assert parse_jsonl_record(record).authors == ["Ada Example", "Bo Placeholder"]


@pytest.mark.parametrize(
    "raw",
    [
        "Plain title",
        "  padded title  ",
        "wrapped\n  title",
        "tab\tseparated",
        "non\u00a0breaking and thin\u2009spaces",
        "line\u2028separator",
        "double  space",
        "control\x1fchar",
    ],
)
def test_title_whitespace_collapses_like_str_split(raw: str) -> None:
    assert parse_jsonl_record(shared_record(title=raw)).title == " ".join(raw.split())


def test_every_whitespace_character_collapses_to_one_space() -> None:
    spaces = [chr(i) for i in range(0x110000) if chr(i).isspace()]
    titles = {parse_jsonl_record(shared_record(title=f"a{c}b")).title for c in spaces}
    assert titles == {"a b"}


def test_kaggle_record_dates_come_from_first_and_last_version() -> None:
    paper = parse_jsonl_record(kaggle_record())
    assert (paper.published, paper.updated, paper.version) == (
        "2025-05-02T17:59:01+00:00",
        "2025-05-20T08:00:00+00:00",
        2,
    )


def test_kaggle_record_maps_categories_comments_and_source() -> None:
    paper = parse_jsonl_record(kaggle_record())
    assert (paper.categories, paper.primary_category, paper.comment, paper.source) == (
        ["cs.CV", "cs.LG"],
        "cs.CV",
        "12 pages, 4 figures",
        "kaggle",
    )


def test_kaggle_authors_come_from_authors_parsed() -> None:
    paper = parse_jsonl_record(kaggle_record())
    assert paper.authors == ["Ada Example", "Bo Placeholder", "Chen Fixture"]


def test_kaggle_author_string_is_split_when_authors_parsed_is_absent() -> None:
    record = kaggle_record(authors="A. One, B. Two and C. Three")
    del record["authors_parsed"]
    assert parse_jsonl_record(record).authors == ["A. One", "B. Two", "C. Three"]


# -- author strings (Kaggle and .abs-derived records): names only, split between names


def kaggle_authors(authors: str) -> list[str]:
    """The names read from a Kaggle record's author string (no ``authors_parsed``)."""
    record = kaggle_record(authors=authors)
    del record["authors_parsed"]
    return parse_jsonl_record(record).authors


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        ("A. One, B. Two, and C. Three", ["A. One", "B. Two", "C. Three"]),
        ("A. One, B. Two,and C. Three", ["A. One", "B. Two", "C. Three"]),
        ("A. One and B. Two", ["A. One", "B. Two"]),
        ("Alexander Andand, Sand And", ["Alexander Andand", "Sand And"]),
    ],
)
def test_an_author_string_is_split_at_commas_and_a_final_and(
    authors: str, expected: list[str]
) -> None:
    assert kaggle_authors(authors) == expected


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (
            "A. One (1 and 2), B. Two (1 and 3) ((1) Invented Institute, Nowhere, "
            "(2) Fictional Lab and Studio, (3) Made-up University)",
            ["A. One", "B. Two"],
        ),
        ("A. One (1,2) and B. Two (2), ((1) Lab A, (2) Lab B)", ["A. One", "B. Two"]),
        ("A. One (Lab of Pretend, Nowhere), B. Two (Mock U.)", ["A. One", "B. Two"]),
        ("A. One (1), B. Two (2); (1 - Invented College; 2 - Fictional Lab)", ["A. One", "B. Two"]),
        ("A. One (for the Example Collaboration)", ["A. One"]),
        ("A. One (Unclosed Institute, Nowhere", ["A. One"]),
    ],
)
def test_affiliations_in_parentheses_are_no_authors(authors: str, expected: list[str]) -> None:
    # arXiv's author field carries affiliations in parentheses, numbered or not; a
    # comma or an "and" inside them separates no authors.
    assert kaggle_authors(authors) == expected


def test_an_author_string_in_a_shared_record_is_split_the_same_way() -> None:
    record = shared_record(authors="A. One (Lab, Nowhere), B. Two, and C. Three")
    assert parse_jsonl_record(record).authors == ["A. One", "B. Two", "C. Three"]


# -- TeX accents in JSON Lines names and titles (arXiv's metadata keeps them as typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("C. Bal\\'azs", "C. Bal\u00e1zs"),
        ("C. Bal{\\'a}zs", "C. Bal\u00e1zs"),
        ("C. Bal\\'{a}zs", "C. Bal\u00e1zs"),
        ('J. M\\"uller', "J. M\u00fcller"),
        ('J. M\\"{u}ller', "J. M\u00fcller"),
        ("R. Tom\\`as", "R. Tom\u00e0s"),
        ("C. Provid\\^encia", "C. Provid\u00eancia"),
        ("J. Nu\\~nez", "J. Nu\u00f1ez"),
        ("F. Fran\\c{c}ois", "F. Fran\u00e7ois"),
        ("F. Fran\\c cois", "F. Fran\u00e7ois"),
        ("R. \\v{S}r\\'amek", "R. \u0160r\u00e1mek"),
        ("G. Juzeli\\=unas", "G. Juzeli\u016bnas"),
        ("K. \\.Zak", "K. \u017bak"),
        ("A. Gr\\u{a}dinaru", "A. Gr\u0103dinaru"),
        ("P. Erd\\H{o}s", "P. Erd\u0151s"),
        ("R. D\\'{\\i}az", "R. D\u00edaz"),
        ("R. D\\'\\i az", "R. D\u00edaz"),
        ("M. {\\O}bro", "M. \u00d8bro"),
        ("M. \\O bro", "M. \u00d8bro"),
        ("K. Bj{\\o}rn", "K. Bj\u00f8rn"),
        ("U. Mei{\\ss}ner", "U. Mei\u00dfner"),
        ('A. {\\AA}ngstr\\"om', "A. \u00c5ngstr\u00f6m"),
        ("L. M{\\aa}rtensson", "L. M\u00e5rtensson"),
        ("S. S{\\ae}mundsson", "S. S\u00e6mundsson"),
        ("Z. Pucha{\\l}a", "Z. Pucha\u0142a"),
    ],
)
def test_tex_accents_in_an_author_string_become_unicode(typed: str, expected: str) -> None:
    assert kaggle_authors(f"{typed}, B. Two") == [expected, "B. Two"]


def test_tex_accents_in_authors_parsed_become_unicode() -> None:
    record = kaggle_record(authors_parsed=[['M\\"uller', 'J\\"org', ""]])
    assert parse_jsonl_record(record).authors == ["J\u00f6rg M\u00fcller"]


def test_tex_accents_in_an_author_list_become_unicode() -> None:
    record = shared_record(authors=["C. Bal\\'azs", "Bo Placeholder"])
    assert parse_jsonl_record(record).authors == ["C. Bal\u00e1zs", "Bo Placeholder"]


def test_tex_accents_in_a_title_become_unicode_and_its_math_stays_as_typed() -> None:
    title = "The Schr\\\"odinger Map and Koll\\'ar's Bound for $\\vec{v}$, $\\Omega_b$"
    paper = parse_jsonl_record(kaggle_record(title=title))
    assert paper.title == (
        "The Schr\u00f6dinger Map and Koll\u00e1r's Bound for $\\vec{v}$, $\\Omega_b$"
    )


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("M$^3$-VQA", "M³-VQA"),
        ("M\\textsuperscript{4}Fuse", "M⁴Fuse"),
        ("\\textit{4DSurf}: Surfaces", "4DSurf: Surfaces"),
        ("$\\textit{Don't Guess, Just Ask}$", "Don't Guess, Just Ask"),
        ("Worth Time $\\times$ Channel Patches", "Worth Time × Channel Patches"),
        ("360$^\\circ$ Video", "360° Video"),
        ("$μ^2$Tokenizer", "μ²Tokenizer"),
        ("$\\alpha$-Divergence and x$_{1}$", "α-Divergence and x₁"),
        ("Bounds $O(n^2 \\log n)$", "Bounds $O(n^2 \\log n)$"),  # more than scripts: as typed
        ("Costs $5 and $10", "Costs $5 and $10"),  # no formula
        ("Strongly Solving $7 \\times 6$ Connect-Four", "Strongly Solving 7 × 6 Connect-Four"),
        ("$n \\ge 3$ Agents", "n ≥ 3 Agents"),
        ("$\\alpha \\beta$-VAE", "αβ-VAE"),  # TeX shows no space typed in math
        ("Scaling $\\times 10$ Faster", "Scaling ×10 Faster"),  # no left operand
        ("\\textbf{\\emph{Bold}} Claims", "Bold Claims"),
    ],
)
def test_tex_markup_in_a_title_shows_as_the_text_it_typesets(typed: str, shown: str) -> None:
    assert parse_jsonl_record(shared_record(title=typed)).title == shown


def test_tex_markup_in_an_api_title_shows_as_the_text_it_typesets() -> None:
    body = fixture_bytes("api_page.xml").replace(
        b"A Fictional Benchmark for Caption Grounding", b"M$^3$-Bench for Caption Grounding"
    )
    titles = [p.title for p in parse_api_page(body).papers]
    assert "M³-Bench for Caption Grounding" in titles


# -- authors_parsed entries that are not text


@pytest.mark.parametrize("entry", [["Example", 1, ""], ["Example", ["Ada"], ""], [{"a": 1}]])
def test_a_kaggle_record_with_an_authors_parsed_entry_that_is_not_text_is_rejected(
    entry: list[object],
) -> None:
    record = kaggle_record(authors_parsed=[["Placeholder", "Bo", ""], entry])
    with pytest.raises(ValueError) as info:
        parse_jsonl_record(record)
    assert str(info.value) == (
        "bad authors_parsed entry 2: expected [last name, first names, suffix] as text"
    )


def test_kaggle_old_style_id_is_kept() -> None:
    line = (FIXTURES / "kaggle.jsonl").read_text().splitlines()[1]
    paper = parse_jsonl_record(json.loads(line))
    assert (paper.id, paper.month, paper.published) == (
        "math/0601001",
        "2006-01",
        "2006-01-01T12:00:00+00:00",
    )


def test_record_without_title_raises_value_error() -> None:
    with pytest.raises(ValueError, match="missing title"):
        parse_jsonl_record(shared_record(title="  "))


def test_record_with_bad_id_raises_value_error() -> None:
    with pytest.raises(ValueError, match="bad id 'not-an-id'"):
        parse_jsonl_record(shared_record(id="not-an-id"))


def test_record_with_month_13_in_its_id_is_rejected() -> None:
    with pytest.raises(ValueError) as err:
        parse_jsonl_record(shared_record(id="2513.12345"))
    assert str(err.value) == "bad id '2513.12345': month 13 in YYMM 2513 does not exist"


def test_record_with_month_00_in_its_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="^bad id '2500.12345': month 00 in YYMM 2500"):
        parse_jsonl_record(shared_record(id="2500.12345"))


def test_record_with_id_9999_is_rejected_not_filed_under_1999() -> None:
    with pytest.raises(ValueError, match="^bad id '9999.99999': month 99 in YYMM 9999"):
        parse_jsonl_record(shared_record(id="9999.99999"))


def test_record_with_a_new_style_id_before_april_2007_is_rejected() -> None:
    with pytest.raises(ValueError, match="^bad id '0703.00001': YYMM 0703 is too early"):
        parse_jsonl_record(shared_record(id="0703.00001"))


def test_record_with_the_first_new_style_month_is_kept() -> None:
    assert parse_jsonl_record(shared_record(id="0704.0001")).month == "2007-04"


def test_record_with_an_old_style_id_after_march_2007_is_rejected() -> None:
    with pytest.raises(ValueError, match="^bad id 'math/0704001': YYMM 0704 is out of range"):
        parse_jsonl_record(shared_record(id="math/0704001"))


def test_record_with_an_id_after_the_current_month_is_rejected() -> None:
    with pytest.raises(ValueError) as err:
        parse_jsonl_record(shared_record(id="2612.00001"), latest="2026-11")
    assert str(err.value) == (
        "bad id '2612.00001': YYMM 2612 is December 2026, after the current month "
        "(November 2026): arXiv has issued no such id yet"
    )


def test_record_of_the_current_month_is_kept() -> None:
    assert parse_jsonl_record(shared_record(id="2611.00001"), latest="2026-11").id == "2611.00001"


def test_record_with_id_9107_is_rejected_not_filed_under_2091() -> None:
    with pytest.raises(ValueError, match="^bad id '9107.00001': YYMM 9107 is July 2091, after"):
        parse_jsonl_record(shared_record(id="9107.00001"), latest="2026-11")


def test_record_with_a_5_digit_number_before_1501_is_kept_under_its_month() -> None:
    assert parse_jsonl_record(shared_record(id="1412.00001")).month == "2014-12"


def test_record_with_a_4_digit_number_from_1501_is_rejected() -> None:
    with pytest.raises(ValueError, match="^bad id '2505.0001': YYMM 2505 takes a 5-digit"):
        parse_jsonl_record(shared_record(id="2505.0001"))


def test_record_with_number_zero_is_rejected() -> None:
    with pytest.raises(ValueError, match="^bad id '2505.00000': number 00000 does not exist"):
        parse_jsonl_record(shared_record(id="2505.00000"))


def test_record_with_version_0_is_rejected() -> None:
    with pytest.raises(ValueError) as err:
        parse_jsonl_record(shared_record(id="2505.99999v0"))
    assert str(err.value) == (
        "bad id '2505.99999v0': version v0 does not exist: versions start at v1"
    )


def test_kaggle_record_whose_last_version_is_v0_is_rejected() -> None:
    record = kaggle_record(versions=[{"version": "v0", "created": "Fri, 2 May 2025 17:59:01 GMT"}])
    with pytest.raises(ValueError, match="^version v0 does not exist: versions start at v1$"):
        parse_jsonl_record(record)


def test_record_with_an_old_style_archive_arxiv_never_had_is_rejected() -> None:
    with pytest.raises(ValueError) as err:
        parse_jsonl_record(shared_record(id="foo/0601001"))
    assert str(err.value) == (
        "bad id 'foo/0601001': archive 'foo' is not an arXiv archive: old-style ids begin "
        "with one such as math, hep-th or cond-mat, as in math/0601001"
    )


def test_record_whose_id_is_no_string_says_so() -> None:
    record = shared_record() | {"id": 5}
    with pytest.raises(ValueError) as caught:
        parse_jsonl_record(record)
    assert str(caught.value) == 'id must be a string such as "2505.01234", got 5'


def test_record_whose_id_is_no_arxiv_id_says_what_one_looks_like() -> None:
    record = shared_record() | {"id": "2604.12345v"}
    with pytest.raises(ValueError) as caught:
        parse_jsonl_record(record)
    assert str(caught.value) == (
        "bad id '2604.12345v': not an arXiv id such as 2505.01234, 2505.01234v2 or math/0601001"
    )


def test_record_without_id_raises_value_error() -> None:
    record = shared_record()
    del record["id"]
    with pytest.raises(ValueError, match="missing id"):
        parse_jsonl_record(record)


def test_kaggle_record_with_bad_version_date_raises_value_error() -> None:
    record = kaggle_record(versions=[{"version": "v1", "created": "sometime in May"}])
    with pytest.raises(ValueError, match="bad version date"):
        parse_jsonl_record(record)


# ------------------------------------------------ real recorded data in ../shared


@pytest.fixture
def arxiv_data(shared_dir: Path) -> Path:
    return shared_dir / "data" / "arxiv"


def recorded_api_responses(arxiv_data: Path) -> list[tuple[str, int, str, bytes]]:
    """(name, status, url, body bytes) for each recorded arxiv.py golden file.

    The recorder stored the UTF-8 body decoded as Latin-1 ("WÃ¼bben"), so encoding
    back to Latin-1 restores the exact bytes arXiv sent.
    """
    out = []
    for path in sorted((arxiv_data / "arxivpy-fixtures" / "api-json").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        out.append(
            (path.name, record["status_code"], record["url"], record["body"].encode("latin-1"))
        )
    return out


@pytest.mark.shared
def test_real_api_bodies_all_parse_without_losing_entries(arxiv_data: Path) -> None:
    responses = recorded_api_responses(arxiv_data)
    assert len(responses) == 20
    for name, _, _, body in responses:
        page = parse_api_page(body)
        entries = len(re.findall(rb"<entry>", body))
        assert not page.malformed, name
        if page.error is None:
            assert (len(page.papers), page.rejected) == (entries, []), name


@pytest.mark.shared
def test_real_api_headers_match_the_recorded_queries(arxiv_data: Path) -> None:
    totals = set()
    for name, status, url, body in recorded_api_responses(arxiv_data):
        if status != 200:
            continue
        query = parse_qs(urlsplit(url).query)
        page = parse_api_page(body)
        assert page.start_index == int(query["start"][0]), name
        assert page.items_per_page == int(query["max_results"][0]), name
        expected = min(page.items_per_page, max(page.total_results - page.start_index, 0))
        assert len(page.papers) == expected, name
        if "search_query=testing" in url:
            totals.add(page.total_results)
    assert len(totals) == 1  # every page of one query reports the same total


@pytest.mark.shared
def test_real_error_feed_gives_arxiv_message(arxiv_data: Path) -> None:
    [(status, body)] = [
        (status, body)
        for name, status, _, body in recorded_api_responses(arxiv_data)
        if name.startswith("id_abc")
    ]
    page = parse_api_page(body)
    assert (status, page.error, page.papers) == (400, "incorrect id format for abc", [])


@pytest.mark.shared
def test_real_empty_result_feeds_are_empty_not_malformed(arxiv_data: Path) -> None:
    for name, _, _, body in recorded_api_responses(arxiv_data):
        if name.startswith(("id_0000.0000", "id_0808.05394_s0")):
            page = parse_api_page(body)
            assert (page.total_results, page.papers, page.malformed, page.error) == (
                0,
                [],
                False,
                None,
            ), name


@pytest.mark.shared
def test_real_old_style_ids_are_normalised(arxiv_data: Path) -> None:
    found = {}
    for name, _, _, body in recorded_api_responses(arxiv_data):
        if "-ph_" in name:
            paper = parse_api_page(body).papers[0]
            found[paper.id] = (paper.version, paper.primary_category)
    assert found == {"astro-ph/0601001": (1, "astro-ph"), "quant-ph/0201082": (1, "quant-ph")}


@pytest.mark.shared
def test_real_non_ascii_author_names_survive(arxiv_data: Path) -> None:
    [body] = [
        body
        for name, _, _, body in recorded_api_responses(arxiv_data)
        if name.startswith("id_1707.08567")
    ]
    assert "Dirk Wübben" in parse_api_page(body).papers[0].authors


@pytest.mark.shared
def test_real_legacy_format_feeds_parse(arxiv_data: Path) -> None:
    files = sorted((arxiv_data / "arxivpy-fixtures" / "api-xml-legacy").glob("*.xml"))
    assert len(files) == 5
    for path in files:
        body = path.read_bytes()
        page = parse_api_page(body)
        assert not page.malformed, path.name
        assert len(page.papers) == body.count(b"<entry>") > 0, path.name
        assert all(p.published and p.updated and p.primary_category for p in page.papers)


@pytest.mark.shared
def test_real_legacy_old_style_id_is_normalised(arxiv_data: Path) -> None:
    path = arxiv_data / "arxivpy-fixtures" / "api-xml-legacy"
    body = (path / "search_query_au_del_maestro_AND_ti_quantum_criticality.xml").read_bytes()
    ids = [(p.id, p.version) for p in parse_api_page(body).papers]
    assert ("cond-mat/0607501", 2) in ids


@pytest.mark.shared
def test_real_abs_derived_records_map_with_version_dates(arxiv_data: Path) -> None:
    path = arxiv_data / "arxiv-browse" / "abs-0704" / "papers_0704.derived.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        papers = [parse_jsonl_record(json.loads(line)) for line in lines]
    assert len(papers) == 1001
    assert all(p.published and p.published <= (p.updated or "") for p in papers)
    assert papers[0].id == "0704.0001"


def test_control_characters_in_a_title_or_abstract_are_dropped():
    record = shared_record(title="Bell\x07 and \x1b[31mred\x1b[0m", abstract="A\x00b\tc\x85d")
    paper = parse_jsonl_record(record)
    assert paper.title == "Bell and [31mred [0m"
    assert paper.abstract == "A b c d"
