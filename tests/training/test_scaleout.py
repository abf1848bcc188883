"""The pipeline on a Dask LocalCluster with two worker processes: features, training, re-scoring, resuming."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import dask
import dask.dataframe as dd
import mlflow
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from mlflow.tracking import MlflowClient

from features.build import FeatureBuilder
from features.bundle import ModelBundle
from features.contract import validate_events, validate_shipments
from serving.model_store import ModelHolder
from training.__main__ import main
from training.boosting import TrainConfig
from training.models import fit_bundle
from training.pipeline import PREDICTION_COLUMNS
from training.scaleout.cluster import connect, scheduler_address
from training.scaleout.data import read_checked, time_windows
from training.scaleout.features import features_as_of, fit_features
from training.scaleout.fit import fit_bundle_on_cluster
from training.scaleout.rescore import Job, RescoreIncomplete, part_name, rescore, score
from training.simulate import SimulationConfig, simulate
from training.split import time_split

PARTS = 3
AS_OF = pd.Timestamp("2024-12-31 12:00", tz="UTC")  # the simulated period ends on 2025-01-01


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A simulated year of history with scans, written as parts (each shipment and its scans in one part)."""
    sim = simulate(SimulationConfig(n_shipments=6000, seed=21, days=366))
    root = tmp_path_factory.mktemp("sim")
    history = validate_shipments(sim.history).valid
    events = validate_events(sim.events).valid
    part = np.arange(len(history)) % PARTS
    for k in range(PARTS):
        ids = history.loc[part == k, "shipment_id"]
        for name, frame in (
            ("history", history[part == k]),
            ("events", events[events["shipment_id"].isin(ids)]),
        ):
            (root / name).mkdir(exist_ok=True)
            frame.to_parquet(root / name / f"part-{k}.parquet", index=False)
    return {"root": root, "history": history, "events": events}


def test_features_built_on_partitions_equal_the_single_machine_features_for_the_same_rows(
    data, client
) -> None:
    train = time_split(data["history"]).train
    one = FeatureBuilder()
    single = one.fit_transform(train).set_axis(train["shipment_id"].to_numpy())

    frame = time_windows(read_checked(data["root"] / "history", "shipments")).train
    builder = FeatureBuilder()
    histories = fit_features(client, frame, builder, use_weather=False)
    ids, X = dask.compute(frame["shipment_id"], features_as_of(client, frame, builder, histories))
    distributed = X.set_axis(ids.to_numpy()).loc[single.index]

    assert frame.npartitions == PARTS
    pd.testing.assert_frame_equal(distributed, single)
    assert builder.levels_ == one.levels_ and builder.delivery_weekdays_ == one.delivery_weekdays_
    assert builder.history_day_ == one.history_day_
    for name, daily in one.daily_.items():  # what the bundle keeps for later shipments
        pd.testing.assert_frame_equal(builder.daily_[name], daily)


@pytest.fixture(scope="module")
def bundles(data, client) -> tuple[ModelBundle, ModelBundle, pd.DataFrame]:
    """The same data and settings fitted on one machine and on the cluster; and the test window."""
    config = TrainConfig(num_boost_round=60)
    split = time_split(data["history"])
    local = fit_bundle(split.train, split.calibrate, None, data["events"], config, later=split.test)
    windows = time_windows(read_checked(data["root"] / "history", "shipments"))
    train = windows.train.persist()
    calibrate = windows.calibrate.compute().sort_values("created_at", kind="stable").reset_index(drop=True)
    train_all = train.compute().sort_values("created_at", kind="stable").reset_index(drop=True)
    later = dd.concat([windows.calibrate, windows.test])
    on_cluster = fit_bundle_on_cluster(
        client, train, train, calibrate, train_all, later, None, data["events"], config
    )
    return local, on_cluster, split.test


@pytest.mark.slow
def test_the_model_trained_on_the_cluster_agrees_with_the_single_machine_model(bundles) -> None:
    """Distributed LightGBM sums per-worker histograms over bin boundaries found on each worker's data, and
    bags and drops promises with other draws, so its trees differ a little from one machine's. On the same
    data and settings: the P50 error stays within 5% of the single-machine model's, the median shipment's
    P50 moves by under 10% of its transit time, and late risks differ by under 0.08 on average."""
    local, on_cluster, test = bundles
    a, b = local.predict(test), on_cluster.predict(test)
    truth, created = test["delivered_at"].to_numpy(), test["created_at"].to_numpy()

    def hours(p: pd.DataFrame, base: np.ndarray) -> np.ndarray:
        return (p["eta_p50"].to_numpy() - base) / np.timedelta64(1, "h")

    done = ~pd.isna(truth)
    mae_local = np.abs(hours(a, truth)[done]).mean()
    mae_cluster = np.abs(hours(b, truth)[done]).mean()
    relative = np.abs(hours(a, created) - hours(b, created)) / hours(a, created)
    assert abs(mae_cluster - mae_local) <= 0.05 * mae_local
    assert np.median(relative) <= 0.10
    assert np.nanmean(np.abs(a["p_late"] - b["p_late"])) <= 0.08
    assert on_cluster.progress_models is not None and on_cluster.stall_hours


