"""The built-in scheduler: ``trenddigest schedule`` runs the daily poll and the monthly digest.

APScheduler 3.x does the timing; this module decides *what* is due.  Each job's
last success is kept in the store (table ``job_runs``), so the digest job is really
"produce every monthly digest that is due": a machine that was off on the 1st
produces the missed months on its next start, oldest first, and a second fire for
a month already done does nothing.  A month becomes due at the digest cron's first
fire in the month after it, never earlier (with a digest cron on the 3rd, a start
or a poll on the 2nd does not make May's digest before the day chosen for it).

The jobs themselves (fetch + rank + render, and the daily poll) are injected as
callables so that this module knows nothing about arXiv, and tests can run the
jobs directly with a fake clock instead of waiting for a cron time.  What they wait
on (arXiv's backoff, the store's lock) they wait on through :meth:`StopRequest.sleep`,
so that SIGTERM ends a wait of minutes at once instead of after it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import FrameType
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from .config import Config, ScheduleConfig
from .errors import (
    ConfigError,
    DeliveryError,
    EmptyMonthError,
    FetchError,
    LockError,
    StoreError,
    TrendDigestError,
)
from .models import (
    API_SETTLE,
    ARXIV_TIMEZONE,
    Month,
    last_announcement,
    latest_complete_month,
)
from .store import Store

log = logging.getLogger(__name__)

POLL_JOB = "poll"
DIGEST_JOB = "digest"
DIGEST_RETRY_JOB = "digest-retry"
POLL_RETRY_JOB = "poll-retry"
POLL_START_JOB = "poll-at-start"
DIGEST_COMPLETE_JOB = "digest-complete"
# A machine off for years should not start by writing dozens of digests.
MAX_CATCH_UP_MONTHS = 12
# A digest that failed because arXiv was unreachable or the store was busy is tried
# again this much later instead of waiting for next month's fire.
RETRY_DELAY = timedelta(hours=1)
# A month is made no sooner than this after the last announcement of its papers
# (20:00 ET), the default digest_cron's 06:00 ET: arXiv's API lags its announcements.
SETTLE = API_SETTLE

# What README shows for plain cron (kept here so that a test runs it): cron's PATH
# lacks the virtualenv, and cron needs % escaped; the shell computes the month just
# ended (GNU date).  ``date -u`` heads each run's part of the log, as the run's
# summary and a one-line error carry no timestamp.  The 4th at 12:15, in the machine's
# own time zone: in every zone, after arXiv's API holds the month just ended (at the
# latest 06:00 US Eastern on the 3rd, for a month ending on a Friday).
CRONTAB_EXAMPLE = (
    "PATH=/path/to/digest-repo/.venv/bin:/usr/bin:/bin\n"
    "15 12 4-6 * * cd /path/to/digest-repo && { date -u; trenddigest run "
    '--month "$(date -d "$(date +\\%Y-\\%m-01) -1 month" +\\%Y-\\%m)" '
    "--commit --push; } >> trenddigest.log 2>&1"
)

Clock = Callable[[], datetime]


class EitherDayTrigger(OrTrigger):
    """A crontab line restricting both day fields: fires when either matches (see
    :func:`crontab_trigger`).  Shown as its two halves joined by "or", in the start-up
    line and APScheduler's misfire warning, not as APScheduler's ``or[...]``."""

    def __str__(self) -> str:
        return " or ".join(str(trigger) for trigger in self.triggers)


# What a crontab line becomes: one CronTrigger, or, for a line restricting both day
# fields, an EitherDayTrigger of two.  Both answer get_next_fire_time.
CrontabTrigger: TypeAlias = CronTrigger | EitherDayTrigger


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- stopping ----------------------------------------------------------------------


class JobStopped(Exception):
    """A job's wait was cut short because the scheduler is stopping.

    Not a :class:`TrendDigestError`: nothing is wrong, and no code on the way out
    (the poll's per-feed errors, the catch-up's per-month ones) may take it for a
    failure to note and carry on from.
    """


class StopRequest(threading.Event):
    """Set when the scheduler is told to stop (SIGINT, SIGTERM, its shutdown).

    Its :meth:`sleep` is the ``sleep`` a job hands to what waits inside it (the arXiv
    client's backoff and spacing, the store lock's retries): a poll retrying a feed
    that keeps failing waited out minutes of backoff after SIGTERM, longer than a
    service manager waits before it kills.  What a job already stored is kept: every
    page and feed is committed as it arrives.
    """

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise :class:`JobStopped` as soon as a stop is requested."""
        if self.wait(max(0.0, seconds)):
            raise JobStopped("the scheduler is stopping")


# -- job bookkeeping in the store ------------------------------------------------


@dataclass(frozen=True)
class JobRun:
    """A job's last successful run as recorded in ``job_runs``."""

    job: str
    last_success: str
    last_target: str | None
    detail: str | None


