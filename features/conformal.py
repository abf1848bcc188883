"""Split-conformal (CQR) calibration of the quantile windows, per segment, on a later calibration window, and
its online adjustment after deployment.

Scores may be weighted (weighted conformal prediction, Barber et al. 2023, "Conformal prediction beyond
exchangeability"): with weights that decay with a calibration row's age, recent rows count more, which keeps
coverage closer to nominal when the error distribution drifts. Equal weights give the plain split-conformal
quantile.

Online (`AdaptiveCoverage`): adaptive conformal inference (Gibbs & Candès 2021, "Adaptive conformal inference
under distribution shift") moves the coverage a carrier's offsets are read at after every delivery, so the
coverage stated holds over time on the shipments actually served, also when transit times drift after the
calibration window. The segments keep their own offsets, but share their carrier's online level (`pools`):
drift (a peak season, a backlog) moves a carrier's services together, and one level learns it from all the
carrier's deliveries, where a small segment's own would need a thousand of them to move a few points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

COVERAGE_GRID = np.round(np.arange(0.50, 0.991, 0.01), 2)
GRID_POSITIONS = np.arange(len(COVERAGE_GRID), dtype=float)
MIN_SEGMENT = 200  # calibration rows a segment needs for its own conformal offsets
ACI_STEP = 0.005  # adaptive conformal inference's step size (gamma), the value Gibbs & Candès (2021) use
TRACKED_COVERAGES = (0.8, 0.9, 0.95)  # nominal coverages whose online levels are kept


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of weighted rows."""
    total = float(np.sum(weights))
    return total * total / float(np.sum(weights * weights)) if total > 0 else 0.0


def age_weights(days: np.ndarray, half_life_days: float) -> np.ndarray:
    """1 for the most recent row, halving every `half_life_days` before it (all 1 for an infinite half-life
    or rows without dates)."""
    days = np.asarray(days, dtype=float)
    if not np.isfinite(half_life_days) or not np.isfinite(days).any():
        return np.ones(len(days))
    age = np.nanmax(days) - np.where(np.isnan(days), np.nanmax(days), days)
    return np.power(0.5, age / half_life_days)


