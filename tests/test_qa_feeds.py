"""QA of the daily listing feeds for a group that makes its digests by announce date.

The listing feeds only show the latest announcement: a listing the poll never read
(the machine was off, a feed failed, the poll ran on the wrong days) is gone from
them for good, and the month by announce date silently lacks its papers unless the
poll notices the jump in listing dates.  Synthetic papers only; waits on a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from arxiv_server import ArxivTestServer, FakeClock, fast_arxiv_config
from trenddigest.config import ScheduleConfig
from trenddigest.errors import FetchError
from trenddigest.schedule import schedule_triggers
from trenddigest.sources.client import ArxivClient
from trenddigest.sources.poll import PollSummary, missed_listings, poll_feeds
from trenddigest.store import Store


@pytest.fixture
def server() -> Iterator[ArxivTestServer]:
    with ArxivTestServer(papers=[]) as srv:
        yield srv


def item(
    number: int, kind: str = "new", categories: tuple[str, ...] = ("cs.CV",)
) -> dict[str, Any]:
    return {
        "id": f"2505.{number:05d}",
        "type": kind,
        "version": 1,
        "title": f"Invented Paper {number} on Made-up Benchmarks",
        "abstract": f"A synthetic abstract for paper {number}.",
        "authors": ["Ada Example"],
        "categories": list(categories),
        "comment": "",
    }


def poll_listing(
    store: Store,
    server: ArxivTestServer,
    clock: FakeClock,
    day: str,
    items: list[dict[str, Any]],
    categories: tuple[str, ...] = ("cs.CV",),
) -> PollSummary:
    """Serve ``items`` as every category's listing dated ``day`` and poll once."""
    for category in categories:
        server.set_listing(category, day, items)
    clock.advance(86400)  # one poll a day: no wait of an earlier poll carries over
    config = fast_arxiv_config(server, categories=list(categories))
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    return poll_feeds(store, config, client=client)


def test_consecutive_listings_and_weekends_report_no_listing_missed(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    summaries = [
        poll_listing(store, server, clock, "2025-05-15", [item(1)]),  # Thursday
        poll_listing(store, server, clock, "2025-05-16", [item(2)]),  # Friday
        poll_listing(store, server, clock, "2025-05-18", []),  # Sunday: empty
        poll_listing(store, server, clock, "2025-05-19", [item(3)]),  # Monday
    ]
    assert [s.missed for s in summaries] == [{}, {}, {}, {}]
    assert missed_listings(store, "2025-05") == {}


def test_the_friday_listing_skipped_by_sunday_to_thursday_polls_is_reported_never_read(
    server: ArxivTestServer, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # arXiv rebuilds the feeds at midnight Eastern: a poll at 20:30 reads the listing
    # dated that day, so polls on Thursday and Sunday evenings never see Friday's.
    poll_listing(store, server, clock, "2025-05-15", [item(1)])
    with caplog.at_level(logging.WARNING, logger="trenddigest.sources.poll"):
        summary = poll_listing(store, server, clock, "2025-05-18", [])
    assert summary.missed == {"2025-05-16": ["cs.CV"]}
    assert summary.describe() == (
        "polled 1 arXiv feed (1 empty): 0 new, 0 updated, 0 unchanged papers; "
        "listings never read: 2025-05-16 (cs.CV): their papers are missing from the "
        "months by announce date"
    )
    assert [r.getMessage() for r in caplog.records] == [
        "cs.CV: the listing of 2025-05-16 was never read (the feed went from 2025-05-15 "
        "to 2025-05-18): its papers are missing from 2025-05 by announce date"
    ]


def test_a_week_without_polls_names_every_weekday_listing_never_read(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    poll_listing(store, server, clock, "2025-05-09", [item(1)], categories=("cs.CV", "cs.CL"))
    summary = poll_listing(
        store, server, clock, "2025-05-19", [item(2)], categories=("cs.CV", "cs.CL")
    )
    week = ["2025-05-12", "2025-05-13", "2025-05-14", "2025-05-15", "2025-05-16"]
    assert summary.missed == {day: ["cs.CL", "cs.CV"] for day in week}
    assert missed_listings(store, "2025-05") == {day: ["cs.CL", "cs.CV"] for day in week}


def test_the_listing_of_a_feed_that_failed_is_reported_missing_at_the_next_poll(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    poll_listing(store, server, clock, "2025-05-13", [item(1)])
    server.fail("status", times=10, path="/rss/cs.CV", status=500)
    with pytest.raises(FetchError):
        poll_listing(store, server, clock, "2025-05-14", [item(2)])
    summary = poll_listing(store, server, clock, "2025-05-15", [item(3)])
    assert summary.missed == {"2025-05-14": ["cs.CV"]}


def test_missed_listings_are_kept_per_month_of_their_date(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    poll_listing(store, server, clock, "2025-05-29", [item(1)])  # Thursday
    poll_listing(store, server, clock, "2025-06-03", [item(2)])  # Tuesday
    assert missed_listings(store, "2025-05") == {"2025-05-30": ["cs.CV"]}
    assert missed_listings(store, "2025-06") == {"2025-06-02": ["cs.CV"]}


def test_a_stale_feed_dated_before_the_last_listing_read_reports_nothing_missed(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    poll_listing(store, server, clock, "2025-05-15", [item(1)])
    stale = poll_listing(store, server, clock, "2025-05-14", [item(2)])  # a cache served old news
    after = poll_listing(store, server, clock, "2025-05-16", [item(3)])
    assert (stale.missed, after.missed) == ({}, {})
    assert missed_listings(store, "2025-05") == {}


def test_a_missed_listing_read_later_is_no_longer_reported(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    poll_listing(store, server, clock, "2025-05-13", [item(1)])
    poll_listing(store, server, clock, "2025-05-15", [item(3)])
    assert missed_listings(store, "2025-05") == {"2025-05-14": ["cs.CV"]}
    poll_listing(store, server, clock, "2025-05-14", [item(2)])  # a mirror still serving it
    assert missed_listings(store, "2025-05") == {}


def listing_dates_read_by_the_default_poll(first: datetime, days: int) -> set[str]:
    """The dates of the listings the default ``poll_cron`` reads: arXiv rebuilds every
    feed at midnight US Eastern (format-specs rss.md), so a poll at any hour of day D
    reads the listing dated D."""
    tz, trigger, _ = schedule_triggers(ScheduleConfig())
    read: set[str] = set()
    previous = None
    now = first.replace(tzinfo=tz)
    end = now + timedelta(days=days)
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire < end:
        read.add(fire.astimezone(tz).date().isoformat())
        previous, now = fire, fire + timedelta(seconds=1)
    return read


def test_the_default_poll_schedule_reads_every_weekday_listing() -> None:
    read = listing_dates_read_by_the_default_poll(datetime(2025, 5, 12), 7)  # a Monday
    weekdays = {(date(2025, 5, 12) + timedelta(days=i)).isoformat() for i in range(5)}
    assert weekdays - read == set()