def last_job_run(store: Store, job: str) -> JobRun | None:
    row = store.query_one(
        "SELECT job, last_success, last_target, detail FROM job_runs WHERE job = ?", (job,)
    )
    return None if row is None else JobRun(*row)


def record_job_success(
    store: Store, job: str, *, when: datetime, target: str | None, detail: str | None = None
) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO job_runs (job, last_success, last_target, detail) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(job) DO UPDATE SET last_success = excluded.last_success, "
            "last_target = excluded.last_target, detail = excluded.detail",
            (job, when.astimezone(UTC).replace(microsecond=0).isoformat(), target, detail),
        )


def _detail(result: object) -> str | None:
    return None if result is None else str(result)[:500]


# -- what is due -----------------------------------------------------------------


def _utc(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def next_feed_rebuild(now: datetime) -> datetime:
    """The next midnight US Eastern after ``now``, when arXiv replaces each listing
    feed with the next day's (the one before is gone from the feeds)."""
    local = now.astimezone(ARXIV_TIMEZONE)
    tomorrow = local.date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=ARXIV_TIMEZONE)


def last_feed_rebuild(now: datetime) -> datetime:
    """The last midnight US Eastern at or before ``now``: the listing in arXiv's feeds
    since then is the one a poll today reads."""
    local = now.astimezone(ARXIV_TIMEZONE)
    return datetime(local.year, local.month, local.day, tzinfo=ARXIV_TIMEZONE)


def missed_poll(
    last_success: datetime | None, trigger: CrontabTrigger, now: datetime
) -> datetime | None:
    """Today's poll fire (arXiv's day) that no poll answered, or None.

    That is the poll cron's first fire since arXiv last rebuilt its feeds, if it is
    already past and no poll succeeded since the rebuild: the scheduler was not
    running then (started, or restarted after an upgrade, later in the day).  The
    listing stays in the feed until midnight US Eastern, so it can still be read;
    otherwise it would be reported as missed at the next poll.  A day the poll cron
    does not run on (a weekend, by default), or a start before its time, polls
    nothing early.
    """
    rebuilt = last_feed_rebuild(now)
    fire = trigger.get_next_fire_time(None, rebuilt)
    if fire is None or fire > now:
        return None  # the cron does not poll today, or not yet
    if last_success is not None and last_success >= rebuilt:
        return None  # today's listing was read
    return fire


def month_just_ended(now: datetime, tz: tzinfo) -> Month:
    """The month a digest fired at ``now`` covers: the previous calendar month in ``tz``."""
    local = now.astimezone(tz)
    return Month(local.year, local.month).shift(-1)


def latest_due_month(now: datetime, tz: tzinfo, trigger: CrontabTrigger | None = None) -> Month:
    """The newest month whose digest is due at ``now``.

    A month is due from the digest trigger's first fire in the month after it (by
    default the 1st, 06:00 US/Eastern), not from its last day: whoever moves the
    digest later in the month (to leave arXiv's API time to catch up, or to suit the
    group) means it, and a scheduler started or a poll run before that day must not
    build the month anyway.  Nor before the month is complete, :data:`SETTLE` after
    arXiv's last announcement of its papers (:func:`~trenddigest.models.last_announcement`):
    a month that ends on a Friday or a Saturday has its last mailing on the Sunday
    after it, and a time zone east of New York reaches the 1st while arXiv still has
    the last day's mailing to announce.  Such a month is made by the first poll after
    that (the digest job's next fire is a month away).  Without ``trigger`` the month
    just ended is due at once (tests of the catch-up itself).
    """
    just_ended = month_just_ended(now, tz)
    if trigger is None:
        return just_ended
    local = now.astimezone(tz)
    first_fire = trigger.get_next_fire_time(None, datetime(local.year, local.month, 1, tzinfo=tz))
    due = just_ended.shift(-1) if first_fire is None or first_fire > now else just_ended
    complete = latest_complete_month(now, SETTLE)
    return min(due, complete)


def months_due(
    last_target: Month | None,
    just_ended: Month,
    limit: int = MAX_CATCH_UP_MONTHS,
    done: Collection[Month] = (),
    *,
    warn: bool = True,
) -> list[Month]:
    """The months still without a digest, oldest first, of the last ``limit`` months.

    Every month up to ``last_target`` is done, and so are the months in ``done``
    after it (made while a month before them was held or failed).  Never having run
    counts as having done the month before ``just_ended``: a new installation
    produces last month's digest, not the whole history.  A month older than the
    last ``limit`` is not made, with a warning (``warn``; :func:`run_due_digests`
    then records it given up, so the warning is given once): a machine off for years
    should not start by writing dozens of digests, nor should a month without papers
    be tried for ever.
    """
    start = last_target.shift(1) if last_target is not None else just_ended
    oldest = just_ended.shift(1 - limit)
    missing: list[Month] = []
    month = start
    while month <= just_ended:
        if month not in done:
            missing.append(month)
        month = month.shift(1)
    too_old = [month for month in missing if month < oldest]
    if too_old and warn:
        _log_too_old(too_old, limit)
    return [month for month in missing if month >= oldest]