@pytest.mark.slow
def test_the_cluster_bundle_saves_and_loads_as_any_bundle(bundles, tmp_path) -> None:
    _, on_cluster, test = bundles
    loaded = ModelBundle.load(on_cluster.save(tmp_path))
    pd.testing.assert_frame_equal(loaded.predict(test.head(50)), on_cluster.predict(test.head(50)))


@pytest.mark.slow
def test_train_on_an_existing_cluster_logs_to_mlflow_and_serving_loads_the_champion(
    data, cluster, tmp_path, monkeypatch, capsys
) -> None:
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    mlflow.set_tracking_uri(tracking)
    args = ["train", "--history", str(data["root"] / "history"), "--events", str(data["root"] / "events")]
    args += ["--scheduler", cluster.scheduler_address, "--register", "eta", "--rounds", "20"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "models:/eta/1"

    client = MlflowClient()
    run = client.get_run(client.get_model_version("eta", "1").run_id)
    assert {"test_mae_hours", "test_coverage", "baseline_lane_median_mae_hours", "late_brier"} <= set(
        run.data.metrics
    )
    assert run.data.params["num_boost_round"] == "20" and run.data.tags["champion_decision"].startswith(
        "promoted"
    )
    holder = ModelHolder("models:/eta@champion", tracking_uri=tracking)
    assert holder.refresh()
    answered = holder.current.bundle.predict(data["history"].head(20))  # type: ignore[union-attr]
    assert answered["eta_p50"].notna().all() and (answered["model_version"] == "eta/1").all()


@pytest.fixture(scope="module")
def bundle(bundles) -> ModelBundle:
    return bundles[0]


@pytest.fixture(scope="module")
def frames(data) -> tuple[Path, Path]:
    """Where the history and its scans are."""
    return data["root"] / "history", data["root"] / "events"


def in_flight_at(data: dict, as_of: pd.Timestamp) -> set[str]:
    h, e = data["history"], data["events"]
    closed = e.loc[(e["occurred_at"] <= as_of) & e["status"].isin(["delivered", "returned"]), "shipment_id"]
    flying = h["delivered_at"].isna() & (h["created_at"] <= as_of) & ~h["shipment_id"].isin(closed)
    return set(h.loc[flying, "shipment_id"])


def read_parts(directory: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(p) for p in sorted(directory.glob("part-*.parquet"))], ignore_index=True
    )


def job(bundle_path: Path, as_of: pd.Timestamp = AS_OF) -> Job:
    return Job(str(bundle_path), "local", as_of.isoformat(), 0.8, 4)


