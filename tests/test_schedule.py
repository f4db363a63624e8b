"""The built-in scheduler: triggers from config, catch-up of missed digests, clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from importlib.metadata import entry_points, requires
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from arxiv_server import ArxivTestServer, fast_arxiv_config, unused_port
from arxiv_server import FakeClock as ArxivClock
from trenddigest import pipeline
from trenddigest import schedule as schedule_module
from trenddigest.cli import build_parser
from trenddigest.config import ArxivConfig, Config, ScheduleConfig
from trenddigest.errors import (
    ConfigError,
    DeliveryError,
    EmptyMonthError,
    FetchError,
    InputError,
    LockError,
    TrendDigestError,
)
from trenddigest.lock import store_lock
from trenddigest.models import Month, last_announcement
from trenddigest.schedule import (
    CRONTAB_EXAMPLE,
    DIGEST_COMPLETE_JOB,
    DIGEST_JOB,
    DIGEST_RETRY_JOB,
    POLL_JOB,
    POLL_RETRY_JOB,
    POLL_START_JOB,
    RETRY_DELAY,
    SETTLE,
    JobStopped,
    StopRequest,
    build_scheduler,
    crontab_trigger,
    crontab_weekdays,
    digest_is_due,
    install_signal_handlers,
    last_job_run,
    latest_due_month,
    month_just_ended,
    months_due,
    record_job_success,
    run_due_digests,
    run_poll,
    run_scheduler,
)
from trenddigest.sources.backfill import fetch_month
from trenddigest.sources.client import ArxivClient, UnreachableError, WaitRequestedError
from trenddigest.sources.poll import poll_feeds
from trenddigest.store import Store

EASTERN = ZoneInfo("US/Eastern")
# A Saturday (no poll is due at the weekend), for schedulers otherwise on the real clock.
SATURDAY = datetime(2025, 6, 7, 12, 0, tzinfo=EASTERN)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def undelivered(message: str) -> DeliveryError:
    """A delivery that failed after the digest was written, as the pipeline raises it."""
    error = DeliveryError(message)
    error.result = f"the digest's {message!r} run"
    return error


class DigestRecorder:
    """Stands in for the pipeline: remembers which months it was asked for."""

    def __init__(self, fail_on: Month | None = None, error: Exception | None = None) -> None:
        self.months: list[Month] = []
        self.fail_on = fail_on
        self.error = error or UnreachableError("arXiv unreachable")

    def __call__(self, month: Month) -> str:
        if month == self.fail_on:
            raise self.error
        self.months.append(month)
        return f"digests/{month}.md"


def april_done_now_july(store_path: str) -> FakeClock:
    """April's digest made on May 1; the clock now on July 1, May and June due."""
    clock = FakeClock(datetime(2025, 5, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, DigestRecorder(), clock=clock, tz=EASTERN)
    clock.now = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    return clock


def background_scheduler(
    store_path: str, digest: Callable[[Month], object], poll: Callable[[], object], clock: FakeClock
) -> BaseScheduler:
    """The scheduler with the default config, not started: tests call its jobs directly."""
    return build_scheduler(
        Config(), store_path, digest, poll, clock=clock, scheduler_class=BackgroundScheduler
    )


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    return str(tmp_path / "store.sqlite3")


def last_digest(store_path: str) -> str | None:
    with Store.open(store_path) as store:
        run = last_job_run(store, DIGEST_JOB)
    return run.last_target if run else None


def m(text: str) -> Month:
    return Month.parse(text)


# -- crontab translation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("0-4", "sun,mon,tue,wed,thu"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("7", "sun"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("*", "*"),
    ],
)
def test_crontab_weekday_numbers_count_from_sunday(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


def test_default_poll_reads_each_weekdays_feed_after_arxiv_rebuilds_it_at_midnight() -> None:
    trigger = crontab_trigger(Config().schedule.poll_cron, EASTERN, "poll_cron")
    fire = datetime(2025, 5, 3, 12, 0, tzinfo=EASTERN)  # a Saturday
    fires = []
    for _ in range(5):
        fire = trigger.get_next_fire_time(None, fire + timedelta(seconds=1))
        fires.append(fire)
    assert [f.strftime("%a %H:%M") for f in fires] == [
        "Mon 06:30",
        "Tue 06:30",
        "Wed 06:30",
        "Thu 06:30",
        "Fri 06:30",
    ]
    assert all(f.tzinfo is not None and f.utcoffset() == timedelta(hours=-4) for f in fires)


def default_digest_trigger():
    return crontab_trigger(Config().schedule.digest_cron, EASTERN, "digest_cron")


def test_default_digest_fires_on_the_first_of_each_month() -> None:
    fire = default_digest_trigger().get_next_fire_time(None, datetime(2025, 5, 17, tzinfo=EASTERN))
    assert fire == datetime(2025, 6, 1, 6, 0, tzinfo=EASTERN)


@pytest.mark.parametrize(
    "last_day",
    # Months ending on each day of the week, Monday (2025-03-31) to Sunday (2025-08-31).
    [
        "2025-03-31",
        "2025-09-30",
        "2025-04-30",
        "2025-07-31",
        "2025-10-31",
        "2025-05-31",
        "2025-08-31",
    ],
)
def test_the_default_digest_fire_makes_a_month_only_once_it_is_complete(last_day: str) -> None:
    day = datetime.fromisoformat(last_day).replace(tzinfo=EASTERN)
    month = Month(day.year, day.month)
    trigger = default_digest_trigger()
    fire = trigger.get_next_fire_time(None, day)
    assert fire is not None
    if day.weekday() in (4, 5):  # Friday's mailing comes out on the Sunday after
        assert latest_due_month(fire, EASTERN, trigger) == month.shift(-1)
    else:  # the last announcement was the evening before at the latest
        assert fire - last_announcement(month) >= SETTLE
        assert latest_due_month(fire, EASTERN, trigger) == month


@pytest.mark.parametrize("expr", ["30 20 * *", "61 20 * * *", "0 6 1 * 9", "0 6 1 * fri-mon"])
def test_invalid_crontab_is_a_config_error_naming_the_key(expr: str) -> None:
    with pytest.raises(ConfigError, match=r"^\[schedule\] poll_cron = .* not a valid crontab"):
        crontab_trigger(expr, EASTERN, "poll_cron")


def test_a_crontab_line_that_never_fires_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        crontab_trigger("0 6 31 2 *", EASTERN, "digest_cron")
    assert str(err.value) == (
        "[schedule] digest_cron = '0 6 31 2 *' is not a valid crontab line: it names a date "
        "that never comes (such as 31 February)"
    )


def test_unknown_timezone_is_a_config_error(store_path: str) -> None:
    config = Config()
    config.schedule.timezone = "Mars/Olympus"
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not a known time zone"):
        build_scheduler(config, store_path, DigestRecorder(), lambda: None)


# -- cron's either-day rule --------------------------------------------------------------


def fire_days(expr: str, first: datetime, last: datetime, tz: ZoneInfo = EASTERN) -> list[str]:
    """The local "day HH:MM" of each fire of a crontab line from ``first`` to ``last``."""
    trigger = crontab_trigger(expr, tz, "digest_cron")
    days = []
    fire = trigger.get_next_fire_time(None, first)
    while fire is not None and fire <= last:
        days.append(f"{fire.astimezone(tz):%d %H:%M}")
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return days


JUNE_2025 = (datetime(2025, 6, 1, tzinfo=EASTERN), datetime(2025, 6, 30, 23, 59, tzinfo=EASTERN))


def test_a_line_restricting_both_day_fields_fires_on_either_as_cron_does() -> None:
    # crontab(5): "0 6 1 * 1" is the 1st and every Monday (June 1st 2025 is a Sunday),
    # not only a Monday that falls on the 1st.
    assert fire_days("0 6 1 * 1", *JUNE_2025) == [
        "01 06:00",
        "02 06:00",
        "09 06:00",
        "16 06:00",
        "23 06:00",
        "30 06:00",
    ]


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        ("0 6 1 * *", ["01"]),
        ("0 6 * * 1", ["02", "09", "16", "23", "30"]),
        ("0 6 * * 0", ["01", "08", "15", "22", "29"]),
    ],
)
def test_a_line_restricting_one_day_field_fires_on_that_field_alone(
    expr: str, days: list[str]
) -> None:
    assert fire_days(expr, *JUNE_2025) == [f"{day} 06:00" for day in days]


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        # Starts with "*": unrestricted for the rule, so both must match (odd Mondays).
        ("0 6 */2 * 1", ["09", "23"]),
        # The 1st only when it is a Sunday, Tuesday, Thursday or Saturday (here a Sunday).
        ("0 6 1 * */2", ["01"]),
        # The same odd days spelt without a leading "*" are restricted: odd days or Mondays.
        ("0 6 1-31/2 * 1", [f"{day:02}" for day in sorted({*range(1, 31, 2), 2, 16, 30})]),
    ],
)
def test_a_day_field_starting_with_a_star_keeps_both_fields_required_as_in_vixie_cron(
    expr: str, days: list[str]
) -> None:
    assert fire_days(expr, *JUNE_2025) == [f"{day} 06:00" for day in days]


def test_a_line_whose_day_never_comes_but_whose_weekday_does_fires_on_the_weekday() -> None:
    # Cron runs "0 6 30 2 1" on February's Mondays: only the day of month never comes.
    trigger = crontab_trigger("0 6 30 2 1", EASTERN, "digest_cron")
    fire = trigger.get_next_fire_time(None, datetime(2027, 1, 15, tzinfo=EASTERN))
    assert fire == datetime(2027, 2, 1, 6, 0, tzinfo=EASTERN)