def _log_too_old(months: list[Month], limit: int) -> None:
    if len(months) == 1:
        log.warning(
            "no digest for %s, which is older than the last %d months the scheduler makes: "
            "it is not tried again; make it with: trenddigest run --month %s",
            months[0],
            limit,
            months[0],
        )
        return
    log.warning(
        "no digest for %d months older than the last %d the scheduler makes (%s .. %s): "
        "they are not tried; make them with: trenddigest run --month YYYY-MM",
        len(months),
        limit,
        months[0],
        months[-1],
    )


# -- how far the digest job got ------------------------------------------------------

# meta: the months done after ``job_runs.last_target`` while a month before them is
# still due (held or failed), comma-separated.
_AHEAD_KEY = "digest_job_done_ahead"


@dataclass(frozen=True)
class DigestProgress:
    """Which monthly digests are done: every month up to ``through``, and the months
    in ``ahead`` after it.  The months between are still due.

    ``job_runs.last_target`` stays "every month up to here is done" (``through``);
    a month made while one before it is held (no papers, a refused delivery) or
    failed is noted in ``ahead`` instead of being made again at every attempt
    until the one before it succeeds.
    """

    through: Month | None
    ahead: frozenset[Month] = frozenset()

    def done(self, month: Month) -> bool:
        return (self.through is not None and month <= self.through) or month in self.ahead

    @property
    def latest(self) -> Month | None:
        return max(self.ahead, default=self.through)


def digest_progress(store: Store) -> DigestProgress:
    """The digest job's progress as recorded in ``store`` (see :class:`DigestProgress`)."""
    through = _target(last_job_run(store, DIGEST_JOB)) or _recorded_start(store)
    noted = store.get_meta(_AHEAD_KEY) or ""
    return DigestProgress(through, frozenset(Month.parse(m) for m in noted.split(",") if m))


def record_digest_done(
    store: Store, month: Month, *, when: datetime, detail: str | None, oldest: Month
) -> DigestProgress:
    """Record ``month``'s digest as done, in one transaction with the months around it.

    Right after the months done, ``last_target`` moves on, over the months done
    ahead that follow; after a month still due, ``month`` is noted as done ahead.
    Months older than ``oldest`` (the first of the catch-up window, where
    :func:`months_due` gave them up with a warning) stop holding it back.
    """
    with store.transaction():
        progress = digest_progress(store)
        through = progress.through if progress.through is not None else month.shift(-1)
        done = _rolled(max(through, oldest.shift(-1)), {*progress.ahead, month})
        record_job_success(store, DIGEST_JOB, when=when, target=str(done.through), detail=detail)
        if done.ahead or progress.ahead:
            _note_ahead(store, done.ahead)
    return done


def give_up_before(store: Store, oldest: Month) -> DigestProgress:
    """Record the months before ``oldest`` (the first of the catch-up window) as given
    up: :func:`months_due` left them out with a warning, and recorded so, they are not
    warned of again at every poll.  A month made since stays made."""
    with store.transaction():
        progress = digest_progress(store)
        if progress.through is None or progress.through >= oldest.shift(-1):
            return progress
        done = _rolled(oldest.shift(-1), progress.ahead)
        if last_job_run(store, DIGEST_JOB) is None:  # only a starting point noted so far
            store.set_meta(_START_KEY, str(done.through))
        else:
            store.conn.execute(
                "UPDATE job_runs SET last_target = ? WHERE job = ?",
                (str(done.through), DIGEST_JOB),
            )
        if progress.ahead:
            _note_ahead(store, done.ahead)
    return done


def _rolled(through: Month, ahead: Collection[Month]) -> DigestProgress:
    """Every month up to ``through`` done, and ``ahead``: ``through`` moved on over the
    months done ahead that follow it, the rest of them still ahead."""
    rest = {m for m in ahead if m > through}
    while through.shift(1) in rest:
        through = through.shift(1)
        rest.discard(through)
    return DigestProgress(through, frozenset(rest))


def _note_ahead(store: Store, ahead: Collection[Month]) -> None:
    store.set_meta(_AHEAD_KEY, ",".join(str(m) for m in sorted(ahead)))


