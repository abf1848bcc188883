"""Split-conformal (CQR) calibration of the quantile windows, per segment, on a later calibration window."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COVERAGE_GRID = np.round(np.arange(0.50, 0.991, 0.01), 2)
GRID_POSITIONS = np.arange(len(COVERAGE_GRID), dtype=float)
MIN_SEGMENT = 200  # calibration rows a segment needs for its own conformal offsets


@dataclass
class ConformalOffsets:
    """Split-conformal (CQR) offsets on the log-hours scale, per segment, for every coverage on the grid."""

    by_level: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    overall: np.ndarray = field(default_factory=lambda: np.zeros(len(COVERAGE_GRID)))
    counts: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def grid(scores: np.ndarray) -> np.ndarray:
        """Finite-sample conformal quantile of the scores at each coverage on the grid."""
        s = np.sort(scores)
        n = len(s)
        ranks = np.minimum(np.ceil((n + 1) * COVERAGE_GRID).astype(int), n) - 1
        return s[ranks]

    @classmethod
    def fit(cls, scores: np.ndarray, segments: dict[str, np.ndarray]) -> ConformalOffsets:
        out = cls(overall=cls.grid(scores), counts={"overall": len(scores)})
        for level, keys in segments.items():
            out.by_level[level] = {}
            for key in np.unique(keys):
                mask = keys == key
                if mask.sum() >= MIN_SEGMENT:
                    out.by_level[level][str(key)] = cls.grid(scores[mask])
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
