"""Shipments and scan events as Dask frames: a parquet file or a directory of parts, validated per partition.

A shipment id is checked for repeats within its partition only; ids that repeat across partitions are not
found here (keep each shipment in one part, as `simulate --parts` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd

from features.contract import Validated, validate_events, validate_shipments
from training.split import Split, split_times


def _valid_shipments(part: pd.DataFrame) -> pd.DataFrame:
    return validate_shipments(part).valid


def _valid_events(part: pd.DataFrame) -> pd.DataFrame:
    return validate_events(part).valid


def _reasons(part: pd.DataFrame, check) -> pd.Series:  # type: ignore[no-untyped-def]
    checked: Validated = check(part)
    return pd.Series(checked.reasons, dtype="int64")


def _of_shipments(part: pd.DataFrame, ids: set) -> pd.DataFrame:
    return part[part["shipment_id"].isin(ids)]


def read_checked(path: Path, kind: str, shipments: object = None) -> dd.DataFrame:
    """`kind` "shipments" or "events" from parquet, each partition validated against the contract and held
    in the workers' memory; prints how many rows were rejected, by reason, when any were. `shipments`: only
    the rows of these shipment ids (a set, or a future of one scattered to the workers) are read on."""
    check = {"shipments": validate_shipments, "events": validate_events}[kind]
    valid_of = {"shipments": _valid_shipments, "events": _valid_events}[kind]
    raw = dd.read_parquet(str(path))
    if shipments is not None:
        raw = raw.map_partitions(_of_shipments, shipments, meta=raw._meta).persist()
    checked = raw.map_partitions(valid_of, meta=check(raw._meta).valid).persist()
    n_raw, n_valid = dd.compute(raw.shape[0], checked.shape[0])
    if n_raw != n_valid:
        reasons = raw.map_partitions(_reasons, check, meta=pd.Series(dtype="int64")).compute()
        by_reason = reasons.groupby(level=0).sum().sort_values(ascending=False)
        print(f"{Path(path).name}: {kind}: kept {n_valid:,}, rejected {n_raw - n_valid:,}")
        for reason, n in by_reason.items():
            print(f"  rejected {n:,}: {reason}")
    return checked


def hash_share(ids: pd.Series, salt: int = 0) -> np.ndarray:
    """A number in [0, 1) per shipment id, the same on every machine and for every partitioning: samples
    and buckets drawn from it do not depend on how the history is split into parts."""
    hashed = pd.util.hash_pandas_object(ids.astype(object), index=False, hash_key=f"eta-{salt:012d}")
    return hashed.to_numpy(dtype=np.uint64) / 2.0**64


def sample(frame: dd.DataFrame, fraction: float, salt: int = 0) -> dd.DataFrame:
    """The shipments whose `hash_share` is below `fraction` (all of them at 1)."""
    if fraction >= 1:
        return frame
    return frame.map_partitions(lambda p: p[hash_share(p["shipment_id"], salt) < fraction])


@dataclass
class ClusterSplit(Split):
    """A time split of a partitioned history: the windows and sizes are those of the whole history, while
    `train` (for the baselines) may be a sample of the training window."""

    spans: dict[str, str]
    counts: dict[str, int]

    def windows(self) -> dict[str, str]:
        return self.spans

    def sizes(self) -> dict[str, int]:
        return self.counts


@dataclass
class Windows:
    """The three time windows of a partitioned history, as lazy frames, with their spans and sizes."""

    train: dd.DataFrame
    calibrate: dd.DataFrame
    test: dd.DataFrame
    spans: dict[str, str]
    counts: dict[str, int]


def time_windows(history: dd.DataFrame) -> Windows:
    """`training.split.time_split` on a partitioned history: the same boundaries from the same creation
    times (only that column is gathered)."""
    created = history["created_at"].compute().dropna()
    if created.empty:
        raise ValueError("the history has no creation times: a cluster run needs dated shipments")
    t1, t2 = split_times(created)
    c = history["created_at"]
    parts = [history[c < t1], history[(c >= t1) & (c < t2)], history[c >= t2]]
    names = ("train", "calibrate", "test")
    masks = [created < t1, (created >= t1) & (created < t2), created >= t2]
    spans = {
        name: f"{created[m].min():%Y-%m-%d} .. {created[m].max():%Y-%m-%d}"
        if m.any()
        else "0 rows (no dates)"
        for name, m in zip(names, masks, strict=True)
    }
    counts = {f"n_{name}": int(m.sum()) for name, m in zip(names, masks, strict=True)}
    return Windows(parts[0], parts[1], parts[2], spans=spans, counts=counts)