def run_due_digests(
    store_path: str | Path,
    run_digest: Callable[[Month], object],
    *,
    clock: Clock = utc_now,
    tz: tzinfo = UTC,
    limit: int = MAX_CATCH_UP_MONTHS,
    lock: Callable[[], AbstractContextManager[object]] = nullcontext,
    stopping: Callable[[], bool] = lambda: False,
    trigger: CrontabTrigger | None = None,
) -> list[Month]:
    """Produce every digest that is due, oldest first; returns the months done.

    Each month is recorded as soon as it succeeds (:func:`record_digest_done`), so
    an error part-way keeps the months done and the next attempt makes only those
    still due.  A month that does not succeed mostly does not stop the later ones,
    which are made and recorded meanwhile (and not made again at each attempt, each
    one asking arXiv again and delivering again): a failed delivery (a push refused,
    SMTP down) leaves its digest written, and a remote broken for weeks must not
    keep the months after it from being written (and committed locally) too.  Such
    a month stays due, so the next attempt delivers it again (reusing its saved
    digest; an email already sent is not sent twice), and the first delivery error
    is raised once the rest are done.  A later month whose own delivery succeeded is
    done: its push carried the commits before it too.  A month with no papers at all
    is held the same way: tried again at each attempt (an empty answer may be
    arXiv's passing fault), without stopping the months after it, until it leaves
    the catch-up window (twelve months).  A month that fails for another reason
    (its template breaks on it, a bug its papers hit) is held too: someone running
    this unattended would rather have May's digest than nothing while April is
    broken.  But a second month failing right after it ends the catch-up there, as a
    failure that hits every month (a template that does not compile) would
    otherwise log one error per month due; the first failed month's error is
    raised, naming them.  A configuration or store error stops at once, naming the
    month: every month reads the same settings and store.  Fetch and lock errors
    (FetchError, LockError) propagate as they are: arXiv unreachable and a busy
    store for the hourly retry, arXiv rejecting the query (every month would) for
    the next poll.
    ``stopping`` is asked before each month: a scheduler told to stop finishes the
    month it is on (or ends it at its next wait, :class:`JobStopped` propagating, when
    ``run_digest`` waits through a :class:`StopRequest`) and leaves the rest to its
    next start (a catch-up of a year of months would otherwise outlast a service
    manager's patience and be killed).
    ``lock`` (the store's lock) is held while a month is checked, produced and
    recorded: a second scheduler on the same store that found the same month due
    waits, then sees it done and skips it, so no month is produced twice.
    ``trigger`` (the digest cron) decides when a month becomes due: see
    :func:`latest_due_month`.
    """
    newest_due = latest_due_month(clock(), tz, trigger)
    with Store.open(store_path) as store:
        progress = digest_progress(store)
    if progress.through is None:
        # A new installation notes where it starts, under the lock: a command that
        # created the store and fails removes it under the lock, and a note written
        # meanwhile without it could go to a file on its way out.
        with lock(), Store.open(store_path) as store:
            progress = digest_progress(store)
            if progress.through is None:
                _starting_point(store, newest_due)
                progress = digest_progress(store)
    due = months_due(progress.through, newest_due, limit, progress.ahead)
    oldest = newest_due.shift(1 - limit)
    if progress.through is not None and progress.through < oldest.shift(-1):
        with lock(), Store.open(store_path) as store:
            progress = give_up_before(store, oldest)
    if not due:
        log.info("monthly digests are up to date (last: %s)", progress.latest)
        return []
    done: list[Month] = []
    # Months not done that do not stop the later ones: undelivered or without papers.
    held: list[tuple[Month, DeliveryError | EmptyMonthError]] = []
    # Months that failed otherwise (a template, a bug hit by the month's data).
    failed: list[tuple[Month, Exception]] = []
    waiting = 0  # months left untried after two failures in a row
    failed_before = False  # whether the month tried just before failed otherwise
    for index, month in enumerate(due):
        if stopping():
            log.info("stopping before the digest for %s; the next start catches it up", month)
            break
        with lock():
            with Store.open(store_path) as store:
                produced = digest_progress(store).done(month)
            if produced:
                log.info("the digest for %s was produced meanwhile; skipping it", month)
                continue
            log.info("producing the digest for %s", month)
            try:
                result = run_digest(month)
            except (DeliveryError, EmptyMonthError) as exc:
                log.warning("%s", _held_message([month], exc))
                held.append((month, exc))
                failed_before = False
                continue
            except (JobStopped, FetchError, LockError):
                raise  # the later months need arXiv and the store too: retried as a whole
            except (ConfigError, StoreError) as exc:
                # The same settings and store serve every month: one line, not one a month.
                raise type(exc)(f"no digest for {month}: {exc}") from exc
            except Exception as exc:
                later = len(due) - index - 1
                in_a_row, failed_before = failed_before, True
                failed.append((month, exc))
                if in_a_row and later:
                    waiting = later
                    _log_second_failure(month, exc, failed[-2][1], later)
                    break
                _log_failure(month, exc, later)
                continue
            failed_before = False
            with Store.open(store_path) as store:
                record_digest_done(
                    store, month, when=clock(), detail=_detail(result), oldest=oldest
                )
            log.info("the digest for %s is done: %s", month, _detail(result))
        done.append(month)
    if failed:  # what needs fixing before what only waits
        raise _failed_error(failed, waiting) from failed[0][1]
    if held:
        # A delivery to finish is named first: its digests exist and only wait for it.
        undelivered = [(m, e) for m, e in held if _written(e)]
        named = undelivered or held
        error = named[0][1]
        raise type(error)(_held_message([m for m, _ in named], error))
    return done


