"""Feature building on Dask partitions with the same `features/` code as on one machine.

The lane and carrier history as of each shipment's creation depends on every earlier delivery, so partitions
are not independent. Fitting therefore runs in two steps: each partition is summarised into daily counts per
lane, carrier and category level (`FeatureBuilder.summarise`), the summaries are added up in a tree on the
cluster, and the builder learns its state from the total (`FeatureBuilder.fit_summary`); the day-by-day
history (small: per group and day, not per shipment) is then sent once to every worker, and each partition's
features are computed as of each shipment's creation day (`FeatureBuilder.features_as_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.delayed import Delayed
from distributed import Client

from features.build import FeatureBuilder
from features.history import GroupHistory, add_daily
from features.summary import HistorySummary

T = TypeVar("T")


def _pairwise(parts: list[Delayed], combine: Callable[[T, T], T]) -> Delayed:
    """The partitions' results, added up pairwise on the cluster (not computed yet)."""
    if not parts:
        raise ValueError("no partitions to add up")
    while len(parts) > 1:
        paired = [parts[i : i + 2] for i in range(0, len(parts), 2)]
        parts = [dask.delayed(combine)(*p) if len(p) == 2 else p[0] for p in paired]
    return parts[0]


def summarise(frame: dd.DataFrame, builder: FeatureBuilder) -> HistorySummary:
    """The summary of all partitions."""
    parts = [dask.delayed(builder.summarise)(p) for p in frame.to_delayed()]
    summary: HistorySummary = _pairwise(parts, HistorySummary.combine).compute()
    return summary


def _add_counts(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: add_daily(*(c[name] for c in (a, b) if name in c)) for name in a.keys() | b.keys()}


def counts(parts: list[Delayed], count: Callable[[pd.DataFrame], dict[str, pd.DataFrame]]) -> Delayed:
    """Daily count tables of all partitions (`frame.to_delayed()`; `count`: `FeatureBuilder.daily_counts` or
    `recorded_counts`), delayed: computed alone, or with other work on the same partitions, read once."""
    return _pairwise([dask.delayed(count)(p) for p in parts], _add_counts)


def fit_features(
    client: Client, frame: dd.DataFrame, builder: FeatureBuilder, use_weather: bool
) -> dict[str, GroupHistory]:
    """Fit `builder` on the partitioned training window; returns the day-by-day history (see
    `FeatureBuilder.fit_summary`), held on the client."""
    return builder.fit_summary(summarise(frame, builder), use_weather=use_weather)


def feature_meta(builder: FeatureBuilder) -> pd.DataFrame:
    return pd.DataFrame({name: np.zeros(0) for name in builder.feature_names_})


def features_as_of(
    client: Client,
    frame: dd.DataFrame,
    builder: FeatureBuilder,
    histories: dict[str, GroupHistory],
    weather: pd.DataFrame | None = None,
) -> dd.DataFrame:
    """Each partition's features as of each shipment's creation: the rows `builder.fit_transform` gives for
    the same shipments on one machine. The history goes to each worker once."""
    shared = client.scatter([histories], broadcast=True)[0]  # one object, not one per key
    return frame.map_partitions(builder.features_as_of, shared, weather, meta=feature_meta(builder))
