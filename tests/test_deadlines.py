"""Legal deadlines as the law counts them: GDPR art. 12.3, Regulation 1182/71 art. 3.2(c) and 3.4."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from gdpr import deadlines
from gdpr.deadlines import (
    add_months,
    deadline_start,
    easter_sunday,
    extended_deadline,
    french_date,
    is_working_day,
    legal_deadline,
    next_working_day_on_or_after,
    public_holidays,
)

D = dt.date


@pytest.mark.parametrize(
    "year, easter",
    [
        (1818, D(1818, 3, 22)),  # the earliest possible date
        (1943, D(1943, 4, 25)),  # the latest possible date
        (2000, D(2000, 4, 23)),
        (2008, D(2008, 3, 23)),
        (2011, D(2011, 4, 24)),
        (2019, D(2019, 4, 21)),
        (2024, D(2024, 3, 31)),
        (2025, D(2025, 4, 20)),
        (2026, D(2026, 4, 5)),
        (2027, D(2027, 3, 28)),
        (2028, D(2028, 4, 16)),
        (2038, D(2038, 4, 25)),
        (2285, D(2285, 3, 22)),
    ],
)
def test_easter_sunday(year, easter):
    assert easter_sunday(year) == easter and easter.weekday() == 6


def test_the_eleven_public_holidays_of_2026_and_2027():
    assert sorted(public_holidays(2026)) == [
        D(2026, 1, 1),
        D(2026, 4, 6),  # Easter Monday
        D(2026, 5, 1),
        D(2026, 5, 8),
        D(2026, 5, 14),  # Ascension Thursday
        D(2026, 5, 25),  # Whit Monday
        D(2026, 7, 14),
        D(2026, 8, 15),
        D(2026, 11, 1),
        D(2026, 11, 11),
        D(2026, 12, 25),
    ]
    movable = sorted(public_holidays(2027) - {D(2027, m, d) for m, d in FIXED})
    assert movable == [D(2027, 3, 29), D(2027, 5, 6), D(2027, 5, 17)]


FIXED = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2030, 2100])
@pytest.mark.parametrize("month, day", FIXED)
def test_every_fixed_holiday_is_not_a_working_day(year, month, day):
    assert not is_working_day(D(year, month, day))


@pytest.mark.parametrize("year", range(2020, 2041))
def test_movable_holidays_follow_easter_every_year(year):
    easter = easter_sunday(year)
    holidays = public_holidays(year)
    assert len(holidays) == 11
    for offset in (1, 39, 50):  # Easter Monday, Ascension Thursday, Whit Monday
        assert easter + dt.timedelta(days=offset) in holidays
    assert (easter + dt.timedelta(days=39)).weekday() == 3 and (easter + dt.timedelta(days=50)).weekday() == 0
    assert easter - dt.timedelta(days=2) not in holidays, "Good Friday: Alsace-Moselle only, not included"
    assert D(year, 12, 26) not in holidays, "Saint Stephen's day: Alsace-Moselle only, not included"


def test_working_days():
    assert is_working_day(D(2026, 3, 2))  # a Monday
    assert not is_working_day(D(2026, 2, 28)) and not is_working_day(D(2026, 3, 1))  # Saturday, Sunday
    assert next_working_day_on_or_after(D(2026, 3, 2)) == D(2026, 3, 2)
    assert next_working_day_on_or_after(D(2026, 2, 28)) == D(2026, 3, 2)
    # Friday 1 May 2026, then the weekend: Monday 4 May.
    assert next_working_day_on_or_after(D(2026, 5, 1)) == D(2026, 5, 4)


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 1, 15), 1, D(2026, 2, 15)),
        (D(2026, 12, 31), 2, D(2027, 2, 28)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2026, 1, 31), 3, D(2026, 4, 30)),
        (D(2026, 5, 10), 0, D(2026, 5, 10)),
    ],
)
def test_add_months_same_date_or_last_day_of_the_month(start, months, expected):
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    "start, expected, why",
    [
        (D(2026, 11, 29), D(2026, 12, 29), "a Tuesday: unchanged"),
        (D(2028, 1, 31), D(2028, 2, 29), "a Tuesday: unchanged"),
        (D(2026, 1, 31), D(2026, 3, 2), "28 February 2026 is a Saturday"),
        (D(2027, 1, 31), D(2027, 3, 1), "28 February 2027 is a Sunday"),
        (D(2026, 1, 7), D(2026, 2, 9), "7 February 2026 is a Saturday"),
        (D(2026, 1, 8), D(2026, 2, 9), "8 February 2026 is a Sunday"),
        (D(2026, 4, 1), D(2026, 5, 4), "1 May 2026 is a Friday, then the weekend"),
        (D(2026, 4, 8), D(2026, 5, 11), "8 May 2026 is a Friday, then the weekend"),
        (D(2026, 3, 6), D(2026, 4, 7), "6 April 2026 is Easter Monday"),
        (D(2026, 4, 14), D(2026, 5, 15), "14 May 2026 is Ascension Thursday"),
        (D(2026, 4, 25), D(2026, 5, 26), "25 May 2026 is Whit Monday"),
        (D(2027, 6, 14), D(2027, 7, 15), "14 July 2027 is a Wednesday, a public holiday"),
        (D(2026, 7, 15), D(2026, 8, 17), "15 August 2026 is a Saturday"),
        (D(2026, 10, 1), D(2026, 11, 2), "1 November 2026 is a Sunday"),
        (D(2026, 10, 11), D(2026, 11, 12), "11 November 2026 is a Wednesday"),
        (D(2026, 11, 25), D(2026, 12, 28), "Christmas 2026 is a Friday, then the weekend"),
        (D(2026, 12, 1), D(2027, 1, 4), "1 January 2027 is a Friday, then the weekend"),
    ],
)
def test_legal_deadline_moves_off_weekends_and_public_holidays(start, expected, why):
    assert legal_deadline(start) == expected, why
    assert is_working_day(legal_deadline(start))


def test_extension_by_one_or_two_months_counts_from_the_start():
    start = D(2026, 1, 31)  # first month: 28 February, a Saturday, so Monday 2 March
    assert legal_deadline(start) == D(2026, 3, 2)
    assert extended_deadline(start, 1) == D(2026, 3, 31), "from the start, not from the moved deadline"
    assert extended_deadline(start, 2) == D(2026, 4, 30), "30 April: April has no 31st"
    # 14 May 2026 is Ascension Thursday: moved to Friday 15 May.
    assert extended_deadline(D(2026, 3, 14), 1) == D(2026, 5, 15)
    # 14 July 2027: moved to Thursday 15 July.
    assert extended_deadline(D(2027, 4, 14), 2) == D(2027, 7, 15)
    for months in (0, 3, -1):
        with pytest.raises(ValueError):
            extended_deadline(start, months)


def test_deadline_start_follows_the_setting(monkeypatch):
    # 31 March 2026 at 23:30 UTC is already 1 April in Paris (summer time).
    late = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.timezone.utc)
    request = SimpleNamespace(received_at=late, transmitted_on=None)
    monkeypatch.setenv("DEADLINE_STARTS_ON", "verification")
    assert deadline_start(request) == D(2026, 4, 1)
    assert deadline_start({"received_at": late.replace(tzinfo=None), "transmitted_on": None}) == D(2026, 4, 1)
    monkeypatch.setenv("DEADLINE_STARTS_ON", "transmission")
    assert deadline_start(request) is None, "not transmitted yet: the deadline has not started"
    request.transmitted_on = D(2026, 4, 3)
    assert deadline_start(request) == D(2026, 4, 3)
    monkeypatch.delenv("DEADLINE_STARTS_ON")
    assert deadline_start(request) == D(2026, 4, 3), "transmission is the default"


def test_french_dates():
    assert french_date(D(2026, 3, 1)) == "1er mars 2026"
    assert french_date(D(2027, 7, 14)) == "14 juillet 2027"
    assert french_date(D(2026, 8, 15)) == "15 août 2026"


def test_the_requests_module_uses_these_deadlines():
    from gdpr import requests

    assert requests.legal_deadline is deadlines.legal_deadline
