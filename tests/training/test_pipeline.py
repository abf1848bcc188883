"""The train / evaluate / predict commands end to end, with MLflow on a temporary SQLite store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.factories import make_shipments
from training.__main__ import main
from training.pipeline import PREDICTION_COLUMNS, evaluate_bundle, read_history
from training.registry import OUTCOME_COLUMNS, jsonable, load_bundle, pip_requirements
from training.split import time_split

EPOCH = pd.Timestamp(0, tz="UTC")  # day numbers count from it


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "history.parquet"
    make_shipments(6000, seed=11, days=300).to_parquet(path)
    return path


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return uri


def train(history: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["train", "--history", str(history), "--register", "eta", "--rounds", "40", *extra]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_train_registers_a_champion_and_prints_its_uri_last(history, tracking, capsys, tmp_path) -> None:
    uri = train(history, capsys, "--report", str(tmp_path / "report"))
    assert uri == "models:/eta/1"
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("eta", "champion").version) == "1"
    run = client.get_run(client.get_model_version("eta", "1").run_id)
    assert run.data.metrics["test_coverage"] == pytest.approx(0.8, abs=0.06)
    assert {"test_mae_hours", "baseline_lane_median_mae_hours", "late_brier"} <= set(run.data.metrics)
    assert run.data.params["quantile_reference"] in {"promise", "history median"}  # chosen on calibration
    assert run.data.tags["champion_decision"] == "promoted (no champion yet)"
    report = (tmp_path / "report" / "report.md").read_text()
    assert "reliability.png" in report and (tmp_path / "report" / "metrics.json").exists()


def test_the_champion_moves_only_when_the_candidate_is_better(history, tracking, capsys) -> None:
    train(history, capsys)
    worse = train(history, capsys, "--rounds", "1")
    client = MlflowClient()
    assert worse == "models:/eta/2"
    assert str(client.get_model_version_by_alias("eta", "champion").version) == "1"
    run = client.get_run(client.get_model_version("eta", "2").run_id)
    assert run.data.tags["champion_decision"] == "kept the champion"


def test_predict_gives_every_shipment_a_row_in_the_contract(history, tracking, capsys, tmp_path) -> None:
    train(history, capsys)
    new = make_shipments(30, seed=12)
    new.loc[:4, "carrier"] = "never-seen"
    new_path, out = tmp_path / "new.parquet", tmp_path / "predictions.parquet"
    new.to_parquet(new_path)
    assert (
        main(["predict", "--model", "models:/eta@champion", "--history", str(new_path), "--out", str(out)])
        == 0
    )
    pred = pd.read_parquet(out)
    assert list(pred.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert list(pred["shipment_id"]) == list(new["shipment_id"])
    assert (pred["prediction_source"] == "model").all() and pred["eta_p50"].notna().all()
    assert (pred["coverage"] == 0.8).all() and str(pred["eta_p50"].dt.tz) == "UTC"


def test_predict_reads_the_outcomes_before_each_shipment_in_its_file_as_a_service_would(
    history, tracking, capsys, tmp_path
) -> None:
    """Shipments after the model's data: their outcomes join the lane and carrier history from the day after
    each happened (the service's history, `set_service_history`), so a slowdown shows in later predictions,
    while no prediction moves when outcomes after its shipment's creation day change."""
    train(history, capsys)
    bundle = load_bundle("models:/eta@champion")
    start = EPOCH + pd.Timedelta(days=bundle.features.known_through() + 2)  # two days after the last outcome
    new = make_shipments(600, seed=14, days=40).sort_values("created_at", ignore_index=True)
    shift = start - pd.Timestamp("2024-01-01", tz="UTC")
    for col in ("created_at", "promised_at", "delivered_at"):
        new[col] += shift
    new["delivered_at"] = new["created_at"] + 3 * (new["delivered_at"] - new["created_at"])  # a slowdown

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        path, out = tmp_path / "new.parquet", tmp_path / "predictions.parquet"
        frame.to_parquet(path)
        assert (
            main(["predict", "--model", "models:/eta@champion", "--history", str(path), "--out", str(out)])
            == 0
        )
        return pd.read_parquet(out)

    pred, own = predict(new), bundle.predict(new)
    hours = {
        name: (p["eta_p50"] - new["created_at"]).dt.total_seconds() / 3600
        for name, p in (("file", pred), ("own", own))
    }
    later = new["created_at"] > start + pd.Timedelta(days=25)
    assert hours["file"][later].mean() > hours["own"][later].mean()  # the slowdown, learned as it came
    cut = start + pd.Timedelta(days=20)
    changed = new.copy()
    changed.loc[changed["delivered_at"] >= cut, "delivered_at"] += pd.Timedelta(days=9)
    early = new["created_at"] < cut.floor("D")
    pd.testing.assert_frame_equal(predict(changed)[early], pred[early])  # later outcomes are never read


def test_an_older_model_is_evaluated_knowing_the_outcomes_a_service_would_have_recorded(
    history, tracking, capsys, tmp_path
) -> None:
    """The champion a candidate is compared with learns the newer split's outcomes as a service running it
    would have recorded them, not only those of its own data."""
    older = tmp_path / "older.parquet"
    full = pd.read_parquet(history)
    full[full["created_at"] < full["created_at"].min() + pd.Timedelta(days=150)].to_parquet(older)
    bundle = load_bundle(train(older, capsys))
    split = time_split(read_history(history))
    own = bundle.predict(split.test)
    _, predictions = evaluate_bundle(bundle, split, 0.8, None)
    last_delivery = pd.concat([split.train, split.calibrate, split.test])["delivered_at"].max()
    assert bundle.features.known_through() == (last_delivery - EPOCH).days
    assert (predictions["eta_p50"].to_numpy() != own["eta_p50"].to_numpy()).mean() > 0.5


def test_evaluate_writes_metrics_with_baselines_beside_the_model(history, tracking, capsys, tmp_path) -> None:
    train(history, capsys)
    out = tmp_path / "eval"
    assert (
        main(["evaluate", "--model", "models:/eta@champion", "--history", str(history), "--out", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    model, baselines = metrics["overall"]["model"], metrics["overall"]["baselines"]
    assert model["mae_hours"] < baselines["lane_median"]["mae_hours"]
    assert model["mae_hours"] < baselines["carrier_median"]["mae_hours"]
    assert model["mae_hours"] < baselines["promise"]["mae_hours"]


def test_the_logged_pyfunc_pins_what_it_needs_and_answers_like_the_bundle(history, tracking, capsys) -> None:
    uri = train(history, capsys)
    requirements = mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt")
    assert Path(requirements).read_text().split() == pip_requirements()
    new = make_shipments(10, seed=13).drop(columns=list(OUTCOME_COLUMNS))
    pyfunc = mlflow.pyfunc.load_model(uri).predict(jsonable(new))

    pd.testing.assert_frame_equal(
        pyfunc.drop(columns="model_version"), load_bundle(uri).predict(new).drop(columns="model_version")
    )


def test_a_model_of_outcome_only_data_answers_its_own_logged_example(tracking, capsys, tmp_path) -> None:
    """Outcome-only data (no timestamps) train a late-risk model; the request logged as its example is made
    at a moment, so the logged model answers it (MLflow checks the example against the model when logging)."""
    frame = make_shipments(3000, seed=5)
    late = (frame["destination_country"] == "GB").to_numpy() ^ (frame.index % 10 == 0)
    path = tmp_path / "outcomes.parquet"
    frame.drop(columns=["created_at", "promised_at", "delivered_at"]).assign(delivered_late=late).to_parquet(
        path
    )
    uri = train(path, capsys)
    local = Path(mlflow.artifacts.download_artifacts(uri))
    example = mlflow.models.Model.load(str(local)).load_input_example(str(local))
    answered = mlflow.pyfunc.load_model(uri).predict(example)
    assert len(answered) == 5 and answered["p_late"].between(0, 1).all() and answered["eta_p50"].isna().all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_training_registers_on_a_real_mlflow_server(history, capsys, tmp_path, monkeypatch) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 90 s")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        mlflow.set_tracking_uri(url)
        assert train(history, capsys) == "models:/eta/1"
        assert str(MlflowClient(url).get_model_version_by_alias("eta", "champion").version) == "1"
    finally:
        server.terminate()
        server.wait(timeout=30)
