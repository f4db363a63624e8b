"""The daily poll: arXiv's listing feeds keep the store current between backfills.

One conditional GET per configured category (``feed_url`` + category, RSS 2.0 or
Atom).  The ETag / Last-Modified of the last feed stored is kept in ``feed_state``,
so an unchanged feed costs a 304 and nothing else.  Announce types are handled as
arXiv defines them:

* ``new`` / ``cross``: stored, with the listing date as the announce date;
* ``replace`` / ``replace-cross``: update a paper the store already holds (newer
  version, new abstract); the store keys by id, so there is never a second copy.
  Revisions of papers the store does not hold are skipped: a revision is not news,
  and importing them would scatter stray old papers over old months.

A feed without items is normal on weekends and arXiv holidays and is logged as such.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import ArxivConfig
from ..errors import FetchError, InputError
from ..models import Paper
from ..store import Store, UpsertCounts
from .client import ArxivClient, HttpResult, UnreachableError, WaitRequestedError
from .pacing import record_pacing, resume_pacing
from .parse import FeedPage, parse_listing_feed
from .tally import PaperTally

log = logging.getLogger(__name__)

_FIRST = frozenset({"new", "cross"})
_REPLACEMENTS = frozenset({"replace", "replace-cross"})


@dataclass
class FeedPoll:
    """One category's feed in one poll."""

    category: str
    url: str
    status: str = ""  # "stored", "not modified", "empty", "failed"
    date: str | None = None  # the listing's announce date
    items: int = 0
    # What the store reported for this feed: a paper an earlier feed of the same poll
    # brought (cross-listed) counts as unchanged here (the summary counts it once).
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    skipped_replacements: int = 0
    error: str = ""


@dataclass
class PollSummary:
    feeds: list[FeedPoll] = field(default_factory=list)
    requests: int = 0
    # Every paper the poll stored, once: a paper cross-listed in two of the polled
    # categories is in both feeds.
    tally: PaperTally = field(default_factory=PaperTally, repr=False)

    @property
    def counts(self) -> UpsertCounts:
        """New, updated and unchanged papers, each counted once, as it was before the poll."""
        return self.tally.counts

    @property
    def failed(self) -> list[FeedPoll]:
        return [f for f in self.feeds if f.status == "failed"]

    def _statuses(self, feeds: list[FeedPoll]) -> str:
        by_status: dict[str, int] = {}
        for feed in feeds:
            by_status[feed.status] = by_status.get(feed.status, 0) + 1
        return ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())) or "none"

    def _papers(self) -> str:
        return (
            f"{self.counts.new} new, {self.counts.updated} updated, "
            f"{self.counts.unchanged} unchanged papers"
        )

    def describe(self) -> str:
        feeds = f"{len(self.feeds)} arXiv feed{'' if len(self.feeds) == 1 else 's'}"
        return f"polled {feeds} ({self._statuses(self.feeds)}): {self._papers()}"

    def describe_others(self) -> str:
        """What the feeds that did not fail brought, for the error naming those that did."""
        read = [f for f in self.feeds if f.status != "failed"]
        if not read:
            return "none read"
        feeds = "feed was" if len(read) == 1 else f"{len(read)} feeds were"
        return f"the other {feeds} read ({self._statuses(read)}): {self._papers()}"


def feed_url_for(config: ArxivConfig, category: str) -> str:
    """``feed_url`` + category; ``{category}`` in ``feed_url`` marks where it goes."""
    if "{category}" in config.feed_url:
        return config.feed_url.replace("{category}", category)
    return config.feed_url.rstrip("/") + "/" + category


def _now(client: ArxivClient) -> str:
    return datetime.fromtimestamp(client.wall_clock(), UTC).replace(microsecond=0).isoformat()


def _feed_state(store: Store, url: str) -> tuple[str | None, str | None]:
    row = store.conn.execute(
        "SELECT etag, last_modified FROM feed_state WHERE url = ?", (url,)
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _save_feed_state(
    store: Store, url: str, etag: str | None, last_modified: str | None, checked: str
) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO feed_state (url, etag, last_modified, last_checked) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET etag=excluded.etag, "
            "last_modified=excluded.last_modified, last_checked=excluded.last_checked",
            (url, etag, last_modified, checked),
        )