def test_a_line_restricting_both_day_fields_stays_at_local_time_across_daylight_saving() -> None:
    # Daylight saving time ends at 02:00 on Sunday 2026-11-01: Monday the 26th at 06:00
    # EDT, then Sunday the 1st and Monday the 2nd at 06:00 EST.
    trigger = crontab_trigger("0 6 1 * 1", EASTERN, "digest_cron")
    fires = []
    fire = datetime(2026, 10, 25, tzinfo=UTC)
    for _ in range(3):
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        fires.append(fire)
    assert fires == [
        datetime(2026, 10, 26, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 11, 0, tzinfo=UTC),
    ]


def test_either_day_lines_fire_in_their_own_time_zones(store_path: str) -> None:
    # The digest's line in [schedule] timezone, the poll's in US Eastern time.
    settings = ScheduleConfig(
        timezone="Asia/Tokyo", poll_cron="30 6 1 * 1", digest_cron="0 6 1 * 1"
    )
    config = Config(schedule=settings)
    clock = FakeClock(datetime(2025, 6, 2, 12, 0, tzinfo=UTC))  # Monday, 21:00 in Tokyo
    scheduler = build_scheduler(
        config,
        store_path,
        DigestRecorder(),
        lambda: None,
        clock=clock,
        scheduler_class=BackgroundScheduler,
    )
    poll = scheduler.get_job(POLL_JOB).trigger.get_next_fire_time(None, clock.now)
    digest = scheduler.get_job(DIGEST_JOB).trigger.get_next_fire_time(None, clock.now)
    assert poll == datetime(2025, 6, 9, 6, 30, tzinfo=EASTERN)  # next Monday
    assert digest == datetime(2025, 6, 9, 6, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


# -- what is due ------------------------------------------------------------------------


def test_month_just_ended_is_taken_in_the_schedule_timezone() -> None:
    # 03:00 UTC on June 1st is still May 31st in New York.
    now = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
    assert month_just_ended(now, EASTERN) == m("2025-04")
    assert month_just_ended(now, UTC) == m("2025-05")


ON_THE_THIRD = "0 6 3 * *"


def test_a_month_is_not_due_before_the_digest_crons_first_fire_after_it() -> None:
    # June 2nd, 23:00 in New York: the digest cron (the 3rd, 06:00) has not fired in
    # June yet, so May is not due.
    now = datetime(2025, 6, 3, 3, 0, tzinfo=UTC)
    trigger = crontab_trigger(ON_THE_THIRD, EASTERN, "digest_cron")
    assert latest_due_month(now, EASTERN, trigger) == m("2025-04")


def test_a_month_is_due_from_the_digest_crons_first_fire_after_it() -> None:
    now = datetime(2025, 6, 3, 10, 0, tzinfo=UTC)  # 06:00 in New York
    trigger = crontab_trigger(ON_THE_THIRD, EASTERN, "digest_cron")
    assert latest_due_month(now, EASTERN, trigger) == m("2025-05")


@pytest.mark.parametrize(
    ("utc", "due"),
    [
        ((10, 59), "2026-09"),  # 05:59 EST: October is not due yet
        ((11, 0), "2026-10"),  # 06:00 EST, not 06:00 EDT (10:00 UTC)
    ],
)
def test_after_daylight_saving_ends_a_complete_month_is_due_at_six_local_time(
    utc: tuple[int, int], due: str
) -> None:
    # Daylight saving time ended at 02:00 on Sunday 2026-11-01.  October ends on a
    # Saturday, so its last mailing is that Sunday evening: it is complete on the 2nd,
    # when 06:00 local time is 11:00 UTC.
    trigger = crontab_trigger(Config().schedule.digest_cron, EASTERN, "digest_cron")
    now = datetime(2026, 11, 2, *utc, tzinfo=UTC)
    assert latest_due_month(now, EASTERN, trigger) == m(due)


def test_the_poll_stays_at_half_past_six_local_time_across_daylight_saving_changes() -> None:
    trigger = crontab_trigger(Config().schedule.poll_cron, EASTERN, "poll_cron")
    spring = trigger.get_next_fire_time(None, datetime(2026, 3, 8, tzinfo=EASTERN))
    autumn = trigger.get_next_fire_time(None, datetime(2026, 11, 1, tzinfo=EASTERN))
    assert spring == datetime(2026, 3, 9, 10, 30, tzinfo=UTC)  # 06:30 EDT on Monday the 9th
    assert autumn == datetime(2026, 11, 2, 11, 30, tzinfo=UTC)  # 06:30 EST on Monday the 2nd


ON_THE_15TH_OR_MONDAYS = "0 6 15 * 1"


@pytest.mark.parametrize(
    ("utc", "due"),
    [
        ((9, 59), "2025-08"),  # Monday 6 October, 05:59 in New York
        ((10, 0), "2025-09"),  # 06:00: the line's first fire in October, a Monday
    ],
)
def test_with_both_day_fields_a_month_is_due_from_the_first_day_either_matches(
    utc: tuple[int, int], due: str
) -> None:
    trigger = crontab_trigger(ON_THE_15TH_OR_MONDAYS, EASTERN, "digest_cron")
    now = datetime(2025, 10, 6, *utc, tzinfo=UTC)
    assert latest_due_month(now, EASTERN, trigger) == m(due)


def test_the_digest_job_with_both_day_fields_makes_the_month_on_the_first_monday(
    store_path: str,
) -> None:
    clock = FakeClock(datetime(2025, 10, 6, 10, 0, tzinfo=UTC))  # Monday, 06:00 EDT
    with Store.open(store_path) as store:
        record_job_success(store, DIGEST_JOB, when=clock(), target="2025-08")
    config = Config(schedule=ScheduleConfig(digest_cron=ON_THE_15TH_OR_MONDAYS))
    digest = DigestRecorder()
    scheduler = build_scheduler(
        config, store_path, digest, lambda: None, clock=clock, scheduler_class=BackgroundScheduler
    )
    scheduler.get_job(DIGEST_JOB).func()
    assert digest.months == [m("2025-09")]
    assert last_digest(store_path) == "2025-09"


def test_without_a_trigger_the_month_just_ended_is_due_at_once() -> None:
    assert latest_due_month(datetime(2025, 6, 1, 10, 0, tzinfo=UTC), EASTERN) == m("2025-05")


def test_nothing_is_due_when_the_month_just_ended_is_done() -> None:
    assert months_due(m("2025-05"), m("2025-05")) == []


def test_first_ever_run_is_due_for_the_month_just_ended_only() -> None:
    assert months_due(None, m("2025-05")) == [m("2025-05")]


def test_missed_months_are_due_oldest_first_across_a_year_end() -> None:
    assert months_due(m("2024-11"), m("2025-02")) == [m("2024-12"), m("2025-01"), m("2025-02")]


def test_catch_up_is_capped_to_the_most_recent_months() -> None:
    assert months_due(m("2020-01"), m("2025-05"), limit=2) == [m("2025-04"), m("2025-05")]


def test_months_done_after_a_month_still_due_are_not_due_again() -> None:
    june_done_while_may_held = {m("2025-06")}
    due = months_due(m("2025-04"), m("2025-07"), done=june_done_while_may_held)
    assert due == [m("2025-05"), m("2025-07")]


# -- running the jobs with a fake clock ------------------------------------------------


def test_digest_job_records_the_month_it_produced(store_path: str) -> None:
    digest = DigestRecorder()
    clock = FakeClock(datetime(2025, 6, 1, 10, 0, tzinfo=UTC))
    assert run_due_digests(store_path, digest, clock=clock, tz=EASTERN) == [m("2025-05")]
    assert digest.months == [m("2025-05")]
    with Store.open(store_path) as store:
        run = last_job_run(store, DIGEST_JOB)
    assert run is not None
    assert (run.last_target, run.last_success, run.detail) == (
        "2025-05",
        "2025-06-01T10:00:00+00:00",
        "digests/2025-05.md",
    )


def test_second_fire_in_the_same_month_does_nothing(store_path: str) -> None:
    digest = DigestRecorder()
    clock = FakeClock(datetime(2025, 6, 1, 10, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    clock.now = datetime(2025, 6, 20, tzinfo=UTC)
    assert run_due_digests(store_path, digest, clock=clock, tz=EASTERN) == []
    assert digest.months == [m("2025-05")]


def test_machine_off_on_the_first_catches_up_missed_months_oldest_first(store_path: str) -> None:
    digest = DigestRecorder()
    clock = FakeClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # February done
    clock.now = datetime(2025, 6, 9, 8, 0, tzinfo=UTC)  # off from March 1st to June 9th
    assert run_due_digests(store_path, digest, clock=clock, tz=EASTERN) == [
        m("2025-03"),
        m("2025-04"),
        m("2025-05"),
    ]
    assert digest.months == [m("2025-02"), m("2025-03"), m("2025-04"), m("2025-05")]
    assert last_digest(store_path) == "2025-05"


def test_a_stop_asked_for_during_a_catch_up_ends_it_after_the_current_month(
    store_path: str,
) -> None:
    digest = DigestRecorder()
    clock = FakeClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # February done
    clock.now = datetime(2025, 6, 9, 8, 0, tzinfo=UTC)  # March, April and May are due
    stop_after = m("2025-03")  # SIGTERM arrives while March is being produced
    done = run_due_digests(
        store_path,
        digest,
        clock=clock,
        tz=EASTERN,
        stopping=lambda: stop_after in digest.months,
    )
    assert done == [m("2025-03")]
    assert last_digest(store_path) == "2025-03"  # the next start begins at April


def test_a_month_another_scheduler_produced_while_we_waited_for_the_lock_is_skipped(
    store_path: str,
) -> None:
    clock = FakeClock(datetime(2025, 6, 1, 10, 0, tzinfo=UTC))

    @contextlib.contextmanager
    def lock_after_the_other_scheduler() -> Iterator[None]:
        # The other process held the lock, produced May, recorded it, and let go.
        with Store.open(store_path) as store:
            record_job_success(store, DIGEST_JOB, when=clock(), target="2025-05", detail="x")
        yield

    digest = DigestRecorder()
    done = run_due_digests(
        store_path, digest, clock=clock, tz=EASTERN, lock=lock_after_the_other_scheduler
    )
    assert (done, digest.months) == ([], [])
    assert last_digest(store_path) == "2025-05"


def test_each_due_month_is_produced_and_recorded_while_the_lock_is_held(store_path: str) -> None:
    held: list[bool] = []
    state = {"held": False}

    @contextlib.contextmanager
    def lock() -> Iterator[None]:
        state["held"] = True
        yield
        state["held"] = False

    def produce(month: Month) -> str:
        held.append(state["held"])
        return f"digests/{month}.md"

    clock = FakeClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, produce, clock=clock, tz=EASTERN, lock=lock)
    clock.now = datetime(2025, 5, 2, tzinfo=UTC)
    run_due_digests(store_path, produce, clock=clock, tz=EASTERN, lock=lock)
    assert held == [True, True, True]  # 2025-02, then 2025-03 and 2025-04


def test_failed_month_keeps_earlier_months_and_is_retried_first(store_path: str) -> None:
    clock = FakeClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, DigestRecorder(), clock=clock, tz=EASTERN)
    clock.now = datetime(2025, 6, 2, tzinfo=UTC)
    failing = DigestRecorder(fail_on=m("2025-04"))
    with pytest.raises(FetchError):
        run_due_digests(store_path, failing, clock=clock, tz=EASTERN)
    assert failing.months == [m("2025-03")]
    assert last_digest(store_path) == "2025-03"
    healthy = DigestRecorder()
    run_due_digests(store_path, healthy, clock=clock, tz=EASTERN)
    assert healthy.months == [m("2025-04"), m("2025-05")]


def test_a_failed_delivery_does_not_hold_back_the_later_months_digests(store_path: str) -> None:
    # A push refused (or SMTP down) for May: its digest is written; June's must be too.
    clock = april_done_now_july(store_path)
    refused = DigestRecorder(fail_on=m("2025-05"), error=undelivered("git push failed"))
    with pytest.raises(DeliveryError) as failed:
        run_due_digests(store_path, refused, clock=clock, tz=EASTERN)
    assert refused.months == [m("2025-06")]
    assert (
        str(failed.value) == "the digest for 2025-05 is written but not delivered: git push failed"
    )


def test_a_delivery_refused_before_the_digest_was_written_is_no_digest(store_path: str) -> None:
    clock = april_done_now_july(store_path)
    error = DeliveryError("cannot commit the digest: /lab is not inside a git repository")
    with pytest.raises(DeliveryError) as failed:
        run_due_digests(
            store_path, DigestRecorder(fail_on=m("2025-05"), error=error), clock=clock, tz=EASTERN
        )
    assert str(failed.value) == (
        "no digest for 2025-05: cannot commit the digest: /lab is not inside a git repository"
    )


def test_a_new_installations_first_month_still_undelivered_a_month_later_stays_due(
    store_path: str,
) -> None:
    clock = FakeClock(datetime(2025, 6, 2, 12, 0, tzinfo=UTC))  # never ran before
    refused = DigestRecorder(fail_on=m("2025-05"), error=undelivered("git push failed"))
    with pytest.raises(DeliveryError):
        run_due_digests(store_path, refused, clock=clock, tz=EASTERN)
    clock.now = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)
    delivered = DigestRecorder()
    assert run_due_digests(store_path, delivered, clock=clock, tz=EASTERN) == [
        m("2025-05"),
        m("2025-06"),
    ]