@dataclass
class ConformalOffsets:
    """Split-conformal (CQR) offsets on the log-hours scale, per segment, for every coverage on the grid."""

    by_level: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    overall: np.ndarray = field(default_factory=lambda: np.zeros(len(COVERAGE_GRID)))
    counts: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def grid(scores: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Finite-sample conformal quantile of the scores at each coverage on the grid.

        Weighted: the smallest score whose share of the weight, counting the new row's own weight (that of
        the most recent row, 1 after `age_weights`) as sitting at +inf, reaches the coverage. With equal
        weights this is the ceil((n + 1) c)-th smallest score."""
        order = np.argsort(scores, kind="stable")
        s = np.asarray(scores, dtype=float)[order]
        w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=float)[order]
        share = np.cumsum(w) / (w.sum() + w.max())
        ranks = np.minimum(np.searchsorted(share, COVERAGE_GRID - 1e-12), len(s) - 1)
        return s[ranks]

    @classmethod
    def fit(
        cls, scores: np.ndarray, segments: dict[str, np.ndarray], weights: np.ndarray | None = None
    ) -> ConformalOffsets:
        """Mondrian offsets: every row of the table is fitted on exactly the calibration rows that `rows`
        reads from it. Level by level, finest first, a key gets its own offsets from its rows that no finer
        segment has claimed, where at least MIN_SEGMENT of them (effective rows when weighted:
        (sum w)^2 / sum w^2); the overall offsets come from the rows left over (from all rows if fewer than
        MIN_SEGMENT are left, which is then also what a segment never seen reads)."""
        w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
        out = cls(counts={})
        free = np.ones(len(scores), dtype=bool)
        for level, keys in segments.items():
            out.by_level[level] = {}
            claimed = np.zeros(len(scores), dtype=bool)
            for key in np.unique(keys[free]):
                mask = free & (keys == key)
                if effective_size(w[mask]) >= MIN_SEGMENT:
                    out.by_level[level][str(key)] = cls.grid(scores[mask], w[mask])
                    out.counts[f"{level}={key}"] = int(mask.sum())
                    claimed |= mask
            free &= ~claimed
        rest = free if effective_size(w[free]) >= MIN_SEGMENT else np.ones(len(scores), dtype=bool)
        out.overall = cls.grid(scores[rest], w[rest])
        out.counts["overall"] = int(rest.sum())
        return out

    def rows(self, segments: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Each of n rows' row in the offsets table: the finest segment that had enough calibration data, else
        the overall offsets (row 0). A look-up per row and level."""
        index = self._stack().rows_by_key
        rows = [0] * n
        for level, keys in reversed(segments.items()):  # coarsest first: a finer segment overwrites
            level_index = index.get(level, {})
            for i, key in enumerate(keys):
                rows[i] = level_index.get(key, rows[i])
        return np.array(rows, dtype=int)

    def pools(self, segments: dict[str, np.ndarray], n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """The online level each of n rows' windows are read at: their key at the coarsest level (the
        carrier's) where their offsets are a segment's, `overall` where they are the overall offsets
        (`rows`: their `rows`, if already known)."""
        rows = self.rows(segments, n) if rows is None else rows
        if not segments:
            return np.full(n, "overall", dtype=object)
        level, keys = list(segments.items())[-1]
        named = np.array([f"{level}={key}" for key in keys], dtype=object)
        return np.where(rows == 0, "overall", named)

    def row_names(self, rows: np.ndarray) -> np.ndarray:
        """The stable names of table rows: `overall` or `level=key`."""
        return self._stack().names[rows]

    def grid_named(self, name: str) -> np.ndarray:
        """The offsets on the grid of the table row called `name`."""
        stacked = self._stack()
        return stacked.table[stacked.by_name[name]]

    def grids(
        self, segments: dict[str, np.ndarray], n: int, online: AdaptiveCoverage | None = None
    ) -> np.ndarray:
        """Each of n rows' offsets at every coverage on the grid (rows x grid); with `online`, the offsets of
        the window stated at each coverage, read where online calibration has moved the row's pool."""
        rows, table = self.rows(segments, n), self.table()
        if online is None or not online.levels:
            return table[rows]
        pools = self.pools(segments, n, rows)
        out = np.empty((n, table.shape[1]))
        for pool in np.unique(pools):
            read = online.read_grid(str(pool))
            for r in np.unique(rows[pools == pool]):
                mask = (pools == pool) & (rows == r)
                out[mask] = self.at(np.repeat(table[r][None], len(read), axis=0), read)
        return out

    def table(self) -> np.ndarray:
        """The offsets of every row (overall first) at every coverage on the grid."""
        return self._stack().table

    def offsets(self, segments: dict[str, np.ndarray], coverage: np.ndarray) -> np.ndarray:
        """Offset per row at its coverage, interpolated on the grid."""
        return self.at(self.grids(segments, len(coverage)), coverage)

    @staticmethod
    def at(grids: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """Offsets interpolated on the grid (rows x grid) at each row's coverage."""
        pos = np.interp(coverage, COVERAGE_GRID, GRID_POSITIONS)
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, len(COVERAGE_GRID) - 1)
        w, r = pos - i0, np.arange(len(grids))
        return grids[r, i0] * (1 - w) + grids[r, i1] * w

    def _stack(self) -> _Stacked:
        """All grids stacked (overall first), with each row's level and key and its name: built once, not
        pickled."""
        cached = self.__dict__.get("_stacked")
        if cached is None:
            grids, names = [np.asarray(self.overall, dtype=float)], ["overall"]
            index: dict[str, dict[str, int]] = {}
            for level, by_key in self.by_level.items():
                index[level] = {}
                for key, grid in by_key.items():
                    index[level][key] = len(grids)
                    grids.append(np.asarray(grid, dtype=float))
                    names.append(f"{level}={key}")
            by_name = {name: i for i, name in enumerate(names)}
            cached = self.__dict__["_stacked"] = _Stacked(
                np.vstack(grids), index, np.array(names, dtype=object), by_name
            )
        return cached

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_stacked"}


class _Stacked(NamedTuple):
    table: np.ndarray  # rows x grid
    rows_by_key: dict[str, dict[str, int]]  # level -> key -> row
    names: np.ndarray  # row -> `overall` or `level=key`
    by_name: dict[str, int]


LOWEST, HIGHEST = float(COVERAGE_GRID[0]), float(COVERAGE_GRID[-1])


@dataclass
class AdaptiveCoverage:
    """Adaptive conformal inference over `ConformalOffsets`: per pool (`ConformalOffsets.pools`) and tracked
    nominal coverage c, the coverage the offsets are read at is 1 - a, and every delivery moves it,
    a <- a + step * ((1 - c) - missed), where `missed` says whether the delivery fell outside the window read
    at the current level. Whatever the drift, the share of deliveries outside their windows then tends to
    1 - c over time (Gibbs & Candès 2021, Prop. 4.1), clipped here to the calibrated grid (50-99%).

    A window stated at a coverage between tracked ones is moved by the interpolation of their moves (below the
    lowest and above the highest, as much as that one), and never read lower than a window stated at a lower
    coverage: windows stay nested, a conservative promise never narrower than the default one."""

    levels: dict[tuple[str, float], float] = field(default_factory=dict)  # (pool, nominal) -> 1 - a
    step: float = ACI_STEP

    def level(self, pool: str, nominal: float) -> float:
        return self.levels.get((pool, nominal), nominal)

    def effective(self, pools: np.ndarray, nominal: float) -> np.ndarray:
        """The coverage to read each row's offsets at for a window stated at `nominal` (`pools`: each row's
        pool)."""
        return np.array([self.effective_one(p, nominal) for p in pools], dtype=float)

    def effective_one(self, pool: str, nominal: float) -> float:
        """`read_at` for a single coverage, without array overhead (the test-window replay asks it for every
        shipment)."""
        moves = [self.level(pool, c) - c for c in TRACKED_COVERAGES]

        def read(c: float) -> float:
            return min(max(c + _interp(c, TRACKED_COVERAGES, moves), LOWEST), HIGHEST)

        return max([read(nominal), *(read(c) for c in TRACKED_COVERAGES if c <= nominal + 1e-12)])

    def read_grid(self, pool: str) -> np.ndarray:
        """The coverage the offsets of pool `pool` are read at for a window stated at each coverage on the
        grid."""
        return self.read_at(pool, COVERAGE_GRID)

    def read_at(self, pool: str, nominal: np.ndarray) -> np.ndarray:
        """The coverage the offsets of pool `pool` are read at for windows stated at the `nominal` coverages:
        each moved by the interpolated move of the tracked coverages, within the grid, and at least as high
        as for any lower tracked coverage (the reading is piecewise linear between the tracked coverages, so
        that makes it non-decreasing)."""
        tracked = np.array(TRACKED_COVERAGES)
        moves = [self.level(pool, c) - c for c in TRACKED_COVERAGES]
        points = np.concatenate([tracked, nominal])
        read = np.clip(points + np.interp(points, tracked, moves), LOWEST, HIGHEST)
        below = np.where(tracked[None, :] <= nominal[:, None] + 1e-12, read[None, : len(tracked)], LOWEST)
        return np.maximum(read[len(tracked) :], below.max(axis=1))

    def observe(self, pool: str, score: float, grid: np.ndarray) -> dict[float, float]:
        """One delivery's CQR score, its window's offsets on the grid (`ConformalOffsets.grid_named`) and its
        pool: moves and returns the pool's level at every tracked coverage."""
        moved = {}
        for nominal in TRACKED_COVERAGES:
            level = self.level(pool, nominal)
            missed = float(score > _offset_at(grid, level))
            level = min(max(level - self.step * ((1 - nominal) - missed), LOWEST), HIGHEST)
            self.levels[(pool, nominal)] = moved[nominal] = level
        return moved


def _interp(x: float, xs: tuple[float, ...], ys: list[float]) -> float:
    """`np.interp` for one value, in plain Python (held at the ends)."""
    if x <= xs[0]:
        return ys[0]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1]


def _offset_at(grid: np.ndarray, coverage: float) -> float:
    """One row's offset at one coverage, interpolated on the (evenly spaced) grid: `ConformalOffsets.at` for
    a single value, without array overhead (a delivery moves three levels)."""
    pos = min(max((coverage - LOWEST) / (HIGHEST - LOWEST) * (len(grid) - 1), 0.0), len(grid) - 1.0)
    i0 = int(pos)
    i1 = min(i0 + 1, len(grid) - 1)
    return float(grid[i0] * (i1 - pos) + grid[i1] * (pos - i0)) if i1 > i0 else float(grid[i0])
