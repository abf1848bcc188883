"""Split-conformal (CQR) calibration of the quantile windows, per segment, on a later calibration window.

Scores may be weighted (weighted conformal prediction, Barber et al. 2023, "Conformal prediction beyond
exchangeability"): with weights that decay with a calibration row's age, recent rows count more, which keeps
coverage closer to nominal when the error distribution drifts. Equal weights give the plain split-conformal
quantile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COVERAGE_GRID = np.round(np.arange(0.50, 0.991, 0.01), 2)
GRID_POSITIONS = np.arange(len(COVERAGE_GRID), dtype=float)
MIN_SEGMENT = 200  # calibration rows a segment needs for its own conformal offsets


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
        """Offsets overall and for every segment key with at least MIN_SEGMENT rows (effective rows when
        weighted: (sum w)^2 / sum w^2)."""
        w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
        out = cls(overall=cls.grid(scores, w), counts={"overall": len(scores)})
        for level, keys in segments.items():
            out.by_level[level] = {}
            for key in np.unique(keys):
                mask = keys == key
                if effective_size(w[mask]) >= MIN_SEGMENT:
                    out.by_level[level][str(key)] = cls.grid(scores[mask], w[mask])
                    out.counts[f"{level}={key}"] = int(mask.sum())
        return out

    def grids(self, segments: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Each of n rows' offsets at every coverage on the grid (rows x grid): those of the finest segment
        that had enough calibration data, else the overall ones. A look-up per row and level."""
        table, index = self._table()
        rows = [0] * n  # row 0 of the table: overall
        for level, keys in reversed(segments.items()):  # coarsest first: a finer segment overwrites
            level_index = index.get(level, {})
            for i, key in enumerate(keys):
                rows[i] = level_index.get(key, rows[i])
        return table[rows]

    def offsets(self, segments: dict[str, np.ndarray], coverage: np.ndarray) -> np.ndarray:
        """Offset per row at its coverage, interpolated on the grid."""
        n = len(coverage)
        table = self.grids(segments, n)
        pos = np.interp(coverage, COVERAGE_GRID, GRID_POSITIONS)
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, len(COVERAGE_GRID) - 1)
        w, r = pos - i0, np.arange(n)
        return table[r, i0] * (1 - w) + table[r, i1] * w

    def _table(self) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
        """All grids stacked (overall first) and, per level, each key's row: built once, not pickled."""
        cached = self.__dict__.get("_stacked")
        if cached is None:
            grids = [np.asarray(self.overall, dtype=float)]
            index: dict[str, dict[str, int]] = {}
            for level, by_key in self.by_level.items():
                index[level] = {}
                for key, grid in by_key.items():
                    index[level][key] = len(grids)
                    grids.append(np.asarray(grid, dtype=float))
            cached = self.__dict__["_stacked"] = (np.vstack(grids), index)
        return cached

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_stacked"}
