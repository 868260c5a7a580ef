"""Legal deadlines of GDPR requests, computed as the law counts them.

GDPR art. 12.3: the controller answers « within one month of receipt of the request »,
extendable « by two further months where necessary, taking into account the complexity and
number of the requests », provided the data subject is told of the extension, with its
reasons, within the first month.

How the month is counted is set by Regulation (EEC, Euratom) No 1182/71 (periods, dates and
time limits), which the GDPR follows:
- art. 3.2(c): a period in months ends on the same date in the last month, or on the last
  day of that month when it has no such date (31 January + 1 month = 28 or 29 February);
- art. 3.4: a period ending on a Saturday, a Sunday or a public holiday ends at the end of
  the next working day.

When the month starts is a setting (settings.deadline_starts_on()): on the day the request
was recorded (this service acts for the controller), or on the day the data-protection team
transmitted it to the controller.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache
from typing import Any, FrozenSet, Optional
from zoneinfo import ZoneInfo

import settings

PARIS = ZoneInfo("Europe/Paris")
EXTENSION_MONTHS = (1, 2)  # art. 12.3: « by two further months » at most

_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def easter_sunday(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> FrozenSet[dt.date]:
    """The eleven public holidays of the French national calendar (code du travail, art. L3133-1).

    Alsace-Moselle's extra days (Good Friday, and 26 December) are not included: they are local
    law, kept only in the Bas-Rhin, Haut-Rhin and Moselle, while the controllers answer from
    anywhere in France and this service does not know which office will handle a request. Left
    out, they can only make a deadline one day earlier than a local count, never later: the team
    never relies on a day the controller might not have.
    """
    easter = easter_sunday(year)
    return frozenset(
        {
            dt.date(year, 1, 1),  # Jour de l'an
            easter + dt.timedelta(days=1),  # Lundi de Pâques
            dt.date(year, 5, 1),  # Fête du travail
            dt.date(year, 5, 8),  # Victoire 1945
            easter + dt.timedelta(days=39),  # Ascension
            easter + dt.timedelta(days=50),  # Lundi de Pentecôte
            dt.date(year, 7, 14),  # Fête nationale
            dt.date(year, 8, 15),  # Assomption
            dt.date(year, 11, 1),  # Toussaint
            dt.date(year, 11, 11),  # Armistice 1918
            dt.date(year, 12, 25),  # Noël
        }
    )


def is_public_holiday(day: dt.date) -> bool:
    return day in public_holidays(day.year)


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday, and not a public holiday."""
    return day.weekday() < 5 and not is_public_holiday(day)


def next_working_day_on_or_after(day: dt.date) -> dt.date:
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_months(day: dt.date, months: int) -> dt.date:
    """The same date `months` later, or the last day of that month if it has no such date
    (Regulation 1182/71, art. 3.2(c))."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def legal_deadline(start: dt.date) -> dt.date:
    """One month from `start`, moved to the next working day when it falls on a Saturday, a
    Sunday or a public holiday (GDPR art. 12.3; Regulation 1182/71, art. 3.2(c) and 3.4)."""
    return next_working_day_on_or_after(add_months(start, 1))


def extended_deadline(start: dt.date, months: int) -> dt.date:
    """The deadline extended by one or two months (art. 12.3), counted from `start` like the
    first month and adjusted the same way."""
    if months not in EXTENSION_MONTHS:
        raise ValueError("an extension is of one or two months")
    return next_working_day_on_or_after(add_months(start, 1 + months))


def paris_date(moment: dt.datetime) -> dt.date:
    """The calendar day in France of a stored timestamp (SQLite gives naive UTC values)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(PARIS).date()


def today() -> dt.date:
    """Today in France."""
    return dt.datetime.now(PARIS).date()


def _field(request: Any, name: str) -> Any:
    if isinstance(request, dict):
        return request.get(name)
    try:
        return request[name]  # a SQLAlchemy row mapping
    except (TypeError, KeyError):
        return getattr(request, name, None)


def deadline_start(request: Any) -> Optional[dt.date]:
    """The day the one-month deadline runs from, per settings.deadline_starts_on():
    'verification' → the day the request was recorded (Europe/Paris); 'transmission' → the day
    it was transmitted to the controller (None until then). `request` is a StoredRequest or a
    row of gdpr_requests."""
    if settings.deadline_starts_on() == "verification":
        received = _field(request, "received_at")
        return paris_date(received) if received is not None else None
    return _field(request, "transmitted_on")


def french_date(day: dt.date) -> str:
    """« 1er mars 2026 », « 14 juillet 2027 »."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"
