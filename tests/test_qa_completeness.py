"""A researcher audits a month: every paper of it considered once, and the counts add up.

One paper reaches the store by several roads (the API backfill, the daily listing
feeds, a file), in several versions, cross-listed, submitted in the last days of
the month before; the month must hold it once, with its newest version, and the
digest's figures must agree with the store and with each other.  Synthetic papers
only (tests/arxiv_server.py, tests/synthetic.py); waits go to a fake clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arxiv_server import ArxivTestServer, FakeClock, fast_arxiv_config
from trenddigest.categories import Category, Keyword
from trenddigest.cli import main
from trenddigest.models import Paper
from trenddigest.rank import rank_papers
from trenddigest.sources.backfill import fetch_month
from trenddigest.sources.client import ArxivClient
from trenddigest.sources.files import import_files
from trenddigest.sources.poll import poll_feeds
from trenddigest.store import Store

KD = "We distill a large teacher network into a compact student with knowledge distillation."


def api_paper(pid: str, submitted: str, categories: list[str], **fields: Any) -> dict[str, Any]:
    paper = {
        "id": pid,
        "version": 1,
        "submitted": submitted,
        "categories": categories,
        "title": f"Knowledge Distillation Study {pid}",
        "abstract": KD,
        "authors": ["Ada Example", "Ben Example"],
        "comment": "",
    }
    paper.update(fields)
    return paper


# May 2025 as arXiv would list it, with the papers an audit trips over.
PAPERS = [
    # Submitted on April 29 after the cutoff of April's last announcement: a May id.
    api_paper("2505.00001", "2025-04-29T20:00:00Z", ["cs.CV"]),
    # Submitted the same week before that cutoff: an April id, inside May's window.
    api_paper("2504.21999", "2025-04-29T09:00:00Z", ["cs.CV"]),
    # A cs.LG paper cross-listed to cs.CV: two queries, two feeds, one paper.
    api_paper("2505.00002", "2025-05-05T10:00:00Z", ["cs.LG", "cs.CV"]),
    # Revised in May: the API serves v2; the feeds and the file still know v1.
    api_paper(
        "2505.00003",
        "2025-05-06T10:00:00Z",
        ["cs.CV"],
        version=2,
        updated="2025-05-20T10:00:00Z",
        title="Knowledge Distillation Study, Revised Title",
    ),
    api_paper("2505.00004", "2025-05-07T10:00:00Z", ["cs.CV"]),
    # Submitted on May 31: announced in June, with a June id.
    api_paper("2506.00001", "2025-05-31T10:00:00Z", ["cs.CV"]),
]
MAY = {"2505.00001", "2505.00002", "2505.00003", "2505.00004", "2505.00005"}


@pytest.fixture
def server() -> Iterator[ArxivTestServer]:
    with ArxivTestServer([dict(p) for p in PAPERS]) as srv:
        yield srv


def client(server: ArxivTestServer, clock: FakeClock, categories: list[str]) -> tuple:
    config = fast_arxiv_config(server, categories=categories)
    return config, ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)


def a_file_of_the_month(path: Path) -> Path:
    """A crawl export: v1 of the revised paper, the cross-list, and one paper only it has."""
    rows = [
        {
            "id": "2505.00003",
            "title": "Knowledge Distillation Study 2505.00003",
            "abstract": KD,
            "authors": ["Ada Example"],
            "categories": ["cs.CV"],
            "first_seen": "2025-05-08",
        },
        {
            "id": "2505.00002",
            "title": "Knowledge Distillation Study 2505.00002",
            "abstract": KD,
            "authors": ["Ada Example"],
            "categories": ["cs.LG", "cs.CV"],
            "first_seen": "2025-05-07",
        },
        {
            "id": "2505.00005",
            "title": "A Compact Student Trained by a Teacher",
            "abstract": KD,
            "authors": ["Cy Example"],
            "categories": ["cs.CL"],
            "first_seen": "2025-05-09",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_paper_from_the_backfill_the_feeds_and_a_file_is_one_paper_of_its_month(
    server: ArxivTestServer, clock: FakeClock, tmp_path: Path
) -> None:
    server.set_listing(
        "cs.CV",
        "2025-05-07",
        [
            {"id": "2505.00002", "type": "cross", "version": 1},
            {"id": "2505.00003", "type": "new", "version": 1, "title": "Knowledge Distillation"},
        ],
    )
    server.set_listing("cs.LG", "2025-05-07", [{"id": "2505.00002", "type": "new", "version": 1}])
    with Store.open(tmp_path / "s.sqlite3") as store:
        config, arxiv = client(server, clock, ["cs.CV", "cs.LG"])
        fetched = fetch_month(store, config, "2025-05", client=arxiv)
        polled = poll_feeds(store, config, client=arxiv)
        imported = import_files(store, [a_file_of_the_month(tmp_path / "crawl.jsonl")])
        may = {p.id: p for p in store.papers_for_month("2025-05")}
        april = {p.id for p in store.papers_for_month("2025-04")}
        june = {p.id for p in store.papers_for_month("2025-06")}
        announced = {p.id for p in store.papers_for_month("2025-05", by="announced")}
    # The backfill saw 2505.00002 in two categories, the poll in two feeds: once each.
    assert (fetched.counts.new, fetched.stored) == (6, 6)
    assert (polled.counts.new, polled.counts.updated, polled.counts.unchanged) == (0, 2, 0)
    # The file's two known papers add nothing newer: an older version, a later date.
    assert (imported.new, imported.updated, imported.unchanged) == (1, 0, 2)
    assert set(may) == MAY and april == {"2504.21999"} and june == {"2506.00001"}
    revised = may["2505.00003"]
    assert (revised.version, revised.title) == (2, "Knowledge Distillation Study, Revised Title")
    assert revised.announced == "2025-05-07"  # the feed's date, earlier than the file's
    assert announced == {"2505.00002", "2505.00003", "2505.00005"}


# --------------------------------------------------------------------------- withdrawn papers

# arXiv's withdrawal of a paper often leaves its abstract as it was and says so in
# the comments field (real examples in the April 2007 block of shared data read like
# these), or removes the paper with a notice by its administrators.
COMMENT_NOTICES = [
    "This paper has been withdrawn due to an error in Lemma 2",
    "This paper has been withdrawn by the author(s) due to some mistakes in this paper",
    "withdrawn by arXiv administrators due to a dispute over authorship",
    "Paper withdrawn by the author",
]


@pytest.mark.parametrize("comment", COMMENT_NOTICES)
def test_a_withdrawal_notice_in_the_comments_marks_the_paper_withdrawn(comment: str) -> None:
    paper = Paper("2505.00001", "Knowledge Distillation", KD, comment=comment)
    assert paper.withdrawn


def test_an_abstract_replaced_by_arxivs_removal_notice_marks_the_paper_withdrawn() -> None:
    notice = "This paper has been removed by arXiv administrators because it duplicates another."
    assert Paper("2505.00001", "Knowledge Distillation", notice).withdrawn


@pytest.mark.parametrize(
    "comment",
    [
        "12 pages, 4 figures; accepted at a workshop",
        "Withdrawn baselines are discussed in Section 4",
        "v2: removed by the authors a flawed experiment",
        "",
    ],
)
def test_a_comment_that_is_no_withdrawal_notice_leaves_the_paper_in(comment: str) -> None:
    assert not Paper("2505.00001", "Knowledge Distillation", KD, comment=comment).withdrawn


def test_a_paper_withdrawn_in_its_comments_is_counted_but_not_placed() -> None:
    papers = [
        Paper("2505.00001", "Knowledge Distillation for Detectors", KD),
        Paper(
            "2505.00002",
            "Knowledge Distillation for Segmenters",
            KD,
            comment="This paper has been withdrawn due to an error in Lemma 2",
        ),
    ]
    category = Category("KD", "Teacher to student.", [Keyword("knowledge distillation")])
    ranking = rank_papers(papers, [category])
    assert [rp.paper.id for rp in ranking.by_category["KD"]] == ["2505.00001"]
    assert (ranking.considered, ranking.unmatched) == (2, 1)


# --------------------------------------------------------------------------- by announce date


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_FEED_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_by_announced_after_a_backfill_says_the_announce_dates_are_unknown(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    server: ArxivTestServer,
    no_arxiv_waits: FakeClock,
) -> None:
    monkeypatch.setenv("TRENDDIGEST_ARXIV_API_URL", server.api_url)
    code = main(["run", "--month", "2025-05", "--by", "announced", "-q"])
    out, err = capsys.readouterr()
    with Store.open(workdir / "data/trenddigest.sqlite3") as store:
        assert len(store.papers_for_month("2025-05")) == 4  # arXiv listed them all
    assert (code, out) == (2, "")
    assert err == (
        "trenddigest: error: the store holds 4 papers from 2025-05 (by arXiv id) but knows "
        "the announce date of none (the API backfill gives none); run `trenddigest poll` "
        "daily, import a file with first_seen dates, or use --by submitted\n"
    )
