"""Delivery dates as a customer sees them: local dates in the destination's time zone, on days the carrier
delivers and that are not public holidays there."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from features.calendar import EPOCH, HolidayCalendar, day_number, weekday
from features.columns import column_array
from features.localtime import local_days

MIN_WEEKDAY_SHARE = (
    0.005  # a weekday on which a carrier made fewer deliveries than this is not a delivery day
)
MAX_SHIFT_DAYS = 14


def local_dates(stamps: pd.Series, countries: pd.Series) -> pd.Series:
    """The calendar date of each UTC timestamp in its country's time zone."""
    days = local_days(column_array(stamps), countries.to_numpy(dtype=object))
    return pd.Series(days.astype("datetime64[s]"), index=stamps.index).dt.date


def delivery_weekday_counts(
    delivered_at: pd.Series, countries: pd.Series, carriers: pd.Series
) -> pd.DataFrame:
    """Deliveries per carrier (rows) and local weekday (columns, Monday=0); counts of slices of history add
    up, so a cluster sums them partition by partition."""
    done = delivered_at.notna()
    dates = pd.to_datetime(local_dates(delivered_at[done], countries[done]))
    days = dates.dt.day_of_week.to_numpy()
    return pd.crosstab(carriers[done].astype(str).to_numpy(), days)


def delivery_weekdays(counts: pd.DataFrame) -> dict:
    """Weekdays (Monday=0) on which each carrier delivers, from its delivery counts per weekday."""
    table = counts.div(counts.sum(axis=1), axis=0)
    return {
        str(c): sorted(int(d) for d in row.index[row >= MIN_WEEKDAY_SHARE]) for c, row in table.iterrows()
    }


def learn_delivery_weekdays(delivered_at: pd.Series, countries: pd.Series, carriers: pd.Series) -> dict:
    """Weekdays (Monday=0) on which each carrier delivers, read off its past deliveries."""
    return delivery_weekdays(delivery_weekday_counts(delivered_at, countries, carriers))


class DeliveryCalendar:
    """Moves dates onto the days a carrier can deliver in a country."""

    def __init__(self, holidays: HolidayCalendar, weekdays: dict[str, list[int]]) -> None:
        self.holidays = holidays
        self.weekdays = weekdays
        self._holidays: dict[str, tuple[int, np.ndarray]] = {}  # per country: first day, holiday or not

    def is_delivery_day(self, carrier: str, country: str, day: dt.date) -> bool:
        return bool(self._delivery_days(carrier, country, np.array([day_number(day)]))[0])

    def shift(self, carrier: str, country: str, day: dt.date, forward: bool) -> dt.date:
        """The nearest delivery day on or after (forward) or on or before `day`."""
        moved = self.shift_days(carrier, country, np.array([day_number(day)]), np.array([forward]))
        return EPOCH + dt.timedelta(days=int(moved[0]))

    def shift_days(self, carrier: str, country: str, days: np.ndarray, forward: np.ndarray) -> np.ndarray:
        """`shift` for several day numbers at once (each with its own direction); a day with no delivery day
        within MAX_SHIFT_DAYS stays where it is."""
        candidates = np.asarray(days, dtype=np.int64)[:, None] + _steps(tuple(np.asarray(forward).tolist()))
        ok = self._delivery_days(carrier, country, candidates.ravel()).reshape(candidates.shape)
        first = ok.argmax(axis=1)
        return np.where(ok.any(axis=1), candidates[np.arange(len(candidates)), first], candidates[:, 0])

    def _delivery_days(self, carrier: str, country: str, days: np.ndarray) -> np.ndarray:
        allowed = _weekday_mask(tuple(self.weekdays.get(carrier, DEFAULT_WEEKDAYS)))
        first, holiday = self._holiday_days(country)
        return allowed[weekday(days)] & ~holiday[np.clip(days - first, 0, len(holiday) - 1)]

    def _holiday_days(self, country: str) -> tuple[int, np.ndarray]:
        """A country's holidays as a flag per day of the calendar's span, read once; the days before and after
        the span have none, as its first and last day."""
        if country not in self._holidays:
            at = self.holidays.at(np.array([country], dtype=object))
            span = at.table.first + np.arange(at.table.n_days)
            self._holidays[country] = (at.table.first, at.is_holiday(span))
        return self._holidays[country]


DEFAULT_WEEKDAYS = (0, 1, 2, 3, 4, 5)  # a carrier never seen delivering: Monday to Saturday


@lru_cache(maxsize=256)
def _weekday_mask(weekdays: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(7, dtype=bool)
    mask[list(weekdays)] = True
    return mask


@lru_cache(maxsize=64)
def _steps(forward: tuple[bool, ...]) -> np.ndarray:
    """Day offsets to try, nearest first, per direction (rows) ."""
    return np.where(np.array(forward)[:, None], 1, -1) * np.arange(MAX_SHIFT_DAYS)
