"""A lab running trenddigest unattended across calendar edges: a month's digest is made
only once arXiv has announced all of the month's papers, wherever the lab is.

arXiv numbers each mailing in the month of its 14:00 US Eastern deadline and announces
it at 20:00, Friday's on the Sunday after: a month ending on a Friday or a Saturday has
its last mailing on the 1st or 2nd of the next month.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from trenddigest import cli
from trenddigest.cli import main
from trenddigest.config import Config
from trenddigest.models import Month, last_announcement, latest_complete_month
from trenddigest.schedule import (
    DIGEST_JOB,
    POLL_JOB,
    build_scheduler,
    crontab_trigger,
    latest_due_month,
    run_due_digests,
)

EASTERN = ZoneInfo("US/Eastern")
TOKYO = ZoneInfo("Asia/Tokyo")


def m(text: str) -> Month:
    return Month.parse(text)


def default_digest_trigger(tz: ZoneInfo = EASTERN):
    return crontab_trigger(Config().schedule.digest_cron, tz, "digest_cron")


# -- the last announcement of a month's ids ---------------------------------------


@pytest.mark.parametrize(
    ("month", "announced"),
    [
        ("2025-03", "2025-03-31 20:00"),  # ends on a Monday: that day's mailing
        ("2025-09", "2025-09-30 20:00"),  # Tuesday
        ("2025-04", "2025-04-30 20:00"),  # Wednesday
        ("2025-07", "2025-07-31 20:00"),  # Thursday
        ("2025-10", "2025-11-02 20:00"),  # Friday: its mailing is announced on Sunday the 2nd
        ("2025-05", "2025-06-01 20:00"),  # Saturday: Friday's mailing, on Sunday the 1st
        ("2025-08", "2025-08-31 20:00"),  # Sunday: Friday's mailing, that evening
    ],
)
def test_a_months_last_ids_are_announced_on_its_last_weekday_fridays_on_the_sunday_after(
    month: str, announced: str
) -> None:
    assert last_announcement(m(month)) == datetime.fromisoformat(announced).replace(tzinfo=EASTERN)


@pytest.mark.parametrize(
    ("month", "announced"),
    [
        ("2028-02", "2028-02-29 20:00"),  # leap year, the 29th a Tuesday
        ("2027-02", "2027-02-28 20:00"),  # the 28th a Sunday
        ("2026-02", "2026-03-01 20:00"),  # the 28th a Saturday
        ("2025-02", "2025-03-02 20:00"),  # the 28th a Friday
    ],
)
def test_february_ends_on_the_28th_or_in_a_leap_year_the_29th(month: str, announced: str) -> None:
    assert last_announcement(m(month)) == datetime.fromisoformat(announced).replace(tzinfo=EASTERN)


def test_a_december_ending_on_a_friday_is_complete_only_on_the_second_of_january() -> None:
    assert latest_complete_month(datetime(2028, 1, 2, 20, 0, tzinfo=EASTERN)) == m("2027-12")
    assert latest_complete_month(datetime(2028, 1, 2, 19, 59, tzinfo=EASTERN)) == m("2027-11")


# -- the scheduler waits for the month's last mailing -------------------------------


def test_a_month_ending_on_a_saturday_is_not_due_on_the_first_before_sundays_mailing() -> None:
    # May 2025 ended on a Saturday; its last ids were announced on Sunday, June 1, 20:00.
    fired = datetime(2025, 6, 1, 6, 0, tzinfo=EASTERN)
    assert latest_due_month(fired, EASTERN, default_digest_trigger()) == m("2025-04")


def test_a_month_ending_on_a_saturday_is_due_the_morning_after_its_last_mailing() -> None:
    morning = datetime(2025, 6, 2, 6, 0, tzinfo=EASTERN)
    assert latest_due_month(morning, EASTERN, default_digest_trigger()) == m("2025-05")


def test_a_month_ending_on_a_friday_waits_for_the_mailing_on_sunday_the_second() -> None:
    trigger = default_digest_trigger()
    assert latest_due_month(datetime(2025, 11, 2, 23, 0, tzinfo=EASTERN), EASTERN, trigger) == (
        m("2025-09")
    )
    assert latest_due_month(datetime(2025, 11, 3, 6, 0, tzinfo=EASTERN), EASTERN, trigger) == (
        m("2025-10")
    )


def test_a_december_ending_on_a_wednesday_is_due_on_new_years_day() -> None:
    fired = datetime(2026, 1, 1, 6, 0, tzinfo=EASTERN)
    assert latest_due_month(fired, EASTERN, default_digest_trigger()) == m("2025-12")


def test_east_of_new_york_the_first_comes_before_the_last_days_mailing() -> None:
    # July 31, 2025 was a Thursday: announced at 20:00 EDT, 09:00 on August 1 in Tokyo.
    trigger = default_digest_trigger(TOKYO)
    fired = datetime(2025, 8, 1, 6, 0, tzinfo=TOKYO)
    assert latest_due_month(fired, TOKYO, trigger) == m("2025-06")
    settled = datetime(2025, 8, 1, 19, 0, tzinfo=TOKYO)  # 06:00 EDT
    assert latest_due_month(settled, TOKYO, trigger) == m("2025-07")


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_poll_after_the_sunday_mailing_makes_the_month_the_first_left_out(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "store.sqlite3")
    made: list[Month] = []

    def digest(month: Month) -> str:
        made.append(month)
        return f"digests/{month}.md"

    clock = FakeClock(datetime(2025, 5, 2, 6, 0, tzinfo=EASTERN))
    run_due_digests(store, digest, clock=clock, tz=EASTERN)  # April done
    scheduler = build_scheduler(
        Config(), store, digest, lambda: "polled", clock=clock, scheduler_class=BackgroundScheduler
    )
    clock.now = datetime(2025, 6, 1, 6, 0, tzinfo=EASTERN)  # the digest cron fires
    scheduler.get_job(DIGEST_JOB).func()
    clock.now = datetime(2025, 6, 2, 5, 0, tzinfo=EASTERN)  # a poll before the API caught up
    scheduler.get_job(POLL_JOB).func()
    assert made == [m("2025-04")]
    clock.now = datetime(2025, 6, 2, 6, 30, tzinfo=EASTERN)  # Monday's poll
    scheduler.get_job(POLL_JOB).func()
    assert made == [m("2025-04"), m("2025-05")]


# -- run --month by hand -----------------------------------------------------------


def test_run_refuses_a_month_arxiv_has_not_finished_announcing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRENDDIGEST_CONFIG", raising=False)
    incomplete = latest_complete_month(datetime.now(UTC)).shift(1)
    code = main(["run", "--month", str(incomplete), "--offline"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"trenddigest: error: {incomplete} is not complete yet: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "data").exists()  # refused before any store is made


def test_run_refuses_a_month_announced_but_not_yet_in_arxivs_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class SundayEvening(datetime):  # October 2025's last mailing came out 30 minutes ago
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime's own signature
            return datetime(2025, 11, 3, 1, 30, tzinfo=UTC).astimezone(tz)

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRENDDIGEST_CONFIG", raising=False)
    monkeypatch.setattr(cli, "datetime", SundayEvening)
    code = main(["run", "--month", "2025-10", "--offline"])
    assert (code, capsys.readouterr().err) == (
        2,
        "trenddigest: error: 2025-10 is not complete yet: arXiv announces the last of its "
        "papers on Sunday 2025-11-02 at 20:00 US Eastern and its API has them from Monday "
        "2025-11-03 06:00 US Eastern; give 2025-09 or earlier, or run it after then\n",
    )


def test_every_months_last_ids_are_out_by_the_second_of_the_next_month_at_20_00() -> None:
    for offset in range(48):  # 2025 to 2028, a leap year among them
        month = Month(2025, 1).shift(offset)
        after = month.shift(1)
        latest = datetime(after.year, after.month, 2, 20, 0, tzinfo=EASTERN)
        assert last_announcement(month) <= latest, month
