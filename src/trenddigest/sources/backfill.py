"""Fill one month from the arXiv query API, resumably.

One query per configured category, restricted to the month's submission window
(``cat:cs.CV AND submittedDate:[202504240000 TO 202505312359]``, GMT), sorted by
submission date ascending.  The window starts :data:`LEAD_IN_DAYS` before the month
because a paper's id, whose ``YYMM`` decides its month, is assigned when arXiv first
announces it: whatever was submitted after the cutoff of the previous month's last
announcement (up to three days before the month's first day, more over arXiv's
holidays) carries this month's id.  Each page is stored together with the progress it
represents in one transaction, so an interrupted backfill never loses a received page
and resumes at the next offset, unless arXiv's total changed meanwhile: a paper listed
late (after moderation) sorts by its submission date, anywhere in the window, and
moves every offset after it, so the window is then read again from the start.  It
resumes one result early, at the last paper it received, and reads from the start
too when another paper stands there: one paper out of the window (moved to another
category) and one in keep the total but move the offsets.  The
same goes between two pages of one run: a page with another total than the pages
before it, or with an entry an earlier page already brought or listed twice in it (an
unstable order), means a paper may have slid past the offsets unseen, so the window is
read again from the start, at most ``max_retries`` times before the fetch stops
incomplete.  A page with entries but a total of 0 contradicts itself: the window keeps
the total an earlier answer reported, or is read again when none did.

arXiv is sometimes wrong: a page can come back empty or short while the feed's
``opensearch:totalResults`` says more remain.  Neither is taken as the end: paging
continues from the number of entries actually received, and an empty page is asked
for again (nor is "no results at all" after an answer that reported some), up to
``max_retries`` times, each after the client's backoff for a failed request
(``backoff_seconds`` doubled for each empty page before it at that result, at most
``max_backoff_seconds``): a persistent empty page is an outage like a run of 503s and
costs the same, 6 requests and 10 + 20 + 40 + 80 + 160 s of waiting by default.  When
an empty page persists and only a few papers are missing, arXiv's total is taken to be
an overcount (a known API quirk) and the gap is logged; a larger gap is an error, so
a month is never silently marked complete with holes.  The client retries each
request with its own budget; the failed requests it retried before an empty page
share the empty pages' budget (each adds one try to it) until a page brings results;
and only results not received before (not a window read again) renew the empty
pages' count: the budgets add up instead of multiplying.  The budget is checked
after each answer, so the last ask can add the client's retries to it: failed
requests and empty pages at one result cost at most twice a plain outage's tries
plus one client retry budget (17 requests by default, against 6; a mix of
503s between the empty pages measured 806 s of waiting, a plain outage 310 s).  A gap
small enough for arXiv's overcount is asked again at the request spacing instead
of the backoff (see ``_Paging._wait_to_ask_again``).

For the same reason an entry arXiv did send but that cannot be read (a timestamp
that is not one, an impossible id) is a hole, not a skipped detail: the rest of the
window is still fetched and stored, but its progress stays incomplete and records
the offset of the first page with such an entry, so the next run asks for that range
again (papers already stored count as unchanged), and :func:`fetch_month` ends with
an :class:`IncompleteMonthError` that says how many entries could not be read.

A month recorded complete is re-checked cheaply: nothing at all when it was checked
within :data:`RECHECK_AFTER_SECONDS` (arXiv's API results change at most once a day) and
after the month's last mailing had reached the API (a month fetched while still under
way lacks it), otherwise one ``max_results=1`` request per category comparing
``totalResults`` with the recorded total; a changed total reads the window again from
the start.  A window that ended empty, or was taken as an overcount with fewer papers
than the total, is never considered fresh: an empty answer and a persistent empty page
can both be arXiv's hiccup, and checking costs one request.  (A paper withdrawn and
another added leave the total as it was and go unnoticed by this check.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import arxiv

from ..config import ArxivConfig
from ..errors import FetchError
from ..models import API_SETTLE, InvalidArxivIdError, Month, last_announcement, split_id
from ..progress import NullReporter, Reporter
from ..store import Store, UpsertCounts
from .client import (
    ArxivClient,
    RetriesExhaustedError,
    UnreachableError,
    WaitRequestedError,
    endpoint_of,
    utc_text,
)
from .pacing import record_pacing, resume_pacing
from .parse import ApiPage
from .tally import PaperTally

log = logging.getLogger(__name__)

# The API serves at most 30000 results of one query (user manual, "paging"); a
# category-month above that is fetched one day at a time instead.
API_QUERY_LIMIT = 30000
# A complete month checked more recently than this is not asked about again.
RECHECK_AFTER_SECONDS = 12 * 3600
# Days before the month that its window also covers.  arXiv assigns ids "in the month
# of first announcement" (arXiv help, "Availability of submissions"): a paper
# submitted after 14:00 ET on the day of a month's last announcement carries the next
# month's YYMM.  That day is up to three days before the month ends (Thursday, for a
# month ending on a Sunday) and earlier over arXiv's holidays, so a week covers it;
# the papers of those days that belong to the month before are stored as well.
LEAD_IN_DAYS = 7


def _kept(stored: int) -> str:
    """What a stopped fetch kept, as the part of its message before what to do next."""
    if not stored:
        return ""
    if stored == 1:
        return "1 paper received by this run is stored; "
    return f"{stored} papers received by this run are stored; "


def _when(exc: RetriesExhaustedError) -> str:
    """When a stopped fetch may be run again: after the time arXiv named, else later."""
    if isinstance(exc, WaitRequestedError):
        return f"after {utc_text(exc.until)}"
    return "later"


def _overcount_tolerance(total: int) -> int:
    """How many missing papers are put down to arXiv overcounting ``totalResults``."""
    return max(10, total // 100)


# ---------------------------------------------------------------------- results


@dataclass
class CategoryFetch:
    """What happened to one category of the month."""

    category: str
    total: int | None = None
    received: int = 0
    requests: int = 0
    status: str = ""
    # What the store reported for this category's pages: a paper an earlier category
    # of the same fetch brought counts as unchanged here (the summary counts it once).
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    started: bool = field(default=False, repr=False)  # progress shown for it yet
    # (entry, reason) of every entry arXiv sent that could not be read: each leaves
    # the category-month incomplete.
    unreadable: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FetchSummary:
    """One month's backfill, for the CLI's report and the pipeline's notes."""

    month: str
    categories: list[CategoryFetch] = field(default_factory=list)
    requests: int = 0
    # Every paper this run stored, once, though a paper listed in two categories, or
    # on a page read again, is received twice.
    tally: PaperTally = field(default_factory=PaperTally, repr=False)

    @property
    def counts(self) -> UpsertCounts:
        """New, updated and unchanged papers, each counted once, as it was before the run."""
        return self.tally.counts

    @property
    def stored(self) -> int:
        """Distinct papers written (or confirmed) in the store by this run."""
        return self.tally.stored

    def describe(self) -> str:
        up_to_date = sum(1 for c in self.categories if c.status in ("up to date", "unchanged"))
        text = (
            f"{self.month} from arXiv: {self.counts.new:,} new, {self.counts.updated:,} "
            f"updated, {self.counts.unchanged:,} unchanged papers in {len(self.categories)} "
            f"categor{'y' if len(self.categories) == 1 else 'ies'} ({self.requests:,} "
            f"request{'' if self.requests == 1 else 's'}"
        )
        if up_to_date:
            text += f"; {up_to_date} already complete"
        return text + ")"

    @property
    def unreadable(self) -> list[tuple[str, str]]:
        """``(entry, reason)`` of every entry arXiv sent that could not be read."""
        return [item for c in self.categories for item in c.unreadable]

    def describe_incomplete(self) -> str:
        """Why the month stays incomplete, appended to :meth:`describe`; one line."""
        unreadable = self.unreadable
        count = len(unreadable)
        ref, why = unreadable[0]
        more = f", and {count - 1} more" if count > 1 else ""
        holes = [f"{c.category} {self.month}" for c in self.categories if c.unreadable]
        which = (
            f"{holes[0]} stays incomplete and the next run asks for it again"
            if len(holes) == 1
            else f"{', '.join(holes)} stay incomplete and the next run asks for them again"
        )
        return (
            f"fetched {self.describe()}; {count} entr{'y' if count == 1 else 'ies'} arXiv "
            f"sent could not be read ({ref}: {why}{more}), so {which}"
        )


