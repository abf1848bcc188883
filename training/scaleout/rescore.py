"""`python -m training rescore`: re-predict every shipment in flight, partition by partition, and the alerts.

The shipments in flight at `as_of` (created by then, no `delivered_at`, no delivered or returned scan by then)
are split into a fixed number of partitions by a hash of their id, with their scans. Each partition is scored
on a worker: the creation-time prediction, replaced by the in-transit re-prediction from the latest scan where
the bundle has an in-transit model, then the alert rules of `features.alerts` (from a fresh alert state: the
alerts these predictions raise). The lane and carrier history also counts the outcomes the history holds
after the bundle's data, as a service that recorded them does (each shipment sees those before its creation
day). Its predictions and alerts are written next to each other, each file through a temporary name and a
rename, and the partition is then recorded in `manifest.json`. A re-run with the same model, moment and
partitions skips the recorded partitions; a partition that failed half-way is written again whole, so nothing
is lost or counted twice. Workers write the files: on a real cluster `--out` must be a directory every worker
and the client see (a shared file system).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import dask
import numpy as np
import pandas as pd
from distributed import Client, as_completed

from features.alerts import AlertState, Snapshot, evaluate
from features.bundle import ModelBundle
from features.contract import EventStatus
from training.pipeline import PREDICTION_COLUMNS
from training.scaleout.data import hash_share, read_checked
from training.scaleout.features import counts

BUCKET_SALT = 3
CLOSED = (EventStatus.DELIVERED.value, EventStatus.RETURNED.value)
HOLDING = (EventStatus.EXCEPTION.value, EventStatus.CUSTOMS_HOLD.value)
PREDICTION_EXTRAS = ["predicted_from", "status", "last_event_at", "stalled", "model_version", "as_of"]
ALERT_COLUMNS = [
    "shipment_id", "type", "dedupe_key", "level", "conditions", "eta_p50", "promised_at", "window_end",
    "p_late", "as_of",
]  # fmt: skip


class RescoreIncomplete(RuntimeError):
    """Some partitions failed; the others are recorded and a re-run scores only the missing ones."""


@dataclass(frozen=True)
class Job:
    model: str
    model_version: str
    as_of: str  # ISO timestamp (UTC)
    coverage: float
    partitions: int

    def key(self) -> dict:
        return {k: getattr(self, k) for k in ("model", "model_version", "as_of", "coverage", "partitions")}


def bucket_of(ids: pd.Series, partitions: int) -> np.ndarray:
    return np.minimum((hash_share(ids, BUCKET_SALT) * partitions).astype(np.int64), partitions - 1)


def split_buckets(part: pd.DataFrame, partitions: int) -> list[pd.DataFrame]:
    """One input partition's rows, by the rescore partition of their shipment."""
    bucket = bucket_of(part["shipment_id"], partitions)
    return [part[bucket == i] for i in range(partitions)]


