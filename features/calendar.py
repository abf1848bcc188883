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

    def at(self, countries: np.ndarray) -> CountryDays:
        """The calendar of each row's country, for several questions about the same rows."""
        table = self.__dict__.get("_table")
        if table is not None:
            try:
                return CountryDays(table, table.rows(countries))
            except KeyError:  # a country not asked about before: rebuild (rare)
                pass
        names = sorted({*self._days, *(str(c) for c in distinct(countries))})
        table = self.__dict__["_table"] = DayTable({c: self.holiday_days(c) for c in names})
        return CountryDays(table, table.rows(countries))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_table"}  # a cache, rebuilt on use

    def is_holiday(self, countries: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self.at(countries).is_holiday(days)

    def days_to_next_holiday(self, countries: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self.at(countries).days_to_next_holiday(days)

    def holidays_between(self, countries: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Holidays on days start <= day < end, per row."""
        return self.at(countries).holidays_between(start, end)

    def business_days_between(self, countries: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Monday–Friday days in [start, end) that are not public holidays."""
        return self.at(countries).business_days_between(start, end)


IS_HOLIDAY, TO_NEXT, HOLIDAYS_BEFORE, WEEKDAY_HOLIDAYS_BEFORE = range(4)


class DayTable:
    """Per country and day: holiday or not, days to the next one (capped), holidays and Monday–Friday holidays
    before the day. Days beyond the table have what its first or last day has (no holidays out there)."""

    def __init__(self, holiday_days: dict[str, np.ndarray]) -> None:
        self.index = {country: i for i, country in enumerate(holiday_days)}
        every = np.concatenate([np.zeros(0, dtype=np.int64), *holiday_days.values()])
        lo, hi = (int(every.min()), int(every.max())) if len(every) else (0, 0)
        self.first = lo - NO_HOLIDAY_HORIZON - 1  # every day before has what this one has; likewise after hi
        self.n_days = hi + 2 - self.first
        days = self.first + np.arange(self.n_days)
        self.values = np.vstack([self._fields(h, days) for h in holiday_days.values()])

    @staticmethod
    def _fields(h: np.ndarray, days: np.ndarray) -> np.ndarray:
        to_next = np.full(len(days), NO_HOLIDAY_HORIZON)
        if len(h):
            nxt = np.searchsorted(h, days)
            gap = h[np.minimum(nxt, len(h) - 1)] - days
            to_next = np.where(nxt < len(h), np.minimum(gap, NO_HOLIDAY_HORIZON), NO_HOLIDAY_HORIZON)
        weekday_h = h[weekday(h) < 5]
        before = [np.searchsorted(x, days) for x in (h, weekday_h)]
        return np.column_stack([np.isin(days, h), to_next, *before]).astype(np.int64)

    def rows(self, countries: np.ndarray) -> np.ndarray:
        """Each row's offset into the table: add a day number (raises KeyError for a country not in it)."""
        index = self.index
        rows = np.fromiter((index[c] for c in countries), dtype=np.int64, count=len(countries))
        return rows * self.n_days - self.first


class CountryDays:
    """Holiday questions about rows whose countries are already located in a `DayTable`."""

    def __init__(self, table: DayTable, rows: np.ndarray) -> None:
        self.table = table
        self.rows = rows
        self._seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # the same days asked again: no new look-up

    def _at(self, days: np.ndarray) -> np.ndarray:
        """The table's fields for each row on its day (rows x fields)."""
        seen = self._seen.get(id(days))
        if seen is not None and seen[0] is days:
            return seen[1]
        first, last = self.table.first, self.table.first + self.table.n_days - 1
        fields = self.table.values[self.rows + np.minimum(np.maximum(days, first), last)]
        self._seen[id(days)] = (days, fields)  # keeps `days` alive, so its id stays its own
        return fields

    def is_holiday(self, days: np.ndarray) -> np.ndarray:
        return self._at(days)[:, IS_HOLIDAY].astype(bool)

    def days_to_next_holiday(self, days: np.ndarray) -> np.ndarray:
        return self._at(days)[:, TO_NEXT]

    def holidays_between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Holidays on days start <= day < end, per row."""
        return self._at(end)[:, HOLIDAYS_BEFORE] - self._at(start)[:, HOLIDAYS_BEFORE]

    def business_days_between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Monday–Friday days in [start, end) that are not public holidays."""
        start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
        end = np.maximum(end, start) if (end < start).any() else end  # the same array when nothing to clamp
        weekdays = _weekdays_before(end) - _weekdays_before(start)
        holidays = self._at(end)[:, WEEKDAY_HOLIDAYS_BEFORE] - self._at(start)[:, WEEKDAY_HOLIDAYS_BEFORE]
        return weekdays - holidays


def distinct(values: np.ndarray) -> list:
    """The distinct values of an array (strings too) in order of first appearance; cheap for a single row."""
    return list(dict.fromkeys(np.asarray(values).tolist()))


def _weekdays_before(days: np.ndarray) -> np.ndarray:
    """Number of Monday–Friday days in [day 0 - 3, day): an offset that cancels out in differences."""
    shifted = np.asarray(days, dtype=np.int64) + 3  # day 0 of the shifted scale is a Monday
    weeks, rest = np.divmod(shifted, 7)
    return weeks * 5 + np.minimum(rest, 5)