def test_a_month_whose_delivery_failed_stays_due_and_the_delivered_month_after_it_is_done(
    store_path: str,
) -> None:
    # June's own push succeeded (and carried May's commit): only May is tried again.
    clock = april_done_now_july(store_path)
    refused = DigestRecorder(fail_on=m("2025-05"), error=undelivered("git push failed"))
    with pytest.raises(DeliveryError):
        run_due_digests(store_path, refused, clock=clock, tz=EASTERN)
    assert last_digest(store_path) == "2025-04"  # every month up to April is done
    delivered = DigestRecorder()
    assert run_due_digests(store_path, delivered, clock=clock, tz=EASTERN) == [m("2025-05")]
    assert last_digest(store_path) == "2025-06"


def test_a_month_without_papers_does_not_hold_back_the_months_after_it(store_path: str) -> None:
    clock = april_done_now_july(store_path)
    quiet = DigestRecorder(fail_on=m("2025-05"), error=EmptyMonthError("arXiv lists no papers"))
    with pytest.raises(EmptyMonthError) as failed:
        run_due_digests(store_path, quiet, clock=clock, tz=EASTERN)
    assert quiet.months == [m("2025-06")]
    assert str(failed.value) == "no digest for 2025-05: arXiv lists no papers"
    assert last_digest(store_path) == "2025-04"  # May is tried again next time


def test_a_month_without_papers_that_gets_some_is_made_without_making_the_next_again(
    store_path: str,
) -> None:
    clock = april_done_now_july(store_path)
    quiet = DigestRecorder(fail_on=m("2025-05"), error=EmptyMonthError("arXiv lists no papers"))
    with pytest.raises(EmptyMonthError):
        run_due_digests(store_path, quiet, clock=clock, tz=EASTERN)
    later = DigestRecorder()
    assert run_due_digests(store_path, later, clock=clock, tz=EASTERN) == [m("2025-05")]
    assert last_digest(store_path) == "2025-06"


BROKEN_TEMPLATE = InputError(
    "template templates/digest.md.j2 line 3: unexpected '}'; fix the template or remove "
    "templates/digest.md.j2 to use the packaged one"
)


class FailingMonths:
    """Stands in for the pipeline: ``error`` for the months in ``failing``."""

    def __init__(self, failing: set[str], error: Exception = BROKEN_TEMPLATE) -> None:
        self.failing = failing
        self.error = error
        self.tried: list[str] = []

    def __call__(self, month: Month) -> str:
        self.tried.append(str(month))
        if str(month) in self.failing:
            raise self.error
        return f"digests/{month}.md"


