import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import validate_shipments
from training.evaluation import evaluate, flatten_metrics, join_truth, window_profile, write_report
from training.evaluation.baselines import baseline_etas
from training.evaluation.metrics import day_accuracy, pinball_loss
from training.evaluation.segments import lane_volume_bucket
from training.evaluation.tradeoff import compare_at, frontier

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")
HOUR = pd.Timedelta(hours=1)


def make_shipments(transit_hours: list[float], prefix: str = "s", **overrides: object) -> pd.DataFrame:
    """Contract-typed shipments created at T0, delivered after `transit_hours`, promised after 72 h."""
    n = len(transit_hours)
    base: dict[str, object] = {
        "shipment_id": [f"{prefix}{i}" for i in range(n)],
        "carrier": "dhl",
        "service": "express",
        "origin_country": "DE",
        "destination_country": "FR",
        "origin_region": "BE",
        "destination_region": "IDF",
        "created_at": T0,
        "promised_at": T0 + 72 * HOUR,
        "delivered_at": [T0 + h * HOUR for h in transit_hours],
    }
    base.update(overrides)
    return validate_shipments(pd.DataFrame(base)).valid


def make_predictions(
    test: pd.DataFrame, error_hours: list[float], half_width_hours: float = 12.0, **overrides: object
) -> pd.DataFrame:
    """Predictions whose eta_p50 misses each delivery by `error_hours`, with a symmetric window."""
    expected = test["delivered_at"].fillna(test["created_at"] + 48 * HOUR)
    eta = expected + pd.Series(error_hours, index=test.index) * HOUR
    base: dict[str, object] = {
        "shipment_id": test["shipment_id"],
        "eta_p50": eta,
        "eta_p10": eta - half_width_hours * HOUR,
        "eta_p90": eta + half_width_hours * HOUR,
        "window_start": eta - half_width_hours * HOUR,
        "window_end": eta + half_width_hours * HOUR,
        "coverage": 0.8,
        "p_late": 0.3,
        "prediction_source": "model",
    }
    base.update(overrides)
    return pd.DataFrame(base)