def _failure_text(error: Exception) -> str:
    if isinstance(error, TrendDigestError):
        return str(error)
    # A bug (ours, or in a library) hit by this month's data: its traceback is logged.
    return (
        f"internal error: {type(error).__name__}: {error} "
        "(please report it; the log has the traceback)"
    )


def _later_months(count: int) -> str:
    return "the later month" if count == 1 else f"the {count} later months"


def _log_failure(month: Month, error: Exception, later: int) -> None:
    """The first failure in a row: the month is passed over, the later ones are made."""
    meanwhile = ", and the months after it are made meanwhile" if later else ""
    log.warning(
        "no digest for %s: %s; it is tried again after the next poll%s",
        month,
        _failure_text(error),
        meanwhile,
        exc_info=None if isinstance(error, TrendDigestError) else error,
    )


def _log_second_failure(month: Month, error: Exception, before: Exception, later: int) -> None:
    """A second month failing right after another stops the catch-up: a broken template
    or a bug that every month hits would otherwise log one failure per month due."""
    text = _failure_text(error)
    same = type(error) is type(before) and text == _failure_text(before)
    log.warning(
        "no digest for %s either (%s); %s not tried, since two months failing in a row "
        "most likely means every month would; all are tried again after the next poll",
        month,
        "the same error" if same else text,
        f"{_later_months(later)} {'is' if later == 1 else 'are'}",
        exc_info=None if same or isinstance(error, TrendDigestError) else error,
    )


def _failed_error(failed: list[tuple[Month, Exception]], waiting: int) -> TrendDigestError:
    """One error for the months that failed: the first one's reason, every month named."""
    months = " nor ".join(str(month) for month, _ in failed)
    first = failed[0][1]
    message = f"no digest for {months}: {_failure_text(first)}"
    if waiting:
        message += (
            f"; {waiting} later month{'s wait' if waiting > 1 else ' waits'} until it is fixed"
        )
    kind = type(first) if isinstance(first, TrendDigestError) else TrendDigestError
    return kind(message)


def _held_message(months: list[Month], error: TrendDigestError) -> str:
    """ "the digest for 2025-05 (and 1 later month) is written but not delivered: ..."."""
    if not _written(error):
        return f"no digest for {months[0]}: {error}"
    later = len(months) - 1
    also = f" (and {later} later month{'s' if later > 1 else ''})" if later else ""
    return f"the digest for {months[0]}{also} is written but not delivered: {error}"


def _written(error: TrendDigestError) -> bool:
    """A delivery that failed after the digest was written (not refused beforehand)."""
    return isinstance(error, DeliveryError) and error.result is not None


_START_KEY = "digest_job_start"  # meta: the month before the first one a new install makes


def _recorded_start(store: Store) -> Month | None:
    """Where this installation's digests start, if it noted it (:func:`_starting_point`)."""
    recorded = store.get_meta(_START_KEY)
    return Month.parse(recorded) if recorded else None


def _starting_point(store: Store, latest: Month) -> Month:
    """Where a scheduler that never made a digest starts: before the month due when it
    first ran (a new installation makes last month's digest, not the whole history),
    remembered, so that a first month still failing when the next one is due stays due
    (held, like any undelivered month) instead of being passed over."""
    recorded = _recorded_start(store)
    if recorded:
        return recorded
    start = latest.shift(-1)
    store.set_meta(_START_KEY, str(start))
    return start


def _target(run: JobRun | None) -> Month | None:
    return Month.parse(run.last_target) if run and run.last_target else None


def digest_is_due(
    store_path: str | Path,
    *,
    clock: Clock = utc_now,
    tz: tzinfo = UTC,
    trigger: CrontabTrigger | None = None,
) -> bool:
    """Whether a monthly digest is missing (cheap: reads of ``job_runs`` and ``meta``)."""
    with Store.open(store_path) as store:
        progress = digest_progress(store)
    newest_due = latest_due_month(clock(), tz, trigger)
    return bool(months_due(progress.through, newest_due, done=progress.ahead, warn=False))


def last_poll(store_path: str | Path) -> datetime | None:
    """When the poll last succeeded, or None (never, or no store yet: none is made)."""
    if not Path(store_path).exists():
        return None
    with Store.open(store_path) as store:
        run = last_job_run(store, POLL_JOB)
    return None if run is None else datetime.fromisoformat(run.last_success)


def run_poll(
    store_path: str | Path, poll: Callable[[], object], *, clock: Clock = utc_now
) -> object:
    """Run the daily poll and record its success (errors propagate, nothing recorded)."""
    result = poll()
    now = clock()
    with Store.open(store_path) as store:
        record_job_success(
            store, POLL_JOB, when=now, target=now.date().isoformat(), detail=_detail(result)
        )
    return result


# -- triggers ----------------------------------------------------------------------