class IncompleteMonthError(FetchError):
    """Entries arXiv sent could not be read: everything else is stored, the month is not done.

    ``summary`` is the run's :class:`FetchSummary`, for callers that want to go on
    with what is stored.
    """

    def __init__(self, summary: FetchSummary) -> None:
        super().__init__(summary.describe_incomplete())
        self.summary = summary


# --------------------------------------------------------------------- progress


@dataclass
class _Progress:
    total: int | None
    received: int
    complete: bool
    updated_at: str
    # The id of result ``received - 1`` when a run stopped part-way (None when not
    # known): the next run asks from that result and checks it is the same paper.
    last_id: str | None = None


def _load_progress(store: Store, category: str, key: str) -> _Progress | None:
    row = store.query_one(
        "SELECT total, received, complete, updated_at, last_id FROM fetch_progress "
        "WHERE category = ? AND month = ?",
        (category, key),
    )
    return None if row is None else _Progress(row[0], int(row[1]), bool(row[2]), row[3], row[4])


def _save_progress(store: Store, window: _Window, progress: _Progress) -> _Progress:
    """Record ``progress`` as the window's; returns it."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO fetch_progress "
            "(category, month, total, received, complete, updated_at, last_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(category, month) DO UPDATE SET "
            "total=excluded.total, received=excluded.received, complete=excluded.complete, "
            "updated_at=excluded.updated_at, last_id=excluded.last_id",
            (
                window.category,
                window.key,
                progress.total,
                progress.received,
                int(progress.complete),
                progress.updated_at,
                None if progress.complete else progress.last_id,
            ),
        )
    return progress


# ---------------------------------------------------------------------- queries


def _names_paper(ref: str, arxiv_id: str) -> bool:
    """Whether an unreadable entry's reference (its ``<id>`` URL) is ``arxiv_id``'s."""
    try:
        return split_id(ref)[0] == arxiv_id
    except InvalidArxivIdError:
        return False


def _stamp(client: ArxivClient) -> str:
    return datetime.fromtimestamp(client.wall_clock(), UTC).replace(microsecond=0).isoformat()


def _is_fresh(progress: _Progress, client: ArxivClient, settled: datetime) -> bool:
    """Whether a complete window may go unchecked: checked lately, and after ``settled``
    (when the API holds every paper of the month, see :func:`_settled`), for a window
    read before the month's last mailing lacks it.  Never for a window that ended with
    no results (an empty answer can be arXiv's hiccup, and asking costs one request)
    or with fewer papers than arXiv's total (an accepted overcount may have been a gap)."""
    if not progress.total or progress.received < progress.total:
        return False
    try:
        checked = datetime.fromisoformat(progress.updated_at)
    except ValueError:
        return False
    if checked.tzinfo is None:
        checked = checked.replace(tzinfo=UTC)
    if checked < settled:
        return False
    return client.wall_clock() - checked.timestamp() < RECHECK_AFTER_SECONDS


def _settled(month: Month) -> datetime:
    """When arXiv's API holds every paper of ``month``: its last announcement, plus the
    time the API takes to catch up with it."""
    return last_announcement(month) + API_SETTLE


def submitted_window(first: datetime, last: datetime) -> str:
    """arXiv's ``submittedDate`` range (GMT, to the minute) from first to last day."""
    return f"submittedDate:[{first:%Y%m%d}0000 TO {last:%Y%m%d}2359]"


def _first_and_last_day(month: Month) -> tuple[datetime, datetime]:
    """The days the month's window runs from and to: :data:`LEAD_IN_DAYS` before it
    (papers submitted then can carry its id) to its last day."""
    first = datetime(month.year, month.month, 1) - timedelta(days=LEAD_IN_DAYS)
    last = datetime.combine(month.next_first_day - timedelta(days=1), datetime.min.time())
    return first, last


def month_query(category: str, month: Month) -> str:
    """``cat:cs.CV AND submittedDate:[202504240000 TO 202505312359]`` for May 2025."""
    return f"cat:{category} AND {submitted_window(*_first_and_last_day(month))}"


def _days(month: Month) -> list[datetime]:
    """Every day of the month's window, for a category-month fetched day by day."""
    day, last = _first_and_last_day(month)
    out = []
    while day <= last:
        out.append(day)
        day += timedelta(days=1)
    return out


def _search(query: str) -> arxiv.Search:
    return arxiv.Search(
        query=query,
        max_results=None,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Ascending,
    )


class _TooManyResults(Exception):
    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.total = total


# ----------------------------------------------------------------------- paging


@dataclass
class _Window:
    """One query whose progress is recorded under ``(category, key)``."""

    category: str
    key: str  # the month ("2025-05"), or a day ("2025-05-14") when split
    query: str
    splittable: bool = False


class _Backfill:
    """The state of one ``fetch_month`` call: client, store, counters, reporter."""

    def __init__(
        self,
        store: Store,
        config: ArxivConfig,
        client: ArxivClient,
        reporter: Reporter,
        summary: FetchSummary,
        month: Month,
    ) -> None:
        self.settled = _settled(month)
        self.store = store
        self.config = config
        self.client = client
        self.reporter = reporter
        self.summary = summary

    def _query(
        self,
        window: _Window,
        start: int,
        size: int,
        fetch: CategoryFetch,
        on_page: Callable[[int, ApiPage], bool],
    ) -> None:
        before = self.client.requests_made
        try:
            self.client.query(_search(window.query), start, size, on_page)
        finally:
            spent = self.client.requests_made - before
            fetch.requests += spent
            self.summary.requests += spent

    def _page(self, window: _Window, start: int, size: int, fetch: CategoryFetch) -> ApiPage:
        """One page (the cheap check of a complete month asks for a single result)."""
        pages: list[ApiPage] = []

        def first(offset: int, page: ApiPage) -> bool:
            pages.append(page)
            return False

        self._query(window, start, size, fetch, first)
        return pages[0]

    def window(
        self,
        window: _Window,
        fetch: CategoryFetch,
        label: str,
        base: int = 0,
        overall: int | None = None,
    ) -> _Progress:
        """Bring one window up to date; returns its final progress.

        ``base`` is what earlier windows of the same category contributed and
        ``overall`` the category-month's total, so that the progress shown covers the
        whole category-month when it is fetched day by day.
        """
        progress = _load_progress(self.store, window.category, window.key)
        start = 0
        known_total: int | None = None
        if progress is not None:
            known_total = progress.total
            if progress.complete:
                if _is_fresh(progress, self.client, self.settled):
                    fetch.status = fetch.status or "up to date"
                    return progress
                probe = self._page(window, 0, 1, fetch)
                total = probe.total_results
                if window.splittable and total > API_QUERY_LIMIT:
                    raise _TooManyResults(total)
                whole = progress.received >= (progress.total or 0)
                if (total == progress.total and whole) or (total == 0 and progress.received > 0):
                    # Unchanged (a total of 0 for a month with papers is an API hiccup).
                    fetch.status = fetch.status or "unchanged"
                    return _save_progress(
                        self.store,
                        window,
                        _Progress(progress.total, progress.received, True, _stamp(self.client)),
                    )
                # arXiv lists a window in submission order, so papers that arrive late
                # (held in moderation, say) can land anywhere in it, and an accepted
                # overcount may have been a gap: read the whole window again.  Upserts
                # are idempotent; the papers already stored count as unchanged.
                log.info(
                    "%s: arXiv now reports %d results (was %s, %d received); reading the "
                    "window again",
                    label,
                    total,
                    progress.total,
                    progress.received,
                )
                fetch.status = "updated"
            else:
                start = progress.received
                if start:
                    log.info("%s: resuming at result %d of %s", label, start, progress.total)
                    fetch.status = "resumed"
        paging = _Paging(self, window, fetch, label, start, known_total, base, overall)
        if start and progress is not None and progress.last_id:
            paging.anchor_on(progress.last_id)
        return paging.read()

    def _overcount(self, label: str, received: int, expected: int, tries: int) -> bool:
        """Whether persistent empty pages are put down to arXiv overcounting (logged).

        Only once some results came: a window whose every page is empty is an outage
        (arXiv does answer well-formed empty feeds then), however small its total, and
        taking it for an overcount would record a small category's month complete and
        empty."""
        missing = expected - received
        if received > 0 and missing <= _overcount_tolerance(expected):
            log.warning(
                "%s: arXiv reports %d results but served %d after %d tries; taking "
                "its total as an overcount (%d missing)",
                label,
                expected,
                received,
                tries,
                missing,
            )
            return True
        return False

    def category(self, category: str, month: Month) -> CategoryFetch:
        fetch = CategoryFetch(category)
        label = f"{category} {month}"
        whole = _Window(category, str(month), month_query(category, month), splittable=True)
        recorded = _load_progress(self.store, category, whole.key)
        try:
            if recorded is not None and (recorded.total or 0) > API_QUERY_LIMIT:
                result = self._by_day(whole, month, fetch, label, recorded)
            else:
                try:
                    result = self.window(whole, fetch, label)
                except _TooManyResults as too_many:
                    result = self._by_day(whole, month, fetch, label, None, too_many.total)
        except BaseException:
            if fetch.started:
                self.reporter.finish(label, fetch.received, fetch.total, "interrupted")
            raise
        if fetch.unreadable:
            # The progress records where the next run starts; what was read this
            # run is what the bar showed.
            count = len(fetch.unreadable)
            fetch.status = f"incomplete: {count} entr{'y' if count == 1 else 'ies'} unreadable"
            fetch.total = result.total
        else:
            fetch.total, fetch.received = result.total, result.received
            fetch.status = fetch.status or "fetched"
        self.reporter.finish(label, fetch.received, fetch.total, fetch.status)
        return fetch

    def _by_day(
        self,
        whole: _Window,
        month: Month,
        fetch: CategoryFetch,
        label: str,
        recorded: _Progress | None,
        total: int | None = None,
    ) -> _Progress:
        """A category-month too large for one query: one window per day.

        The month's own row keeps the month's total (above the limit, which is what
        sends later runs straight here) and the sum received over the days.
        """
        if recorded is not None:
            total = recorded.total
            if recorded.complete:
                if _is_fresh(recorded, self.client, self.settled):
                    fetch.status = "up to date"
                    return recorded
                probe = self._page(whole, 0, 1, fetch).total_results
                if probe == recorded.total:
                    fetch.status = "unchanged"
                    return _save_progress(
                        self.store,
                        whole,
                        _Progress(probe, recorded.received, True, _stamp(self.client)),
                    )
                total = probe
                fetch.status = "updated"
        log.info(
            "%s: %s results, more than the %d one API query serves; fetching by day",
            label,
            total,
            API_QUERY_LIMIT,
        )
        received = recorded.received if recorded else 0
        _save_progress(self.store, whole, _Progress(total, received, False, _stamp(self.client)))
        done = 0
        complete = True
        for day in _days(month):
            window = _Window(
                whole.category,
                f"{day:%Y-%m-%d}",
                f"cat:{whole.category} AND {submitted_window(day, day)}",
            )
            day_progress = self.window(window, fetch, label, base=done, overall=total)
            done += day_progress.received
            complete = complete and day_progress.complete
        return _save_progress(
            self.store, whole, _Progress(total, done, complete, _stamp(self.client))
        )


class _Paging:
    """Paging through one window from ``received`` until arXiv's total is reached.

    ``arxiv.Client`` does the paging; each page is stored (with the progress it
    represents) the moment it arrives, before the next request.  When arxiv stops
    at an empty page, or at the total of its first page while a later page
    reported more, paging starts again here from what was received.  The state
    lives on the object rather than in closures so that each step (a page, the
    results moving, an empty page) is a method of its own.
    """

    def __init__(
        self,
        run: _Backfill,
        window: _Window,
        fetch: CategoryFetch,
        label: str,
        received: int,
        known_total: int | None,
        base: int,
        overall: int | None,
    ) -> None:
        self.run = run
        self.window = window
        self.fetch = fetch
        self.label = label
        self.base = base
        self.overall = overall
        self.size = run.config.page_size
        self.received = received
        self.known_total = known_total
        self.total = known_total
        # The last total arXiv reported in any answer of this call, an empty page's
        # or a moved one's too: after it, "no results at all" is a hiccup.
        self.claimed: int | None = None
        # The tries at one result that brought no new results, one budget for both
        # kinds (see _after_empty_page): empty pages, which only results past
        # ``furthest``, the most this call has received, reset (pages read again after
        # the results moved do not, so that the budgets add up instead of
        # multiplying), and requests the client retried with its own budget, which
        # any answer with results ends.
        self.empty_tries = 0
        self.failed = 0
        self.furthest = received
        self.failures_seen = run.client.failed_tries
        self.done: _Progress | None = None
        self.empty_total: int | None = None  # totalResults of the empty page arxiv stopped at
        # Offset of the first page with an entry that could not be read: what the
        # progress records as received, so that the next run starts there again.
        self.hole: int | None = None
        # The total this reading of the window expects every page to repeat: the one
        # recorded when resuming, else the first page's.  arXiv lists a window in
        # submission order, so another total (a paper listed late or withdrawn since)
        # or an entry an earlier page already brought (an unstable order) means the
        # results moved under the offsets: a paper may have slid past them unseen.
        # The window is then read again from the start (upserts are idempotent).
        self.expected: int | None = known_total if received else None
        # Ids of the pages before the last one, and of the last one: arxiv.Client asks
        # for the next page at the count of entries it could parse, so after an entry
        # it skipped (no <published>, say) that page overlaps the last one, and those
        # are not repeats.
        self.seen_ids: set[str] = set()
        self.last_ids: set[str] = set()
        self.moved: str | None = None  # why the results are known to have moved
        # Resuming: the id the last run received last, asked for again at received - 1.
        # One paper out of the window and another in leave arXiv's total as it was but
        # move the offsets: that result being another paper says so.
        self.anchor: str | None = None
        self.last_id: str | None = None  # the id of result received - 1, when known
        self.readings = 1
        self.unreadable_before = len(fetch.unreadable)

    def anchor_on(self, last_id: str) -> None:
        """Resume one result early, at the paper the interrupted run received last."""
        self.anchor = last_id
        self.received -= 1

    # -- the loop ------------------------------------------------------------------

    def read(self) -> _Progress:
        """Ask arXiv until the window is complete; returns its final progress."""
        while True:
            self.empty_total = None
            self.failures_seen = self.run.client.failed_tries
            self.run._query(self.window, self.received, self.size, self.fetch, self.on_page)
            if self.moved is not None:
                self._read_again()
                continue
            if self.done is not None:
                return self.done
            if self.empty_total is None:
                continue  # arxiv stopped at its first page's total; more were reported since
            progress = self._after_empty_page(self.empty_total)
            if progress is not None:
                return progress

    # -- one page ------------------------------------------------------------------

    def on_page(self, offset: int, page: ApiPage) -> bool:
        """Take one page as it arrives; False stops arxiv's paging."""
        reported = page.total_results
        consumed = len(page.papers) + len(page.rejected)
        self._count_failed_requests()
        if reported:
            self.claimed = reported
        self.moved = self._moved_by(offset, page)
        if self.moved is not None:
            return False
        if self.expected is None and reported:
            self.expected = reported
        self.seen_ids.update(self.last_ids)
        self.last_ids.clear()
        self.last_ids.update(paper.id for paper in page.papers)
        if not self.fetch.started:
            # Only once arXiv has answered: a run that cannot reach it prints
            # nothing but its one-line error.
            self.fetch.started = True
            self.run.reporter.start(self.label, self.base + max(reported, self.received))
        if self.window.splittable and reported > API_QUERY_LIMIT:
            raise _TooManyResults(reported)
        if not consumed:
            self.empty_total = reported
            return False
        self.anchor = None  # checked by _moved_by
        # An answer with results ends a run of failed requests; only results past the
        # furthest this call received renew the empty pages' budget, so that reading a
        # moved window again does not renew it for every reading.
        self.failed = 0
        if offset + consumed > self.furthest:
            self.furthest = offset + consumed
            self.empty_tries = 0
        progress = self._store(offset, page, consumed)
        if self.received >= (self.total or 0):
            self.done = progress
            return False
        if consumed < self.size:
            log.info(
                "%s: short page (%d of %d) at %d; %d results remain",
                self.label,
                consumed,
                self.size,
                offset,
                (self.total or 0) - self.received,
            )
        return True

    def _count_failed_requests(self) -> None:
        """Count the requests the client made and gave up on before this answer."""
        failed = self.run.client.failed_tries
        self.failed += failed - self.failures_seen
        self.failures_seen = failed

    def _moved_by(self, offset: int, page: ApiPage) -> str | None:
        """Why ``page`` shows that the results moved since the pages before it, if it does."""
        reported = page.total_results
        # A total of 0 is arXiv's hiccup (handled with empty pages), not a change.
        if self.expected is not None and reported and reported != self.expected:
            return f"its total went from {self.expected} to {reported} at result {offset}"
        earlier = self.seen_ids if offset < self.received else self.seen_ids | self.last_ids
        if any(paper.id in earlier for paper in page.papers):
            return f"an entry of an earlier page came again at result {offset}"
        # The anchor itself may be an entry that could not be read this time: that
        # tells nothing (its hole is asked for again anyway).  Any other page without
        # it first says the results moved, an unreadable entry elsewhere or not.
        first = page.papers[0].id if page.papers else None
        if (
            self.anchor is not None
            and (page.papers or page.rejected)
            and first != self.anchor
            and not any(_names_paper(ref, self.anchor) for ref, _ in page.rejected)
        ):
            return f"result {offset} is no longer {self.anchor}, the last an earlier run had"
        # One answer listing a paper twice leaves another out of it, as a repeat of an
        # earlier page's entry does, while its count of entries looks whole.
        ids = [paper.id for paper in page.papers]
        if len(set(ids)) < len(ids):
            return f"an entry came twice in the page at result {offset}"
        # Entries under a total of 0 are an answer that contradicts itself; with no total
        # known from an earlier answer, nothing says where the window ends.  (With one
        # known, :meth:`_store` keeps it.)
        if page.papers and not reported and not self._known_total():
            return f"a page of {len(ids)} entries reported a total of 0 at result {offset}"
        return None

    def _known_total(self) -> int:
        """The largest total arXiv reported for this window, in this call or (when
        resuming) the run that recorded its progress; 0 if none."""
        return max(self.expected or 0, self.total or 0, self.known_total or 0, self.claimed or 0)

    def _store(self, offset: int, page: ApiPage, consumed: int) -> _Progress:
        """Store a page with the progress it represents, in one transaction."""
        self.received = offset + consumed
        self.last_id = page.papers[-1].id if page.papers and not page.rejected else None
        # A total of 0 beside entries is arXiv's hiccup (see _moved_by): taken as the end,
        # it would record the window complete at what was received so far.
        reported = page.total_results or self._known_total()
        total = max(reported, self.received)
        self.total = total
        if page.rejected:
            # arxiv asks for the next page at the count it could read, so an entry
            # skipped at the end of a page comes again first on the next: once.
            self.fetch.unreadable += [r for r in page.rejected if r not in self.fetch.unreadable]
            self.hole = offset if self.hole is None else self.hole
        stamp = _stamp(self.run.client)
        outcome: dict[str, str] = {}
        with self.run.store.transaction():  # the page and its progress, atomically
            counts = self.run.store.upsert_papers(page.papers, outcome)
            progress = self._save(total, self.received >= total, stamp)
        self.run.summary.tally.add(outcome)
        self.fetch.counts += counts
        self._show()
        return progress

    # -- progress ------------------------------------------------------------------

    def _save(self, total: int, complete: bool, stamp: str) -> _Progress:
        """Record the window's progress: never complete, nor past, a hole."""
        progress = _Progress(
            total,
            self.received if self.hole is None else self.hole,
            complete and self.hole is None,
            stamp,
            self.last_id if self.hole is None else None,
        )
        return _save_progress(self.run.store, self.window, progress)

    def _show(self) -> None:
        """Report what the window (or the category-month fetched by day) has so far."""
        if self.overall is not None:
            shown: int | None = self.overall
        else:
            shown = None if self.total is None else self.base + self.total
        self.fetch.received, self.fetch.total = self.base + self.received, shown
        self.run.reporter.update(self.label, self.base + self.received, shown)

    # -- arXiv's results moving ------------------------------------------------------

    def _read_again(self) -> None:
        """Start the window again from its first result, or stop when it keeps moving."""
        moved = self.moved or ""
        if self.readings > self.run.config.max_retries:
            endpoint = endpoint_of(self.run.config.api_url)
            raise RetriesExhaustedError(
                f"arXiv API at {endpoint} kept changing its results for {self.label} "
                f"while they were read ({moved}) after {self.readings} tries",
                endpoint=endpoint,
                tries=self.readings,
                last=moved,
            )
        log.info(
            "%s: arXiv's results moved while they were read (%s); reading the "
            "window again from the start",
            self.label,
            moved,
        )
        self.readings += 1
        self.moved, self.expected, self.received, self.hole = None, None, 0, None
        self.anchor = self.last_id = None
        self.seen_ids.clear()
        self.last_ids.clear()
        del self.fetch.unreadable[self.unreadable_before :]  # they come again

    # -- empty pages ---------------------------------------------------------------

    def _after_empty_page(self, reported: int) -> _Progress | None:
        """What an empty page arxiv stopped at means: the window's final progress, or
        None to ask for it again.  Raises when arXiv keeps sending empty pages."""
        # A total of 0 where results were seen before, or after any answer reported
        # some (an empty page's total too), is an API hiccup, not news that the
        # papers vanished; with nothing known yet, "no results at all" is confirmed
        # once (the API has served spurious empty first pages), which costs one
        # request for a really empty category.
        flake = reported == 0 and bool(self._known_total())
        if reported == 0 and self.received == 0 and not flake and self.empty_tries == 0:
            self.empty_tries += 1
            log.info("%s: arXiv reports no results; asking once more to be sure", self.label)
            return None
        if reported <= self.received and not flake:
            self.total = max(reported, self.received)
            progress = self._save(self.total, True, _stamp(self.run.client))
            self._show()
            return progress
        # (Not made the reading's expected total: after a hiccup that opened a reading
        # of a moved window, the old total would make its next page look moved again.)
        expected = max(reported, self._known_total()) if flake else reported
        self.empty_tries += 1
        tries, allowed = self._tries()
        if tries < allowed:
            self._wait_to_ask_again(expected, tries, allowed)
            return None
        return self._stop_asking(expected)

    def _tries(self) -> tuple[int, int]:
        """The tries at this result that brought no new results, and how many the
        budget allows as the failed requests stand.

        Each empty page asked again gets the client's whole retry budget, so an
        outage mixing failures and empty pages would cost max_retries + 1 times a
        plain one; the failed requests count here too, each adding one try to a plain
        outage's max_retries + 1, up to twice that.  (The same as stopping at
        max_retries + 1 empty pages, or at twice that many tries of both kinds.)"""
        plain = self.run.config.max_retries + 1
        return self.empty_tries + self.failed, plain + min(self.failed, plain)

    def _wait_to_ask_again(self, expected: int, tries: int, allowed: int) -> None:
        """Wait the client's backoff before asking for an empty page again, as for a
        failed request: an empty page that persists is an outage too, and asking
        every 3 seconds would spend the budget in half a minute.  The backoff grows
        with the empty pages at this result, the client's own with its failures, so
        that each costs no more than it would alone.  The line numbers the retry
        against the shared budget, as the error does when it runs out.

        Not so for a gap small enough for arXiv's overcount (results came, and few
        are missing): that is the known quirk :meth:`_Backfill._overcount` accepts in the
        end, not an outage, and a month taken with one is read again at its next
        check, so backing off would cost over 5 minutes per category at every run.
        It is asked again at the request spacing."""
        client = self.run.client
        missing = expected - self.received
        overcount = self.received > 0 and missing <= _overcount_tolerance(expected)
        wait = 0.0 if overcount else client.backoff(self.empty_tries)
        next_allowed = client.next_allowed()
        spacing = 0.0 if next_allowed is None else next_allowed - client.wall_clock()
        log.warning(
            "%s: empty page at %d although %d results remain; asking again in %.0f s (%d of %d)",
            self.label,
            self.received,
            expected - self.received,
            max(wait, spacing),
            tries,
            allowed - 1,
        )
        if wait > 0:
            client.sleep(wait)

    def _stop_asking(self, expected: int) -> _Progress:
        """The budget for empty pages is spent: arXiv's total taken as an overcount
        when few papers are missing (a busy arXiv answering 503s between the empty
        pages does not change that), else an error."""
        tries, _ = self._tries()
        if self.run._overcount(self.label, self.received, expected, tries):
            return self._save(expected, True, _stamp(self.run.client))
        endpoint = endpoint_of(self.run.config.api_url)
        where = f"{self.label} at result {self.received} of {expected}"
        if not self.failed:
            message = f"kept returning an empty page for {where} after {tries} tries"
        else:
            empties = self.empty_tries  # at least 2: each ask ends in an empty page
            message = (
                f"kept failing for {where}: {tries} tries brought no new results "
                f"({self.failed} failed, {empties} empty pages)"
            )
        raise RetriesExhaustedError(
            f"arXiv API at {endpoint} {message}",
            endpoint=endpoint,
            tries=tries,
            last="empty page",
        )


def fetch_month(
    store: Store,
    config: ArxivConfig,
    month: Month | str,
    client: ArxivClient | None = None,
    reporter: Reporter | None = None,
) -> FetchSummary:
    """Bring every configured category of ``month`` into the store from the arXiv API.

    Resumable and idempotent; see the module docstring.  Raises :class:`FetchError`
    (one line, saying how much is already stored) when arXiv keeps failing,
    :class:`~trenddigest.errors.ArxivAPIError` when arXiv rejects the query, and
    :class:`IncompleteMonthError` (a FetchError) after fetching every category when
    entries arXiv sent could not be read, because the month is then not complete.
    """
    month = Month.parse(month) if isinstance(month, str) else month
    own_client = client is None
    client = client or ArxivClient(config)
    resume_pacing(store, client)
    summary = FetchSummary(str(month))
    run = _Backfill(store, config, client, reporter or NullReporter(), summary, month)
    try:
        for category in config.categories:
            summary.categories.append(run.category(category, month))
    except RetriesExhaustedError as exc:
        if isinstance(exc, WaitRequestedError) and exc.tries == 0 and not summary.stored:
            raise  # an earlier run's wait: nothing was asked, the message says until when
        raise FetchError(f"{exc}; {_kept(summary.stored)}run again {_when(exc)} to resume") from exc
    except UnreachableError as exc:
        if summary.stored:
            raise FetchError(f"{exc}; {_kept(summary.stored).removesuffix('; ')}") from exc
        raise
    finally:
        record_pacing(store, client)
        if own_client:
            client.close()
    log.info("backfill %s", summary.describe())
    if summary.unreadable:
        raise IncompleteMonthError(summary)
    return summary