def gather(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(pieces, ignore_index=True)


def in_flight(part: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return part[part["delivered_at"].isna() & (part["created_at"] <= as_of)]


def scans_until(part: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return part[part["occurred_at"] <= as_of]


def score(
    shipments: pd.DataFrame,
    events: pd.DataFrame,
    bundle: ModelBundle,
    as_of: pd.Timestamp,
    coverage: float,
    weather: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions (the `predictions.parquet` columns and `PREDICTION_EXTRAS`) and the alerts they raise,
    for shipments in flight at `as_of` with their scans up to then."""
    events = events.sort_values(["shipment_id", "occurred_at", "event_id"], kind="stable")
    latest = events.groupby("shipment_id", sort=False).tail(1).set_index("shipment_id")
    closed = set(events.loc[events["status"].isin(CLOSED), "shipment_id"])
    shipments = shipments[~shipments["shipment_id"].isin(closed)].reset_index(drop=True)
    out = bundle.predict(shipments, coverage, weather)
    scanned = shipments["shipment_id"].isin(latest.index).to_numpy()
    out["predicted_from"] = "creation"
    if scanned.any() and bundle.progress_models is not None:
        moving = bundle.predict_progress(shipments[scanned], events, as_of, coverage, weather)
        rows = np.flatnonzero(scanned)
        for col in ("eta_p50", "window_start", "window_end", "p_late", "eta_p10", "eta_p90"):
            out.loc[rows, col] = moving[col].to_numpy()
        out.loc[rows, "predicted_from"] = "latest_scan"
    last = latest.reindex(shipments["shipment_id"])
    out["status"] = last["status"].to_numpy(dtype=object)
    out["last_event_at"] = pd.to_datetime(last["occurred_at"].to_numpy(), utc=True)
    since = out["last_event_at"].fillna(shipments["created_at"])
    hours = ((as_of - since).dt.total_seconds() / 3600).to_numpy()
    out["stalled"] = [bundle.is_stalled(s, h) for s, h in zip(out["status"], hours, strict=True)]
    out["as_of"] = as_of
    holding = last["event_id"].where(last["status"].isin(HOLDING)).to_numpy(dtype=object)
    alerts = raised(out, shipments["promised_at"], holding, as_of)
    return out[PREDICTION_COLUMNS + PREDICTION_EXTRAS], alerts


def _stamp(value: object) -> dt.datetime | None:
    return None if value is None or value is pd.NaT else pd.Timestamp(value).to_pydatetime()  # type: ignore[arg-type]


def raised(
    predictions: pd.DataFrame, promised: pd.Series, holding: np.ndarray, as_of: pd.Timestamp
) -> pd.DataFrame:
    """The notices `features.alerts.evaluate` owes for each prediction, from a fresh alert state."""
    rows = []
    columns = [predictions[c].to_numpy(dtype=object) for c in ("eta_p50", "window_end", "last_event_at")]
    p_late = predictions["p_late"].to_numpy(dtype=float)
    for i, shipment in enumerate(predictions["shipment_id"].to_numpy(dtype=object)):
        snap = Snapshot(
            shipment_id=str(shipment),
            at=as_of.to_pydatetime(),
            promised_at=_stamp(promised.iloc[i]),
            eta_p50=_stamp(columns[0][i]),
            window_end=_stamp(columns[1][i]),
            p_late=None if np.isnan(p_late[i]) else float(p_late[i]),
            stalled=bool(predictions["stalled"].iloc[i]),
            last_event_at=_stamp(columns[2][i]),
            exception_event_id=None if holding[i] is None else str(holding[i]),
        )
        for n in evaluate(AlertState(), snap)[1]:
            conditions = ",".join(c.value for c in n.conditions)
            rows.append(
                (n.shipment_id, n.type.value, n.dedupe_key, int(n.level), conditions, n.new_eta,
                 n.promised_at, n.window_end, n.p_late)
            )  # fmt: skip
    alerts = pd.DataFrame(rows, columns=ALERT_COLUMNS[:-1])
    for col in ("eta_p50", "promised_at", "window_end"):
        alerts[col] = pd.to_datetime(alerts[col], utc=True)
    alerts["p_late"] = alerts["p_late"].astype(float)
    alerts["level"] = alerts["level"].astype("int64")
    alerts["as_of"] = as_of
    return alerts


def write_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Whole or not at all: written under a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)


def part_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


def with_recorded(bundle: ModelBundle, recorded: dict[str, pd.DataFrame]) -> ModelBundle:
    """A copy of `bundle` (the models shared) whose lane and carrier history also counts the `daily_counts`
    of `recorded` shipments after its data's end, as a service that recorded them counts them."""
    features = copy.copy(bundle.features)  # without the caches and what a service recorded
    features.set_recorded_counts(recorded)
    return dataclasses.replace(bundle, features=features)


def run_part(
    i: int,
    shipments: pd.DataFrame,
    events: pd.DataFrame,
    bundle: ModelBundle,
    recorded: dict[str, pd.DataFrame],
    job: Job,
    out_dir: str,
    weather: pd.DataFrame | None,
) -> dict:
    """Score one partition and write its predictions, then its alerts (on a worker)."""
    as_of = pd.Timestamp(job.as_of)
    bundle = with_recorded(bundle, recorded)
    predictions, alerts = score(shipments, events, bundle, as_of, job.coverage, weather)
    write_atomically(predictions, Path(out_dir) / "predictions" / part_name(i))
    write_atomically(alerts, Path(out_dir) / "alerts" / part_name(i))
    return {
        "shipments": len(predictions),
        "alerts": len(alerts),
        "closed_by_scan": len(shipments) - len(predictions),
    }


class Manifest:
    """`manifest.json`: the job and the partitions written; rewritten through a rename after each one."""

    def __init__(self, out_dir: Path, job: Job) -> None:
        self.path = out_dir / "manifest.json"
        self.job = job
        self.done: dict[str, dict] = {}
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved["job"] != job.key():
                raise ValueError(
                    f"{out_dir} holds a rescore of {saved['job']}, not of {job.key()}: choose another --out"
                )
            self.done = saved["done"]

    def finished(self, i: int) -> bool:
        return part_name(i) in self.done

    def record(self, i: int, counts: dict) -> None:
        self.done[part_name(i)] = counts
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(
            json.dumps({"job": self.job.key(), "done": dict(sorted(self.done.items()))}, indent=1)
        )
        os.replace(temporary, self.path)


def rescore(
    client: Client,
    history_path: Path,
    events_path: Path,
    bundle: ModelBundle,
    job: Job,
    out_dir: Path,
    weather: pd.DataFrame | None = None,
) -> dict:
    """Score every partition not yet in the manifest; returns the totals over all partitions written. The
    history and events (parquet files or parts) are read only when a partition is left to score, and only the
    scans of the shipments in flight are read on."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir, job)
    todo = [i for i in range(job.partitions) if not manifest.finished(i)]
    if todo:
        as_of, k = pd.Timestamp(job.as_of), job.partitions
        history = read_checked(history_path, "shipments")
        parts = history.to_delayed()  # read once for the recorded outcomes and the ids in flight
        recorded, *flying_ids = dask.compute(
            counts(parts, bundle.features.recorded_counts),
            *(dask.delayed(in_flight)(p, as_of)["shipment_id"] for p in parts),
        )
        ids = client.scatter([set().union(*flying_ids)], broadcast=True)[0]
        flying = history.map_partitions(in_flight, as_of)
        scans = read_checked(events_path, "events", ids).map_partitions(scans_until, as_of)
        ship_parts = [dask.delayed(split_buckets, nout=k)(p, k) for p in flying.to_delayed()]
        scan_parts = [dask.delayed(split_buckets, nout=k)(p, k) for p in scans.to_delayed()]
        shared, shared_recorded = client.scatter([bundle, recorded], broadcast=True)
        tasks = [
            dask.delayed(run_part)(
                i,
                dask.delayed(gather)([s[i] for s in ship_parts]),
                dask.delayed(gather)([s[i] for s in scan_parts]),
                shared, shared_recorded, job, str(out_dir), weather,
            )
            for i in todo
        ]  # fmt: skip
        futures = client.compute(tasks)
        which = {f.key: i for f, i in zip(futures, todo, strict=True)}
        failed: dict[int, str] = {}
        for future in as_completed(futures):
            i = which[future.key]
            if future.status == "finished":
                manifest.record(i, future.result())
            else:
                failed[i] = repr(future.exception())
        if failed:
            lines = "\n".join(f"  {part_name(i)}: {error}" for i, error in sorted(failed.items()))
            raise RescoreIncomplete(
                f"{len(failed)} of {k} partitions failed (the others are recorded; re-run to resume):"
                f"\n{lines}"
            )
    totals = {
        key: sum(c[key] for c in manifest.done.values()) for key in ("shipments", "alerts", "closed_by_scan")
    }
    return {"partitions": len(manifest.done), "written_now": len(todo), **totals}
