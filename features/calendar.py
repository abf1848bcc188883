"""Calendars as arrays: public holidays per country (the `holidays` package), weekends and business days.

Days are integers (days since 1970-01-01) so that a million rows are answered with array look-ups.
"""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np

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

    def _by_country(self, countries: np.ndarray, days: np.ndarray, fn) -> np.ndarray:  # type: ignore[no-untyped-def]
        out = np.zeros(len(days), dtype=np.int64)
        for country in np.unique(countries):
            mask = countries == country
            out[mask] = fn(self.holiday_days(str(country)), days[mask])
        return out

    def is_holiday(self, countries: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self._by_country(countries, days, lambda h, d: np.isin(d, h)).astype(bool)

    def days_to_next_holiday(self, countries: np.ndarray, days: np.ndarray) -> np.ndarray:
        def fn(h: np.ndarray, d: np.ndarray) -> np.ndarray:
            if len(h) == 0:
                return np.full(len(d), NO_HOLIDAY_HORIZON)
            idx = np.searchsorted(h, d, side="left")
            nxt = np.where(idx < len(h), h[np.minimum(idx, len(h) - 1)], d + NO_HOLIDAY_HORIZON)
            return np.minimum(nxt - d, NO_HOLIDAY_HORIZON)

        return self._by_country(countries, days, fn)

    def holidays_between(self, countries: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Holidays on days start <= day < end, per row."""
        out = np.zeros(len(start), dtype=np.int64)
        for country in np.unique(countries):
            mask = countries == country
            h = self.holiday_days(str(country))
            out[mask] = np.searchsorted(h, end[mask]) - np.searchsorted(h, start[mask])
        return out

    def business_days_between(self, countries: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Monday–Friday days in [start, end) that are not public holidays."""
        start, end = np.asarray(start, dtype=np.int64), np.maximum(np.asarray(end, dtype=np.int64), start)
        weekdays = _weekdays_before(end) - _weekdays_before(start)
        out = weekdays.copy()
        for country in np.unique(countries):
            mask = countries == country
            h = self.holiday_days(str(country))
            h = h[weekday(h) < 5]
            out[mask] -= np.searchsorted(h, end[mask]) - np.searchsorted(h, start[mask])
        return out


def _weekdays_before(days: np.ndarray) -> np.ndarray:
    """Number of Monday–Friday days in [day 0 - 3, day): an offset that cancels out in differences."""
    shifted = np.asarray(days, dtype=np.int64) + 3  # day 0 of the shifted scale is a Monday
    weeks, rest = np.divmod(shifted, 7)
    return weeks * 5 + np.minimum(rest, 5)