def april_done_and_due_until(store_path: str, last_due: str) -> FakeClock:
    """April's digest recorded; the clock on the 1st after ``last_due``."""
    clock = FakeClock(datetime(2025, 5, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, DigestRecorder(), clock=clock, tz=EASTERN)
    after = m(last_due).shift(1)
    clock.now = datetime(after.year, after.month, 1, 12, 0, tzinfo=UTC)
    return clock


def test_a_month_failing_for_another_reason_does_not_hold_back_the_months_after_it(
    store_path: str,
) -> None:
    clock = april_done_and_due_until(store_path, "2025-06")
    digest = FailingMonths({"2025-05"})
    with pytest.raises(InputError) as failed:
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert digest.tried == ["2025-05", "2025-06"]
    assert str(failed.value) == f"no digest for 2025-05: {BROKEN_TEMPLATE}"
    assert last_digest(store_path) == "2025-04"  # May is tried again next time


def test_a_failed_month_once_fixed_is_made_and_recorded_without_making_the_next_again(
    store_path: str,
) -> None:
    clock = april_done_and_due_until(store_path, "2025-06")
    with pytest.raises(InputError):
        run_due_digests(store_path, FailingMonths({"2025-05"}), clock=clock, tz=EASTERN)
    fixed = FailingMonths(set())
    assert run_due_digests(store_path, fixed, clock=clock, tz=EASTERN) == [m("2025-05")]
    assert fixed.tried == ["2025-05"]
    assert last_digest(store_path) == "2025-06"


def test_an_error_raised_while_building_a_month_does_not_hold_back_the_months_after_it(
    store_path: str,
) -> None:
    clock = april_done_and_due_until(store_path, "2025-06")
    digest = FailingMonths({"2025-05"}, ZeroDivisionError("division by zero"))
    with pytest.raises(TrendDigestError) as failed:
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert digest.tried == ["2025-05", "2025-06"]
    assert str(failed.value) == (
        "no digest for 2025-05: internal error: ZeroDivisionError: division by zero "
        "(please report it; the log has the traceback)"
    )


def test_months_failing_apart_are_each_passed_over_and_the_others_made(store_path: str) -> None:
    clock = april_done_and_due_until(store_path, "2025-08")
    digest = FailingMonths({"2025-05", "2025-07"})
    with pytest.raises(InputError) as failed:
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert digest.tried == ["2025-05", "2025-06", "2025-07", "2025-08"]
    assert str(failed.value) == f"no digest for 2025-05 nor 2025-07: {BROKEN_TEMPLATE}"


def test_two_months_failing_in_a_row_stop_the_catch_up_instead_of_failing_every_month(
    store_path: str,
) -> None:
    # A broken template fails every month: two errors, not one per month due.
    clock = april_done_and_due_until(store_path, "2025-09")
    digest = FailingMonths({"2025-05", "2025-06", "2025-07", "2025-08", "2025-09"})
    with pytest.raises(InputError) as failed:
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert digest.tried == ["2025-05", "2025-06"]
    assert str(failed.value) == (
        f"no digest for 2025-05 nor 2025-06: {BROKEN_TEMPLATE}; "
        "3 later months wait until it is fixed"
    )
    assert last_digest(store_path) == "2025-04"


def test_a_configuration_error_stops_the_catch_up_at_the_month_it_hit(store_path: str) -> None:
    clock = april_done_and_due_until(store_path, "2025-06")
    digest = FailingMonths({"2025-05", "2025-06"}, ConfigError("bad categories file"))
    with pytest.raises(ConfigError) as failed:
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert digest.tried == ["2025-05"]  # every month reads the same configuration
    assert str(failed.value) == "no digest for 2025-05: bad categories file"


def test_the_log_names_the_failed_month_and_says_when_it_is_tried_again(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = april_done_and_due_until(store_path, "2025-06")
    scheduler = background_scheduler(store_path, FailingMonths({"2025-05"}), lambda: None, clock)
    with caplog.at_level("INFO", logger="trenddigest.schedule"):
        scheduler.get_job(DIGEST_JOB).func()
    problems = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno > 20]
    assert problems == [
        (
            "WARNING",
            f"no digest for 2025-05: {BROKEN_TEMPLATE}; it is tried again after the next "
            "poll, and the months after it are made meanwhile",
        ),
        (
            "ERROR",
            f"monthly digest failed: no digest for 2025-05: {BROKEN_TEMPLATE}; "
            "trying again after the next poll",
        ),
    ]
    assert scheduler.get_job(DIGEST_RETRY_JOB) is None  # not an outage: no hourly retry


def test_the_log_says_why_a_second_failing_month_in_a_row_stops_the_catch_up(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = april_done_and_due_until(store_path, "2025-07")
    digest = FailingMonths({"2025-05", "2025-06", "2025-07"})
    with caplog.at_level("WARNING", logger="trenddigest.schedule"), pytest.raises(InputError):
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert [r.getMessage() for r in caplog.records][1] == (
        "no digest for 2025-06 either (the same error); the later month is not tried, since "
        "two months failing in a row most likely means every month would; all are tried again "
        "after the next poll"
    )


def test_months_after_a_month_without_papers_are_made_once_not_at_every_poll(
    store_path: str,
) -> None:
    # April has no papers at all (a narrow category): every weekday's poll tries it
    # again, as a passing fault at arXiv may be the cause, but not the months after it.
    digest = FailingMonths({"2025-04"}, EmptyMonthError("arXiv lists no papers from 2025-04"))
    clock = FakeClock(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # March done
    digest.tried.clear()
    clock.now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    while clock.now < datetime(2026, 4, 1, tzinfo=UTC):
        if clock.now.weekday() < 5:  # what each weekday's poll does while a month is due
            with contextlib.suppress(EmptyMonthError):
                run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
        clock.now += timedelta(days=1)
    after_april = [month for month in digest.tried if month != "2025-04"]
    assert after_april == [str(m("2025-05").shift(i)) for i in range(10)]  # .. 2026-02
    assert last_digest(store_path) == "2025-03"  # April is still due


def test_a_month_held_for_a_year_leaves_the_catch_up_window_with_a_warning(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    digest = FailingMonths({"2025-04"}, EmptyMonthError("arXiv lists no papers from 2025-04"))
    clock = FakeClock(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # March done
    for later in range(1, 13):  # the digest job on the 1st, May 2025 to April 2026
        first = m("2025-04").shift(later)
        clock.now = datetime(first.year, first.month, 1, 12, 0, tzinfo=UTC)
        with contextlib.suppress(EmptyMonthError):
            run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    digest.tried.clear()
    caplog.clear()
    clock.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # April 2025 is 13 months back
    with caplog.at_level("WARNING", logger="trenddigest.schedule"):
        assert run_due_digests(store_path, digest, clock=clock, tz=EASTERN) == [m("2026-04")]
        clock.now = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # Monday's poll
        assert run_due_digests(store_path, digest, clock=clock, tz=EASTERN) == []
    assert digest.tried == ["2026-04"]
    assert [r.getMessage() for r in caplog.records] == [
        "no digest for 2025-04, which is older than the last 12 months the scheduler makes: "
        "it is not tried again; make it with: trenddigest run --month 2025-04"
    ]
    assert last_digest(store_path) == "2026-04"


def test_a_month_out_of_the_catch_up_window_is_warned_of_once_while_a_later_one_is_held(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # April 2025 leaves the window in May 2026 while April 2026 is held too: nothing
    # later is recorded, and each weekday poll looks at what is due again.
    digest = FailingMonths({"2025-04", "2026-04"}, EmptyMonthError("arXiv lists no papers"))
    clock = FakeClock(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # March done
    for later in range(1, 13):
        first = m("2025-04").shift(later)
        clock.now = datetime(first.year, first.month, 1, 12, 0, tzinfo=UTC)
        with contextlib.suppress(EmptyMonthError):
            run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    caplog.clear()
    with caplog.at_level("WARNING", logger="trenddigest.schedule"):
        clock.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        while clock.now < datetime(2026, 5, 30, tzinfo=UTC):  # the weekdays of May
            if clock.now.weekday() < 5 and digest_is_due(store_path, clock=clock, tz=EASTERN):
                with contextlib.suppress(EmptyMonthError):
                    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
            clock.now += timedelta(days=1)
    too_old = [r for r in caplog.records if "older than the last 12 months" in r.getMessage()]
    assert len(too_old) == 1
    assert last_digest(store_path) == "2026-03"  # April 2026 is still due


def test_a_month_another_scheduler_made_after_a_held_month_is_not_made_again(
    store_path: str,
) -> None:
    clock = april_done_now_july(store_path)  # May and June are due
    no_papers_in_may = EmptyMonthError("arXiv lists no papers")
    other = DigestRecorder(fail_on=m("2025-05"), error=no_papers_in_may)
    waited: list[bool] = []

    @contextlib.contextmanager
    def lock_after_the_other_scheduler() -> Iterator[None]:
        # While we waited for the lock, the other process held May and made June.
        if not waited:
            waited.append(True)
            with contextlib.suppress(EmptyMonthError):
                run_due_digests(store_path, other, clock=clock, tz=EASTERN)
        yield

    ours = DigestRecorder(fail_on=m("2025-05"), error=no_papers_in_may)
    with pytest.raises(EmptyMonthError):
        run_due_digests(
            store_path, ours, clock=clock, tz=EASTERN, lock=lock_after_the_other_scheduler
        )
    assert (other.months, ours.months) == ([m("2025-06")], [])


def test_a_held_month_keeps_the_digest_due_until_it_is_made(store_path: str) -> None:
    clock = april_done_now_july(store_path)
    quiet = DigestRecorder(fail_on=m("2025-05"), error=EmptyMonthError("arXiv lists no papers"))
    with pytest.raises(EmptyMonthError):
        run_due_digests(store_path, quiet, clock=clock, tz=EASTERN)  # June done
    assert digest_is_due(store_path, clock=clock, tz=EASTERN)
    run_due_digests(store_path, DigestRecorder(), clock=clock, tz=EASTERN)
    assert not digest_is_due(store_path, clock=clock, tz=EASTERN)


def test_a_month_failing_again_with_the_next_month_due_stops_the_catch_up_there(
    store_path: str,
) -> None:
    # May failed while June was made; then the template breaks for every month.
    clock = april_done_and_due_until(store_path, "2025-06")
    with pytest.raises(InputError):
        run_due_digests(store_path, FailingMonths({"2025-05"}), clock=clock, tz=EASTERN)
    clock.now = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)  # May, July and August are due
    broken = FailingMonths({"2025-05", "2025-07", "2025-08"})
    with pytest.raises(InputError) as failed:
        run_due_digests(store_path, broken, clock=clock, tz=EASTERN)
    assert broken.tried == ["2025-05", "2025-07"]
    assert str(failed.value) == (
        f"no digest for 2025-05 nor 2025-07: {BROKEN_TEMPLATE}; 1 later month waits until it "
        "is fixed"
    )


def test_poll_records_its_last_success(store_path: str) -> None:
    clock = FakeClock(datetime(2025, 5, 6, 0, 45, tzinfo=UTC))
    assert run_poll(store_path, lambda: "412 new papers", clock=clock) == "412 new papers"
    with Store.open(store_path) as store:
        run = last_job_run(store, POLL_JOB)
    assert run is not None
    assert (run.last_success, run.last_target, run.detail) == (
        "2025-05-06T00:45:00+00:00",
        "2025-05-06",
        "412 new papers",
    )


def test_failed_poll_records_nothing(store_path: str) -> None:
    def poll() -> None:
        raise FetchError("feed unreachable")

    with pytest.raises(FetchError):
        run_poll(store_path, poll)
    with Store.open(store_path) as store:
        assert last_job_run(store, POLL_JOB) is None


# -- the scheduler ----------------------------------------------------------------------


def test_scheduler_has_both_jobs_with_the_configured_policy(store_path: str) -> None:
    config = Config()
    config.schedule.misfire_grace_seconds = 1234
    config.schedule.digest_cron = "0 7 2 * *"
    scheduler = build_scheduler(
        config,
        store_path,
        DigestRecorder(),
        lambda: None,
        clock=lambda: SATURDAY,  # no poll at start
        scheduler_class=BackgroundScheduler,
    )
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {POLL_JOB, DIGEST_JOB}
    for job in jobs.values():
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 1234)
    assert str(jobs[DIGEST_JOB].trigger.timezone) == "US/Eastern"
    after = datetime(2025, 5, 17, tzinfo=EASTERN)
    assert jobs[DIGEST_JOB].trigger.get_next_fire_time(None, after) == datetime(
        2025, 6, 2, 7, 0, tzinfo=EASTERN
    )
    # Saturday May 17th -> Monday 19th, 06:30 (crontab's 1 is Monday).
    assert jobs[POLL_JOB].trigger.get_next_fire_time(None, after) == datetime(
        2025, 5, 19, 6, 30, tzinfo=EASTERN
    )


def test_digest_job_also_runs_at_start_to_catch_up(store_path: str) -> None:
    scheduler = build_scheduler(
        Config(), store_path, DigestRecorder(), lambda: None, scheduler_class=BackgroundScheduler
    )
    first_run = scheduler.get_job(DIGEST_JOB).next_run_time
    assert abs(first_run - datetime.now(UTC)) < timedelta(minutes=1)


def test_scheduled_digest_job_produces_due_months(store_path: str) -> None:
    digest = DigestRecorder()
    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    scheduler = background_scheduler(store_path, digest, lambda: None, clock)
    scheduler.get_job(DIGEST_JOB).func()
    assert digest.months == [m("2025-05")]


def test_scheduler_started_before_the_digest_day_leaves_the_month_just_ended_for_later(
    store_path: str,
) -> None:
    digest = DigestRecorder()
    clock = FakeClock(datetime(2025, 5, 5, 12, 0, tzinfo=UTC))
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # April done
    clock.now = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    config = Config()
    config.schedule.digest_cron = ON_THE_THIRD
    scheduler = build_scheduler(
        config, store_path, digest, lambda: None, clock=clock, scheduler_class=BackgroundScheduler
    )
    scheduler.get_job(DIGEST_JOB).func()  # the run at start
    scheduler.get_job(POLL_JOB).func()
    assert digest.months == [m("2025-04")]


def test_a_failed_digest_says_in_one_line_when_it_is_tried_again(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2025, 6, 5, 10, 0, 12, 345678, tzinfo=UTC))
    scheduler = background_scheduler(
        store_path, DigestRecorder(fail_on=m("2025-05")), lambda: None, clock
    )
    with caplog.at_level("ERROR", logger="trenddigest.schedule"):
        scheduler.get_job(DIGEST_JOB).func()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "monthly digest failed: arXiv unreachable; trying again at 2025-06-05 11:00 UTC "
        "(or at the next poll)"
    ]


def test_digest_job_retries_an_hour_later_when_arxiv_is_unreachable(store_path: str) -> None:
    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    scheduler = background_scheduler(
        store_path, DigestRecorder(fail_on=m("2025-05")), lambda: None, clock
    )
    scheduler.get_job(DIGEST_JOB).func()  # logs the error, does not raise
    retry = scheduler.get_job(DIGEST_RETRY_JOB)
    assert retry is not None
    assert retry.trigger.run_date == clock.now + RETRY_DELAY
    assert last_digest(store_path) is None


def test_digest_job_does_not_retry_a_configuration_problem(store_path: str) -> None:
    digest = DigestRecorder(fail_on=m("2025-05"), error=ConfigError("bad categories file"))
    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    scheduler = background_scheduler(store_path, digest, lambda: None, clock)
    scheduler.get_job(DIGEST_JOB).func()
    assert scheduler.get_job(DIGEST_RETRY_JOB) is None


def test_digest_job_retries_an_hour_later_when_the_store_is_busy(store_path: str) -> None:
    busy = DigestRecorder(fail_on=m("2025-05"), error=LockError("another run holds the store"))
    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    scheduler = background_scheduler(store_path, busy, lambda: None, clock)
    scheduler.get_job(DIGEST_JOB).func()
    retry = scheduler.get_job(DIGEST_RETRY_JOB)
    assert retry is not None and retry.trigger.run_date == clock.now + RETRY_DELAY


def fetching_digest(store_path: str, arxiv: ArxivConfig) -> Callable[[Month], str]:
    """The digest job's fetch through the real client: what arXiv answers decides."""

    def run_digest(month: Month) -> str:
        with Store.open(store_path) as store, ArxivClient(arxiv) as client:
            fetch_month(store, arxiv, month, client=client)
        return f"digests/{month}.md"

    return run_digest


def digest_fetching_from(store_path: str, arxiv: ArxivConfig) -> BaseScheduler:
    """The scheduler on June 5th (May due) with a digest job fetching through ``arxiv``."""
    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    return background_scheduler(store_path, fetching_digest(store_path, arxiv), lambda: None, clock)


def test_a_query_arxiv_rejects_is_left_to_the_next_poll_not_retried_hourly(
    store_path: str, no_arxiv_waits: ArxivClock, caplog: pytest.LogCaptureFixture
) -> None:
    with ArxivTestServer() as server:
        server.fail("error", times=100, message="incorrect id format for cs.CVV")
        scheduler = digest_fetching_from(store_path, fast_arxiv_config(server))
        with caplog.at_level("ERROR", logger="trenddigest.schedule"):
            scheduler.get_job(DIGEST_JOB).func()
    assert scheduler.get_job(DIGEST_RETRY_JOB) is None
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert message.startswith("monthly digest failed: arXiv API rejected the query ")
    assert message.endswith("; trying again after the next poll")


def test_an_api_url_answering_404_is_left_to_the_next_poll_not_retried_hourly(
    store_path: str, no_arxiv_waits: ArxivClock
) -> None:
    with ArxivTestServer() as server:
        wrong = fast_arxiv_config(server, api_url=f"{server.base_url}/apx/query")
        scheduler = digest_fetching_from(store_path, wrong)
        scheduler.get_job(DIGEST_JOB).func()
        assert len(server.seen) == 1  # one answer, not retried
    assert scheduler.get_job(DIGEST_RETRY_JOB) is None
    assert last_digest(store_path) is None  # May is still due


def test_arxiv_unreachable_through_the_client_is_retried_an_hour_later(
    store_path: str, no_arxiv_waits: ArxivClock
) -> None:
    with ArxivTestServer() as server:
        nobody = fast_arxiv_config(server, api_url=f"http://127.0.0.1:{unused_port()}/api/query")
    scheduler = digest_fetching_from(store_path, nobody)
    scheduler.get_job(DIGEST_JOB).func()
    assert scheduler.get_job(DIGEST_RETRY_JOB) is not None


def test_arxiv_failing_until_the_retries_run_out_is_retried_an_hour_later(
    store_path: str, no_arxiv_waits: ArxivClock
) -> None:
    with ArxivTestServer() as server:
        server.fail("status", times=100, status=503)
        scheduler = digest_fetching_from(store_path, fast_arxiv_config(server))
        scheduler.get_job(DIGEST_JOB).func()
    assert scheduler.get_job(DIGEST_RETRY_JOB) is not None


def test_a_digest_arxiv_asked_to_wait_for_is_tried_again_when_the_wait_ends(
    store_path: str,
) -> None:
    # A Retry-After longer than max_backoff_seconds: asked within the hour, the fetch
    # would only stop again on the wait the store remembers.
    until = datetime(2025, 6, 5, 20, 0, tzinfo=UTC)

    def run_digest(month: Month) -> str:
        wait = WaitRequestedError(
            "arXiv asked to wait", endpoint="x", tries=1, last="HTTP 503", until=until.timestamp()
        )
        raise FetchError("arXiv asked to wait; run again later") from wait

    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    scheduler = background_scheduler(store_path, run_digest, lambda: None, clock)
    scheduler.get_job(DIGEST_JOB).func()
    assert scheduler.get_job(DIGEST_RETRY_JOB).trigger.run_date == until


def test_scheduled_poll_job_logs_a_fetch_error_instead_of_raising(store_path: str) -> None:
    def poll() -> None:
        raise FetchError("feed unreachable")

    scheduler = build_scheduler(
        Config(), store_path, DigestRecorder(), poll, scheduler_class=BackgroundScheduler
    )
    scheduler.get_job(POLL_JOB).func()
    with Store.open(store_path) as store:
        assert last_job_run(store, POLL_JOB) is None


def utc_lab_scheduler(store_path: str, digest: DigestRecorder, clock: FakeClock) -> BaseScheduler:
    """A lab whose schedule runs in UTC, May's digest done."""
    with Store.open(store_path) as store:
        record_job_success(store, DIGEST_JOB, when=clock(), target="2025-05")
    config = Config(schedule=ScheduleConfig(timezone="UTC"))
    return build_scheduler(
        config, store_path, digest, lambda: None, clock=clock, scheduler_class=BackgroundScheduler
    )


def test_a_digest_fired_before_its_month_is_complete_is_made_once_arxivs_api_holds_it(
    store_path: str,
) -> None:
    # June 2025 ended on a Monday: its last mailing is out at 20:00 US Eastern, in the
    # API ten hours later, 10:00 UTC on July 1; the digest cron fires at 06:00 UTC.
    clock = FakeClock(datetime(2025, 7, 1, 6, 0, tzinfo=UTC))
    digest = DigestRecorder()
    scheduler = utc_lab_scheduler(store_path, digest, clock)
    scheduler.get_job(DIGEST_JOB).func()
    assert digest.months == []
    later = scheduler.get_job(DIGEST_COMPLETE_JOB)
    assert later is not None and later.trigger.run_date == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    clock.now = later.trigger.run_date
    later.func()
    assert digest.months == [m("2025-06")]


def test_the_poll_runs_on_arxivs_day_whatever_the_schedules_time_zone(store_path: str) -> None:
    clock = FakeClock(datetime(2025, 7, 1, 6, 0, tzinfo=UTC))
    scheduler = utc_lab_scheduler(store_path, DigestRecorder(), clock)
    friday = datetime(2025, 7, 4, 0, 0, tzinfo=EASTERN)
    fire = scheduler.get_job(POLL_JOB).trigger.get_next_fire_time(None, friday)
    assert fire == datetime(2025, 7, 4, 6, 30, tzinfo=EASTERN)


def test_the_scheduler_says_when_its_jobs_next_run(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2025, 6, 5, 12, 0, tzinfo=UTC))  # a Thursday, 08:00 EDT
    with caplog.at_level("INFO", logger="trenddigest.schedule"):
        background_scheduler(store_path, DigestRecorder(), lambda: None, clock)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("next ")] == [
        "next poll: Fri 2025-06-06 06:30 EDT (2025-06-06 10:30 UTC)",
        "next monthly digest: Tue 2025-07-01 06:00 EDT (2025-07-01 10:00 UTC)",
    ]


def poll_done_at(store_path: str, when: datetime) -> None:
    with Store.open(store_path) as store:
        record_job_success(store, POLL_JOB, when=when, target=when.date().isoformat())


@pytest.mark.parametrize("last_poll", [None, datetime(2025, 6, 2, 6, 30, tzinfo=EASTERN)])
def test_a_scheduler_started_on_a_weekday_after_the_poll_time_reads_the_days_listing_at_once(
    store_path: str, last_poll: datetime | None
) -> None:
    # Restarted (after an upgrade, say) on Tuesday at 10:00, last polled on Monday or never.
    if last_poll is not None:
        poll_done_at(store_path, last_poll)
    clock = FakeClock(datetime(2025, 6, 3, 10, 0, tzinfo=EASTERN))
    polls: list[str] = []
    digest = DigestRecorder()
    scheduler = background_scheduler(store_path, digest, lambda: polls.append("polled"), clock)
    start = scheduler.get_job(POLL_START_JOB)
    assert start is not None
    assert abs(start.trigger.run_date - datetime.now(UTC)) < timedelta(minutes=1)
    start.func()
    assert polls == ["polled"]
    assert digest.months == []  # the due digest is the digest job's run at start
    with Store.open(store_path) as store:
        run = last_job_run(store, POLL_JOB)
    assert run is not None and run.last_success == "2025-06-03T14:00:00+00:00"


@pytest.mark.parametrize(
    "start",
    [
        datetime(2025, 6, 3, 6, 0, tzinfo=EASTERN),  # Tuesday, before the poll's 06:30
        datetime(2025, 6, 7, 10, 0, tzinfo=EASTERN),  # Saturday: no poll at the weekend
        datetime(2025, 6, 2, 23, 30, tzinfo=EASTERN),  # Monday night, after Monday's poll
    ],
)
def test_a_scheduler_started_when_no_poll_was_missed_today_does_not_poll_early(
    store_path: str, start: datetime
) -> None:
    poll_done_at(store_path, datetime(2025, 6, 2, 6, 30, tzinfo=EASTERN))  # Monday's
    scheduler = background_scheduler(store_path, DigestRecorder(), lambda: None, FakeClock(start))
    assert scheduler.get_job(POLL_START_JOB) is None


def test_a_scheduler_that_polls_at_start_says_so(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2025, 6, 3, 14, 0, tzinfo=UTC))  # Tuesday, 10:00 EDT
    with caplog.at_level("INFO", logger="trenddigest.schedule"):
        background_scheduler(store_path, DigestRecorder(), lambda: None, clock)
    assert (
        "today's poll (Tue 2025-06-03 06:30 EDT) has not run: polling now, while the listing "
        "is in arXiv's feed (until midnight US Eastern)"
    ) in [r.getMessage() for r in caplog.records]


