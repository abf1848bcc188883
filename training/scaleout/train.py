"""`python -m training train --cluster`: the `train` command on a Dask cluster, logged like the local one."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import pandas as pd
from distributed import Client

from features.bundle import DEFAULT_COVERAGE, ModelBundle
from training.boosting import TrainConfig
from training.pipeline import read_weather, train_and_log
from training.scaleout.cluster import connect
from training.scaleout.data import ClusterSplit, read_checked, sample, time_windows
from training.scaleout.fit import fit_bundle_on_cluster

SAMPLE_ROWS = 200_000  # training shipments gathered for the in-transit model and the baselines
SAMPLE_SALT = 2


def scans_of(client: Client, events_path: Path, ids: pd.Series) -> pd.DataFrame:
    """The scan events of the given shipments, gathered on the client."""
    wanted = client.scatter([set(ids)], broadcast=True)[0]
    return read_checked(events_path, "events", wanted).compute().reset_index(drop=True)


def run_train_on_cluster(
    history_path: Path,
    weather_path: Path | None = None,
    events_path: Path | None = None,
    register: str | None = None,
    experiment: str | None = None,
    out_dir: Path | None = None,
    config: TrainConfig | None = None,
    coverage: float = DEFAULT_COVERAGE,
    scheduler: str | None = None,
    workers: int | None = None,
    fraction: float = 1.0,
) -> str:
    """`pipeline.run_train` on a cluster (see `training.scaleout.fit`). With `fraction` < 1 the models
    learn from that share of the shipments (drawn by a hash of the id) and are calibrated and tested on the
    same share of the later windows, while the lane and carrier history still counts every shipment."""
    config = config or TrainConfig()
    with connect(scheduler, workers) as client:
        history = read_checked(history_path, "shipments")
        weather = read_weather(weather_path)
        windows = time_windows(history)
        train = windows.train
        calibrate, test = dd.compute(sample(windows.calibrate, fraction), sample(windows.test, fraction))
        calibrate, test = calibrate.reset_index(drop=True), test.reset_index(drop=True)
        share = min(1.0, SAMPLE_ROWS / max(windows.counts["n_train"], 1))
        train_sample = sample(train, share, SAMPLE_SALT).compute().reset_index(drop=True)
        events = None
        if events_path is not None:
            ids = pd.concat([train_sample["shipment_id"], calibrate["shipment_id"], test["shipment_id"]])
            events = scans_of(client, events_path, ids)
        split = ClusterSplit(
            train_sample, calibrate, test, by_time=True, spans=windows.spans, counts=windows.counts
        )

        def fit(meta: dict) -> ModelBundle:
            meta = {
                **meta,
                "fitted_on": f"dask cluster, {len(client.nthreads())} workers",
                "sample": fraction,
            }
            train_rows = sample(train, fraction)
            later = dd.concat([windows.calibrate, windows.test])
            return fit_bundle_on_cluster(
                client, train, train_rows, calibrate, train_sample, later, weather, events, config, meta
            )

        experiment = experiment or Path(history_path).stem
        return train_and_log(fit, split, events, weather, experiment, register, out_dir, coverage)
