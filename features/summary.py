"""What the feature builder learns from history, as counts that add up over disjoint slices of it.

`FeatureBuilder.summarise` reads one slice (the whole history on one machine, a partition on a cluster),
`HistorySummary.combine` adds two summaries, and `FeatureBuilder.fit_summary` learns the builder's state from
the total: one machine and a cluster run the same code and learn the same state from the same rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from features.history import add_daily


@dataclass
class HistorySummary:
    first_year: int | None  # of `created_at` (None without any dated shipment)
    last_year: int | None
    as_of: pd.Timestamp | None  # the latest `created_at`
    attr_numeric: list[str]  # `attr_*` columns by kind (the schema, the same in every slice)
    attr_text: list[str]
    levels: dict[str, Counter]  # shipments per category level, per categorical column
    weekdays: pd.DataFrame  # deliveries per carrier (rows) and local weekday (columns)
    daily: dict[str, pd.DataFrame]  # per history grouping: `features.history.daily_counts`

    def combine(self, other: HistorySummary) -> HistorySummary:
        """The summary of both slices together (shipments must not be counted twice)."""
        if (self.attr_numeric, self.attr_text) != (other.attr_numeric, other.attr_text):
            raise ValueError(
                f"slices disagree on the attribute columns: {self.attr_numeric + self.attr_text} "
                f"against {other.attr_numeric + other.attr_text}"
            )
        return HistorySummary(
            first_year=_extreme(min, self.first_year, other.first_year),
            last_year=_extreme(max, self.last_year, other.last_year),
            as_of=_extreme(max, self.as_of, other.as_of),
            attr_numeric=self.attr_numeric,
            attr_text=self.attr_text,
            levels={c: self.levels[c] + other.levels[c] for c in self.levels},
            weekdays=self.weekdays.add(other.weekdays, fill_value=0).astype("int64"),
            daily={name: add_daily(self.daily[name], other.daily[name]) for name in self.daily},
        )


def _extreme(pick, a, b):  # type: ignore[no-untyped-def]
    """min/max of two values where None means "none in that slice"."""
    present = [v for v in (a, b) if v is not None]
    return pick(present) if present else None


def combine_all(summaries: list[HistorySummary]) -> HistorySummary:
    """Pairwise sums in a balanced tree (as a cluster would reduce them)."""
    if not summaries:
        raise ValueError("no history to summarise")
    while len(summaries) > 1:
        pairs = [summaries[i : i + 2] for i in range(0, len(summaries), 2)]
        summaries = [p[0].combine(p[1]) if len(p) == 2 else p[0] for p in pairs]
    return summaries[0]