def busy_store_poll() -> None:
    raise LockError("another trenddigest run holds the store")


def test_a_poll_that_found_the_store_busy_is_tried_again_an_hour_later(store_path: str) -> None:
    clock = FakeClock(datetime(2025, 6, 5, 10, 30, tzinfo=UTC))  # 06:30 US Eastern
    scheduler = background_scheduler(store_path, DigestRecorder(), busy_store_poll, clock)
    scheduler.get_job(POLL_JOB).func()
    retry = scheduler.get_job(POLL_RETRY_JOB)
    assert retry is not None and retry.trigger.run_date == clock.now + RETRY_DELAY


def test_a_poll_whose_feeds_answered_404_waits_for_the_next_poll_not_an_hour(
    store_path: str, no_arxiv_waits: ArxivClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2025, 6, 5, 10, 30, tzinfo=UTC))  # 06:30 US Eastern
    with ArxivTestServer() as server:  # no listing set: every feed answers 404
        config = fast_arxiv_config(server, categories=["cs.CV"])

        def poll() -> None:
            with Store.open(store_path) as store:
                poll_feeds(store, config)

        scheduler = background_scheduler(store_path, DigestRecorder(), poll, clock)
        with caplog.at_level("ERROR", logger="trenddigest.schedule"):
            scheduler.get_job(POLL_JOB).func()
        assert len(server.feed_requests) == 1
    assert scheduler.get_job(POLL_RETRY_JOB) is None
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert message.startswith("daily poll failed: 1 of 1 arXiv feeds failed: cs.CV ")
    assert message.endswith("; not retried before the next poll")