_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    raise ValueError(f"bad day of week {token!r} (use 0-7 or sun..sat)")


def crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field into APScheduler 3 weekday names.

    APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0 (7 is
    Sunday too), so ``"0-4"`` handed over unchanged would silently mean Monday to
    Friday.  Names are unambiguous in both.
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first_text, last_text = span.split("-", 1)
            first, last = _weekday(first_text), _weekday(last_text)
        else:
            first = _weekday(span)
            last = 6 if step_text else first
        if first > last:
            raise ValueError(f"range {span!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


_CRONTAB_FIELDS = ("minute", "hour", "day", "month", "weekday")
# APScheduler's "Error validating expression '61': the last value ..." names the value
# but not the field; the field is named instead.
_APSCHEDULER_PREFIX = re.compile(r"^Error validating expression '.*?': ")


def _field_problem(name: str, value: str, tz: tzinfo) -> str | None:
    """What is wrong with one field of a crontab line, naming the field; None if fine."""
    try:
        if name == "weekday":
            crontab_weekdays(value)
        else:
            CronTrigger(timezone=tz, **{name: value})
    except ValueError as exc:
        return f"{name} {value!r}: {_APSCHEDULER_PREFIX.sub('', str(exc))}"
    return None


def _restricts(field: str) -> bool:
    """Whether a day field counts as restricted for cron's either-day rule.

    Vixie cron and cronie decide it on the field's first character, before parsing
    (``entry.c``: ``if (ch == '*') e->flags |= DOM_STAR;``): ``*/2`` and ``*,10``
    restrict nothing for this rule, ``1-31`` and ``10,*`` do.
    """
    return not field.startswith("*")


def crontab_trigger(expr: str, tz: tzinfo, key: str) -> CrontabTrigger:
    """A trigger for a standard 5-field crontab line, evaluated in ``tz``.

    It fires when cron would.  APScheduler's CronTrigger fires only when day of month
    *and* day of week both match, but crontab(5) runs a line whose two day fields are
    both restricted when *either* matches (``0 6 1 * 1``: the 1st and every Monday,
    not the few Mondays that fall on a 1st); such a line becomes an OrTrigger of one
    CronTrigger with the day of month (weekday ``*``) and one with the day of week
    (day ``*``).  A day field counts as restricted as Vixie cron and cronie decide it
    (see :func:`_restricts`): unless it starts with ``*``, so ``0 6 */2 * 1`` stays
    "Mondays on an odd day", as there.
    """
    fields = expr.split()
    try:
        if len(fields) != 5:
            raise ValueError(
                f"expected 5 fields (minute hour day month weekday), got {len(fields)}"
            )
        for name, value in zip(_CRONTAB_FIELDS, fields, strict=True):
            problem = _field_problem(name, value, tz)
            if problem:
                raise ValueError(problem)
        minute, hour, day, month, weekday = fields
        weekdays = crontab_weekdays(weekday)
        trigger: CrontabTrigger
        if _restricts(day) and _restricts(weekday):
            trigger = EitherDayTrigger(
                [
                    CronTrigger.from_crontab(f"{minute} {hour} {day} {month} *", timezone=tz),
                    CronTrigger.from_crontab(f"{minute} {hour} * {month} {weekdays}", timezone=tz),
                ]
            )
        else:
            trigger = CronTrigger.from_crontab(
                f"{minute} {hour} {day} {month} {weekdays}", timezone=tz
            )
        if trigger.get_next_fire_time(None, datetime.now(tz)) is None:
            raise ValueError("it names a date that never comes (such as 31 February)")
        return trigger
    except ValueError as exc:
        raise ConfigError(
            f"[schedule] {key} = {expr!r} is not a valid crontab line: {exc}"
        ) from None


def schedule_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"[schedule] timezone {name!r} is not a known time zone (e.g. US/Eastern, UTC)"
        ) from None


def schedule_triggers(
    settings: ScheduleConfig,
) -> tuple[ZoneInfo, CrontabTrigger, CrontabTrigger]:
    """``[schedule]``'s time zone, poll trigger (in US Eastern time, arXiv's) and digest
    trigger (in that time zone), or a ConfigError.

    The one place crontab lines are read: the scheduler builds its jobs from it, and
    config validation calls it whenever the config loads, so that a typo there is
    refused by the next ``run`` or ``fetch``, not months later by ``schedule``.
    """
    tz = schedule_timezone(settings.timezone)
    # The poll follows arXiv's day, whatever the lab's: its feeds change at midnight
    # US Eastern, so "30 6 * * 1-5" in Tokyo would never read Friday's listing.
    poll = crontab_trigger(settings.poll_cron, ARXIV_TIMEZONE, "poll_cron")
    return tz, poll, crontab_trigger(settings.digest_cron, tz, "digest_cron")


# -- the scheduler -------------------------------------------------------------------


