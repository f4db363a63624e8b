"""fetch_month: a month from the arXiv API into the store, resumably and politely.

The real backfill runs against tests/arxiv_server.py on 127.0.0.1; waits go to a
fake clock.  The default server holds 24 synthetic papers (22 submitted in May 2025,
one on 20 April, before May's window, one on 1 June); page size is 5 so that every
category pages.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import arxiv
import pytest

from arxiv_server import (
    ArxivTestServer,
    FakeClock,
    Fault,
    Seen,
    fast_arxiv_config,
    logged,
    synthetic_papers,
    unused_port,
)
from trenddigest.config import ArxivConfig
from trenddigest.errors import ArxivAPIError, FetchError
from trenddigest.models import Month
from trenddigest.progress import NullReporter, StreamReporter
from trenddigest.sources import backfill
from trenddigest.sources.backfill import (
    FetchSummary,
    IncompleteMonthError,
    fetch_month,
    month_query,
)
from trenddigest.sources.client import (
    MAX_REMEMBERED_WAIT_SECONDS,
    ArxivClient,
    RetriesExhaustedError,
    UnreachableError,
)
from trenddigest.store import Store, UpsertCounts

MAY_CV = "cat:cs.CV AND submittedDate:[202504240000 TO 202505312359]"


@pytest.fixture
def server() -> Iterator[ArxivTestServer]:
    with ArxivTestServer() as srv:
        yield srv


def client_for(config: ArxivConfig, clock: FakeClock) -> ArxivClient:
    return ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)


# From DEFAULT_NOW (May 2025's last announcement, Sunday June 1, 20:00 ET) to a time
# when arXiv's API holds all of May (the settle time after it).
AFTER_MAYS_LAST_MAILING_SETTLED = 12 * 3600


def run(
    store: Store,
    server: ArxivTestServer,
    clock: FakeClock,
    month: str = "2025-05",
    **config: object,
) -> FetchSummary:
    cfg = fast_arxiv_config(server, **config)
    return fetch_month(store, cfg, month, client=client_for(cfg, clock))


def progress(store: Store) -> dict[str, tuple[int, int, int]]:
    rows = store.conn.execute(
        "SELECT category, month, total, received, complete FROM fetch_progress"
    )
    return {
        f"{cat} {month}": (total, received, complete)
        for cat, month, total, received, complete in rows
    }


def may_papers(server: ArxivTestServer, categories: list[str]) -> set[str]:
    return {
        p["id"]
        for p in server.papers
        if p["submitted"].startswith("2025-05") and set(p["categories"]) & set(categories)
    }


# -- the month, end to end -------------------------------------------------------------


def test_backfills_a_month_end_to_end_into_the_store(
    server: ArxivTestServer, clock: FakeClock, tmp_path: object
) -> None:
    with Store.open(f"{tmp_path}/store.sqlite3") as store:
        summary = run(store, server, clock)
        stored = {p.id for p in store.papers_for_month("2025-05")}
        paper = store.get_paper("2505.00103")
    assert stored == may_papers(server, ["cs.CV", "cs.LG", "cs.CL"])
    assert summary.counts.new == len(stored)
    assert paper is not None and paper.version == 2
    assert (paper.published or "").startswith("2025-05-02T08:00:00")
    assert paper.categories == ["cs.CV"] and paper.source == "api"


def test_query_is_one_category_and_a_gmt_window_from_a_week_before_the_month() -> None:
    assert month_query("cs.CV", Month(2025, 5)) == MAY_CV
    assert month_query("stat.ML", Month(2024, 3)) == (
        "cat:stat.ML AND submittedDate:[202402230000 TO 202403312359]"
    )


def test_a_paper_submitted_before_the_month_but_announced_in_it_is_fetched_with_it(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # arXiv gives a paper the id of the month it is first announced in: submitted on
    # Wednesday 30 April 2025 after the 14:00 ET cutoff, this one was announced on
    # Thursday 1 May as 2505.00199, so it is May's, and a fresh store fetching May
    # must bring it in.
    server.papers.append(late_paper("2505.00199", "2025-04-30T20:00:00Z"))
    run(store, server, clock, categories=["cs.CL"])
    assert "2505.00199" in {p.id for p in store.papers_for_month("2025-05")}


def test_one_query_per_category_paged_with_the_configured_page_size(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock, categories=["cs.CV", "cs.CL"], page_size=5)
    queries = [(s.query, s.start, s.max_results) for s in server.api_requests]
    assert queries == [
        (MAY_CV, 0, 5),
        (MAY_CV, 5, 5),
        (MAY_CV, 10, 5),
        (MAY_CV.replace("cs.CV", "cs.CL"), 0, 5),
    ]


def test_requests_are_three_seconds_apart(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock)
    assert len(server.api_requests) == 6
    assert clock.sleeps == [3.0] * 5


def test_cross_listed_papers_are_stored_once(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    summary = run(store, server, clock, categories=["cs.CV", "cs.LG"])
    # 2505.00101, .00104 and .00113 are in both categories: fetched twice, stored once,
    # and counted once, as new.
    assert store.count_papers() == len(may_papers(server, ["cs.CV", "cs.LG"]))
    assert summary.counts == UpsertCounts(new=store.count_papers(), updated=0, unchanged=0)


def cross_listed(version: int = 1) -> dict:
    """One synthetic May paper listed in three categories."""
    return {
        "id": "2505.00301",
        "version": version,
        "submitted": "2025-05-06T10:00:00Z",
        "categories": ["cs.CV", "cs.LG", "cs.AI"],
        "title": "A Synthetic Paper Listed in Three Categories",
        "abstract": f"Invented, version {version}.",
        "authors": ["Cross Author"],
        "comment": "",
    }


def test_a_paper_seen_in_two_categories_of_one_fetch_counts_once_as_new(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(papers=[cross_listed()]) as server:
        summary = run(store, server, clock, categories=["cs.CV", "cs.LG"])
    assert summary.describe() == (
        "2025-05 from arXiv: 1 new, 0 updated, 0 unchanged papers in 2 categories (2 requests)"
    )


def test_a_stored_paper_seen_in_two_categories_of_one_fetch_counts_once_as_unchanged(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(papers=[cross_listed()]) as server:
        run(store, server, clock, categories=["cs.CV"])
        summary = run(store, server, clock, categories=["cs.LG", "cs.AI"])
    assert summary.counts == UpsertCounts(new=0, updated=0, unchanged=1)


def test_a_stored_paper_revised_and_seen_in_two_categories_counts_once_as_updated(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(papers=[cross_listed()]) as server:
        run(store, server, clock, categories=["cs.CV"])
        server.papers[:] = [cross_listed(version=2)]
        summary = run(store, server, clock, categories=["cs.LG", "cs.AI"])
    assert summary.counts == UpsertCounts(new=0, updated=1, unchanged=0)


def test_a_paper_revised_between_its_two_categories_counts_once_as_updated(
    clock: FakeClock, store: Store
) -> None:
    def revise(srv: ArxivTestServer) -> None:
        srv.papers[:] = [cross_listed(version=2)]

    with ArxivTestServer(papers=[cross_listed()]) as server:
        run(store, server, clock, categories=["cs.CV"])
        # Unchanged when cs.LG is read, revised by the time cs.AI is.
        server.fail("change", action=revise, when=lambda seen: "cs.AI" in seen.query)
        summary = run(store, server, clock, categories=["cs.LG", "cs.AI"])
    assert summary.counts == UpsertCounts(new=0, updated=1, unchanged=0)
    paper = store.get_paper("2505.00301")
    assert paper is not None and paper.version == 2


def test_progress_is_recorded_per_category_and_month(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock)
    assert progress(store) == {
        "cs.CV 2025-05": (13, 13, 1),
        "cs.LG 2025-05": (10, 10, 1),
        "cs.CL 2025-05": (3, 3, 1),
    }


def test_summary_describes_the_fetch(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    summary = run(store, server, clock, categories=["cs.CL"])
    assert summary.describe() == (
        "2025-05 from arXiv: 3 new, 0 updated, 0 unchanged papers in 1 category (1 request)"
    )


# -- arXiv being wrong ---------------------------------------------------------------


def test_empty_page_midway_is_asked_again_not_taken_as_the_end(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("empty", when=lambda seen: seen.start == 5)
    run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 5, 5, 10]
    assert store.count_papers() == 13
    # 8 of 13 missing is few enough for arXiv's overcount: asked again at the spacing
    assert clock.sleeps == [3.0, 3.0, 3.0]


def test_short_page_is_not_taken_as_the_end(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("short", when=lambda seen: seen.start == 0)
    run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 2, 7, 12]
    assert store.count_papers() == 13


def test_small_overcount_in_total_results_is_accepted_with_a_warning(
    server: ArxivTestServer, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server.overcount = 2
    with caplog.at_level(logging.WARNING):
        run(store, server, clock, categories=["cs.CL"], max_retries=2)
    assert [s.start for s in server.api_requests] == [0, 3, 3, 3]
    assert progress(store) == {"cs.CL 2025-05": (5, 3, 1)}
    assert "reports 5 results but served 3" in caplog.text


def test_a_gap_small_enough_for_an_overcount_is_asked_again_at_the_request_spacing(
    clock: FakeClock, store: Store
) -> None:
    # arXiv reports 62 and holds 60: its known overcount, accepted in the end.  Backing
    # off as for an outage would cost 10 + 20 + 40 + 80 + 160 s per category, at every
    # run (such a month is read again at its next check).
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.overcount = 2
        run(store, server, clock, categories=["cs.CV"], backoff_seconds=10.0)
        assert [s.start for s in server.api_requests].count(60) == 6
    assert progress(store) == {"cs.CV 2025-05": (62, 60, 1)}
    assert max(clock.sleeps) <= fast_arxiv_config(server).delay_seconds


def test_a_small_window_served_only_empty_pages_is_not_taken_for_an_overcount(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # arXiv answering every page of a 3-paper month empty is an outage, not the
    # few-papers overcount of its total: the category must not be recorded complete.
    server.fail("empty", times=10, when=lambda seen: seen.start == 0)
    with pytest.raises(FetchError) as err:
        run(store, server, clock, categories=["cs.CL"], max_retries=2)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept returning an empty page for cs.CL 2025-05 at "
        "result 0 of 3 after 3 tries; run again later to resume"
    )
    assert progress(store) == {}


def test_persistent_empty_pages_with_many_results_missing_fail(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.fail("empty", times=10, when=lambda seen: seen.start == 10)
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept returning an empty page for cs.CV 2025-05 at "
        "result 10 of 60 after 3 tries; 10 papers received by this run are stored; "
        "run again later to resume"
    )
    assert progress(store) == {"cs.CV 2025-05": (60, 10, 0)}


def test_empty_pages_behind_a_redirect_are_counted_as_empty_pages_not_failures(
    clock: FakeClock, store: Store
) -> None:
    # Each ask costs two requests (the redirect and its follow-up): the second is no
    # failed request, and the outage is told as the same one without a redirect.
    with ArxivTestServer(synthetic_papers(60)) as server:

        def redirect(seen: Seen) -> None:  # /api/old -> /api/query, the query kept
            if seen.path == "/api/old":
                moved = {"Location": f"/api/query?{seen.raw_query}"}
                server.faults.insert(0, Fault("status", path="/api/old", status=301, headers=moved))

        server.watchers.append(redirect)
        server.fail("empty", times=10, when=lambda seen: seen.start == 10)
        old_url = f"{server.base_url}/api/old"
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2, api_url=old_url)
    assert str(err.value) == (
        f"arXiv API at {old_url} kept returning an empty page for cs.CV 2025-05 at "
        "result 10 of 60 after 3 tries; 10 papers received by this run are stored; "
        "run again later to resume"
    )


def test_a_spurious_no_results_first_page_is_asked_again(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("zero", when=lambda seen: seen.start == 0)
    run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 0, 5, 10]
    assert store.count_papers() == 13


def test_a_category_with_no_papers_is_confirmed_once_then_complete(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock, categories=["q-bio.NC"])
    assert [s.start for s in server.api_requests] == [0, 0]
    assert progress(store) == {"q-bio.NC 2025-05": (0, 0, 1)}


def first_pages(seen: Seen) -> bool:
    return seen.start == 0 and seen.max_results > 1


def test_an_empty_first_page_then_no_results_is_not_taken_for_an_empty_month(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # arXiv said 13 results (on a page without them), then "no results at all": the
    # second is a hiccup like a 0 after pages with papers, not news of an empty month.
    server.fail("empty", when=first_pages)
    server.fail("zero", when=first_pages)
    run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 0, 0, 5, 10]
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_a_window_read_again_is_not_taken_for_empty_on_a_no_results_hiccup(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # An empty first page, then a paper listed late (another total: the window is read
    # again), then an empty page and a "no results" one: the papers are still there.
    early = late_paper("2505.00191", "2025-05-01T00:05:00Z") | {"categories": ["cs.CV"]}
    server.fail("empty", when=first_pages)
    server.fail("change", action=list_late(early), when=first_pages)
    server.fail("empty", when=first_pages)
    server.fail("zero", when=first_pages)
    run(store, server, clock, categories=["cs.CV"])
    assert cv_may(server) - stored_ids(store) == set()
    assert progress(store) == {"cs.CV 2025-05": (14, 14, 1)}


def test_error_feed_is_reported_with_arxivs_message(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("error", message="unknown category cs.XX")
    with pytest.raises(ArxivAPIError, match="unknown category cs.XX"):
        run(store, server, clock, categories=["cs.XX"])


# -- entries arXiv sends that cannot be read --------------------------------------------

# The entry at offset 5 of cs.CV's May (the first of the second page) is 2505.00110.
UNREADABLE = (
    "http://arxiv.org/abs/2505.00110v1: unparseable entry: Invalid isoformat string: 'soon'"
)


def second_page_has_an_unreadable_entry(server: ArxivTestServer) -> None:
    # arxiv's own parser raises for the whole page on one bad timestamp.
    server.fail("bad-date", when=lambda seen: seen.start == 5)


def test_an_unreadable_entry_costs_that_paper_and_the_rest_of_the_month_is_stored(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    second_page_has_an_unreadable_entry(server)
    with pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 5, 10]
    assert store.count_papers() == 12
    assert store.get_paper("2505.00110") is None


def test_a_month_with_an_unreadable_entry_is_recorded_incomplete_from_that_page(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    second_page_has_an_unreadable_entry(server)
    with pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"])
    assert progress(store) == {"cs.CV 2025-05": (13, 5, 0)}


def test_an_unreadable_entry_fails_the_fetch_in_one_line_saying_the_month_stays_incomplete(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    second_page_has_an_unreadable_entry(server)
    with pytest.raises(IncompleteMonthError) as err:
        run(store, server, clock, categories=["cs.CV"])
    assert str(err.value) == (
        "fetched 2025-05 from arXiv: 12 new, 0 updated, 0 unchanged papers in 1 category "
        f"(3 requests); 1 entry arXiv sent could not be read ({UNREADABLE}), so "
        "cs.CV 2025-05 stays incomplete and the next run asks for it again"
    )


def test_an_incomplete_month_is_a_fetch_error_like_other_incomplete_fetches(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    second_page_has_an_unreadable_entry(server)
    with pytest.raises(FetchError) as err:
        run(store, server, clock, categories=["cs.CV"])
    assert err.value.exit_code == 4


def test_other_categories_are_still_fetched_after_an_unreadable_entry(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("bad-date", when=lambda seen: seen.start == 5 and "cs.CV" in seen.query)
    with pytest.raises(IncompleteMonthError) as err:
        run(store, server, clock, categories=["cs.CV", "cs.CL"])
    assert progress(store)["cs.CL 2025-05"] == (3, 3, 1)
    assert err.value.summary.unreadable == [
        ("http://arxiv.org/abs/2505.00110v1", "unparseable entry: Invalid isoformat string: 'soon'")
    ]


def test_the_next_run_asks_again_from_the_page_with_the_unreadable_entry(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    second_page_has_an_unreadable_entry(server)
    with pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"])
    server.seen.clear()
    summary = run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [5, 10]
    assert summary.counts == UpsertCounts(new=1, updated=0, unchanged=7)
    assert store.count_papers() == 13
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_an_unreadable_entry_is_logged_once(
    server: ArxivTestServer, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    second_page_has_an_unreadable_entry(server)
    with caplog.at_level(logging.DEBUG), pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"])
    about_it = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if "2505.00110" in r.getMessage() and r.levelno >= logging.INFO
    ]
    assert about_it == [
        (
            "WARNING",
            "skipped an arXiv API entry: unparseable entry: Invalid isoformat string: 'soon' "
            "(http://arxiv.org/abs/2505.00110v1)",
        )
    ]


def test_an_entry_with_an_impossible_id_is_not_stored_and_the_month_stays_incomplete(
    clock: FakeClock, store: Store
) -> None:
    impossible = synthetic_papers(1, first_number=1)[0] | {"id": "2513.00001"}
    with (
        ArxivTestServer(papers=synthetic_papers(3) + [impossible]) as server,
        pytest.raises(IncompleteMonthError) as err,
    ):
        run(store, server, clock, categories=["cs.CV"])
    assert store.count_papers() == 3
    assert progress(store) == {"cs.CV 2025-05": (4, 0, 0)}
    assert err.value.summary.unreadable == [
        (
            "http://arxiv.org/abs/2513.00001v1",
            "bad id 'http://arxiv.org/abs/2513.00001v1': month 13 in YYMM 2513 does not exist",
        )
    ]


def test_an_entry_with_an_id_after_the_current_month_is_not_stored_and_says_why(
    clock: FakeClock, store: Store
) -> None:
    # The fake clock reads 2 June 2025: no id of July 2025 exists yet.
    future = synthetic_papers(1, first_number=1)[0] | {"id": "2507.00001"}
    with (
        ArxivTestServer(papers=synthetic_papers(3) + [future]) as server,
        pytest.raises(IncompleteMonthError) as err,
    ):
        run(store, server, clock, categories=["cs.CV"])
    assert store.count_papers() == 3
    assert err.value.summary.unreadable == [
        (
            "http://arxiv.org/abs/2507.00001v1",
            "bad id 'http://arxiv.org/abs/2507.00001v1': YYMM 2507 is July 2025, after the "
            "current month (June 2025): arXiv has issued no such id yet",
        )
    ]


def test_a_day_with_an_unreadable_entry_leaves_a_month_fetched_by_day_incomplete(
    server: ArxivTestServer, clock: FakeClock, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "API_QUERY_LIMIT", 10)
    server.fail("bad-date", when=lambda seen: "[202505020000 TO 202505022359]" in seen.query)
    with pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"])
    recorded = progress(store)
    assert recorded["cs.CV 2025-05"][2] == 0
    assert recorded["cs.CV 2025-05-02"][1:] == (0, 0)
    assert recorded["cs.CV 2025-05-01"][2] == 1


@pytest.fixture
def unreadable_entry_cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arxiv_server: ArxivTestServer,
    no_arxiv_waits: FakeClock,
) -> list[str]:
    """Global CLI arguments for a cs.CV store whose 2025-05 has an unreadable entry."""
    server = arxiv_server
    for var in ("TRENDDIGEST_CONFIG", "TRENDDIGEST_STORE", "TRENDDIGEST_ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[arxiv]\ncategories = ["cs.CV"]\npage_size = 5\napi_url = "{server.api_url}"\n'
    )
    second_page_has_an_unreadable_entry(server)
    return ["--config", str(config), "--store", str(tmp_path / "n.db")]


def test_fetch_command_with_an_unreadable_entry_exits_4_with_one_error_line(
    capsys: pytest.CaptureFixture[str], unreadable_entry_cli: list[str]
) -> None:
    from trenddigest.cli import main

    code = main([*unreadable_entry_cli, "-q", "fetch", "--month", "2025-05"])
    out, err = capsys.readouterr()
    assert (code, out) == (4, "")
    assert err.splitlines()[-1] == (
        "trenddigest: error: fetched 2025-05 from arXiv: 12 new, 0 updated, 0 unchanged papers in "
        f"1 category (3 requests); 1 entry arXiv sent could not be read ({UNREADABLE}), so "
        "cs.CV 2025-05 stays incomplete and the next run asks for it again"
    )


# -- failures and resuming ------------------------------------------------------------


def test_giving_up_keeps_every_received_page_and_says_so(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("status", times=3, status=503, when=lambda seen: seen.start == 10)
    with pytest.raises(FetchError) as err:
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing after 3 tries (last: HTTP 503); "
        "10 papers received by this run are stored; run again later to resume"
    )
    assert store.count_papers() == 10
    assert progress(store) == {"cs.CV 2025-05": (13, 10, 0)}


def test_interrupted_backfill_resumes_at_the_next_offset(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("status", times=3, status=503, when=lambda seen: seen.start == 10)
    with pytest.raises(FetchError):
        run(store, server, clock, categories=["cs.CV", "cs.CL"], max_retries=2)
    server.seen.clear()
    summary = run(store, server, clock, categories=["cs.CV", "cs.CL"], max_retries=2)
    # From the last result received before, to check it is still the same paper.
    assert [(s.query[:9], s.start) for s in server.api_requests] == [
        ("cat:cs.CV", 9),
        ("cat:cs.CL", 0),
    ]
    assert summary.counts == UpsertCounts(new=3 + 3, updated=0, unchanged=1)
    assert progress(store)["cs.CV 2025-05"] == (13, 13, 1)


def test_a_fetch_resumed_after_arxivs_total_changed_reads_the_window_again(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("status", times=3, status=503, when=lambda seen: seen.start == 10)
    with pytest.raises(FetchError):
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    early = late_paper("2505.00133", "2025-05-01T00:01:00Z") | {"categories": ["cs.CV"]}
    server.papers.append(early)  # listed first: every offset after it moves by one
    server.seen.clear()
    run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests][:2] == [9, 0]
    assert store.get_paper("2505.00133") is not None
    assert progress(store)["cs.CV 2025-05"] == (14, 14, 1)


def interrupted_after_two_pages(store: Store, server: ArxivTestServer, clock: FakeClock) -> None:
    """A fetch of cs.CV's May that stops with 10 of 13 results stored."""
    server.fail("status", times=3, status=503, when=lambda seen: seen.start == 10)
    with pytest.raises(FetchError):
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    server.faults.clear()
    server.seen.clear()
    assert progress(store) == {"cs.CV 2025-05": (13, 10, 0)}


