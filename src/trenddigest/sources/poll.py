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

A feed only shows the latest listing, so a listing the poll never read (the machine
was off, a feed failed, the poll ran on days arXiv's midnight rebuild makes it miss
one) is gone from the feeds for good, and a month by announce date lacks its papers.
The listing date each category's feed was last read at is kept in the store's
``meta``; a poll whose feed jumps over weekdays (arXiv's announce days) names those
listings in a warning and in its summary, and :func:`missed_listings` gives them per
month, so a digest by announce date can say which announce days it lacks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ..config import ArxivConfig
from ..errors import FetchError, InputError
from ..models import Paper
from ..store import Store, UpsertCounts
from .client import ArxivClient, HttpResult, UnreachableError, WaitRequestedError, utc_text
from .pacing import record_pacing, resume_pacing
from .parse import (
    FIRST_ANNOUNCEMENTS,
    REPLACEMENTS,
    FeedPage,
    announces_a_new_version,
    parse_listing_feed,
)
from .tally import PaperTally

log = logging.getLogger(__name__)

# arXiv's feeds are empty on these days (the feeds' own <skipDays> says so).
_DEFAULT_SKIP_DAYS = ("Saturday", "Sunday")
_LAST_LISTING_KEY = "feed_listing_date:{category}"  # meta: the newest listing date read
_MISSED_KEY = "feed_missed_listings"  # meta: JSON {date: [category, ...]} never read


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
    # Whether asking again later may well mend the failure (FetchError.transient).
    transient: bool = False
    # Listing dates between the last one read and this one whose feed was never read.
    missed: list[str] = field(default_factory=list)


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

    @property
    def missed(self) -> dict[str, list[str]]:
        """Listing dates this poll found never read, each with its categories (sorted)."""
        found: dict[str, list[str]] = {}
        for feed in self.feeds:
            for day in feed.missed:
                found.setdefault(day, []).append(feed.category)
        return {day: sorted(found[day]) for day in sorted(found)}

    def _missed(self) -> str:
        missed = self.missed
        if not missed:
            return ""
        days = ", ".join(f"{day} ({', '.join(cats)})" for day, cats in missed.items())
        return (
            f"; listings never read: {days}: their papers are missing from the months "
            "by announce date"
        )

    def _statuses(self, feeds: list[FeedPoll]) -> str:
        by_status: dict[str, int] = {}
        for feed in feeds:
            by_status[feed.status] = by_status.get(feed.status, 0) + 1
        return ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())) or "none"

    def _papers(self) -> str:
        return (
            f"{self.counts.new:,} new, {self.counts.updated:,} updated, "
            f"{self.counts.unchanged:,} unchanged papers"
        )

    def describe(self) -> str:
        feeds = f"{len(self.feeds)} arXiv feed{'' if len(self.feeds) == 1 else 's'}"
        return f"polled {feeds} ({self._statuses(self.feeds)}): {self._papers()}{self._missed()}"

    def describe_others(self) -> str:
        """What the feeds that did not fail brought, for the error naming those that did."""
        read = [f for f in self.feeds if f.status != "failed"]
        if not read:
            return "none read"
        feeds = "feed was" if len(read) == 1 else f"{len(read)} feeds were"
        return f"the other {feeds} read ({self._statuses(read)}): {self._papers()}{self._missed()}"


def feed_url_for(config: ArxivConfig, category: str) -> str:
    """``feed_url`` + category; ``{category}`` in ``feed_url`` marks where it goes."""
    if "{category}" in config.feed_url:
        return config.feed_url.replace("{category}", category)
    return config.feed_url.rstrip("/") + "/" + category


def _now(client: ArxivClient) -> str:
    return datetime.fromtimestamp(client.wall_clock(), UTC).replace(microsecond=0).isoformat()


def _feed_state(store: Store, url: str) -> tuple[str | None, str | None]:
    row = store.query_one("SELECT etag, last_modified FROM feed_state WHERE url = ?", (url,))
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


def _announce_days_between(after: str, before: str, skip_days: list[str]) -> list[str]:
    """The dates strictly between two listing dates on which arXiv lists papers."""
    skip = set(skip_days or _DEFAULT_SKIP_DAYS)
    first, last = date.fromisoformat(after), date.fromisoformat(before)
    days = []
    day = first + timedelta(days=1)
    while day < last:
        if day.strftime("%A") not in skip:
            days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def _note_listing(store: Store, page: FeedPage, poll: FeedPoll) -> None:
    """Remember the listing date read; record (and warn of) listings jumped over.

    Runs inside the poll's transaction, with the papers of the listing.
    """
    current = page.channel_date
    if not current:
        return
    try:
        date.fromisoformat(current)
    except ValueError:
        return
    key = _LAST_LISTING_KEY.format(category=poll.category)
    last = store.get_meta(key)
    raw = store.get_meta(_MISSED_KEY)
    missed: dict[str, list[str]] = json.loads(raw) if raw else {}
    changed = False
    if poll.category in missed.get(current, []):  # read after all (a mirror, a late feed)
        missed[current].remove(poll.category)
        if not missed[current]:
            del missed[current]
        changed = True
    if last and last < current:
        poll.missed = _announce_days_between(last, current, page.skip_days)
        for day in poll.missed:
            log.warning(
                "%s: the listing of %s was never read (the feed went from %s to %s): "
                "its papers are missing from %s by announce date",
                poll.category,
                day,
                last,
                current,
                day[:7],
            )
            categories = missed.setdefault(day, [])
            if poll.category not in categories:
                categories.append(poll.category)
                categories.sort()
                changed = True
    if changed:
        store.set_meta(_MISSED_KEY, json.dumps(dict(sorted(missed.items()))))
    if not last or last < current:
        store.set_meta(key, current)


def missed_listings(store: Store, month: str) -> dict[str, list[str]]:
    """The listings dated in ``month`` (``YYYY-MM``) that no poll read, with the
    categories whose feed missed each: the announce days a digest by announce date
    lacks (as far as the polls could tell; an arXiv holiday listed nothing)."""
    raw = store.get_meta(_MISSED_KEY)
    missed: dict[str, list[str]] = json.loads(raw) if raw else {}
    return {day: cats for day, cats in sorted(missed.items()) if day.startswith(f"{month}-")}


def _papers_to_store(store: Store, page: FeedPage, poll: FeedPoll) -> list[Paper]:
    papers: list[Paper] = []
    for item in page.papers:
        kind = item.announce_type
        if kind not in FIRST_ANNOUNCEMENTS and kind not in REPLACEMENTS:
            log.warning(
                "%s: unknown announce type %r for %s v%d; storing it as %s",
                poll.category,
                kind,
                item.paper.id,
                item.paper.version,
                "a new version" if item.paper.version > 1 else "new",
            )
        new_version = announces_a_new_version(kind, item.paper.version)
        if new_version and store.get_paper(item.paper.id) is None:
            poll.skipped_replacements += 1
            continue
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
        _note_listing(store, page, poll)
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
                raise FetchError(
                    f"{exc}; the poll stopped there ({read} of {len(config.categories)} "
                    f"feeds read); poll again after {utc_text(exc.until)}"
                ) from exc
            except FetchError as exc:
                poll = FeedPoll(
                    category, url, status="failed", error=str(exc), transient=exc.transient
                )
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
        # Asked again within the hour only if a feed failed for a passing reason; a
        # feed answering 404 (a wrong feed_url) would answer so every hour.
        error.transient = any(f.transient for f in failed)
        raise error
    log.info("%s", summary.describe())
    return summary