def _is_passing(error: BaseException) -> bool:
    """Whether a job that failed with ``error`` may well succeed an hour later.

    So it is when the store was busy (:class:`LockError`) or, as the client marks
    with :attr:`FetchError.transient`, arXiv could not be
    reached, kept failing, or asked for a longer wait than allowed, also when that
    is the cause of the error a stopped fetch or poll raised.  Not for an answer no
    retry mends: arXiv rejecting the query (:class:`ArxivAPIError`: a category that
    does not exist), an HTTP error status such as 404 (a wrong ``api_url``), a body
    larger than any of arXiv's; asked every hour, it would fail every hour.
    """
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and not any(current is s for s in seen):
        if isinstance(current, LockError) or getattr(current, "transient", False):
            return True
        seen.append(current)
        current = current.__cause__
    return False


def _retry_time(error: BaseException, now: datetime) -> datetime:
    """When a job that failed with ``error`` is tried again: an hour later, or when
    arXiv asked to be left alone until (a Retry-After longer than the client waits),
    if that is later; asking earlier would only fail on the wait it remembers."""
    at = now + RETRY_DELAY
    until = getattr(error, "until", None) or getattr(error.__cause__, "until", None)
    if isinstance(until, int | float):
        at = max(at, datetime.fromtimestamp(until, UTC))
    return at


def build_scheduler(
    config: Config,
    store_path: str | Path,
    run_digest: Callable[[Month], object],
    poll: Callable[[], object],
    *,
    clock: Clock = utc_now,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
    lock: Callable[[], AbstractContextManager[object]] = nullcontext,
    stop: StopRequest | None = None,
) -> BaseScheduler:
    """A scheduler (not started) with the poll job and the digest job.

    The digest job also runs once right at start, to catch up on months missed while
    the machine was off, and so does the poll when today's poll fire passed with no
    poll since arXiv rebuilt its feeds (:func:`missed_poll`): the listing it missed
    is in the feed until midnight US Eastern.  One worker thread: the jobs share the
    store and its lock, so they run one after the other, never side by side.
    ``stop`` is set when the scheduler shuts down (SIGINT, SIGTERM): a catch-up
    stops between months, and a job whose waits go through ``stop.sleep`` ends at
    its current wait.
    """
    settings = config.schedule
    tz, poll_trigger, digest_trigger = schedule_triggers(settings)
    scheduler = scheduler_class(
        timezone=tz, executors={"default": ThreadPoolExecutor(max_workers=1)}
    )
    stopped = stop if stop is not None else StopRequest()
    scheduler.add_listener(lambda _event: stopped.set(), EVENT_SCHEDULER_SHUTDOWN)
    common: dict[str, Any] = {
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": settings.misfire_grace_seconds,
    }

    def digest_job() -> None:
        try:
            run_due_digests(
                store_path,
                run_digest,
                clock=clock,
                tz=tz,
                lock=lock,
                stopping=stopped.is_set,
                trigger=digest_trigger,
            )
        except JobStopped as exc:
            log.info("monthly digest stopped: %s; the next start produces what is due", exc)
        except TrendDigestError as exc:
            if not _is_passing(exc):
                # Still due, so the next poll (Monday to Friday) tries it again; an
                # answer no retry mends (arXiv rejecting the query, a wrong api_url)
                # would fail every hour.
                log.error("monthly digest failed: %s; trying again after the next poll", exc)
                return
            retry_at = _retry_time(exc, clock())
            log.error(
                "monthly digest failed: %s; trying again at %s (or at the next poll)",
                exc,
                _utc(retry_at),
            )
            scheduler.add_job(
                digest_job,
                "date",
                run_date=retry_at,
                id=DIGEST_RETRY_JOB,
                name="monthly digest (retry)",
                replace_existing=True,
                **common,
            )
        else:
            make_when_complete()

    def make_when_complete() -> None:
        """A digest fire before the month just ended is complete (a time zone east of
        New York, a month whose last mailing is the Sunday after it) makes it as soon
        as arXiv's API holds it, not at the next weekday poll."""
        now = clock()
        month = month_just_ended(now, tz)
        ready = last_announcement(month) + SETTLE
        if now >= ready or latest_due_month(ready, tz, digest_trigger) < month:
            return  # complete already, or not due by the digest cron even then
        log.info("%s is not complete yet; its digest is made at %s", month, _utc(ready))
        scheduler.add_job(
            digest_job,
            "date",
            run_date=ready,
            id=DIGEST_COMPLETE_JOB,
            name="monthly digest (month complete)",
            replace_existing=True,
            **common,
        )

    def retry_poll(exc: TrendDigestError) -> None:
        """A listing stays in arXiv's feed until midnight US Eastern: ask again an hour
        later (or when arXiv asked to be left alone until), while it is still there."""
        now = clock()
        at = _retry_time(exc, now)
        if at >= next_feed_rebuild(now):
            log.info("the listing is replaced at midnight US Eastern: no retry before then")
            return
        log.info("polling again at %s", _utc(at))
        scheduler.add_job(
            poll_job,
            "date",
            run_date=at,
            id=POLL_RETRY_JOB,
            name="daily poll (retry)",
            replace_existing=True,
            **common,
        )

    def poll_once() -> bool:
        """Poll, log how it went, retry it later if that may help; False if stopped."""
        try:
            result = run_poll(store_path, poll, clock=clock)
        except JobStopped as exc:
            log.info("daily poll stopped: %s; what it stored is kept", exc)
            return False
        except (FetchError, LockError) as exc:
            if _is_passing(exc):  # arXiv down or the store busy
                log.error("daily poll failed: %s", exc)
                retry_poll(exc)
            else:  # a wrong feed_url answering 404 would answer so every hour
                log.error("daily poll failed: %s; not retried before the next poll", exc)
        except TrendDigestError as exc:
            log.error("daily poll failed: %s", exc)
        else:
            log.info("daily poll done: %s", _detail(result))
        return True

    def poll_at_start() -> None:
        """The poll missed today, alone: the digest job's own run at start does what
        the poll would do after it (check for a due digest)."""
        poll_once()

    def poll_job() -> None:
        if not poll_once():
            return
        # A digest fire missed by more than the grace time (the machine was asleep
        # over the 1st, with the scheduler still running), or a month not yet complete
        # when it fired (its last mailing on the Sunday after it), would otherwise wait
        # for next month's fire; the daily poll notices it instead.  A store that
        # cannot be read is the operator's to fix: one line, not a job traceback.
        try:
            due = digest_is_due(store_path, clock=clock, tz=tz, trigger=digest_trigger)
        except TrendDigestError as exc:
            log.error("cannot check for a due monthly digest: %s", exc)
            return
        if due:
            log.info(
                "a monthly digest is due (its month is now complete, or its scheduled run "
                "was missed or failed); producing it"
            )
            digest_job()

    now = clock()
    try:
        missed = missed_poll(last_poll(store_path), poll_trigger, now)
    except TrendDigestError as exc:  # the jobs say so, in one line each, when they run
        log.debug("cannot tell whether today's poll ran: %s", exc)
        missed = None
    scheduler.add_job(poll_job, poll_trigger, id=POLL_JOB, name="daily poll", **common)
    if missed is not None:
        log.info(
            "today's poll (%s) has not run: polling now, while the listing is in arXiv's "
            "feed (until midnight US Eastern)",
            f"{missed:%a %Y-%m-%d %H:%M %Z}",
        )
        # Due before the digest job's run at start (their times decide the order): a
        # one-off job is removed once handed to the worker, and the digest job, when
        # it runs first, can stop the scheduler before that removal.
        scheduler.add_job(
            poll_at_start,
            "date",
            run_date=datetime.now(tz),
            id=POLL_START_JOB,
            name="daily poll (missed today)",
            **common,
        )
    scheduler.add_job(
        digest_job,
        digest_trigger,
        id=DIGEST_JOB,
        name="monthly digest",
        next_run_time=datetime.now(tz),
        **common,
    )
    for what, trigger in (("poll", poll_trigger), ("monthly digest", digest_trigger)):
        fire = trigger.get_next_fire_time(None, now)
        if fire is not None:  # checked when the config loaded: every crontab line fires
            log.info("next %s: %s (%s)", what, f"{fire:%a %Y-%m-%d %H:%M %Z}", _utc(fire))
    return scheduler