def move_out_and_in(server: ArxivTestServer, count: int) -> list[dict]:
    """``count`` early papers of cs.CV's May move to cs.RO and as many late ones join
    at its end: arXiv's total stays 13, and the results between slide up ``count``
    places.  Returns the window as it was, in submission order."""
    window = sorted(
        (p for p in server.papers if p["id"] in cv_may(server)), key=lambda p: p["submitted"]
    )
    for left in window[1 : 1 + count]:
        left["categories"] = ["cs.RO"]
    for k in range(count):
        late = late_paper(f"2505.0090{k + 1}", f"2025-05-30T1{k}:00:00Z")
        server.papers.append(late | {"categories": ["cs.CV"]})
    return window


def test_a_resumed_fetch_reads_again_when_one_paper_left_the_window_and_one_joined(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # Between the runs moderation moved an early cs.CV paper to cs.RO and a late paper
    # joined at the end: the total is 13 again, but every result after the first moved
    # up one place, and resuming at 10 would never see the one now at 9.
    interrupted_after_two_pages(store, server, clock)
    window = move_out_and_in(server, 1)
    slid = window[10]["id"]
    run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests] == [9, 0, 5, 10]
    assert store.get_paper(slid) is not None
    assert cv_may(server) - stored_ids(store) == set()
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_a_resumed_fetch_whose_last_paper_is_still_in_place_goes_on_from_it(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    interrupted_after_two_pages(store, server, clock)
    summary = run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests] == [9]
    assert summary.counts == UpsertCounts(new=3, updated=0, unchanged=1)


