"""Hostile or malformed input must not reach a reader, a terminal or the machine's memory.

Every record here is synthetic.  Sizes are capped through the importer's module limits
(monkeypatched small), so each test reads kilobytes, not the gigabytes it stands for.
"""

import gzip
import json

import pytest

from trenddigest.cli import main
from trenddigest.deliver import render_email_html
from trenddigest.errors import InputError
from trenddigest.models import Month, Paper
from trenddigest.rank import RankedPaper, Ranking
from trenddigest.render import build_digest, md_escape, render_markdown
from trenddigest.sources import files
from trenddigest.sources.files import Parsed, Rejected, iter_file
from trenddigest.sources.parse import parse_api_page, parse_jsonl_record, parse_listing_feed

MAY = Month(2025, 5)
# Closes the code span the digest puts the primary category in, then adds a link.
BREAKOUT = "cs.CV` [click](javascript:alert(1)) ![t](http://evil.example/t.png) `"
TERMINAL = "\x1b[2J\x1b[31mcs.LG"


def test_jsonl_categories_that_are_no_arxiv_category_are_dropped():
    record = {
        "id": "2505.00001",
        "title": "A title",
        "categories": [BREAKOUT, "cs.AI", TERMINAL, "cs.LG\n## heading"],
        "primary_category": BREAKOUT,
    }
    paper = parse_jsonl_record(record, MAY)
    assert (paper.categories, paper.primary_category) == (["cs.AI"], "cs.AI")


def test_kaggle_category_string_keeps_real_categories_only():
    record = {
        "id": "2505.00001",
        "title": "A title",
        "categories": "cond-mat.stat-mech q-bio.NC `x` hep-th \x1b[5m",
        "versions": [{"version": "v1", "created": "Thu, 1 May 2025 10:00:00 GMT"}],
    }
    paper = parse_jsonl_record(record, MAY)
    assert paper.categories == ["cond-mat.stat-mech", "q-bio.NC", "hep-th"]


API_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
<opensearch:totalResults>1</opensearch:totalResults>
<opensearch:startIndex>0</opensearch:startIndex>
<opensearch:itemsPerPage>1</opensearch:itemsPerPage>
<entry><id>http://arxiv.org/abs/2505.00001v1</id>
<updated>2025-05-01T00:00:00Z</updated><published>2025-05-01T00:00:00Z</published>
<title>A title</title><summary>An abstract.</summary><author><name>A</name></author>
<arxiv:primary_category term="{term}"/><category term="{term}"/><category term="cs.CV"/>
</entry></feed>"""


def test_api_page_category_terms_that_are_no_arxiv_category_are_dropped():
    term = BREAKOUT.replace('"', "&quot;")
    page = parse_api_page(API_PAGE.format(term=term).encode(), MAY)
    (paper,) = page.papers
    assert (paper.categories, paper.primary_category) == (["cs.CV"], "cs.CV")


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom"
     version="2.0"><channel><title>cs.CV updates</title><link>http://rss.arxiv.org/rss/cs.CV</link>
<description>x</description><pubDate>Thu, 01 May 2025 00:00:00 -0400</pubDate>
<item><title>A title</title><link>https://arxiv.org/abs/2505.00002</link>
<description>arXiv:2505.00002v1 Announce Type: new
Abstract: An abstract.</description><guid isPermaLink="false">oai:arXiv.org:2505.00002v1</guid>
<category>{term}</category><category>cs.CV</category>
<arxiv:announce_type>new</arxiv:announce_type><dc:creator>B</dc:creator></item>
</channel></rss>"""


def test_listing_feed_category_that_is_no_arxiv_category_is_dropped():
    page = parse_listing_feed(RSS.format(term=BREAKOUT).encode(), MAY)
    (item,) = page.papers
    assert (item.paper.categories, item.paper.primary_category) == (["cs.CV"], "cs.CV")


def _digest_of(paper: Paper):
    ranking = Ranking(
        considered=1,
        by_category={"Detection": [RankedPaper(paper, "Detection", 0.5, ["detection"])]},
        unmatched=0,
    )
    return build_digest(
        MAY,
        ranking,
        {"Detection": "Finding objects."},
        top=10,
        by="submitted",
        arxiv_categories=["cs.CV"],
    )


def _stored_earlier(primary: str) -> Paper:
    """A paper as a store from an earlier release may hold it (category unchecked)."""
    return Paper(
        id="2505.00001",
        title="Detection",
        abstract="",
        authors=["A"],
        categories=[primary],
        primary_category=primary,
    )


def test_digest_primary_category_cannot_close_its_code_span():
    text = render_markdown(_digest_of(_stored_earlier(BREAKOUT)))
    line = next(li for li in text.splitlines() if "score 0.500" in li)
    before, _inert_code, after = line.split("`")
    assert "](" not in before + after