def _touch_feed_state(store: Store, url: str, checked: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE feed_state SET last_checked = ? WHERE url = ?", (checked, url))


def _papers_to_store(store: Store, page: FeedPage, poll: FeedPoll) -> list[Paper]:
    papers: list[Paper] = []
    for item in page.papers:
        kind = item.announce_type
        if kind in _REPLACEMENTS:
            if store.get_paper(item.paper.id) is None:
                poll.skipped_replacements += 1
                continue
        elif kind not in _FIRST:
            log.warning(
                "%s: unknown announce type %r for %s; storing it as new",
                poll.category,
                kind,
                item.paper.id,
            )
        papers.append(item.paper)
    return papers


def poll_one(
    store: Store, client: ArxivClient, category: str, url: str, tally: PaperTally | None = None
) -> FeedPoll:
    """Fetch, parse and store one category's listing feed; its papers are counted in
    ``tally`` too (the poll's, so that a paper in two feeds counts once)."""
    poll = FeedPoll(category, url)
    etag, last_modified = _feed_state(store, url)
    parsed: dict[str, FeedPage] = {}

    def usable(result: HttpResult) -> str | None:
        try:
            parsed["page"] = parse_listing_feed(result.body, client.latest_month())
        except InputError as exc:
            return str(exc)
        return None

    result = client.fetch_feed(url, etag=etag, last_modified=last_modified, check=usable)
    checked = _now(client)
    if result.not_modified:
        poll.status = "not modified"
        log.info("%s: feed not modified since the last poll", category)
        _touch_feed_state(store, url, checked)
        return poll
    page = parsed["page"]
    poll.date = page.channel_date
    poll.items = len(page.papers)
    for ref, why in page.rejected:
        log.warning("%s: skipped a feed item: %s (%s)", category, why, ref)
    papers = _papers_to_store(store, page, poll)
    outcome: dict[str, str] = {}
    with store.transaction():  # the papers and the validators that mark them as seen
        poll.counts = store.upsert_papers(papers, outcome)
        _save_feed_state(
            store, url, result.headers.get("ETag"), result.headers.get("Last-Modified"), checked
        )
    if tally is not None:
        tally.add(outcome)
    if page.is_empty:
        poll.status = "empty"
        skip = ", ".join(page.skip_days) or "weekends"
        log.info(
            "%s: no announcements in the feed of %s (normal on %s and arXiv holidays)",
            category,
            page.channel_date or "today",
            skip,
        )
    else:
        poll.status = "stored"
        log.info(
            "%s: %d items announced %s: %d new, %d updated, %d unchanged, "
            "%d revisions of papers not in the store skipped",
            category,
            poll.items,
            poll.date,
            poll.counts.new,
            poll.counts.updated,
            poll.counts.unchanged,
            poll.skipped_replacements,
        )
    return poll


def poll_feeds(store: Store, config: ArxivConfig, client: ArxivClient | None = None) -> PollSummary:
    """Poll every configured category's listing feed once.

    A feed that keeps failing does not stop the others; after all are tried a
    :class:`FetchError` names the failed ones (its ``summary`` attribute holds the
    :class:`PollSummary`).  No network at all stops at the first feed.
    """
    own_client = client is None
    client = client or ArxivClient(config)
    resume_pacing(store, client)
    summary = PollSummary()
    before = client.requests_made
    try:
        for category in config.categories:
            url = feed_url_for(config, category)
            try:
                poll = poll_one(store, client, category, url, summary.tally)
            except UnreachableError:
                raise
            except WaitRequestedError as exc:
                # Every other feed would have to wait as long: stop, in one line.
                if exc.tries == 0 and not summary.feeds:
                    raise  # an earlier run's wait: nothing was asked
                read = len(summary.feeds) - len(summary.failed)
                until = datetime.fromtimestamp(exc.until, UTC)
                raise FetchError(
                    f"{exc}; the poll stopped there ({read} of {len(config.categories)} "
                    f"feeds read); poll again after {until:%Y-%m-%d %H:%M:%S} UTC"
                ) from exc
            except FetchError as exc:
                poll = FeedPoll(category, url, status="failed", error=str(exc))
                log.debug("%s: %s", category, exc)  # every reason is in the final error
            summary.feeds.append(poll)
    finally:
        summary.requests = client.requests_made - before
        record_pacing(store, client)
        if own_client:
            client.close()
    if summary.failed:
        failed = summary.failed
        reasons = ", ".join(f"{f.category} ({f.error})" for f in failed)
        error = FetchError(
            f"{len(failed)} of {len(summary.feeds)} arXiv feeds failed: {reasons}; "
            f"{summary.describe_others()}"
        )
        error.summary = summary  # type: ignore[attr-defined]
        raise error
    log.info("%s", summary.describe())
    return summary
