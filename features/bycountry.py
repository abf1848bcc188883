"""Sorted integers per country (holiday days, time-zone transitions) kept as one sorted array.

Each country's values sit in their own segment of a single array, so a question about rows from any mix of
countries is one `searchsorted`, with no loop over countries: one row and a million rows take the same path.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

SPAN = 1 << 35  # one country's segment; values must lie within ±BIAS (seconds of years 1370–2570 do)
BIAS = 1 << 34
END = np.iinfo(np.int64).max  # a sentinel after the last segment: a look-up never runs off the end


class ByCountry:
    def __init__(self, values: Mapping[str, np.ndarray]) -> None:
        self.index = {country: i for i, country in enumerate(values)}
        segments = [np.asarray(v, dtype=np.int64) + (i * SPAN + BIAS) for i, v in enumerate(values.values())]
        self.keys = np.concatenate([*segments, [END]])

    def rows(self, countries: np.ndarray) -> np.ndarray | None:
        """Each row's segment, or None when a country has none yet."""
        index = self.index
        rows = np.fromiter((index.get(c, -1) for c in countries), dtype=np.int64, count=len(countries))
        return None if (rows < 0).any() else rows

    @staticmethod
    def key(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        return rows * SPAN + BIAS + values

    @staticmethod
    def segment_end(rows: np.ndarray) -> np.ndarray:
        return (rows + 1) * SPAN