def test_email_of_a_hostile_digest_has_no_javascript_link_or_image():
    html = render_email_html("s", render_markdown(_digest_of(_stored_earlier(BREAKOUT))))
    assert "javascript:" not in html.replace("[click](javascript:", "")
    assert 'href="javascript' not in html and "<img" not in html


def test_digest_carries_no_terminal_escape_from_a_stored_category():
    text = render_markdown(_digest_of(_stored_earlier(TERMINAL)))
    assert "\x1b" not in text


def test_md_escape_removes_control_characters():
    assert md_escape("Red\x1b[31m title\x07 end\x9b") == "Red \\[31m title end"


def test_jsonl_line_longer_than_the_cap_is_rejected_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_LINE_BYTES", 1000)
    good = json.dumps({"id": "2505.00002", "title": "Fine"})
    huge = json.dumps({"id": "2505.00001", "title": "x" * 50_000})
    path = tmp_path / "papers.jsonl"
    path.write_text(f"{good}\n{huge}\n{good}\n", encoding="utf-8")
    records = list(iter_file(path, MAY))
    assert [type(r) for r in records] == [Parsed, Rejected, Parsed]
    assert records[1].line == 2
    assert records[1].reason == (
        "line longer than 1,000 bytes: no arXiv record is that long (a corrupt or foreign file?)"
    )
    assert records[2].line == 3


def test_jsonl_line_of_exactly_the_cap_is_read(tmp_path, monkeypatch):
    line = json.dumps({"id": "2505.00001", "title": "T"})
    monkeypatch.setattr(files, "MAX_LINE_BYTES", len(line))
    path = tmp_path / "papers.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    (record,) = iter_file(path, MAY)
    assert isinstance(record, Parsed)


def test_gzip_bomb_feed_is_refused_before_it_is_inflated_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_XML_BYTES", 4096)
    path = tmp_path / "feed.xml.gz"
    body = RSS.format(term="cs.CV").replace(
        "<title>A title</title>", "<title>A title</title>" + " " * 200_000
    )
    path.write_bytes(gzip.compress(body.encode()))
    with pytest.raises(InputError) as caught:
        list(iter_file(path, MAY))
    assert str(caught.value) == (
        f"{path}: more than 4,096 bytes (uncompressed); an arXiv API page or listing feed "
        "is a few MB at most: is it the right file?"
    )


def test_rejected_feed_item_is_named_without_its_control_characters():
    body = (
        RSS.format(term="cs.CV")
        .replace("oai:arXiv.org:2505.00002v1", "evil\x1b[2J\x1b]0;pwn\x07id")
        .replace("https://arxiv.org/abs/2505.00002", "nolink")
    )
    page = parse_listing_feed(body.encode(), MAY)
    ((ref, reason),) = page.rejected
    assert ref == "evil [2J ]0;pwn id"
    assert reason == "no arXiv id in guid/link 'evil\\x1b[2J\\x1b]0;pwn\\x07id'"


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_import_of_an_oversized_feed_fails_with_one_line(user_folder, monkeypatch, capsys):
    monkeypatch.setattr(files, "MAX_XML_BYTES", 4096)
    body = RSS.format(term="cs.CV").replace("<description>x", "<description>" + "x" * 100_000)
    (user_folder / "feed.xml.gz").write_bytes(gzip.compress(body.encode()))
    code = main(["--store", "s.sqlite3", "import", "feed.xml.gz"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "trenddigest: error: feed.xml.gz: more than 4,096 bytes (uncompressed); an arXiv API "
        "page or listing feed is a few MB at most: is it the right file?\n"
    )


def test_dry_run_prints_no_terminal_escape_nor_a_link_from_a_hostile_category(user_folder, capsys):
    records = [
        {
            "id": f"2505.{n:05d}",
            "title": f"Object detection with teacher networks {n}",
            "abstract": "Object detection. Knowledge distillation from a teacher.",
            "authors": ["A \x1b[31mRed"],
            "categories": [TERMINAL, BREAKOUT],
            "primary_category": BREAKOUT,
        }
        for n in range(1, 4)
    ]
    lines = "".join(json.dumps(r) + "\n" for r in records)
    (user_folder / "papers.jsonl").write_text(lines, encoding="utf-8")
    code = main(
        [
            "--store",
            "s.sqlite3",
            "run",
            "--month",
            "2025-05",
            "--from",
            "papers.jsonl",
            "--dry-run",
        ]  # fmt: skip
    )
    out, _err = capsys.readouterr()
    assert code == 0
    assert "\x1b" not in out
    assert "](javascript:" not in out and "evil.example" not in out
