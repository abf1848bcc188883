"""Calendars as arrays: public holidays per country (the `holidays` package), weekends and business days.

Days are integers (days since 1970-01-01) so that a million rows are answered with array look-ups.
"""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np

from features.bycountry import ByCountry

EPOCH = dt.date(1970, 1, 1)
NO_HOLIDAY_HORIZON = 60  # "days to next holiday" is capped here


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday=0 … Sunday=6 for day numbers (1970-01-01 was a Thursday)."""
    return (np.asarray(days) + 3) % 7


class HolidayCalendar:
    """Public holidays for a span of years, per country, computed once per country on first use."""

    def __init__(self, first_year: int, last_year: int) -> None:
        self.first_year = first_year
        self.last_year = last_year
        self._days: dict[str, np.ndarray] = {}

    def holiday_days(self, country: str) -> np.ndarray:
        if country not in self._days:
            try:
                table = holidays.country_holidays(country, years=range(self.first_year, self.last_year + 1))
                days = sorted(day_number(d) for d in table)
            except NotImplementedError:  # country not covered by the package (or ZZ): no known holidays
                days = []
            self._days[country] = np.asarray(days, dtype=np.int64)
        return self._days[country]

    def _tables(self, countries: np.ndarray) -> tuple[ByCountry, ByCountry, np.ndarray]:
        """All holidays and the Monday–Friday ones, by country, and each row's segment in them."""
        tables = self.__dict__.get("_segments")
        rows = tables[0].rows(countries) if tables is not None else None
        if tables is None or rows is None:  # a country not asked about before: rebuild (rare)
            names = {*self._days, *(str(c) for c in distinct(countries))}
            days = {c: self.holiday_days(c) for c in sorted(names)}
            weekdays = {c: h[weekday(h) < 5] for c, h in days.items()}
            tables = self.__dict__["_segments"] = (ByCountry(days), ByCountry(weekdays))
            rows = tables[0].rows(countries)
        return tables[0], tables[1], rows  # type: ignore[return-value]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_segments"}  # a cache, rebuilt on use

    def is_holiday(self, countries: np.ndarray, days: np.ndarray) -> np.ndarray:
        table, _, rows = self._tables(countries)
        key = table.key(rows, np.asarray(days, dtype=np.int64))
        return table.keys[np.searchsorted(table.keys, key)] == key

    def days_to_next_holiday(self, countries: np.ndarray, days: np.ndarray) -> np.ndarray:
        table, _, rows = self._tables(countries)
        key = table.key(rows, np.asarray(days, dtype=np.int64))
        nxt = table.keys[np.searchsorted(table.keys, key, side="left")]
        found = nxt < table.segment_end(rows)  # the next holiday is in the row's own country
        return np.where(found, np.minimum(nxt - key, NO_HOLIDAY_HORIZON), NO_HOLIDAY_HORIZON)

    def holidays_between(self, countries: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Holidays on days start <= day < end, per row."""
        table, _, rows = self._tables(countries)
        return _count(table, rows, np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64))

    def business_days_between(self, countries: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Monday–Friday days in [start, end) that are not public holidays."""
        start, end = np.asarray(start, dtype=np.int64), np.maximum(np.asarray(end, dtype=np.int64), start)
        _, weekday_holidays, rows = self._tables(countries)
        return _weekdays_before(end) - _weekdays_before(start) - _count(weekday_holidays, rows, start, end)


def _count(table: ByCountry, rows: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    keys = table.keys
    return np.searchsorted(keys, table.key(rows, end)) - np.searchsorted(keys, table.key(rows, start))


def distinct(values: np.ndarray) -> list:
    """The distinct values of an array (strings too) in order of first appearance; cheap for a single row."""
    return list(dict.fromkeys(np.asarray(values).tolist()))


def _weekdays_before(days: np.ndarray) -> np.ndarray:
    """Number of Monday–Friday days in [day 0 - 3, day): an offset that cancels out in differences."""
    shifted = np.asarray(days, dtype=np.int64) + 3  # day 0 of the shifted scale is a Monday
    weeks, rest = np.divmod(shifted, 7)
    return weeks * 5 + np.minimum(rest, 5)
