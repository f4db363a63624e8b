"""crontab lines fire on the days cron runs them, checked against a reference model of
Vixie cron's matching rule (cron.c: minute, hour and month match, and day of month AND
day of week when either field starts with "*", else day of month OR day of week), over
two years of days and a grid of day, weekday and month fields."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trenddigest.schedule import crontab_trigger

UTC_ZONE = ZoneInfo("UTC")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def field_values(
    field: str, low: int, high: int, names: tuple[str, ...] = (), base: int = 0
) -> set[int]:
    """The numbers a crontab field names (lists, ranges, steps, names), as cron reads it."""

    def number(token: str) -> int:
        return names.index(token) + base if token in names else int(token)

    values: set[int] = set()
    for part in field.split(","):
        span, slash, step = part.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (number(token) for token in span.split("-"))
        else:
            first = number(span)
            last = high if slash else first
        values.update(range(first, last + 1, int(step or 1)))
    return values


def days_cron_runs(line: str, start: datetime, days: int) -> list[datetime]:
    """The 06:00 fires of ``line`` in ``days`` days from ``start``, by Vixie cron's rule."""
    minute, hour, dom, month, dow = line.split()
    assert (minute, hour) == ("0", "6")
    dom_set = field_values(dom, 1, 31)
    month_set = field_values(month, 1, 12, MONTHS, 1)
    dow_set = {day % 7 for day in field_values(dow, 0, 7, DAYS)}
    both_needed = dom.startswith("*") or dow.startswith("*")
    fires = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).date()
        in_dom, in_dow = day.day in dom_set, day.isoweekday() % 7 in dow_set
        matches = (in_dom and in_dow) if both_needed else (in_dom or in_dow)
        if day.month in month_set and matches:
            fires.append(datetime(day.year, day.month, day.day, 6, tzinfo=UTC_ZONE))
    return fires


GRID = [
    f"0 6 {dom} {month} {dow}"
    for dom, dow, month in itertools.product(
        ["*", "1", "1,15", "1-7", "*/2", "1-31/2", "*,10", "10,*", "31", "1/5"],
        ["*", "1", "0", "7", "mon-fri", "*/2", "5-7", "0-6", "*,1", "1,*", "1-7/2"],
        ["*", "feb"],
    )
    if not (dom == "31" and month == "feb")  # a date that never comes: refused
]


@pytest.mark.parametrize("line", GRID)
def test_a_crontab_line_fires_on_the_days_cron_runs_it(line: str) -> None:
    start, days = datetime(2025, 1, 1, tzinfo=UTC_ZONE), 2 * 365
    trigger = crontab_trigger(line, UTC_ZONE, "digest_cron")
    fires, fire = [], trigger.get_next_fire_time(None, start)
    while fire is not None and fire < start + timedelta(days=days):
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    assert fires == days_cron_runs(line, start, days)


def test_a_line_restricting_both_day_fields_is_shown_as_its_two_halves() -> None:
    # The start-up line and APScheduler's misfire warning print the trigger.
    trigger = crontab_trigger("0 6 1,15 * mon-fri", UTC_ZONE, "digest_cron")
    assert str(trigger) == (
        "cron[month='*', day='1,15', day_of_week='*', hour='6', minute='0'] or "
        "cron[month='*', day='*', day_of_week='mon,tue,wed,thu,fri', hour='6', minute='0']"
    )