def test_a_poll_failing_in_the_last_hour_before_arxiv_replaces_the_listing_is_not_retried(
    store_path: str,
) -> None:
    clock = FakeClock(datetime(2025, 6, 6, 3, 30, tzinfo=UTC))  # 23:30 US Eastern
    scheduler = background_scheduler(store_path, DigestRecorder(), busy_store_poll, clock)
    scheduler.get_job(POLL_JOB).func()
    assert scheduler.get_job(POLL_RETRY_JOB) is None


def test_a_store_that_cannot_be_opened_after_the_poll_is_logged_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Say the disk holding the store was unmounted and a folder stands in its place.
    store_path = tmp_path / "store.sqlite3"
    store_path.mkdir()

    def poll() -> None:
        raise UnreachableError("feed unreachable")

    clock = FakeClock(datetime(2025, 6, 3, 0, 30, tzinfo=UTC))
    scheduler = background_scheduler(str(store_path), DigestRecorder(), poll, clock)
    with caplog.at_level("ERROR", logger="trenddigest.schedule"):
        scheduler.get_job(POLL_JOB).func()  # logs, does not raise
    messages = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert messages[0] == "daily poll failed: feed unreachable"
    assert messages[1].startswith(
        f"cannot check for a due monthly digest: cannot open store {store_path}"
    )


