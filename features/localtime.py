"""UTC instants and local wall-clock time, as arrays.

Each zone's UTC offsets are read from `zoneinfo` once into a table of transition instants (probed every
half day, each change refined to the second by bisection), so the local time of any number of instants, one
checkout request or a million rows, is one `searchsorted`: exact and fast at both sizes. A zone's table
covers a span of years around the instants asked about and is rebuilt wider when an instant falls outside.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from features.geo import country_timezone

NS = 1_000_000_000
DAY = 86_400
HALF_DAY = DAY // 2
PAD_YEARS = 5  # a table covers the years asked about, this many either side
FIRST_YEAR, LAST_YEAR = 1600, 2300  # beyond every datetime64[ns] instant, within the reach of `ByCountry`
NAT = np.iinfo(np.int64).min
NS_TYPE = np.dtype("datetime64[ns]")
HOUR_NS = 3600 * NS


@dataclass(frozen=True)
class OffsetTable:
    """UTC offsets of one zone for instants in [start, end) (UTC seconds)."""

    start: int
    end: int
    instants: np.ndarray  # int64 UTC seconds from which each offset holds; instants[0] == start
    offsets: np.ndarray  # int64 seconds east of UTC


def _offset(tz: zoneinfo.ZoneInfo, second: int) -> int:
    delta = dt.datetime.fromtimestamp(second, tz).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _first_change(tz: zoneinfo.ZoneInfo, lo: int, hi: int, before: int) -> int:
    """The first second in (lo, hi] whose offset differs from `before` (the offset at lo)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _year_start(year: int) -> int:
    return int((dt.datetime(year, 1, 1, tzinfo=dt.UTC) - EPOCH).total_seconds())


def _year_of(second: int) -> int:
    return (EPOCH + dt.timedelta(seconds=second)).year


@lru_cache(maxsize=1024)
def build_table(zone: str, first_year: int, last_year: int) -> OffsetTable:
    """The zone's offsets for whole years first_year … last_year."""
    tz = zoneinfo.ZoneInfo(zone)
    start, end = _year_start(first_year), _year_start(last_year + 1)
    instants, offsets = [start], [_offset(tz, start)]
    previous = start
    for probe in range(start + HALF_DAY, end + HALF_DAY, HALF_DAY):
        now = _offset(tz, probe)
        if now != offsets[-1]:
            instants.append(_first_change(tz, previous, probe, offsets[-1]))
            offsets.append(now)
        previous = probe
    return OffsetTable(start, end, np.array(instants, dtype=np.int64), np.array(offsets, dtype=np.int64))


SPAN = 1 << 35  # a country's segment of the clock; instants lie within ±BIAS seconds (years 1426–2514)
BIAS = 1 << 34


@dataclass(frozen=True)
class Clock:
    """Every country's offset table over one span of years, as one sorted array: country i's transitions sit
    at i * SPAN + BIAS + instant, so rows of any mix of countries take one `searchsorted`."""

    first_year: int
    last_year: int
    start: int  # UTC seconds covered: [start, end)
    end: int
    index: dict[str, int]
    keys: np.ndarray
    offsets: np.ndarray  # offsets[k]: in force from keys[k - 1] on (offsets[0] is never used)

    @classmethod
    def build(cls, countries: set[str], first_year: int, last_year: int) -> Clock:
        tables = {c: build_table(country_timezone(c), first_year, last_year) for c in sorted(countries)}
        keys = [t.instants + (i * SPAN + BIAS) for i, t in enumerate(tables.values())]
        offsets = [np.zeros(1, dtype=np.int64), *(t.offsets for t in tables.values())]
        start, end = _year_start(first_year), _year_start(last_year + 1)
        index = {c: i for i, c in enumerate(tables)}
        return cls(first_year, last_year, start, end, index, np.concatenate(keys), np.concatenate(offsets))

    def segments(self, countries: np.ndarray) -> np.ndarray:
        """Each row's segment start (raises KeyError for a country not in the clock)."""
        index = self.index
        rows = np.fromiter((index[c] for c in countries), dtype=np.int64, count=len(countries))
        return rows * SPAN + BIAS


_CLOCK: dict[str, Clock] = {}  # the current clock: a cache of the zone data, replaced whole when it grows


def _clock(countries: np.ndarray, lo: int, hi: int) -> tuple[Clock, np.ndarray]:
    clock = _CLOCK.get("clock")
    if clock is not None and clock.start <= lo and hi < clock.end:
        try:
            return clock, clock.segments(countries)
        except KeyError:  # a country not asked about before
            pass
    names = {str(c) for c in dict.fromkeys(countries.tolist())}
    first, last = max(_year_of(lo) - PAD_YEARS, FIRST_YEAR), min(_year_of(hi) + PAD_YEARS, LAST_YEAR)
    if clock is not None:
        names |= set(clock.index)
        first, last = min(first, clock.first_year), max(last, clock.last_year)
    clock = _CLOCK["clock"] = Clock.build(names, first, last)
    return clock, clock.segments(countries)


