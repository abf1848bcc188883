"""Lane and carrier history as of the prediction moment, with no look into the future.

For each group (a lane, a carrier's service, a carrier) transit times are kept as histograms of log-hours per
delivery day. A shipment created on day d sees only shipments *delivered* on days before d within the trailing
window, so no feature uses an outcome that was unknown when the prediction was made. Training reads the
day-by-day counts of its whole window (`GroupHistory`); the bundle keeps the daily counts of the last window
and of every outcome learned after training, and answers any later day from them (`snapshot_from_daily`), in
serving and offline alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# log(hours) bin edges: 15 minutes … 600 days, 80 bins
EDGES = np.linspace(np.log(0.25), np.log(24 * 600), 81)
CENTRES = np.exp((EDGES[:-1] + EDGES[1:]) / 2)
STATS = ("n", "p10", "p50", "p90", "on_time_rate", "volume_28d")


def bin_of(hours: np.ndarray) -> np.ndarray:
    return np.clip(
        np.searchsorted(EDGES, np.log(np.maximum(hours, 0.25)), side="right") - 1, 0, len(CENTRES) - 1
    )


def quantiles_from_hist(counts: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles (hours) from rows of bin counts, interpolated on the log scale; NaN for empty rows."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1)
    cdf = np.cumsum(counts, axis=1)
    out = np.full((len(counts), len(qs)), np.nan)
    for j, q in enumerate(qs):
        target = q * total
        idx = np.minimum((cdf < target[:, None]).sum(axis=1), len(CENTRES) - 1)
        below = np.where(idx > 0, cdf[np.arange(len(cdf)), np.maximum(idx - 1, 0)], 0.0)
        in_bin = counts[np.arange(len(counts)), idx]
        frac = np.divide(target - below, in_bin, out=np.full_like(target, 0.5), where=in_bin > 0)
        log_h = EDGES[idx] + np.clip(frac, 0, 1) * (EDGES[idx + 1] - EDGES[idx])
        out[:, j] = np.where(total > 0, np.exp(log_h), np.nan)
    return out


@dataclass
class GroupSnapshot:
    """What each group key knew on one day: counts that the same statistics code reads."""

    keys: dict[str, int]
    hist: np.ndarray  # (groups, bins) deliveries in the window
    promised: np.ndarray  # (groups,) deliveries with a promise in the window
    on_time: np.ndarray  # (groups,) of which on time
    volume: np.ndarray  # (groups,) shipments created in the last 28 days

    def table(self) -> HistoryTable:
        """The history features of every group, computed once."""
        counts = [
            np.concatenate([a, np.zeros((1, *a.shape[1:]), a.dtype)])
            for a in (self.hist, self.promised, self.on_time, self.volume)
        ]
        stats = stats_from_counts(*counts)
        return HistoryTable(self.keys, np.column_stack([np.asarray(stats[s], float) for s in STATS]))


@dataclass
class HistoryTable:
    """Each group key's history features on one day, a row per key (columns in `STATS` order) and a last row
    for a key never seen (an empty history): a shipment costs a look-up."""

    keys: dict[str, int]
    rows: np.ndarray  # (groups + 1, len(STATS))

    def stats(self, keys: np.ndarray) -> np.ndarray:
        g = np.fromiter((self.keys.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        return self.rows[g]


def empty_counts(n: int) -> tuple[np.ndarray, ...]:
    zeros = np.zeros(n, dtype=np.int64)
    return np.zeros((n, len(CENTRES)), dtype=np.int64), zeros, zeros, zeros


def stats_from_counts(
    hist: np.ndarray, promised: np.ndarray, on_time: np.ndarray, volume: np.ndarray
) -> dict:
    """The history features from window counts (rows = shipments or groups)."""
    q = quantiles_from_hist(hist, (0.1, 0.5, 0.9))
    n = hist.sum(axis=1).astype(np.float64)
    rate = np.divide(on_time, promised, out=np.full(len(n), np.nan), where=promised > 0)
    return {
        "n": n,
        "p10": q[:, 0],
        "p50": q[:, 1],
        "p90": q[:, 2],
        "on_time_rate": rate,
        "volume_28d": volume,
    }


DELIVERED_SLOTS = len(CENTRES)  # slots 0..79: deliveries by transit-time bin
PROMISED, ON_TIME, CREATED = DELIVERED_SLOTS, DELIVERED_SLOTS + 1, DELIVERED_SLOTS + 2
DAILY_INDEX = ["key", "day", "slot"]


def daily_counts(
    keys: np.ndarray,
    created_day: np.ndarray,
    delivered_day: np.ndarray,
    transit_hours: np.ndarray,
    on_time: np.ndarray,
) -> pd.DataFrame:
    """Shipments counted per (group key, day, slot): deliveries by transit-time bin on their delivery day
    (slots below `PROMISED`), deliveries with a promise (`PROMISED`) and of those the ones on time
    (`ON_TIME`), and shipments created (`CREATED`) on their creation day. Counts of disjoint slices of history
    add up, so a cluster sums them partition by partition (`add_daily`) and `GroupHistory.from_daily` reads
    the total.

    keys/created_day for every shipment; delivered_day, transit_hours (NaN if undelivered), on_time (1/0, NaN
    without a promise)."""
    done = ~np.isnan(transit_hours)
    prom = done & ~np.isnan(on_time)
    hit = prom & (on_time == 1)
    parts = [
        (done, delivered_day[done], bin_of(transit_hours[done])),
        (prom, delivered_day[prom], np.full(int(prom.sum()), PROMISED)),
        (hit, delivered_day[hit], np.full(int(hit.sum()), ON_TIME)),
        (None, created_day, np.full(len(keys), CREATED)),
    ]
    codes, uniq = pd.factorize(keys.astype(str))
    frame = pd.DataFrame(
        {
            "key": np.concatenate([codes if rows is None else codes[rows] for rows, _, _ in parts]),
            "day": np.concatenate([d for _, d, _ in parts]).astype(np.int64),
            "slot": np.concatenate([s for _, _, s in parts]).astype(np.int64),
        }
    )
    n = frame.groupby(DAILY_INDEX, sort=False).size()
    index = [np.asarray(uniq, dtype=object)[n.index.get_level_values("key")]]
    index += [n.index.get_level_values(level).to_numpy() for level in DAILY_INDEX[1:]]
    return pd.DataFrame({"n": n.to_numpy()}, index=pd.MultiIndex.from_arrays(index, names=DAILY_INDEX))


def snapshot_from_daily(
    daily: pd.DataFrame, as_of_day: int, window_days: int, volume_days: int = 28
) -> GroupSnapshot:
    """What each group key of a daily count table (`daily_counts`) knew on `as_of_day`: deliveries on the
    `window_days` days before it, creations on the `volume_days` days before it (never that day itself), as
    `GroupHistory.counts_as_of` counts them."""
    day = daily.index.get_level_values("day").to_numpy(dtype=np.int64)
    slot = daily.index.get_level_values("slot").to_numpy(dtype=np.int64)
    n = daily["n"].to_numpy(dtype=np.int64)
    inverse, uniq = pd.factorize(daily.index.get_level_values("key").astype(str), sort=True)
    hist = np.zeros((len(uniq), len(CENTRES)), dtype=np.int64)
    promised, on_time, volume = (np.zeros(len(uniq), dtype=np.int64) for _ in range(3))
    seen = (day >= as_of_day - window_days) & (day < as_of_day)
    delivered = seen & (slot < DELIVERED_SLOTS)
    np.add.at(hist, (inverse[delivered], slot[delivered]), n[delivered])
    for target, s in ((promised, PROMISED), (on_time, ON_TIME)):
        rows = seen & (slot == s)
        np.add.at(target, inverse[rows], n[rows])
    created = (day >= as_of_day - volume_days) & (day < as_of_day) & (slot == CREATED)
    np.add.at(volume, inverse[created], n[created])
    keys = {str(k): i for i, k in enumerate(uniq)}
    return GroupSnapshot(keys, hist.astype(np.int32), promised, on_time, volume)


def daily_since(daily: pd.DataFrame, first_day: int) -> pd.DataFrame:
    """The rows of a daily count table from `first_day` on, in index order."""
    return daily[daily.index.get_level_values("day") >= first_day].sort_index()


def add_daily(*tables: pd.DataFrame) -> pd.DataFrame:
    """The sum of daily count tables (each from `daily_counts`, or a sum of them)."""
    return pd.concat(tables).groupby(level=DAILY_INDEX, sort=True).sum()


class GroupHistory:
    """Daily cumulative counts for one grouping over the training span (training-time only)."""

    def __init__(self, window_days: int, volume_days: int = 28) -> None:
        self.window_days = window_days
        self.volume_days = volume_days

    def fit(
        self,
        keys: np.ndarray,
        created_day: np.ndarray,
        delivered_day: np.ndarray,
        transit_hours: np.ndarray,
        on_time: np.ndarray,
    ) -> GroupHistory:
        """The arguments of `daily_counts`, for history held in one process."""
        return self.from_daily(daily_counts(keys, created_day, delivered_day, transit_hours, on_time))

    def from_daily(self, daily: pd.DataFrame) -> GroupHistory:
        """Fit from daily counts (`daily_counts`, or the sum over the partitions of a larger history)."""
        day = daily.index.get_level_values("day").to_numpy(dtype=np.int64)
        slot = daily.index.get_level_values("slot").to_numpy(dtype=np.int64)
        n = daily["n"].to_numpy(dtype=np.int32)
        inverse, uniq = pd.factorize(daily.index.get_level_values("key").astype(str), sort=True)
        self.keys_ = {str(k): i for i, k in enumerate(uniq)}
        self.day0_ = int(day.min()) if len(day) else 0
        self.n_days_ = int((day.max() if len(day) else 0) - self.day0_ + 2)
        g, nd, nb = len(uniq), self.n_days_, len(CENTRES)
        # cumulative counts with a leading zero day: cum[:, k] counts days < k
        self.cum_hist_ = np.zeros((g, nd + 1, nb), dtype=np.int32)
        hist = slot < DELIVERED_SLOTS
        self.cum_hist_[inverse[hist], self._slot(day[hist]), slot[hist]] = n[hist]  # the index is unique
        self.cum_promised_, self.cum_on_time_, self.cum_created_ = (
            self._daily(g, inverse[slot == s], day[slot == s], n[slot == s])
            for s in (PROMISED, ON_TIME, CREATED)
        )
        for cum in (self.cum_hist_, self.cum_promised_, self.cum_on_time_, self.cum_created_):
            np.cumsum(cum, axis=1, out=cum)
        return self

    def _slot(self, day: np.ndarray) -> np.ndarray:
        return day.astype(np.int64) - self.day0_ + 1

    def _daily(self, groups: int, g: np.ndarray, day: np.ndarray, n: np.ndarray) -> np.ndarray:
        out = np.zeros((groups, self.n_days_ + 1), dtype=np.int32)
        out[g, self._slot(day)] = n
        return out

    def _window(self, cum: np.ndarray, g: np.ndarray, day: np.ndarray, width: int) -> np.ndarray:
        end = np.clip(day - self.day0_, 0, self.n_days_)  # days strictly before `day`
        start = np.clip(end - width, 0, self.n_days_)
        return cum[g, end] - cum[g, start]

    def counts_as_of(self, keys: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, ...]:
        """Window counts as seen on each row's day (only outcomes from earlier days)."""
        g = np.fromiter((self.keys_.get(k, -1) for k in keys.astype(str)), dtype=np.int64, count=len(keys))
        if not self.keys_:  # no dated history at all (outcome-only data)
            return empty_counts(len(keys))
        known = g >= 0
        gi, d = np.where(known, g, 0), day.astype(np.int64)
        w = self.window_days
        hist = np.where(known[:, None], self._window(self.cum_hist_, gi, d, w), 0)
        promised = np.where(known, self._window(self.cum_promised_, gi, d, w), 0)
        on_time = np.where(known, self._window(self.cum_on_time_, gi, d, w), 0)
        volume = np.where(known, self._window(self.cum_created_, gi, d, self.volume_days), 0)
        return hist, promised, on_time, volume
