"""Calendars as arrays indexed by day number: weekdays, national holidays, UTC offsets and business days.

Time inside the simulator is float hours since `start` 00:00 UTC; day `d` is `start + d days`. Local days and
hours of a region use its IANA time zone's UTC offset at local noon of that day (exact outside the night of a
DST switch, which never matters for business-hour events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import holidays
import numpy as np
import pandas as pd

from training.simulate.network import COUNTRIES, Network


@dataclass(frozen=True)
class Calendar:
    start: date
    n_days: int
    weekday: np.ndarray  # [day] 0 = Monday
    holiday: np.ndarray  # [country, day] national public holiday
    offset_h: np.ndarray  # [region, day] UTC offset in hours
    biz_before: np.ndarray  # [country, day] number of business days (Mon-Fri, no holiday) before the day
    biz_days: np.ndarray  # [country, k] the k-th business day (padded with the last day)

    def clip(self, day: np.ndarray) -> np.ndarray:
        return np.clip(day, 0, self.n_days - 1)

    def local_day_hour(self, t: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local day number and hour of UTC hours `t` in each region."""
        utc_day = self.clip(np.floor(t / 24.0).astype(np.int64))
        local = t + self.offset_h[region, utc_day]
        day = np.floor(local / 24.0).astype(np.int64)
        return self.clip(day), local - 24.0 * day

    def to_utc(self, day: np.ndarray, hour: np.ndarray, region: np.ndarray) -> np.ndarray:
        """UTC hours of local `hour` on local day `day` in each region."""
        return day * 24.0 + hour - self.offset_h[region, self.clip(day)]

    def business_day(self, country: np.ndarray, day: np.ndarray, k: np.ndarray | int = 0) -> np.ndarray:
        """The k-th (0-based) business day on or after `day` in each country."""
        idx = self.biz_before[country, self.clip(day)] + k
        return self.biz_days[country, np.clip(idx, 0, self.biz_days.shape[1] - 1)]

    def dates(self, n: int | None = None) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.n_days if n is None else n, freq="D")


def holiday_matrix(start: date, n_days: int) -> np.ndarray:
    """[country, day] True on national public holidays (the `holidays` package, no subdivisions)."""
    days = pd.date_range(start, periods=n_days, freq="D")
    years = range(days[0].year, days[-1].year + 1)
    out = np.zeros((len(COUNTRIES), n_days), dtype=bool)
    for ci, cc in enumerate(COUNTRIES):
        hol = pd.DatetimeIndex(sorted(holidays.country_holidays(cc, years=years)))
        out[ci] = days.isin(hol)
    return out


def utc_offsets(tzs: tuple[str, ...], start: date, n_days: int) -> np.ndarray:
    """[region, day] UTC offset in hours at local noon."""
    noon = pd.date_range(start, periods=n_days, freq="D") + pd.Timedelta(hours=12)
    out = np.zeros((len(tzs), n_days))
    for ri, tz in enumerate(tzs):
        local = noon.tz_localize(tz)
        wall, utc = local.tz_localize(None), local.tz_convert("UTC").tz_localize(None)
        out[ri] = (wall - utc) / pd.Timedelta(hours=1)
    return out


def next_allowed(ok: np.ndarray) -> np.ndarray:
    """For boolean `ok[..., day]`, the first allowed day on or after each day (the last day if none)."""
    n = ok.shape[-1]
    idx = np.where(ok, np.arange(n), n - 1)
    return np.minimum.accumulate(idx[..., ::-1], axis=-1)[..., ::-1]


def build_calendar(network: Network, start: date, n_days: int) -> Calendar:
    weekday = (start.weekday() + np.arange(n_days)) % 7
    holiday = holiday_matrix(start, n_days)
    business = (weekday < 5)[None, :] & ~holiday
    biz_before = np.cumsum(business, axis=1) - business
    n_biz = business.sum(axis=1)
    biz_days = np.full((len(COUNTRIES), n_biz.max()), n_days - 1, dtype=np.int64)
    for ci in range(len(COUNTRIES)):
        biz_days[ci, : n_biz[ci]] = np.flatnonzero(business[ci])
    return Calendar(
        start=start,
        n_days=n_days,
        weekday=weekday,
        holiday=holiday,
        offset_h=utc_offsets(network.tz, start, n_days),
        biz_before=biz_before,
        biz_days=biz_days,
    )