def _bounds(values: np.ndarray) -> tuple[int, int]:
    """The smallest and the largest value; for a few values (a checkout request) Python's min and max, which
    cost a tenth of numpy's reductions there."""
    if len(values) <= 16:
        listed = values.tolist()
        return min(listed), max(listed)
    return int(values.min()), int(values.max())


def utc_offsets(countries: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Seconds east of UTC in force in each row's country at each UTC second (int64 array)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    if len(seconds) == 0:
        return np.zeros(0, dtype=np.int64)
    clock, segments = _clock(np.asarray(countries, dtype=object), *_bounds(seconds))
    return clock.offsets[np.searchsorted(clock.keys, segments + seconds, side="right")]


def utc_seconds(instants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole UTC seconds (floored) of datetime64 instants (meaningless where unknown), and where they are
    known (not NaT)."""
    ns = np.asarray(instants, dtype=NS_TYPE).view(np.int64)
    return ns // NS, ns != NAT


def local_seconds(instants: np.ndarray, countries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local wall-clock time (seconds since 1970-01-01 as if local were UTC) of datetime64 UTC instants in
    each row's country, and where the instant is known (elsewhere the time is some valid placeholder)."""
    seconds, known = utc_seconds(instants)
    if not known.all():
        if not known.any():
            return np.zeros(len(seconds), dtype=np.int64), known
        seconds = np.where(known, seconds, seconds[known][0])
    return seconds + utc_offsets(countries, seconds), known


def utc_of_local(local: np.ndarray, countries: np.ndarray) -> np.ndarray:
    """UTC seconds of local wall-clock seconds in each row's country (times that exist once locally)."""
    local = np.asarray(local, dtype=np.int64)
    guess = local - utc_offsets(countries, local)
    return local - utc_offsets(countries, guess)


@lru_cache(maxsize=1)
def _day_table() -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Month and day of year of every day from FIRST_YEAR to LAST_YEAR, by day number (from the first); and
    the hour with minutes as a fraction for every minute of a day."""
    first, last = _year_start(FIRST_YEAR) // DAY, _year_start(LAST_YEAR + 1) // DAY
    days = np.arange(first, last).astype("datetime64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1
    minutes = np.arange(DAY // 60)
    hours = minutes // 60 + minutes % 60 / 60
    return first, month.astype(np.float64), doy.astype(np.float64), hours


def local_date_parts(local: np.ndarray, known: np.ndarray) -> dict[str, np.ndarray]:
    """Day number, hour (with minutes as a fraction), day of year and month of local wall-clock seconds (float
    arrays, NaN where unknown)."""
    first, month, doy, hours = _day_table()
    day, second_of_day = np.divmod(local, DAY)
    i = day - first
    nan = np.float64(np.nan)
    return {
        "day": np.where(known, day, nan),
        "hour": np.where(known, hours[second_of_day // 60], nan),
        "doy": np.where(known, doy[i], nan),
        "month": np.where(known, month[i], nan),
    }


def local_days(instants: np.ndarray, countries: np.ndarray) -> np.ndarray:
    """Local calendar dates (datetime64[D], NaT where unknown) of UTC instants in each row's country."""
    local, known = local_seconds(instants, countries)
    return np.where(known, local // DAY, NAT).view("datetime64[D]")


def hours_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Float hours from each datetime64 start to its end (NaN where either is NaT), as
    `(end - start).dt.total_seconds() / 3600` gives them."""
    a = np.asarray(start, dtype=NS_TYPE).view(np.int64)
    b = np.asarray(end, dtype=NS_TYPE).view(np.int64)
    seconds = (b - a) / NS
    return np.where((a == NAT) | (b == NAT), np.nan, seconds) / 3600


def add_hours(instants: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """datetime64[ns] instants moved by float hours, rounded to the second (half to even), NaT where either is
    missing. The hours become nanoseconds as `pandas.to_timedelta(hours, unit="h")` makes them (whole hours,
    then the fraction rounded to 12 decimals, as `np.round` does it)."""
    hours = np.asarray(hours, dtype=np.float64)
    missing = np.isnan(hours)
    h = np.where(missing, 0.0, hours)
    whole = h.astype(np.int64)
    frac = np.rint((h - whole) * 1e12) / 1e12
    delta = whole * HOUR_NS + (frac * HOUR_NS).astype(np.int64)
    ns = np.asarray(instants, dtype=NS_TYPE).view(np.int64)
    q, r = np.divmod(ns + delta, NS)
    rounded = (q + ((r > NS // 2) | ((r == NS // 2) & (q & 1 == 1)))) * NS
    return np.where(missing | (ns == NAT), NAT, rounded).view(NS_TYPE)