def install_signal_handlers(scheduler: BaseScheduler) -> Callable[[], None]:
    """Stop ``scheduler`` on SIGINT or SIGTERM; returns a function restoring the old handlers.

    The scheduler is shut down without waiting so the handler returns at once; a job
    already running ends before the process exits (its worker thread is joined at
    exit): at its next wait, which the shutdown cuts short (see :class:`StopRequest`),
    or when it is done, so no digest is left half-written.  A second signal gets the
    default behaviour back, for when one really wants to kill it now.
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        restore()
        log.info(
            "received %s: stopping the scheduler (a running job stops at its next wait, "
            "keeping what it stored)",
            signal.Signals(signum).name,
        )
        # Shut down from another thread: the signal can land while the main thread
        # holds the executor's lock (handing a job to a worker), and shutting the
        # executor down takes that lock; from the handler itself that deadlocks.
        threading.Thread(target=_shutdown, args=(scheduler,), name="shutdown").start()

    for sig in previous:
        signal.signal(sig, stop)
    return restore


def _shutdown(scheduler: BaseScheduler) -> None:
    with contextlib.suppress(SchedulerNotRunningError):  # already stopping
        scheduler.shutdown(wait=False)


def run_scheduler(scheduler: BaseScheduler) -> None:
    """Run a blocking scheduler in the foreground until SIGINT or SIGTERM."""
    restore = install_signal_handlers(scheduler)
    try:
        for job in scheduler.get_jobs():
            log.info("scheduled %s: %s", job.name, job.trigger)
        scheduler.start()
    finally:
        restore()