def make_train(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return make_shipments(list(rng.uniform(30, 90, n)), prefix="t")


@pytest.fixture
def tiny() -> dict:
    """Four deliveries after 48 h; eta errors +2, -10, +20, 0 h; two promises missed."""
    test = make_shipments([48, 48, 48, 48], promised_at=[T0 + h * HOUR for h in (72, 24, 24, 72)])
    predictions = make_predictions(test, [2, -10, 20, 0], p_late=[0.2, 0.8, 0.5, 0.0])
    return evaluate(test, predictions, make_train(), coverage=0.8, min_segment_size=1)


def test_point_metrics_equal_hand_computed_values(tiny: dict) -> None:
    model = tiny["overall"]["model"]
    assert model["n"] == 4
    assert model["mae_hours"] == pytest.approx(8.0)
    assert model["mae_days"] == pytest.approx(8.0 / 24)
    assert model["rmse_hours"] == pytest.approx(math.sqrt((4 + 100 + 400) / 4))
    assert model["bias_hours"] == pytest.approx(3.0)


def test_pinball_coverage_and_width_equal_hand_computed_values(tiny: dict) -> None:
    model = tiny["overall"]["model"]
    assert model["pinball_p50"] == pytest.approx(8.0 / 2)
    assert model["coverage"] == pytest.approx(0.75)  # the +20 h miss falls outside +-12 h
    assert model["width_hours"] == pytest.approx(24.0)
    assert pinball_loss(np.array([10.0, -10.0]), 0.9) == pytest.approx((9.0 + 1.0) / 2)


def test_day_accuracy_compares_utc_dates(tiny: dict) -> None:
    # delivered 08:00; -10 h is the previous date, +20 h the next one
    assert tiny["overall"]["model"]["exact_day_accuracy"] == pytest.approx(0.5)
    assert tiny["overall"]["model"]["within_1_day_accuracy"] == pytest.approx(1.0)


def test_day_accuracy_uses_local_dates_when_given_local_timestamps() -> None:
    predicted = pd.Series([pd.Timestamp("2024-03-01 23:30", tz="UTC")])
    actual = pd.Series([pd.Timestamp("2024-03-02 00:30", tz="UTC")])
    assert day_accuracy(predicted, actual)["exact_day_accuracy"] == 0.0
    berlin = day_accuracy(predicted.dt.tz_convert("Europe/Berlin"), actual.dt.tz_convert("Europe/Berlin"))
    assert berlin["exact_day_accuracy"] == 1.0


def test_late_risk_equals_hand_computed_brier_with_base_rate_beside(tiny: dict) -> None:
    late = tiny["late_risk"]
    assert late["n"] == 4 and late["base_rate"] == pytest.approx(0.5)
    assert late["brier"] == pytest.approx((0.04 + 0.04 + 0.25 + 0.0) / 4)
    assert late["brier_base_rate"] == pytest.approx(0.25)
    assert late["roc_auc"] == pytest.approx(1.0)
    assert sum(b["count"] for b in late["reliability"]) == 4 and len(late["reliability"]) == 10


def test_a_perfect_model_beats_every_baseline() -> None:
    test = make_shipments([30, 45, 60, 75, 90, 52])
    metrics = evaluate(test, make_predictions(test, [0] * 6), make_train(), coverage=0.8)
    model = metrics["overall"]["model"]
    assert model["mae_hours"] == 0.0 and model["exact_day_accuracy"] == 1.0
    for name, baseline in metrics["overall"]["baselines"].items():
        assert baseline["mae_hours"] > 0.0, name


def test_a_window_that_always_contains_the_truth_has_coverage_one() -> None:
    test = make_shipments([30, 45, 60, 75])
    predictions = make_predictions(test, [5, -7, 0, 3], half_width_hours=1000)
    assert evaluate(test, predictions, make_train(), coverage=0.9)["overall"]["model"]["coverage"] == 1.0


def test_median_baselines_fall_back_to_carrier_then_global_when_unseen() -> None:
    train = make_shipments(
        [10, 20, 40, 100],
        prefix="t",
        carrier=["dhl", "dhl", "dhl", "ups"],
        destination_region=["A", "A", "B", "C"],
    )
    test = make_shipments([0, 0, 0], carrier=["dhl", "dhl", "fedex"], destination_region=["A", "D", "E"])
    etas, fallbacks = baseline_etas(join_truth(test, test[["shipment_id"]]), train)
    hours = (etas["lane_median"] - T0) / HOUR
    assert list(hours) == [15.0, 20.0, 30.0]  # lane A, then dhl's median, then the global median
    assert fallbacks["lane_median"] == {"lane": 1, "carrier": 1, "global": 1, "none": 0}
    assert fallbacks["carrier_median"] == {"carrier_service": 2, "carrier": 0, "global": 1, "none": 0}


def make_outcome_only(late: list[bool], prefix: str = "o") -> pd.DataFrame:
    return make_shipments(
        [0] * len(late),
        prefix=prefix,
        created_at=None,
        promised_at=None,
        delivered_at=None,
        delivered_late=late,
    )


def test_outcome_only_data_give_late_risk_metrics_and_no_transit_metrics(tmp_path: Path) -> None:
    test = make_outcome_only([True, False, True, False])
    predictions = pd.DataFrame({"shipment_id": test["shipment_id"], "p_late": [0.9, 0.2, 0.6, 0.4]})
    metrics = evaluate(test, predictions, make_outcome_only([True, False], prefix="t"), coverage=0.8)
    assert metrics["transit_available"] is False
    assert metrics["overall"]["model"]["mae_hours"] is None
    assert metrics["overall"]["model"]["coverage"] is None
    assert metrics["overall"]["baselines"]["lane_median"]["mae_hours"] is None
    assert metrics["baseline_fallbacks"]["lane_median"]["none"] == 4
    assert metrics["late_risk"]["roc_auc"] == pytest.approx(1.0)
    assert "test_mae_hours" not in flatten_metrics(metrics)
    assert "late_brier" in flatten_metrics(metrics)
    names = {p.name for p in write_report(metrics, join_truth(test, predictions), tmp_path)}
    assert names == {"metrics.json", "report.md", "reliability.png"}


def test_a_single_late_class_gives_no_auc_and_no_warning() -> None:
    test = make_shipments([30, 40, 50])  # all on time
    late = evaluate(test, make_predictions(test, [0, 0, 0]), make_train(), coverage=0.8)["late_risk"]
    assert late["roc_auc"] is None and late["pr_auc"] is None
    assert late["brier"] == pytest.approx(0.09)


def test_segments_below_the_minimum_are_skipped_and_counted() -> None:
    test = make_shipments([48] * 35, carrier=["dhl"] * 30 + ["ups"] * 5)
    metrics = evaluate(test, make_predictions(test, [1] * 35), make_train(), coverage=0.8)
    assert list(metrics["segments"]["carrier"]) == ["dhl"]
    assert metrics["segments"]["carrier"]["dhl"]["model"]["n"] == 30
    assert metrics["segments_skipped"]["carrier"] == {"segments": 1, "shipments": 5}
    assert metrics["segments"]["lane_volume"]["10-100"]["n"] == 35  # 60 training shipments on the lane


def test_coverage_is_broken_down_by_month_of_creation() -> None:
    created = [T0] * 30 + [T0 + pd.Timedelta(days=31)] * 40
    test = make_shipments(
        [48] * 70,
        created_at=created,
        promised_at=[c + 72 * HOUR for c in created],
        delivered_at=[c + 48 * HOUR for c in created],
    )
    inside, outside = [1] * 30, [30] * 40  # the April windows miss by more than their half width
    month = evaluate(test, make_predictions(test, inside + outside), make_train(), coverage=0.8)["segments"][
        "month"
    ]
    assert {k: (v["n"], v["model"]["coverage"]) for k, v in month.items()} == {
        "2024-03": (30, 1.0),
        "2024-04": (40, 0.0),
    }


def test_a_window_profile_sets_the_training_and_calibration_windows_beside_the_test_window() -> None:
    shipments = make_shipments(
        [72, 24, 96, 48], delivered_at=[T0 + h * HOUR for h in (72, 24, 96)] + [pd.NaT]
    )
    shipments.loc[3, "promised_at"] = T0 + 12 * HOUR
    profile = window_profile(shipments, [0.5, 0.1, 0.9, 0.3])
    assert profile == {
        "n": 4,
        "delivered_share": 0.75,
        "median_transit_hours": 72.0,
        "median_promised_hours": 72.0,  # of 72, 72, 72 and 12 h
        "late_rate": pytest.approx(1 / 3),
        "share_at_promise": pytest.approx(1 / 3),  # delivered at the very promised moment
        "late_roc_auc": 1.0,  # the late one has the highest score; the undelivered one has no outcome
    }
    unscored = window_profile(shipments.assign(promised_at=pd.NaT), None)  # the training window: not scored
    assert unscored["late_roc_auc"] is None and unscored["median_promised_hours"] is None


def test_lane_volume_buckets() -> None:
    labels = [lane_volume_bucket(n) for n in (0, 1, 9, 10, 100, 101)]
    assert labels == ["unseen", "rare <10", "rare <10", "10-100", "10-100", ">100"]


def test_missing_predictions_undelivered_and_abstentions_are_counted_and_json_safe() -> None:
    test = make_shipments(
        [30, 40, 50, 60], delivered_at=[T0 + 30 * HOUR, None, T0 + 50 * HOUR, T0 + 60 * HOUR]
    )
    predictions = make_predictions(test, [0, 0, 0, 0], p_late=[0.1, np.nan, 0.2, 0.3]).iloc[:3]
    predictions.loc[2, ["eta_p50", "window_start", "window_end"]] = pd.NaT
    metrics = evaluate(test, predictions, make_train(), coverage=0.8, min_segment_size=1)
    counts = metrics["counts"]
    assert (counts["n_without_prediction"], counts["n_undelivered"], counts["n_abstained"]) == (1, 1, 1)
    assert metrics["overall"]["model"]["n"] == 1
    assert set(metrics["segments"]["prediction_source"]) == {"model", "missing"}
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics


def test_flatten_metrics_gives_float_headlines_under_mlflow_keys(tiny: dict) -> None:
    flat = flatten_metrics(tiny)
    for key in (
        "test_mae_hours",
        "test_coverage",
        "test_width_hours",
        "test_pinball_p50",
        "exact_day_accuracy",
    ):
        assert key in flat
    for key in ("baseline_promise_mae_hours", "baseline_lane_median_mae_hours", "late_roc_auc", "late_brier"):
        assert key in flat
    assert all(isinstance(v, float) for v in flat.values())
    assert flat["test_mae_hours"] == tiny["overall"]["model"]["mae_hours"]


def test_write_report_writes_the_files_and_links_the_plots(tmp_path: Path) -> None:
    test = make_shipments(list(np.linspace(30, 90, 40)))
    predictions = make_predictions(test, list(np.linspace(-10, 10, 40)), p_late=np.linspace(0, 1, 40))
    metrics = evaluate(test, predictions, make_train(), coverage=0.8)
    paths = write_report(metrics, join_truth(test, predictions), tmp_path / "out")
    plots = ["reliability.png", "coverage_by_segment.png", "residuals.png", "tradeoff.png"]
    assert {p.name for p in paths} == {"metrics.json", "report.md", *plots}
    assert all(p.stat().st_size > 0 for p in paths)
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert all(f"]({name})" in report for name in plots)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8")) == metrics


def test_tradeoff_interpolates_the_model_curve_at_the_dataset_promise() -> None:
    points = [
        {"mean_promised_hours": 10.0, "on_time_rate": 0.5},
        {"mean_promised_hours": 15.0, "on_time_rate": 0.4},  # dominated: dropped from the frontier
        {"mean_promised_hours": 30.0, "on_time_rate": 1.0},
    ]
    assert [list(a) for a in frontier(points)] == [[10.0, 30.0], [0.5, 1.0]]
    result = compare_at(points, {"mean_promised_hours": 20.0, "on_time_rate": 0.6})
    assert result["on_time_rate_at_equal_hours"] == pytest.approx(0.75)
    assert result["on_time_rate_gain"] == pytest.approx(0.15)
    assert result["promised_hours_saved_at_equal_on_time"] == pytest.approx(20.0 - 14.0)
    longer = compare_at(points, {"mean_promised_hours": 40.0, "on_time_rate": 0.3})
    assert longer["on_time_rate_at_equal_hours"] == 1.0  # longer promises keep at least the last rate
    assert longer["promised_hours_saved_at_equal_on_time"] == pytest.approx(40.0 - 10.0)  # a lower bound
    shorter = compare_at(points, {"mean_promised_hours": 5.0, "on_time_rate": 1.0})
    assert shorter["on_time_rate_at_equal_hours"] is None
    assert shorter["promised_hours_saved_at_equal_on_time"] == pytest.approx(5.0 - 30.0)


def test_tradeoff_reports_the_dataset_promise_and_model_policies() -> None:
    test = make_shipments(list(np.linspace(30, 90, 40)))
    metrics = evaluate(test, make_predictions(test, [0] * 40), make_train(), coverage=0.8)
    tradeoff = metrics["tradeoff"]
    assert tradeoff["dataset_promise"]["mean_promised_hours"] == pytest.approx(72.0)
    assert tradeoff["dataset_promise"]["on_time_rate"] == pytest.approx(
        np.mean(np.linspace(30, 90, 40) <= 72)
    )
    policies = [p["policy"] for p in tradeoff["model"]["points"]]
    assert policies == ["eta_p50", "eta_p90", "window_end"]
    # a perfect point estimate keeps every promise with promises of 60 h on average instead of 72 h
    assert tradeoff["model"]["on_time_rate_at_equal_hours"] == 1.0
    assert tradeoff["model"]["promised_hours_saved_at_equal_on_time"] == pytest.approx(72.0 - 60.0)


def test_repeated_prediction_rows_are_refused() -> None:
    test = make_shipments([48, 48])
    predictions = make_predictions(test, [0, 0])
    with pytest.raises(ValueError, match="repeat 1 shipment_id"):
        evaluate(test, pd.concat([predictions, predictions.iloc[:1]]), make_train(), coverage=0.8)