@pytest.mark.slow
def test_rescore_writes_each_shipment_in_flight_once_as_one_machine_would_score_it(
    data, client, frames, bundle, tmp_path
) -> None:
    history, events = frames
    totals = rescore(client, history, events, bundle, job(tmp_path / "model"), tmp_path / "out")

    predictions = read_parts(tmp_path / "out" / "predictions")
    alerts = read_parts(tmp_path / "out" / "alerts")
    flying = in_flight_at(data, AS_OF)
    assert totals["partitions"] == 4 and totals["shipments"] == len(predictions) == len(flying) > 20
    assert set(predictions["shipment_id"]) == flying and predictions["shipment_id"].is_unique
    assert list(predictions.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert (predictions["predicted_from"] == "latest_scan").mean() > 0.9
    assert set(alerts["shipment_id"]) <= flying and len(alerts) == totals["alerts"] > 0

    h, e = data["history"], data["events"]
    whole, whole_alerts = score(
        h[h["shipment_id"].isin(flying)], e[e["shipment_id"].isin(flying) & (e["occurred_at"] <= AS_OF)],
        bundle, AS_OF, 0.8,
    )  # fmt: skip
    order = ["shipment_id"]
    pd.testing.assert_frame_equal(
        predictions.sort_values(order, ignore_index=True), whole.sort_values(order, ignore_index=True)
    )
    keys = ["dedupe_key"]
    pd.testing.assert_frame_equal(
        alerts.sort_values(keys, ignore_index=True), whole_alerts.sort_values(keys, ignore_index=True)
    )


@pytest.mark.slow
def test_a_rescore_with_an_older_model_reads_the_later_outcomes_as_a_service_would(
    data, client, frames, tmp_path
) -> None:
    """A model whose data ended months before the moment: the outcomes in the history after its data's end
    join its lane and carrier history as a service that recorded them would have them."""
    h, e = data["history"], data["events"]
    split = time_split(h[h["created_at"] < h["created_at"].min() + pd.Timedelta(days=240)])
    older = fit_bundle(
        split.train, split.calibrate, None, e, TrainConfig(num_boost_round=30), later=split.test
    )
    history, events = frames
    rescore(client, history, events, older, job(tmp_path / "older"), tmp_path / "out")

    predictions = read_parts(tmp_path / "out" / "predictions").sort_values("shipment_id", ignore_index=True)
    flying = in_flight_at(data, AS_OF)
    shipments, scans = (
        h[h["shipment_id"].isin(flying)],
        e[e["shipment_id"].isin(flying) & (e["occurred_at"] <= AS_OF)],
    )
    serviced = ModelBundle.load(older.save(tmp_path / "serviced"))
    serviced.features.set_service_history(h)
    for bundle, same in ((serviced, True), (older, False)):
        whole = score(shipments, scans, bundle, AS_OF, 0.8)[0].sort_values("shipment_id", ignore_index=True)
        equal = predictions["eta_p50"].to_numpy() == whole["eta_p50"].to_numpy()
        assert equal.all() if same else (~equal).mean() > 0.5, (~equal).mean()
    assert older.features.known_through() < serviced.features.known_through()  # the older bundle unchanged


@pytest.mark.slow
def test_a_rescore_that_failed_half_way_resumes_without_losing_or_repeating_a_shipment(
    data, client, frames, bundle, tmp_path
) -> None:
    history, events = frames
    out = tmp_path / "out"
    # partition 2 fails after writing its predictions: its alerts cannot be written
    (out / "alerts" / f"{part_name(2)}.tmp").mkdir(parents=True)
    with pytest.raises(RescoreIncomplete, match=part_name(2)):
        rescore(client, history, events, bundle, job(tmp_path / "model"), out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["done"]) == [part_name(i) for i in (0, 1, 3)]
    written = {p.name: p.stat().st_mtime_ns for p in (out / "predictions").glob("part-*.parquet")}
    assert part_name(2) in written  # half-way: predictions without alerts, not recorded as done

    os.rmdir(out / "alerts" / f"{part_name(2)}.tmp")
    totals = rescore(client, history, events, bundle, job(tmp_path / "model"), out)

    assert totals["written_now"] == 1 and totals["partitions"] == 4
    predictions = read_parts(out / "predictions")
    assert predictions["shipment_id"].is_unique and set(predictions["shipment_id"]) == in_flight_at(
        data, AS_OF
    )
    assert read_parts(out / "alerts")["dedupe_key"].is_unique
    for name in (part_name(i) for i in (0, 1, 3)):
        assert (out / "predictions" / name).stat().st_mtime_ns == written[name]  # finished parts untouched


@pytest.mark.slow
def test_a_rescore_directory_is_not_resumed_with_another_moment(client, frames, bundle, tmp_path) -> None:
    history, events = frames
    rescore(client, history, events, bundle, job(tmp_path / "model"), tmp_path / "out")
    with pytest.raises(ValueError, match="choose another --out"):
        rescore(
            client,
            history,
            events,
            bundle,
            job(tmp_path / "model", AS_OF - pd.Timedelta("1D")),
            tmp_path / "out",
        )


def test_the_scheduler_address_comes_from_the_option_else_from_dask_config(monkeypatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:8786")
    dask.config.refresh()
    try:
        assert scheduler_address() == "tcp://127.0.0.1:8786"
        assert scheduler_address("tcp://127.0.0.1:9999") == "tcp://127.0.0.1:9999"
    finally:
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
        dask.config.refresh()
    assert scheduler_address() is None


def test_connect_uses_the_cluster_at_the_given_address(cluster) -> None:
    with connect(cluster.scheduler_address) as client:
        assert client.scheduler.address == cluster.scheduler_address
        assert len(client.nthreads()) == 2


def test_simulate_in_parts_numbers_the_shipments_on_across_parts(tmp_path) -> None:
    assert (
        main(["simulate", "--shipments", "900", "--seed", "4", "--parts", "2", "--out", str(tmp_path)]) == 0
    )
    history = read_parts(tmp_path / "history")
    events = read_parts(tmp_path / "events")
    assert len(history) == 900 and history["shipment_id"].is_unique
    assert history["shipment_id"].iloc[[0, -1]].tolist() == ["SH0000001", "SH0000900"]
    assert (
        set(events["shipment_id"]) <= set(history["shipment_id"]) and (tmp_path / "weather.parquet").exists()
    )
