"""In-flight late risk: from the in-transit model's calibrated windows, not the creation-time score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.bundle import ModelBundle
from tests.factories import make_shipments
from training.models import TrainConfig, fit_bundle
from training.split import time_split


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    split = time_split(make_shipments(1500, seed=6, days=200))
    fitted = fit_bundle(split.train, split.calibrate, config=TrainConfig(num_boost_round=20))
    assert fitted.progress_models is not None
    return fitted


def in_flight(n: int, promise_hours: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    ships = make_shipments(1, seed=11).loc[[0] * n].reset_index(drop=True)
    ships["shipment_id"] = [f"x{i}" for i in range(n)]
    ships["promised_at"] = ships["created_at"] + pd.Timedelta(hours=promise_hours)
    events = pd.DataFrame(
        {"shipment_id": ships["shipment_id"], "occurred_at": ships["created_at"] + pd.Timedelta(hours=1),
         "status": "picked_up"}
    )  # fmt: skip
    return ships, events


def test_the_risk_in_flight_grows_as_the_time_left_before_the_promise_shrinks(bundle) -> None:
    ships, events = in_flight(4, promise_hours=96)
    moments = pd.Series(ships["created_at"] + pd.to_timedelta([2, 40, 80, 95], unit="h"))
    p = bundle.predict_progress(ships, events, moments)["p_late"].to_numpy()
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0) and p[-1] > p[0]


def test_the_risk_is_certain_once_the_promise_passed_undelivered(bundle) -> None:
    ships, events = in_flight(1, promise_hours=24)
    out = bundle.predict_progress(ships, events, ships["created_at"].iloc[0] + pd.Timedelta(hours=30))
    assert out["p_late"].iloc[0] == 1.0


def test_the_risk_in_flight_is_the_share_of_the_remaining_time_distribution_past_the_promise(bundle) -> None:
    ships, events = in_flight(1, promise_hours=60)
    now = ships["created_at"].iloc[0] + pd.Timedelta(hours=10)
    out = bundle.predict_progress(ships, events, now, coverage=0.8)
    # the calibrated 80% window's end is the P90 of the remaining time: a promise there leaves ~10% risk
    at_p90 = ships.assign(promised_at=out["window_end"])
    p = bundle.predict_progress(at_p90, events, now, coverage=0.8)["p_late"].iloc[0]
    assert p == pytest.approx(0.1, abs=0.01)


def test_without_a_promise_there_is_no_risk_in_flight(bundle) -> None:
    ships, events = in_flight(1, promise_hours=60)
    ships["promised_at"] = pd.NaT
    out = bundle.predict_progress(ships, events, ships["created_at"].iloc[0] + pd.Timedelta(hours=5))
    assert np.isnan(out["p_late"].iloc[0])