def test_a_resumed_fetch_whose_last_paper_comes_back_unreadable_does_not_read_from_the_start(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # The entry at the anchor cannot be read this time: nothing says the results moved,
    # and its hole is asked for again by the next run, as for any unreadable entry.
    interrupted_after_two_pages(store, server, clock)
    (anchor,) = store.conn.execute("SELECT last_id FROM fetch_progress").fetchone()
    server.fail("no-published", entry=anchor, when=lambda seen: seen.start == 9)
    with pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests] == [9]
    assert cv_may(server) - stored_ids(store) == set()


def test_an_unreadable_entry_elsewhere_in_the_resumed_page_does_not_hide_that_results_moved(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # Two papers left the window and two joined at its end (the total stays 13), and
    # one entry of the resumed page, not the anchor, cannot be read this time.
    interrupted_after_two_pages(store, server, clock)
    window = move_out_and_in(server, 2)
    slid = window[10]["id"]  # now at result 8, before the resume point
    server.fail("no-published", entry=window[12]["id"], when=lambda seen: seen.start == 9)
    run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests] == [9, 0, 5, 10]
    assert store.get_paper(slid) is not None
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_progress_recorded_without_its_last_paper_resumes_at_the_offset_as_before(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # A store an earlier release left part-way knows no last paper to check.
    interrupted_after_two_pages(store, server, clock)
    store.conn.execute("UPDATE fetch_progress SET last_id = NULL")
    run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests] == [10]
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_ctrl_c_between_pages_keeps_every_page_received_and_resumes_there(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    cfg = fast_arxiv_config(server, categories=["cs.CV"])

    def interrupted(seconds: float) -> None:
        if len(server.api_requests) == 2:  # Ctrl-C while waiting for the third page
            raise KeyboardInterrupt
        clock.sleep(seconds)

    client = ArxivClient(cfg, sleep=interrupted, clock=clock, wall_clock=clock.time)
    with pytest.raises(KeyboardInterrupt):
        fetch_month(store, cfg, "2025-05", client=client)
    assert store.count_papers() == 10
    assert progress(store) == {"cs.CV 2025-05": (13, 10, 0)}
    server.seen.clear()
    summary = run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [9]
    assert summary.counts.new == 3 and summary.categories[0].status == "resumed"


def test_second_run_of_a_complete_month_makes_no_request(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    clock.advance(AFTER_MAYS_LAST_MAILING_SETTLED)
    run(store, server, clock)
    server.seen.clear()
    clock.advance(3600)
    summary = run(store, server, clock)
    assert server.api_requests == []
    assert [c.status for c in summary.categories] == ["up to date"] * 3


def test_a_category_added_to_the_config_is_fetched_whole_and_the_others_not_again(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # Progress is kept per category and window, and a window's query is made of nothing
    # else (month_query): a new category has no progress to skip anything by.
    clock.advance(AFTER_MAYS_LAST_MAILING_SETTLED)
    run(store, server, clock, categories=["cs.CV"])
    server.seen.clear()
    summary = run(store, server, clock, categories=["cs.CV", "cs.CL"])
    assert [(s.query, s.start) for s in server.api_requests] == [
        (MAY_CV.replace("cs.CV", "cs.CL"), 0)
    ]
    assert [c.status for c in summary.categories] == ["up to date", "fetched"]
    assert progress(store)["cs.CL 2025-05"] == (3, 3, 1)


def test_a_month_fetched_before_the_api_held_its_last_mailing_is_asked_again_within_the_grace(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    clock.advance(2 * 3600)  # Sunday 22:00 ET: May's last mailing is out, not yet in the API
    run(store, server, clock, categories=["cs.CV"])
    # Friday's late submission, which the API serves once it caught up (06:00 ET)
    server.papers.append(
        late_paper("2505.24999", "2025-05-30T19:00:00Z") | {"categories": ["cs.CV"]}
    )
    server.seen.clear()
    clock.advance(9 * 3600)  # Monday 07:00 ET: 9 h after the first, within the 12 h grace
    summary = run(store, server, clock, categories=["cs.CV"])
    assert server.api_requests != []
    assert summary.counts.new == 1 and store.get_paper("2505.24999") is not None


def test_complete_month_checked_later_costs_one_small_request_per_category(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock)
    server.seen.clear()
    clock.advance(backfill.RECHECK_AFTER_SECONDS + 60)
    summary = run(store, server, clock)
    assert [(s.start, s.max_results) for s in server.api_requests] == [(0, 1)] * 3
    assert [c.status for c in summary.categories] == ["unchanged"] * 3
    assert summary.counts.new == 0


def late_paper(pid: str, submitted: str) -> dict:
    return {
        "id": pid,
        "version": 1,
        "submitted": submitted,
        "categories": ["cs.CL"],
        "title": "A Late Synthetic Paper",
        "abstract": "Invented.",
        "authors": ["Late Author"],
        "comment": "",
    }


def test_a_grown_total_reads_a_checked_month_again_from_the_start(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock, categories=["cs.CL"])
    server.papers.append(late_paper("2505.00130", "2025-05-31T12:00:00Z"))
    server.seen.clear()
    clock.advance(backfill.RECHECK_AFTER_SECONDS + 60)
    summary = run(store, server, clock, categories=["cs.CL"])
    assert [(s.start, s.max_results) for s in server.api_requests] == [(0, 1), (0, 5)]
    assert (summary.counts.new, summary.counts.unchanged) == (1, 3)
    assert progress(store) == {"cs.CL 2025-05": (4, 4, 1)}


def test_a_paper_that_appears_mid_month_after_a_check_is_fetched(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock, categories=["cs.CL"])
    # Held in moderation: submitted on the 2nd, listed only now, before the others.
    server.papers.append(late_paper("2505.00131", "2025-05-02T00:30:00Z"))
    clock.advance(backfill.RECHECK_AFTER_SECONDS + 60)
    run(store, server, clock, categories=["cs.CL"])
    late = store.get_paper("2505.00131")
    assert late is not None
    assert (late.title, late.authors) == ("A Late Synthetic Paper", ["Late Author"])
    assert progress(store) == {"cs.CL 2025-05": (4, 4, 1)}


def test_a_month_taken_with_an_overcount_is_read_again_at_its_next_check(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.papers.append(late_paper("2505.00132", "2025-05-31T12:00:00Z"))
    server.fail("short", when=lambda seen: seen.start == 0 and seen.max_results > 1)
    server.fail("empty", times=99, when=lambda seen: seen.start == 2)
    run(store, server, clock, categories=["cs.CL"])  # 2 of 4 served: taken as an overcount
    assert progress(store) == {"cs.CL 2025-05": (4, 2, 1)}
    server.faults.clear()
    run(store, server, clock, categories=["cs.CL"])  # no 12-hour grace for a short month
    assert progress(store) == {"cs.CL 2025-05": (4, 4, 1)}
    assert store.count_papers() == 4


def test_a_shrunken_total_reads_the_category_again_from_the_start(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    run(store, server, clock, categories=["cs.CL"])
    server.papers = [p for p in server.papers if p["id"] != "2505.00105"]  # withdrawn
    server.seen.clear()
    clock.advance(backfill.RECHECK_AFTER_SECONDS + 60)
    run(store, server, clock, categories=["cs.CL"])
    assert [(s.start, s.max_results) for s in server.api_requests] == [(0, 1), (0, 5)]
    assert progress(store) == {"cs.CL 2025-05": (2, 2, 1)}


def test_category_month_above_the_api_limit_is_fetched_day_by_day(
    server: ArxivTestServer, clock: FakeClock, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "API_QUERY_LIMIT", 10)
    run(store, server, clock, categories=["cs.CV"])
    assert store.count_papers() == 13
    day_queries = [s.query for s in server.api_requests[1:]]
    assert len(set(day_queries)) == 7 + 31  # the week before the month, then May
    assert day_queries[0] == "cat:cs.CV AND submittedDate:[202504240000 TO 202504242359]"
    assert progress(store)["cs.CV 2025-05"] == (13, 13, 1)
    assert progress(store)["cs.CV 2025-05-31"] == (1, 1, 1)


def test_no_network_fails_with_one_line_and_few_waits(clock: FakeClock, store: Store) -> None:
    port = unused_port()
    config = ArxivConfig(api_url=f"http://127.0.0.1:{port}/api/query", categories=["cs.CV"])
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, timeout=0.2)
    with pytest.raises(UnreachableError) as err:
        fetch_month(store, config, "2025-05", client=client)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(
        f"cannot reach arXiv API at http://127.0.0.1:{port}/api/query ("
    )
    assert sum(clock.sleeps) <= 30


def test_shared_fixtures_run_a_default_client_without_real_waits(
    arxiv_server: ArxivTestServer,
    no_arxiv_waits: FakeClock,
    store: Store,
) -> None:
    # What a CLI test does: only the endpoint is configured, fetch_month makes its client.
    config = ArxivConfig(api_url=arxiv_server.api_url, categories=["cs.CV"], page_size=5)
    fetch_month(store, config, "2025-05")
    assert store.count_papers() == 13
    assert no_arxiv_waits.sleeps == [3.0, 3.0]


# -- progress reporting ----------------------------------------------------------------


class RecordingReporter:
    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def start(self, label: str, total: int | None) -> None:
        self.events.append(("start", label, total))

    def update(self, label: str, done: int, total: int | None) -> None:
        self.events.append(("update", label, done, total))

    def finish(self, label: str, done: int, total: int | None, note: str = "") -> None:
        self.events.append(("finish", label, done, total, note))


def test_backfill_reports_papers_so_far_per_category(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    reporter = RecordingReporter()
    cfg = fast_arxiv_config(server, categories=["cs.CV"])
    fetch_month(store, cfg, "2025-05", client=client_for(cfg, clock), reporter=reporter)
    assert reporter.events == [
        ("start", "cs.CV 2025-05", 13),
        ("update", "cs.CV 2025-05", 5, 13),
        ("update", "cs.CV 2025-05", 10, 13),
        ("update", "cs.CV 2025-05", 13, 13),
        ("finish", "cs.CV 2025-05", 13, 13, "fetched"),
    ]


def test_an_up_to_date_category_reports_only_its_outcome(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    cfg = fast_arxiv_config(server, categories=["cs.CL"])
    clock.advance(AFTER_MAYS_LAST_MAILING_SETTLED)
    fetch_month(store, cfg, "2025-05", client=client_for(cfg, clock))
    reporter = RecordingReporter()
    fetch_month(store, cfg, "2025-05", client=client_for(cfg, clock), reporter=reporter)
    assert reporter.events == [("finish", "cs.CL 2025-05", 3, 3, "up to date")]


def test_reporter_redraws_one_bar_line_on_a_terminal() -> None:
    out = io.StringIO()
    reporter = StreamReporter(out, tty=True, width=10)
    reporter.start("cs.CV 2025-05", 20)
    reporter.update("cs.CV 2025-05", 10, 20)
    reporter.finish("cs.CV 2025-05", 20, 20)
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "\rcs.CV 2025-05 [#####.....]  50% 10/20 papers" in text


def test_reporter_says_paper_for_a_single_one() -> None:
    out = io.StringIO()
    reporter = StreamReporter(out)
    reporter.start("cs.CV 2025-04", 1)
    reporter.update("cs.CV 2025-04", 1, 1)
    reporter.finish("cs.CV 2025-04", 1, 1, "fetched")
    assert out.getvalue() == (
        "cs.CV 2025-04: fetching (1 paper)\n"
        "cs.CV 2025-04: 1/1 paper\n"
        "cs.CV 2025-04: 1/1 paper (fetched)\n"
    )


def test_reporter_writes_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()  # StringIO.isatty() is False, as for cron
    reporter = StreamReporter(out)
    reporter.start("cs.CV 2025-05", None)
    reporter.update("cs.CV 2025-05", 5, 13)
    reporter.finish("cs.CV 2025-05", 13, 13, "fetched")
    assert out.getvalue() == (
        "cs.CV 2025-05: fetching\n"
        "cs.CV 2025-05: 5/13 papers\n"
        "cs.CV 2025-05: 13/13 papers (fetched)\n"
    )


def test_a_fetch_killed_mid_month_leaves_a_sound_store_and_the_next_run_resumes(
    server: ArxivTestServer, tmp_path: Path
) -> None:
    """kill -9 while the third page is on its way: the two pages received are stored
    (one transaction each), the store passes SQLite's integrity check, the lock dies
    with the process, and the next run asks only for what is missing."""
    store_path = tmp_path / "store.sqlite3"
    config = tmp_path / "trenddigest.toml"
    config.write_text(
        f'[arxiv]\napi_url = "{server.api_url}"\ncategories = ["cs.CV"]\n'
        "page_size = 5\ntimeout_seconds = 120\n"
        f'[store]\npath = "{store_path}"\n',
        encoding="utf-8",
    )
    third_page = threading.Event()

    def hold_third_page(seen: Seen) -> bool:
        if seen.start == 10:
            third_page.set()
            return True
        return False

    server.fail("delay", delay=60, when=hold_third_page)
    # The child process waits on no real clock either: its time.sleep (the client's
    # default for the 3-second pacing) returns at once.
    fake_time = tmp_path / "fake_time"
    fake_time.mkdir()
    (fake_time / "sitecustomize.py").write_text(
        "import time\ntime.sleep = lambda seconds: None\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "TRENDDIGEST_ARXIV_API_URL": server.api_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(fake_time), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "trenddigest", "--config", str(config), "-q"]
    fetch = subprocess.Popen(
        [*command, "fetch", "--month", "2025-05"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert third_page.wait(60), "the fetch never asked for its third page"
    finally:
        fetch.kill()
        fetch.communicate()
    assert fetch.returncode == -signal.SIGKILL

    with Store.open(store_path) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.count_papers() == 10
        assert progress(store) == {"cs.CV 2025-05": (13, 10, 0)}
    server.seen.clear()
    again = subprocess.run(
        [*command, "fetch", "--month", "2025-05"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert [s.start for s in server.api_requests] == [9]
    with Store.open(store_path) as store:
        assert store.count_papers() == 13
        assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_run_with_an_unreadable_entry_still_writes_the_digest_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], unreadable_entry_cli: list[str]
) -> None:
    from trenddigest.cli import main

    output = str(tmp_path / "d" / "{year}-{month}.md")
    code = main([*unreadable_entry_cli, "run", "--month", "2025-05", "--output", output])
    out, err = capsys.readouterr()
    assert code == 0
    assert "2025-05: 12 papers" in out
    assert (tmp_path / "d" / "2025-05.md").exists()
    assert (
        "cs.CV 2025-05 stays incomplete and the next run asks for it again; the digest "
        "lists the papers that could be read" in err
    )


def test_a_category_arxiv_answered_empty_is_asked_again_on_the_next_run(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("zero", times=2, when=lambda seen: "cs.CL" in seen.query)  # a hiccup
    run(store, server, clock, categories=["cs.CL"])
    assert progress(store) == {"cs.CL 2025-05": (0, 0, 1)}
    run(store, server, clock, categories=["cs.CL"])  # no 12-hour grace for an empty answer
    assert progress(store) == {"cs.CL 2025-05": (3, 3, 1)}


# -- spacing across commands on one store ---------------------------------------------


def test_a_command_right_after_another_waits_out_arxivs_spacing_first(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    from trenddigest.sources.poll import poll_feeds

    server.set_listing("cs.CL", "2025-05-14", [{"id": "2505.00105", "type": "new"}])
    cfg = fast_arxiv_config(server, categories=["cs.CL"])
    poll_feeds(store, cfg, client=client_for(cfg, clock))
    clock.sleeps.clear()
    fetch_month(store, cfg, "2025-05", client=client_for(cfg, clock))  # a new process
    assert clock.sleeps[0] == pytest.approx(cfg.delay_seconds)


def test_a_wait_arxiv_asked_for_is_kept_by_the_next_command(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("status", times=9, status=503, headers={"Retry-After": "20"})
    with pytest.raises(FetchError):
        run(store, server, clock, categories=["cs.CL"], max_retries=1)
    server.faults.clear()
    clock.sleeps.clear()
    run(store, server, clock, categories=["cs.CL"])  # a new command, right away
    assert clock.sleeps[0] == pytest.approx(20.0)


def test_a_wait_longer_than_the_longest_backoff_stops_the_next_command_saying_until_when(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    store.set_meta("arxiv_not_before", f"{clock.now + 3600:.3f}")
    server.seen.clear()
    with pytest.raises(FetchError, match=r"arXiv asked an earlier run to wait until .* UTC"):
        run(store, server, clock, categories=["cs.CL"])
    assert server.api_requests == []


def test_a_retry_after_of_years_does_not_stop_every_later_run_for_years(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # A proxy in the way answering "wait until the year 9999" must not leave an
    # unattended installation refusing to run ever after: a day at most is kept.
    far = "Fri, 31 Dec 9999 23:59:59 GMT"
    server.fail("status", status=503, headers={"Retry-After": far})
    with pytest.raises(FetchError):
        run(store, server, clock, categories=["cs.CL"])
    clock.advance(MAX_REMEMBERED_WAIT_SECONDS + 60)
    summary = run(store, server, clock, categories=["cs.CL"])
    assert summary.counts.new == 3


def test_a_fetch_stopped_by_an_earlier_runs_wait_says_only_until_when(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # Nothing was asked nor stored: no "0 papers ... stored", no second "run again".
    store.set_meta("arxiv_not_before", f"{clock.now + 3600:.3f}")
    with pytest.raises(FetchError) as err:
        run(store, server, clock, categories=["cs.CL"])
    assert str(err.value) == (
        "arXiv asked an earlier run to wait until 2025-06-02 01:00:00 UTC; run again after that"
    )


# -- arXiv's results changing while a window is read -----------------------------------


def withdraw(pid: str) -> Callable[[ArxivTestServer], None]:
    def action(srv: ArxivTestServer) -> None:
        srv.papers[:] = [p for p in srv.papers if p["id"] != pid]

    return action


def list_late(paper: dict) -> Callable[[ArxivTestServer], None]:
    def action(srv: ArxivTestServer) -> None:
        srv.papers.append(paper)

    return action


def cv_may(server: ArxivTestServer) -> set[str]:
    return may_papers(server, ["cs.CV"])


def stored_ids(store: Store) -> set[str]:
    return {row[0] for row in store.conn.execute("SELECT id FROM papers")}


def test_a_paper_withdrawn_between_two_pages_does_not_cost_the_paper_it_moved(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # Page 2 is answered after 2505.00101 (on page 1) was withdrawn: every result after
    # it moves up one place, and the first of page 2 (2505.00110) onto page 1.
    server.fail("change", action=withdraw("2505.00101"), when=lambda seen: seen.start == 5)
    run(store, server, clock, categories=["cs.CV"])
    assert cv_may(server) - stored_ids(store) == set()
    assert progress(store) == {"cs.CV 2025-05": (12, 12, 1)}


def test_a_paper_listed_early_between_two_pages_is_fetched_in_the_same_run(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    early = late_paper("2505.00190", "2025-05-01T00:05:00Z") | {"categories": ["cs.CV"]}
    server.fail("change", action=list_late(early), when=lambda seen: seen.start == 5)
    run(store, server, clock, categories=["cs.CV"])
    assert store.get_paper("2505.00190") is not None
    assert progress(store) == {"cs.CV 2025-05": (14, 14, 1)}


def test_a_window_whose_total_changed_midway_is_read_again_from_the_start(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("change", action=withdraw("2505.00101"), when=lambda seen: seen.start == 5)
    summary = run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 5, 0, 5, 10]
    # The withdrawn paper came on page 1 and stays stored; page 1 read again holds
    # 2505.00110 (new) and four papers this fetch already stored: counted once, as new.
    assert summary.counts == UpsertCounts(new=13, updated=0, unchanged=0)


def test_an_entry_repeated_from_the_page_before_reads_the_window_again(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # An unstable order: page 2 starts with the last entry of page 1 and so leaves out
    # one paper, which only a second reading brings in.
    server.fail("repeat", when=lambda seen: seen.start == 5)
    run(store, server, clock, categories=["cs.CV"])
    assert cv_may(server) - stored_ids(store) == set()
    assert [s.start for s in server.api_requests] == [0, 5, 0, 5, 10]
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_an_entry_listed_twice_in_one_page_reads_the_window_again(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # An unstable order within one answer: page 2 lists one paper twice and so leaves
    # another out, with the same total and a full page of entries.
    original = list(server.papers)
    window = sorted(
        (p for p in original if p["id"] in cv_may(server)), key=lambda p: p["submitted"]
    )
    left_out, twice = window[8]["id"], window[5]
    shaken = [False]

    def unstable(srv: ArxivTestServer) -> None:
        srv.papers[:] = [p for p in original if p["id"] != left_out] + [dict(twice)]
        shaken[0] = True

    def stable(srv: ArxivTestServer) -> None:
        srv.papers[:] = original

    server.fail("change", action=unstable, when=lambda seen: seen.start == 5)
    server.fail("change", action=stable, when=lambda seen: shaken[0] and seen.start == 0)
    run(store, server, clock, categories=["cs.CV"])
    assert cv_may(server) - stored_ids(store) == set()
    assert [s.start for s in server.api_requests] == [0, 5, 0, 5, 10]
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def total_of_0_at(server: ArxivTestServer, first: int, then: int) -> None:
    """The page asked at result ``first`` reports a total of 0 beside its entries; the
    page asked at ``then`` after it, and those after, the real total again."""
    real = len(cv_may(server))

    def zero_total(srv: ArxivTestServer) -> None:
        srv.overcount = -real

    def whole_total(srv: ArxivTestServer) -> None:
        srv.overcount = 0

    server.fail("change", action=zero_total, when=lambda seen: seen.start == first)
    server.fail("change", action=whole_total, when=lambda seen: seen.start == then)


def test_a_page_with_entries_but_a_total_of_0_does_not_end_the_window(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # arXiv's hiccup: page 2 brings its entries but reports a total of 0.  Taken as
    # the total, it would record the window complete at 10 of 13.
    total_of_0_at(server, first=5, then=10)
    run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 5, 10]
    assert cv_may(server) - stored_ids(store) == set()
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_a_first_page_with_entries_but_a_total_of_0_is_asked_for_again(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # With no total known from an earlier answer, nothing says where the window ends.
    total_of_0_at(server, first=0, then=0)
    run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 0, 5, 10]
    assert progress(store) == {"cs.CV 2025-05": (13, 13, 1)}


def test_an_entry_arxiv_skips_does_not_make_its_overlapping_next_page_look_repeated(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # arxiv.Client asks for the next page at the count of entries it could parse, one
    # short of what arXiv sent: that page starts with the last entry of the one before,
    # which is arxiv's offset, not arXiv repeating itself.
    server.fail("no-published", when=lambda seen: seen.start == 0 and seen.max_results > 1)
    with pytest.raises(IncompleteMonthError):
        run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 4, 9]
    assert store.count_papers() == 12  # all but the entry without a date


def test_an_unreadable_last_entry_asked_for_again_on_the_next_page_counts_once(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # arxiv.Client asks for the next page at the count it could parse, so an entry it
    # skipped at the end of a page comes again first on the next one.
    window = "cat:cs.CV AND submittedDate:[202504240000 TO 202505312359]"
    fifth = server.matching(window)[4]["id"]
    server.fail("no-published", times=99, entry=fifth)
    with pytest.raises(IncompleteMonthError) as err:
        run(store, server, clock, categories=["cs.CV"])
    assert [s.start for s in server.api_requests] == [0, 4, 8]
    assert [ref for ref, _ in err.value.summary.unreadable] == [f"http://arxiv.org/abs/{fifth}v1"]


def test_results_that_keep_changing_stop_the_fetch_incomplete_saying_why(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("repeat", times=99, when=lambda seen: seen.start == 5)
    with pytest.raises(FetchError) as err:
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept changing its results for cs.CV 2025-05 "
        "while they were read (an entry of an earlier page came again at result 5) "
        "after 3 tries; 5 papers received by this run are stored; run again later "
        "to resume"
    )
    assert store.count_papers() == 5  # page 1, read three times
    assert progress(store)["cs.CV 2025-05"][2] == 0


# -- how much one outage costs ---------------------------------------------------------


def fail_each_ask_twice_then_empty(server: ArxivTestServer, asks: int) -> None:
    """The next ``asks`` asks for result 10 each fail twice (HTTP 503), then answer with
    an empty page."""
    for _ in range(asks):
        server.fail("status", times=2, status=503, when=lambda seen: seen.start == 10)
        server.fail("empty", when=lambda seen: seen.start == 10)


def test_an_outage_mixing_errors_and_empty_pages_costs_at_most_twice_a_plain_one(
    clock: FakeClock, store: Store
) -> None:
    # Each ask for result 10 fails twice (HTTP 503) before answering with an empty
    # page.  A plain outage costs max_retries + 1 = 3 requests; every empty page asked
    # again must not get 3 more of its own.
    with ArxivTestServer(synthetic_papers(60)) as server:
        fail_each_ask_twice_then_empty(server, asks=9)
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests].count(10) == 2 * 3
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing for cs.CV 2025-05 at result 10 of 60: "
        "6 tries brought no new results (4 failed, 2 empty pages); 10 papers "
        "received by this run are stored; run again later to resume"
    )
    assert progress(store) == {"cs.CV 2025-05": (60, 10, 0)}
    # Waiting is bounded alike: the client's 10 + 20 s for each ask's two 503s, and
    # the first step of the same backoff (10 s) before the empty page is asked again.
    assert clock.sleeps == [3.0, 3.0, 10.0, 20.0, 10.0, 10.0, 20.0]


def test_empty_pages_at_one_result_are_not_asked_again_for_each_reading_of_the_window(
    clock: FakeClock, store: Store
) -> None:
    # Result 10 keeps coming back empty; a paper listed meanwhile makes the window be
    # read again.  The empty pages asked for before count on: 3 in all at max_retries
    # = 2, not 3 per reading.
    papers = synthetic_papers(60)
    with ArxivTestServer(papers) as server:
        for n in range(3):
            early = synthetic_papers(1, first_number=20001 + n)[0]
            server.fail("empty", times=2, when=lambda seen: seen.start == 10)
            server.fail("change", action=list_late(early), when=lambda seen: seen.start == 10)
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert [s.start for s in server.api_requests] == [0, 5, 10, 10, 10, 0, 5, 10]
    assert str(err.value).startswith(
        f"arXiv API at {server.api_url} kept returning an empty page for cs.CV 2025-05 at "
        "result 10 of 61 after 3 tries;"
    )


# -- the shared budget of failed requests and empty pages (review of this change) ------


def test_failures_while_reading_a_moved_window_again_do_not_spend_an_empty_pages_budget(
    clock: FakeClock, store: Store
) -> None:
    # The window moves at result 30 and is read again from 0; on the way back pages
    # 0..20 each come after one 503 (retried fine), then result 25 comes back empty
    # once.  That one empty page is no outage at one result: it is asked again.
    reread = [False]
    early = synthetic_papers(1, first_number=20001)[0]

    def move(srv: ArxivTestServer) -> None:
        list_late(early)(srv)
        reread[0] = True

    def on_reread(start: int) -> Callable[[Seen], bool]:
        return lambda seen: reread[0] and seen.start == start

    with ArxivTestServer(synthetic_papers(60)) as server:
        server.fail("change", action=move, when=lambda seen: seen.start == 30)
        for start in (0, 5, 10, 15, 20):
            server.fail("status", status=503, when=on_reread(start))
        server.fail("empty", when=on_reread(25))
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert progress(store) == {"cs.CV 2025-05": (61, 61, 1)}


def test_a_small_overcount_is_still_accepted_when_arxiv_also_answers_503_before_each_page(
    clock: FakeClock, store: Store
) -> None:
    # arXiv says 62 but holds 60; each ask for result 60 is answered 503 twice before
    # the empty page.  A busy arXiv does not turn its known overcount into an error.
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.overcount = 2

        def two_of_three_at_60(seen: Seen) -> bool:
            asks = [s for s in server.api_requests if s.start == 60]
            return seen.start == 60 and len(asks) % 3 != 0  # 503, 503, then the page

        server.fail("status", times=6, status=503, when=two_of_three_at_60)
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert progress(store) == {"cs.CV 2025-05": (62, 60, 1)}


def test_a_window_read_again_after_it_shrank_is_not_read_a_third_time_on_a_no_results_hiccup(
    clock: FakeClock, store: Store
) -> None:
    # A paper is withdrawn while the window is read (60 -> 59: read again); the new
    # reading opens with arXiv's "no results" hiccup.  Its next page (59) is no move.
    papers = synthetic_papers(60)
    reread = [False]

    def withdraw_one(srv: ArxivTestServer) -> None:
        srv.papers[:] = [p for p in srv.papers if p["id"] != papers[40]["id"]]
        reread[0] = True

    with ArxivTestServer(papers) as server:
        server.fail("change", action=withdraw_one, when=lambda seen: seen.start == 30)
        server.fail("zero", when=lambda seen: reread[0] and seen.start == 0)
        run(store, server, clock, categories=["cs.CV"], max_retries=1)
    assert progress(store) == {"cs.CV 2025-05": (59, 59, 1)}


def test_giving_up_after_one_paper_says_it_in_the_singular(clock: FakeClock, store: Store) -> None:
    with ArxivTestServer(synthetic_papers(3)) as server:
        server.fail("status", times=3, status=503, when=lambda seen: seen.start == 1)
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2, page_size=1)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing after 3 tries (last: HTTP 503); "
        "1 paper received by this run is stored; run again later to resume"
    )


def test_failed_requests_before_pages_that_brought_new_results_are_not_held_against_an_empty_one(
    clock: FakeClock, store: Store
) -> None:
    # Pages 0..25 each come after one 503 (6 failures, each retried fine); result 30
    # then comes back empty once.  Only failures since the last new results count.
    with ArxivTestServer(synthetic_papers(60)) as server:
        for start in (0, 5, 10, 15, 20, 25):
            server.fail("status", status=503, when=lambda seen, s=start: seen.start == s)
        server.fail("empty", when=lambda seen: seen.start == 30)
        run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert progress(store) == {"cs.CV 2025-05": (60, 60, 1)}


def test_the_no_results_answer_asked_again_counts_against_the_empty_pages_budget(
    clock: FakeClock, store: Store
) -> None:
    # Two asks for result 0, each answered after two 503s: "no results", then an empty
    # page saying 13.  That is the whole budget of 2 * (max_retries + 1) = 6 answers.
    with ArxivTestServer() as server:
        for kind in ("status", "status", "zero", "status", "status", "empty"):
            server.fail(kind, status=503, when=lambda seen: seen.start == 0)
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing for cs.CV 2025-05 at result 0 of 13: "
        "6 tries brought no new results (4 failed, 2 empty pages); run again later to resume"
    )


def test_losing_the_network_mid_fetch_says_how_many_papers_are_kept_in_one_line(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(synthetic_papers(60)) as server:

        class StopServerAfterFirstPage(NullReporter):
            def update(self, label: str, done: int, total: int | None) -> None:
                if done == 5:
                    server.stop()  # the kept-alive connection is closed by the truncation

        server.fail("truncate", when=lambda seen: seen.start == 5)
        cfg = fast_arxiv_config(server, categories=["cs.CV"])
        with pytest.raises(FetchError) as err:
            fetch_month(
                store, cfg, "2025-05", client=client_for(cfg, clock),
                reporter=StopServerAfterFirstPage(),
            )  # fmt: skip
    assert str(err.value).endswith(
        "use --offline or --from FILE to work without arXiv; 5 papers received by this run "
        "are stored"
    )


def test_the_last_fraction_of_a_second_of_a_retry_after_is_waited_without_a_line(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    with ArxivTestServer() as server:
        server.fail("status", status=503, headers={"Retry-After": "30"})
        cfg = fast_arxiv_config(server, max_retries=0)
        client = client_for(cfg, clock)
        with pytest.raises(RetriesExhaustedError):
            client.fetch_api_page(arxiv.Search(query=MAY_CV), 0, 5)
        clock.advance(29.5)
        with caplog.at_level(logging.INFO, logger="trenddigest.sources.client"):
            client.fetch_api_page(arxiv.Search(query=MAY_CV), 0, 5)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []
    assert clock.sleeps == [0.5]


def test_giving_up_on_failures_and_empty_pages_counts_both_as_its_tries(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(synthetic_papers(60)) as server:
        fail_each_ask_twice_then_empty(server, asks=2)
        with pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert isinstance(err.value.__cause__, RetriesExhaustedError)
    assert err.value.__cause__.tries == 6


# -- asking again for an empty page: the client's backoff ------------------------------


def backfill_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the backfill said at WARNING."""
    return logged(caplog, "trenddigest.sources.backfill", logging.WARNING)


def test_a_persistent_empty_page_costs_the_requests_and_waits_of_a_persistent_503(
    tmp_path: Path,
) -> None:
    # Result 10 answers HTTP 503 every time, or an empty page every time.  Either is
    # an outage: 6 requests at max_retries = 5, after the client's backoff from 10 s,
    # doubled each time, capped at max_backoff_seconds (50 s here).
    costs = {}
    for kind in ("status", "empty"):
        clock = FakeClock()
        with (
            Store.open(tmp_path / f"{kind}.sqlite3") as store,
            ArxivTestServer(synthetic_papers(60)) as server,
        ):
            server.fail(kind, times=99, status=503, when=lambda seen: seen.start == 10)
            with pytest.raises(FetchError):
                run(store, server, clock, categories=["cs.CV"], max_backoff_seconds=50.0)
            costs[kind] = ([s.start for s in server.api_requests], clock.sleeps)
    assert costs["empty"] == costs["status"]
    assert costs["empty"] == ([0, 5] + [10] * 6, [3.0, 3.0, 10.0, 20.0, 40.0, 50.0, 50.0])


def test_empty_pages_are_asked_again_after_the_waits_the_client_computes(
    clock: FakeClock, store: Store
) -> None:
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.fail("empty", times=99, when=lambda seen: seen.start == 10)
        cfg = fast_arxiv_config(server, categories=["cs.CV"], backoff_seconds=7.0)
        client = client_for(cfg, clock)
        with pytest.raises(FetchError):
            fetch_month(store, cfg, "2025-05", client=client)
    assert clock.sleeps[2:] == [client.backoff(n) for n in range(1, 6)]
    assert clock.sleeps[2:] == [7.0, 14.0, 28.0, 56.0, 112.0]


def test_each_empty_page_asked_again_is_one_warning_with_its_wait_and_retry_number(
    clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.fail("empty", times=99, when=lambda seen: seen.start == 10)
        with caplog.at_level(logging.INFO), pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert backfill_warnings(caplog) == [
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 10 s (1 of 2)",
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 20 s (2 of 2)",
    ]
    assert str(err.value).startswith(
        f"arXiv API at {server.api_url} kept returning an empty page for cs.CV 2025-05 at "
        "result 10 of 60 after 3 tries;"
    )


def test_empty_pages_after_failed_requests_are_numbered_in_the_budget_they_share(
    clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Result 10 answers 503 twice (the client's retries 1 and 2 of 2), then only empty
    # pages.  Those two tries count: the first empty page is the third try, and the
    # failures raise the budget of max_retries + 1 = 3 tries by 2 to 5, so asking
    # again is retry 3 of 4, and the error counts the same 5 tries.
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.fail("status", times=2, status=503, when=lambda seen: seen.start == 10)
        server.fail("empty", times=99, when=lambda seen: seen.start == 10)
        with caplog.at_level(logging.INFO), pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
    assert backfill_warnings(caplog) == [
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 10 s (3 of 4)",
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 20 s (4 of 4)",
    ]
    assert str(err.value) == (
        f"arXiv API at {server.api_url} kept failing for cs.CV 2025-05 at result 10 of 60: "
        "5 tries brought no new results (2 failed, 3 empty pages); 10 papers "
        "received by this run are stored; run again later to resume"
    )
    assert [s.start for s in server.api_requests].count(10) == 5
    assert clock.sleeps == [3.0, 3.0, 10.0, 20.0, 10.0, 20.0]


def test_each_failed_request_adds_one_try_even_beyond_a_plain_outages_budget(
    clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # max_retries 2: a plain outage is 3 tries.  Result 10 answers 503, 503, empty;
    # 503, empty; empty: 3 failed requests raise the budget to 6 tries.
    with ArxivTestServer(synthetic_papers(60)) as server:

        def failing(seen: Seen) -> bool:
            asked = [s.start for s in server.api_requests].count(10)
            return seen.start == 10 and asked in {1, 2, 4}

        server.fail("status", times=99, status=503, when=failing)
        server.fail("empty", times=99, when=lambda seen: seen.start == 10)
        with caplog.at_level(logging.INFO), pytest.raises(FetchError) as err:
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
        assert [s.start for s in server.api_requests].count(10) == 6
    assert backfill_warnings(caplog) == [
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 10 s (3 of 4)",
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 20 s (5 of 5)",
    ]
    assert "6 tries brought no new results (3 failed, 3 empty pages)" in str(err.value)


def test_the_wait_said_for_an_empty_page_is_the_spacing_when_that_is_longer(
    clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A backoff of 1 s is shorter than the 3 s between requests: the line says 3 s.
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.fail("empty", times=1, when=lambda seen: seen.start == 10)
        with caplog.at_level(logging.INFO):
            run(store, server, clock, categories=["cs.CV"], backoff_seconds=1.0)
    assert backfill_warnings(caplog) == [
        "cs.CV 2025-05: empty page at 10 although 50 results remain; asking again in 3 s (1 of 5)"
    ]
    assert clock.sleeps[2:4] == [1.0, 2.0]  # the backoff, then what is left of the spacing


def test_an_overcount_accepted_after_503s_counts_them_in_its_tries(
    clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with ArxivTestServer(synthetic_papers(60)) as server:
        server.overcount = 2

        def two_of_three_at_60(seen: Seen) -> bool:
            asks = [s for s in server.api_requests if s.start == 60]
            return seen.start == 60 and len(asks) % 3 != 0

        server.fail("status", times=6, status=503, when=two_of_three_at_60)
        with caplog.at_level(logging.WARNING):
            run(store, server, clock, categories=["cs.CV"], max_retries=2)
        assert [s.start for s in server.api_requests].count(60) == 6
    assert backfill_warnings(caplog)[-1] == (
        "cs.CV 2025-05: arXiv reports 62 results but served 60 after 6 tries; taking its "
        "total as an overcount (2 missing)"
    )