def test_daily_poll_produces_a_digest_whose_fire_was_missed(store_path: str) -> None:
    # The scheduler kept running but the machine slept through the 1st for longer than
    # the misfire grace time: the next poll notices the missing month.
    clock = FakeClock(datetime(2025, 5, 2, tzinfo=UTC))
    digest = DigestRecorder()
    run_due_digests(store_path, digest, clock=clock, tz=EASTERN)  # April done
    clock.now = datetime(2025, 6, 3, 0, 30, tzinfo=UTC)
    polls: list[str] = []
    scheduler = background_scheduler(store_path, digest, lambda: polls.append("polled"), clock)
    scheduler.get_job(POLL_JOB).func()
    assert polls == ["polled"]
    assert digest.months == [m("2025-04"), m("2025-05")]
    scheduler.get_job(POLL_JOB).func()  # up to date now: the poll alone
    assert digest.months == [m("2025-04"), m("2025-05")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_the_scheduler_down_and_restores_handlers(store_path: str, sig) -> None:
    scheduler = build_scheduler(
        Config(), store_path, DigestRecorder(), lambda: None, scheduler_class=BackgroundScheduler
    )
    before = signal.getsignal(sig)
    shut_down = threading.Event()
    scheduler.add_listener(lambda _event: shut_down.set(), EVENT_SCHEDULER_SHUTDOWN)
    scheduler.start(paused=True)
    restore = install_signal_handlers(scheduler)
    try:
        os.kill(os.getpid(), sig)
        assert shut_down.wait(10)  # shut down from a thread of its own
        assert scheduler.state == STATE_STOPPED
        assert signal.getsignal(sig) is before
    finally:
        restore()
        if scheduler.running:
            scheduler.shutdown(wait=False)


def test_foreground_scheduler_catches_up_at_start_and_stops_on_sigterm(store_path: str) -> None:
    """End to end: the real blocking loop, stopped by SIGTERM sent from the first job."""
    digested: list[Month] = []

    def run_digest(month: Month) -> None:
        digested.append(month)
        os.kill(os.getpid(), signal.SIGTERM)

    scheduler = build_scheduler(Config(), store_path, run_digest, lambda: None)
    assert isinstance(scheduler, BlockingScheduler)
    before = signal.getsignal(signal.SIGTERM)
    watchdog = threading.Timer(30, lambda: os.kill(os.getpid(), signal.SIGINT))
    watchdog.start()  # only fires if the test is broken
    try:
        run_scheduler(scheduler)
    finally:
        watchdog.cancel()
    assert scheduler.state == STATE_STOPPED
    assert digested == [latest_due_month(datetime.now(UTC), EASTERN, default_digest_trigger())]
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_during_a_catch_up_stops_after_the_month_being_produced(
    store_path: str,
) -> None:
    """The real blocking loop with three months due; SIGTERM arrives during the first."""
    just_ended = latest_due_month(datetime.now(UTC), EASTERN, default_digest_trigger())
    with Store.open(store_path) as store:
        record_job_success(
            store, DIGEST_JOB, when=datetime.now(UTC), target=str(just_ended.shift(-3)), detail=""
        )
    digested: list[Month] = []
    shut_down = threading.Event()

    def run_digest(month: Month) -> None:
        digested.append(month)
        if len(digested) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            # The month's work goes on while the main thread handles the signal, as
            # it would in a real month (seconds of fetching and ranking).
            shut_down.wait(10)

    scheduler = build_scheduler(Config(), store_path, run_digest, lambda: None)
    scheduler.add_listener(lambda _event: shut_down.set(), EVENT_SCHEDULER_SHUTDOWN)
    job_done = threading.Event()
    scheduler.add_listener(  # not the poll at start, which runs on weekday afternoons
        lambda event: job_done.set() if event.job_id == DIGEST_JOB else None,
        EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
    )
    watchdog = threading.Timer(30, lambda: os.kill(os.getpid(), signal.SIGINT))
    watchdog.start()  # only fires if the test is broken
    try:
        run_scheduler(scheduler)
        assert job_done.wait(10)  # the running job finishes, as before the process exits
    finally:
        watchdog.cancel()
    assert digested == [just_ended.shift(-2)]
    assert last_digest(store_path) == str(just_ended.shift(-2))


# -- a stop cuts a job's waits short ------------------------------------------------------


def test_a_wait_in_a_job_ends_with_job_stopped_as_soon_as_a_stop_is_requested() -> None:
    stop = StopRequest()
    outcome: list[str] = []

    def job() -> None:
        try:
            stop.sleep(300)  # arXiv's longest backoff
        except JobStopped:
            outcome.append("stopped")

    worker = threading.Thread(target=job)
    worker.start()
    stop.set()
    worker.join(10)
    assert not worker.is_alive()
    assert outcome == ["stopped"]


def test_a_wait_after_the_stop_ends_at_once_and_one_before_it_just_waits() -> None:
    stop = StopRequest()
    stop.sleep(0.0)  # nothing asked for yet: returns
    stop.set()
    with pytest.raises(JobStopped):
        stop.sleep(300)


def test_sigterm_during_a_polls_backoff_stops_the_scheduler_at_once_keeping_stored_feeds(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The real blocking loop; the poll's second feed keeps failing, and SIGTERM arrives
    while the client waits 300 s to retry it: the wait ends, the job ends, the first
    feed's papers stay stored and the poll is not recorded as done."""
    with Store.open(store_path) as store:  # no digest due: the poll is the only job
        done = latest_due_month(datetime.now(UTC), EASTERN, default_digest_trigger())
        record_job_success(store, DIGEST_JOB, when=datetime.now(UTC), target=str(done))
    stop = StopRequest()
    waits: list[float] = []

    def wait_for_arxiv(seconds: float) -> None:
        waits.append(seconds)
        os.kill(os.getpid(), signal.SIGTERM)  # the service manager stops it now
        stop.sleep(seconds)

    ticks = iter(range(0, 10**9, 1000))  # a monotonic clock 1000 s on at each look:
    with ArxivTestServer() as server:  # arXiv's 3 s spacing never waits
        server.set_listing("cs.CV", "2025-05-14", [{"id": "2505.00107", "type": "new"}])
        server.fail("status", times=10, path="/rss/cs.LG", status=503)
        arxiv = fast_arxiv_config(
            server, categories=["cs.CV", "cs.LG"], backoff_seconds=300, max_backoff_seconds=300
        )

        def poll() -> str:
            with (
                Store.open(store_path) as store,
                ArxivClient(arxiv, sleep=wait_for_arxiv, clock=lambda: next(ticks)) as client,
            ):
                return poll_feeds(store, arxiv, client).describe()

        # On a Saturday by the scheduler's clock: no poll at start besides this one.
        scheduler = build_scheduler(
            Config(), store_path, DigestRecorder(), poll, stop=stop, clock=lambda: SATURDAY
        )
        scheduler.modify_job(POLL_JOB, next_run_time=datetime.now(UTC))
        job_done = threading.Event()
        scheduler.add_listener(
            lambda event: job_done.set() if event.job_id == POLL_JOB else None,
            EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
        )
        before = signal.getsignal(signal.SIGTERM)
        watchdog = threading.Timer(30, lambda: os.kill(os.getpid(), signal.SIGINT))
        watchdog.start()  # only fires if the test is broken
        try:
            with caplog.at_level("INFO", logger="trenddigest.schedule"):
                run_scheduler(scheduler)  # returns: `trenddigest schedule` exits 0
                assert job_done.wait(10)  # not after the 300 s backoff
        finally:
            watchdog.cancel()
    assert waits == [300.0]  # no further retry was waited for
    messages = [r.getMessage() for r in caplog.records if r.name == "trenddigest.schedule"]
    assert (
        "received SIGTERM: stopping the scheduler (a running job stops at its next wait, "
        "keeping what it stored)"
    ) in messages
    assert messages[-1] == "daily poll stopped: the scheduler is stopping; what it stored is kept"
    with Store.open(store_path) as store:
        assert store.get_paper("2505.00107") is not None
        assert last_job_run(store, POLL_JOB) is None
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_digest_stopped_in_a_wait_is_neither_recorded_nor_retried_an_hour_later(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    stop = StopRequest()

    def digest(month: Month) -> str:
        stop.set()  # SIGTERM arrives while the month's fetch waits for arXiv
        stop.sleep(60)
        return f"digests/{month}.md"

    clock = FakeClock(datetime(2025, 6, 5, 10, 0, tzinfo=UTC))
    scheduler = build_scheduler(
        Config(),
        store_path,
        digest,
        lambda: None,
        clock=clock,
        scheduler_class=BackgroundScheduler,
        stop=stop,
    )
    with caplog.at_level("INFO", logger="trenddigest.schedule"):
        scheduler.get_job(DIGEST_JOB).func()
    assert scheduler.get_job(DIGEST_RETRY_JOB) is None
    assert last_digest(store_path) is None  # the next start produces May
    assert [r.getMessage() for r in caplog.records][-1] == (
        "monthly digest stopped: the scheduler is stopping; the next start produces what is due"
    )


# -- ready-made schedules: GitHub Actions and cron ----------------------------------------

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "monthly-digest.yml"


def run_with_stub_trenddigest(script: str, tmp_path: Path, **env: str) -> list[str]:
    """Run a shell snippet with a fake ``trenddigest`` on PATH; the arguments it got."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "trenddigest"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done > "$ARGS_FILE"\n')
    stub.chmod(0o755)
    args_file = tmp_path / "args.txt"
    full_env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "ARGS_FILE": str(args_file),
        "TZ": "UTC",
        **env,
    }
    subprocess.run(["sh", "-c", script], env=full_env, cwd=tmp_path, check=True, timeout=30)
    return args_file.read_text().splitlines()


def parse_cli(args: list[str]):
    return build_parser().parse_args(args)


def month_before_now() -> str:
    return str(month_just_ended(datetime.now(UTC), UTC))


@pytest.fixture(scope="module")
def gnu_date() -> None:
    probe = subprocess.run(["date", "-d", "2025-05-01 -1 month", "+%Y-%m"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("needs GNU date (as on GitHub's ubuntu runners and Linux cron)")


def workflow_run_script(text: str) -> str:
    """The last ``run: |`` block of the workflow (the digest step), dedented."""
    lines = text.splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip() == "run: |")
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def test_workflow_runs_on_the_third_of_the_month_and_by_hand() -> None:
    text = WORKFLOW.read_text()
    assert "\non:\n  schedule:\n    # " in text
    assert '- cron: "0 12 3 * *"' in text
    assert "\n  workflow_dispatch:\n" in text


def test_workflow_may_push_and_installs_the_project_on_python_3_11() -> None:
    text = WORKFLOW.read_text()
    assert "permissions:\n  contents: write\n" in text
    assert 'python-version: "3.11"' in text
    assert "run: pip install '.[plot]'\n" in text  # the emailed digest's PNG chart
    assert 'git config user.name "github-actions[bot]"' in text
    assert "actions/cache" not in text  # no store carried over: a fresh backfill each month


def test_workflow_script_builds_last_month_with_commit_and_push(tmp_path: Path, gnu_date) -> None:
    script = workflow_run_script(WORKFLOW.read_text())
    args = run_with_stub_trenddigest(script, tmp_path, MONTH_INPUT="")
    assert args == ["run", "--month", month_before_now(), "--commit", "--push"]
    parsed = parse_cli(args)
    assert (parsed.month, parsed.commit, parsed.push) == (month_before_now(), True, True)


def test_workflow_script_takes_the_month_given_by_hand(tmp_path: Path, gnu_date) -> None:
    script = workflow_run_script(WORKFLOW.read_text())
    args = run_with_stub_trenddigest(script, tmp_path, MONTH_INPUT="2025-05")
    assert args[:3] == ["run", "--month", "2025-05"]


def test_crontab_example_runs_last_months_digest_on_the_fourth_to_the_sixth(
    tmp_path: Path, gnu_date
) -> None:
    # Three days: a run that failed (arXiv down, a refused push) is tried again the
    # next day, and a run of a month already made only checks it.
    path_line, entry = CRONTAB_EXAMPLE.splitlines()
    assert path_line.startswith("PATH=")
    fields = entry.split(None, 5)
    assert fields[:5] == ["15", "12", "4-6", "*", "*"]
    # What cron does with the command: unescape % and hand it to /bin/sh.
    command = fields[5].replace("\\%", "%").replace("/path/to/digest-repo", str(tmp_path))
    args = run_with_stub_trenddigest(command, tmp_path)
    assert args == ["run", "--month", month_before_now(), "--commit", "--push"]
    parse_cli(args)


@pytest.mark.parametrize("offset", range(48))
def test_the_workflow_and_the_cron_example_run_after_the_month_is_complete(offset: int) -> None:
    """On the 3rd at 12:00 UTC (the workflow), and on the 4th at 12:15 in any time zone
    (the cron example; UTC+14 is the earliest), every month just ended has had its last
    mailing (the Sunday after a month ending on a Friday or Saturday) and the API its
    ten hours."""
    month = Month(2025, 1).shift(offset)
    after = month.shift(1)
    ready = last_announcement(month) + SETTLE
    assert datetime(after.year, after.month, 3, 12, 0, tzinfo=UTC) >= ready
    kiribati = timezone(timedelta(hours=14))
    assert datetime(after.year, after.month, 4, 12, 15, tzinfo=kiribati) >= ready


def test_readme_shows_the_tested_crontab_example() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running it unattended") :]
    for line in CRONTAB_EXAMPLE.splitlines():
        assert line in section


def test_readme_shows_all_three_unattended_ways() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running it unattended") :]
    section = section[: section.index("\n## ", 1)]
    assert "`trenddigest schedule`" in section
    assert "```crontab" in section
    assert ".github/workflows/monthly-digest.yml" in section


@pytest.fixture(scope="module")
def workflow() -> dict:
    """The workflow as GitHub reads it (YAML 1.1: the key ``on`` parses as True)."""
    import yaml  # PyYAML, a test dependency

    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)
    return data


def test_workflow_yaml_triggers_on_the_third_and_by_hand_with_a_month(workflow: dict) -> None:
    assert workflow["on"]["schedule"] == [{"cron": "0 12 3 * *"}]
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"month", "email"} and inputs["month"]["required"] is False
    assert workflow["permissions"] == {"contents": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_workflow_yaml_steps_install_the_cli_and_run_it_on_a_fresh_store(
    workflow: dict, tmp_path: Path, gnu_date
) -> None:
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert uses[:2] == ["actions/checkout@v4", "actions/setup-python@v5"]
    assert not any(u.startswith("actions/cache") for u in uses)  # no store carried over
    assert steps[1]["with"]["python-version"] == "3.11"
    runs = [step for step in steps if "run" in step]
    assert runs[0]["run"].strip() == "pip install '.[plot]'"
    # What "pip install ." puts on PATH is this project's CLI; [plot] adds matplotlib.
    assert any(r.startswith("matplotlib") for r in requires("trenddigest") or [] if "plot" in r)
    (script,) = entry_points(group="console_scripts", name="trenddigest")
    assert script.value == "trenddigest.cli:main"
    digest = runs[-1]
    env = digest["env"]
    assert env["TRENDDIGEST_STORE"].startswith("${{ runner.temp }}/")
    assert env["TRENDDIGEST_SMTP_PASSWORD"] == "${{ secrets.TRENDDIGEST_SMTP_PASSWORD }}"
    assert "${{" not in digest["run"]  # inputs reach the script only through env
    for month_input, month in (("", month_before_now()), ("2025-05", "2025-05")):
        args = run_with_stub_trenddigest(digest["run"], tmp_path, MONTH_INPUT=month_input)
        assert args == ["run", "--month", month, "--commit", "--push"]
        parsed = parse_cli(args)
        assert (parsed.month, parsed.commit, parsed.push) == (month, True, True)


def test_a_successful_poll_is_logged_in_one_line(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2025, 5, 6, 0, 45, tzinfo=UTC))
    run_due_digests(store_path, DigestRecorder(), clock=clock, tz=EASTERN)  # April done
    scheduler = background_scheduler(store_path, DigestRecorder(), lambda: "6 feeds: 3 new", clock)
    with caplog.at_level("INFO", logger="trenddigest.schedule"):
        scheduler.get_job(POLL_JOB).func()
    assert "daily poll done: 6 feeds: 3 new" in [r.getMessage() for r in caplog.records]


# S6 + S8: retry_poll reads arXiv's Retry-After from the poll's error (its cause).
def test_a_poll_arxiv_asked_to_wait_is_tried_again_when_the_wait_ends(store_path: str) -> None:
    clock = FakeClock(datetime(2025, 6, 5, 10, 30, tzinfo=UTC))  # 06:30 US Eastern
    until = clock.now + timedelta(hours=3)

    def poll() -> None:  # as poll_feeds raises it: the wait is on the cause
        wait = WaitRequestedError(
            "export.arxiv.org asked to wait 3 h",
            endpoint="rss.arxiv.org",
            tries=1,
            last="503",
            until=until.timestamp(),
        )
        raise FetchError("export.arxiv.org asked to wait 3 h; the poll stopped there") from wait

    scheduler = background_scheduler(store_path, DigestRecorder(), poll, clock)
    scheduler.get_job(POLL_JOB).func()
    retry = scheduler.get_job(POLL_RETRY_JOB)
    assert retry is not None and retry.trigger.run_date == until


# S10: make_when_complete adds no run at the month's completion when the digest cron
# does not make the month due by then.
def test_a_start_before_the_month_is_complete_adds_no_run_the_digest_cron_would_not_make(
    store_path: str,
) -> None:
    clock = FakeClock(datetime(2025, 7, 1, 6, 0, tzinfo=UTC))  # June not yet in the API
    with Store.open(store_path) as store:
        record_job_success(store, DIGEST_JOB, when=clock(), target="2025-05")
    config = Config(schedule=ScheduleConfig(timezone="UTC", digest_cron="0 6 3 * *"))
    digest = DigestRecorder()
    scheduler = build_scheduler(
        config, store_path, digest, lambda: None, clock=clock, scheduler_class=BackgroundScheduler
    )
    scheduler.get_job(DIGEST_JOB).func()  # the run at start
    assert digest.months == []
    assert scheduler.get_job(DIGEST_COMPLETE_JOB) is None


# S13: among held months, the one written but undelivered is named, not one refused
# before it was written.
def test_a_written_but_undelivered_month_is_named_before_a_month_refused_unwritten(
    store_path: str,
) -> None:
    clock = april_done_now_july(store_path)

    def digest(month: Month) -> str:
        if month == m("2025-05"):
            raise DeliveryError("cannot commit the digest: /lab is not inside a git repository")
        raise undelivered("git push failed")

    with pytest.raises(DeliveryError) as failed:
        run_due_digests(store_path, digest, clock=clock, tz=EASTERN)
    assert str(failed.value) == (
        "the digest for 2025-06 is written but not delivered: git push failed"
    )


# P12 + P14 + P15: pipeline.scheduler's digest job runs the month with the config's
# deliveries, emails a month only once, and reports progress to the command's reporter.
def test_the_schedule_commands_digest_job_delivers_as_configured_and_emails_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[pipeline.RunOptions, dict]] = []

    def run_month(store, config, opts, **kwargs):  # noqa: ANN001, ANN202
        calls.append((opts, kwargs))
        return pipeline.RunResult(None, "", written=[Path("digests/2025/2025-05.md")])

    monkeypatch.setattr(
        schedule_module, "build_scheduler", lambda config, path, run_digest, poll, **kw: run_digest
    )
    monkeypatch.setattr(pipeline, "run_month", run_month)
    config = Config()
    config.store.path = str(tmp_path / "s.sqlite3")
    config.git.commit, config.git.push, config.email.enabled = True, True, True
    reporter = object()
    run_digest = pipeline.scheduler(config, reporter=reporter)
    assert run_digest(Month(2025, 5)) == "digests/2025/2025-05.md"
    ((opts, kwargs),) = calls
    assert opts == pipeline.RunOptions(
        month=Month(2025, 5), commit=True, push=True, email=True, email_once=True
    )
    assert kwargs["reporter"] is reporter


# P13: pipeline.scheduler's poll holds the store lock (a run holding it makes the poll
# wait, here time out), so a poll never writes beside a run.
def test_the_schedule_commands_poll_takes_the_store_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        schedule_module, "build_scheduler", lambda config, path, run_digest, poll, **kw: poll
    )
    with ArxivTestServer() as server:
        config = Config()
        config.arxiv = fast_arxiv_config(server, categories=["cs.CV"])
        config.store.path = str(tmp_path / "s.sqlite3")
        config.store.lock_timeout_seconds = 0
        poll = pipeline.scheduler(config)
        with store_lock(config.store.path, timeout=0), pytest.raises(LockError):
            poll()
        assert server.seen == []


def test_a_new_installation_notes_where_its_digests_start_while_holding_the_store_lock(
    store_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command that created the store and fails removes it under the lock: a note
    # written beside it without the lock could go to a file being unlinked.
    held: list[bool] = [False]
    noted_under_lock: list[bool] = []

    @contextlib.contextmanager
    def lock() -> Iterator[None]:
        held[0] = True
        try:
            yield
        finally:
            held[0] = False

    real_set_meta = Store.set_meta

    def set_meta(self: Store, key: str, value: str) -> None:
        if key == "digest_job_start":
            noted_under_lock.append(held[0])
        real_set_meta(self, key, value)

    monkeypatch.setattr(Store, "set_meta", set_meta)
    clock = FakeClock(datetime(2025, 6, 2, 12, tzinfo=UTC))
    run_due_digests(store_path, DigestRecorder(), clock=clock, tz=EASTERN, lock=lock)
    assert noted_under_lock == [True]
