"""poll_feeds: the daily listing feeds keep the store current.

Feeds are served by tests/arxiv_server.py in arXiv's 2024+ RSS 2.0 / Atom layout,
built from the synthetic papers; waits go to a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from arxiv_server import ArxivTestServer, FakeClock, fast_arxiv_config, unused_port
from trenddigest.config import ArxivConfig
from trenddigest.errors import FetchError
from trenddigest.models import Paper
from trenddigest.sources.client import ArxivClient, UnreachableError
from trenddigest.sources.poll import PollSummary, feed_url_for, poll_feeds
from trenddigest.store import Store


@pytest.fixture
def server() -> Iterator[ArxivTestServer]:
    with ArxivTestServer() as srv:
        yield srv


def poll(
    store: Store,
    server: ArxivTestServer,
    clock: FakeClock,
    categories: list[str] | None = None,
    **config: object,
) -> PollSummary:
    cfg = fast_arxiv_config(server, categories=categories or ["cs.CV"], **config)
    client = ArxivClient(cfg, sleep=clock.sleep, clock=clock, wall_clock=clock.time)
    return poll_feeds(store, cfg, client=client)


WEDNESDAY = "2025-05-14"


def test_new_and_cross_listed_papers_are_stored_with_their_announce_date(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing(
        "cs.CV",
        WEDNESDAY,
        [
            {"id": "2505.00107", "type": "new"},
            {"id": "2505.00114", "type": "cross"},
        ],
    )
    summary = poll(store, server, clock)
    assert summary.counts.new == 2
    stored = store.get_paper("2505.00114")
    assert stored is not None
    assert stored.announced == WEDNESDAY
    assert stored.title == "Lightweight Image Denoising with Learned Priors"
    assert store.papers_for_month("2025-05", by="announced")[0].id == "2505.00107"


def test_a_paper_in_two_feeds_of_one_poll_counts_once_as_new(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # 2505.00101 is in cs.CV and cs.LG: new in one feed, cross-listed in the other.
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00101", "type": "new"}])
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00101", "type": "cross"}])
    summary = poll(store, server, clock, categories=["cs.CV", "cs.LG"])
    assert summary.describe() == (
        "polled 2 arXiv feeds (2 stored): 1 new, 0 updated, 0 unchanged papers"
    )
    assert store.count_papers() == 1


def test_a_stored_paper_in_two_feeds_of_one_poll_counts_once_as_unchanged(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00101", "type": "new"}])
    poll(store, server, clock, categories=["cs.CV"])
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00101", "type": "cross"}])
    server.set_listing("cs.AI", WEDNESDAY, [{"id": "2505.00101", "type": "cross"}])
    summary = poll(store, server, clock, categories=["cs.LG", "cs.AI"])
    assert summary.describe() == (
        "polled 2 arXiv feeds (2 stored): 0 new, 0 updated, 1 unchanged papers"
    )


def test_replacement_updates_the_stored_paper_and_never_adds_a_second(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    store.upsert_papers(
        [
            Paper(
                id="2505.00107",
                title="Old title",
                abstract="Old abstract",
                version=1,
                announced="2025-05-07",
                source="api",
            )
        ]
    )
    server.set_listing(
        "cs.CV",
        WEDNESDAY,
        [
            {"id": "2505.00107", "type": "replace", "version": 2, "abstract": "Revised abstract."},
        ],
    )
    summary = poll(store, server, clock)
    assert summary.counts.updated == 1
    assert store.count_papers() == 1
    paper = store.get_paper("2505.00107")
    assert paper is not None
    assert (paper.version, paper.abstract) == (2, "Revised abstract.")
    assert paper.announced == "2025-05-07"  # a revision does not move the first announcement


def test_replacement_of_a_paper_not_in_the_store_is_skipped(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing(
        "cs.CV", WEDNESDAY, [{"id": "2505.00110", "type": "replace-cross", "version": 2}]
    )
    summary = poll(store, server, clock)
    assert store.count_papers() == 0
    assert summary.feeds[0].skipped_replacements == 1


def test_an_item_of_no_announce_type_with_a_later_version_is_taken_as_a_replacement(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # A feed that lost the field: stored as new, a v3 of a 2024 paper would sit alone
    # in January 2024, a month nobody announced it in.
    old = {"title": "T", "abstract": "A", "categories": ["cs.CV"], "authors": ["A B"]}
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2401.00077", "type": "", "version": 3, **old}])
    summary = poll(store, server, clock)
    assert store.count_papers() == 0
    assert summary.feeds[0].skipped_replacements == 1


def test_a_cross_list_of_a_paper_from_years_ago_is_stored_without_an_announce_date(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    # Listed again in a new category, not announced: by announce date it is in no month.
    old = {"title": "T", "abstract": "A", "categories": ["cs.LG", "cs.CV"], "authors": ["A B"]}
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2401.00077", "type": "cross", **old}])
    poll(store, server, clock)
    paper = store.get_paper("2401.00077")
    assert paper is not None and paper.announced is None


def test_an_item_of_no_announce_type_in_its_first_version_is_stored_as_new(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00107", "type": ""}])
    summary = poll(store, server, clock)
    assert summary.counts.new == 1


def test_a_feed_item_with_an_id_after_the_current_month_is_skipped_with_the_reason(
    server: ArxivTestServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    april = FakeClock(datetime(2025, 4, 30, 9, 0, tzinfo=UTC).timestamp())  # April in UTC+14
    server.set_listing(
        "cs.CV",
        "2025-04-30",
        [{"id": "2504.21990", "type": "new"}, {"id": "2505.00107", "type": "new"}],
    )
    with caplog.at_level(logging.WARNING):
        summary = poll(store, server, april)
    assert (summary.counts.new, [p.id for p in store.iter_papers()]) == (1, ["2504.21990"])
    assert [r.getMessage() for r in caplog.records if "2505.00107" in r.getMessage()] == [
        "cs.CV: skipped a feed item: bad id 'oai:arXiv.org:2505.00107v1': YYMM 2505 is May "
        "2025, after the current month (April 2025): arXiv has issued no such id yet "
        "(oai:arXiv.org:2505.00107v1)"
    ]


def test_unchanged_feed_costs_a_conditional_get_answered_304(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00107", "type": "new"}])
    poll(store, server, clock)
    summary = poll(store, server, clock)
    second = server.feed_requests[1].headers
    assert "If-None-Match" in second and "If-Modified-Since" in second
    assert [f.status for f in summary.feeds] == ["not modified"]
    assert summary.counts.new == summary.counts.unchanged == 0


def test_feed_state_remembers_validators_per_feed_url(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00107", "type": "new"}])
    poll(store, server, clock)
    url, etag, modified = store.conn.execute(
        "SELECT url, etag, last_modified FROM feed_state"
    ).fetchone()
    assert url == server.feed_url + "cs.CV"
    assert etag.startswith('"') and modified == "Wed, 14 May 2025 04:00:00 GMT"


def test_empty_weekend_feed_is_normal_and_logged_as_such(
    server: ArxivTestServer, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server.set_listing("cs.CV", "2025-05-17", [])
    with caplog.at_level(logging.INFO, logger="trenddigest.sources.poll"):
        summary = poll(store, server, clock)
    assert [f.status for f in summary.feeds] == ["empty"]
    assert "no announcements" in caplog.text and "Saturday" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_atom_listing_feeds_are_read_too(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CL", WEDNESDAY, [{"id": "2505.00112", "type": "new"}])
    summary = poll(store, server, clock, categories=["cs.CL"], feed_url=server.atom_feed_url)
    assert summary.counts.new == 1
    paper = store.get_paper("2505.00112")
    assert paper is not None and paper.announced == WEDNESDAY


def test_truncated_feed_is_retried(server: ArxivTestServer, clock: FakeClock, store: Store) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00107", "type": "new"}])
    server.fail("truncate-unframed", path="/rss/")
    summary = poll(store, server, clock)
    assert len(server.feed_requests) == 2
    assert summary.counts.new == 1


def test_a_feed_url_answering_web_pages_fails_after_one_retry_naming_the_setting(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.fail("garbage", times=10, path="/rss/")
    with pytest.raises(FetchError) as err:
        poll(store, server, clock, max_retries=5)
    assert str(err.value).startswith(
        f"1 of 1 arXiv feeds failed: cs.CV (arXiv feed at {server.feed_url}cs.CV kept failing "
        "after 2 tries (last: an HTML page, not arXiv's XML: check that [arxiv] feed_url is "
        "right))"
    )
    assert len(server.feed_requests) == 2


def test_a_failing_feed_does_not_stop_the_others(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    with pytest.raises(FetchError) as err:  # no cs.CV listing: the server answers 404
        poll(store, server, clock, categories=["cs.CV", "cs.LG"])
    assert str(err.value) == (
        f"1 of 2 arXiv feeds failed: cs.CV (arXiv feed at {server.feed_url}cs.CV "
        "answered HTTP 404 Not Found: check [arxiv] feed_url and the category names); "
        "the other feed was read (1 stored): 1 new, 0 updated, 0 unchanged papers"
    )
    assert store.get_paper("2505.00108") is not None
    assert [f.status for f in err.value.summary.feeds] == ["failed", "stored"]  # type: ignore[attr-defined]


def test_a_poll_whose_feeds_failed_only_with_a_404_is_not_worth_asking_again_soon(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    with pytest.raises(FetchError) as err:  # no cs.CV listing: the server answers 404
        poll(store, server, clock, categories=["cs.CV", "cs.LG"])
    assert err.value.transient is False


def test_a_poll_with_a_feed_that_ran_out_of_retries_is_worth_asking_again_soon(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    server.fail("status", times=2, path="/rss/cs.LG", status=503)
    with pytest.raises(FetchError) as err:  # cs.CV answers 404, cs.LG kept failing
        poll(store, server, clock, categories=["cs.CV", "cs.LG"], max_retries=1)
    assert [f.transient for f in err.value.summary.feeds] == [False, True]  # type: ignore[attr-defined]
    assert err.value.transient is True


def test_a_feed_over_the_size_cap_fails_in_one_line_and_the_other_feeds_are_read(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00107", "type": "new"}])
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    server.fail("huge", path="/rss/cs.CV", size=8 * 1024 * 1024)
    config = fast_arxiv_config(server, categories=["cs.CV", "cs.LG"])
    client = ArxivClient(
        config, sleep=clock.sleep, clock=clock, wall_clock=clock.time, max_body_bytes=65536
    )
    with pytest.raises(FetchError) as err:
        poll_feeds(store, config, client=client)
    assert str(err.value) == (
        f"1 of 2 arXiv feeds failed: cs.CV (arXiv feed at {server.feed_url}cs.CV sent more "
        "than 65,536 bytes (uncompressed), more than any arXiv page or feed holds; check "
        "that [arxiv] feed_url points at arXiv); the other feed was read (1 stored): 1 new, "
        "0 updated, 0 unchanged papers"
    )
    assert [s.path for s in server.feed_requests] == ["/rss/cs.CV", "/rss/cs.LG"]
    assert store.get_paper("2505.00108") is not None


def test_no_network_stops_the_poll_with_one_line(clock: FakeClock, store: Store) -> None:
    port = unused_port()
    config = ArxivConfig(feed_url=f"http://127.0.0.1:{port}/rss/", categories=["cs.CV", "cs.LG"])
    client = ArxivClient(config, sleep=clock.sleep, clock=clock, timeout=0.2)
    with pytest.raises(UnreachableError) as err:
        poll_feeds(store, config, client=client)
    # No "--offline" hint: the poll has no offline fallback.
    assert str(err.value) == (
        f"cannot reach arXiv feed at http://127.0.0.1:{port}/rss/cs.CV (connection refused): "
        "check the network or set [arxiv] feed_url"
    )
    assert len(clock.sleeps) == 2  # one feed tried, not every category


def test_feed_url_is_the_base_plus_the_category() -> None:
    assert feed_url_for(ArxivConfig(), "cs.CV") == "https://rss.arxiv.org/rss/cs.CV"
    mirror = ArxivConfig(feed_url="http://mirror.example/feeds/{category}.xml")
    assert feed_url_for(mirror, "cs.CV") == "http://mirror.example/feeds/cs.CV.xml"


# -- arXiv asking the poll to wait -----------------------------------------------------


def request_times(server: ArxivTestServer, clock: FakeClock) -> list[tuple[str, float]]:
    """(path, fake time) of every request the server receives from now on."""
    times: list[tuple[str, float]] = []
    server.watchers.append(lambda seen: times.append((seen.path, clock.now)))
    return times


def test_the_feed_after_one_that_ran_out_of_retries_waits_the_retry_after_arxiv_sent(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    times = request_times(server, clock)
    server.fail("status", times=2, path="/rss/cs.CV", status=503, headers={"Retry-After": "30"})
    with pytest.raises(FetchError):
        poll(store, server, clock, categories=["cs.CV", "cs.LG"], max_retries=1)
    assert [path for path, _ in times] == ["/rss/cs.CV", "/rss/cs.CV", "/rss/cs.LG"]
    assert times[2][1] - times[1][1] >= 30.0


def test_a_wait_longer_than_the_longest_backoff_stops_the_poll_in_one_line(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.CV", WEDNESDAY, [{"id": "2505.00107", "type": "new"}])
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    server.fail("status", path="/rss/cs.LG", status=503, headers={"Retry-After": "3600"})
    with pytest.raises(FetchError) as err:
        poll(store, server, clock, categories=["cs.CV", "cs.LG", "cs.CL"])
    assert str(err.value) == (
        f"arXiv feed at {server.feed_url}cs.LG asked to wait 3600 s before asking again "
        "(HTTP 503), longer than [arxiv] max_backoff_seconds = 300; the poll stopped "
        "there (1 of 3 feeds read); poll again after 2025-06-02 01:00:03 UTC"
    )
    assert [s.path for s in server.feed_requests] == ["/rss/cs.CV", "/rss/cs.LG"]
    assert store.get_paper("2505.00107") is not None


def test_a_wait_an_earlier_run_was_asked_for_stops_the_poll_once_not_per_feed(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    store.set_meta("arxiv_not_before", f"{clock.now + 3600:.3f}")
    with pytest.raises(FetchError) as err:
        poll(store, server, clock, categories=["cs.CV", "cs.LG"])
    assert str(err.value) == (
        "arXiv asked an earlier run to wait until 2025-06-02 01:00:00 UTC; run again after that"
    )
    assert server.feed_requests == []


def test_a_failed_feed_names_what_the_other_feeds_brought(
    server: ArxivTestServer, clock: FakeClock, store: Store
) -> None:
    server.set_listing("cs.LG", WEDNESDAY, [{"id": "2505.00108", "type": "new"}])
    server.set_listing("cs.CL", "2025-05-17", [])  # a Saturday: nothing announced
    with pytest.raises(FetchError) as err:  # no cs.CV listing: the server answers 404
        poll(store, server, clock, categories=["cs.CV", "cs.LG", "cs.CL"])
    assert str(err.value).endswith(
        "; the other 2 feeds were read (1 empty, 1 stored): 1 new, 0 updated, 0 unchanged papers"
    )
