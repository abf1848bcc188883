import copy

import numpy as np
import pandas as pd
import pytest

from features.bundle import ModelBundle, survived
from features.columns import shipment_columns
from features.contract import validate_shipments
from tests.factories import make_shipments
from training.models import TrainConfig, best_pull, choose_half_life, fit_bundle
from training.pipeline import evaluate_progress
from training.progress import handover_events
from training.split import time_split

FAST = TrainConfig(num_boost_round=60)


@pytest.fixture(scope="module")
def fitted() -> tuple[ModelBundle, pd.DataFrame]:
    split = time_split(make_shipments(12_000, seed=4, days=300))
    return fit_bundle(split.train, split.calibrate, config=FAST), split.test


def covered(pred: pd.DataFrame, test: pd.DataFrame) -> float:
    y = test["delivered_at"].to_numpy()
    return float(((pred["window_start"].to_numpy() <= y) & (y <= pred["window_end"].to_numpy())).mean())


def test_time_split_puts_the_latest_shipments_in_the_test_window() -> None:
    split = time_split(make_shipments(1000))
    assert split.train["created_at"].max() < split.calibrate["created_at"].min()
    assert split.calibrate["created_at"].max() < split.test["created_at"].min()
    assert len(split.test) == pytest.approx(150, abs=2)


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.95])
def test_conformal_windows_hold_their_stated_coverage_on_a_later_window(fitted, coverage: float) -> None:
    bundle, test = fitted
    assert covered(bundle.predict(test, coverage=coverage), test) == pytest.approx(coverage, abs=0.035)


def test_quantiles_never_cross_and_wider_coverage_gives_wider_windows(fitted) -> None:
    bundle, test = fitted
    p80, p95 = bundle.predict(test, coverage=0.8), bundle.predict(test, coverage=0.95)
    assert (p80["eta_p10"] <= p80["eta_p50"]).all() and (p80["eta_p50"] <= p80["eta_p90"]).all()
    assert (p95["window_end"] >= p80["window_end"]).all() and (
        p95["window_start"] <= p80["window_start"]
    ).all()


def test_the_model_learns_the_directions_in_the_data(fitted) -> None:
    bundle, _ = fitted
    base = make_shipments(2, seed=9, carrier="mid", service="standard", destination_country="DE")
    variants = {
        "gb": base.assign(destination_country="GB"),
        "express": base.assign(service="express"),
        "slow": base.assign(carrier="slow"),
    }
    p50 = {k: bundle.predict(v)["eta_p50"] - v["created_at"] for k, v in {"base": base, **variants}.items()}
    assert (p50["gb"] > p50["base"]).all() and (p50["slow"] > p50["base"]).all()
    assert (p50["express"] < p50["base"]).all()


def test_late_risk_is_calibrated_and_ranks_shipments(fitted) -> None:
    bundle, test = fitted
    p = bundle.predict(test)["p_late"].to_numpy()
    late = test["delivered_late"].to_numpy(dtype=float)
    assert abs(p.mean() - late.mean()) < 0.04
    assert p[late == 1].mean() > p[late == 0].mean() + 0.2


def test_an_unknown_carrier_is_still_answered_by_the_model(fitted) -> None:
    bundle, test = fitted
    pred = bundle.predict(test.assign(carrier="brand-new"))
    assert (pred["prediction_source"] == "model").all()
    assert ((pred["window_start"] < pred["eta_p50"]) & (pred["eta_p50"] < pred["window_end"])).all()


def test_too_little_delivered_history_falls_back_to_lane_quantiles_or_abstains() -> None:
    history = make_shipments(600, seed=6, days=60, origin_region="BE", destination_region="A")
    history.loc[history.index[::8], "delivered_at"] = pd.NaT  # keep under 100 delivered in training
    split = time_split(history.iloc[:130])
    bundle = fit_bundle(split.train, split.calibrate, config=FAST)
    assert bundle.quantile_models is None
    new = pd.concat(
        [
            split.test.head(1),
            split.test.head(1).assign(shipment_id="x", destination_region="Z", carrier="nobody"),
        ]
    )
    pred = bundle.predict(new)
    assert list(pred["prediction_source"]) == ["fallback", "fallback"]
    assert pd.notna(pred.loc[0, "eta_p50"]) and pd.isna(pred.loc[1, "eta_p50"])


def test_the_bundle_round_trips_through_a_file(fitted, tmp_path) -> None:
    bundle, test = fitted
    loaded = ModelBundle.load(bundle.save(tmp_path))
    pd.testing.assert_frame_equal(loaded.predict(test), bundle.predict(test))


def test_outcome_only_data_train_a_late_risk_model_without_transit_times() -> None:
    frame = make_shipments(3000, seed=5)
    late = (frame["destination_country"] == "GB").to_numpy() ^ (np.arange(len(frame)) % 10 == 0)
    outcome = validate_shipments(
        frame.drop(columns=["created_at", "promised_at", "delivered_at"]).assign(delivered_late=late)
    ).valid
    split = time_split(outcome)
    assert not split.by_time
    bundle = fit_bundle(split.train, split.calibrate, config=FAST)
    pred = bundle.predict(split.test)
    assert bundle.quantile_models is None and pred["eta_p50"].isna().all()
    gb = (split.test["destination_country"] == "GB").to_numpy()
    assert pred["p_late"][gb].mean() > 0.8 > 0.2 > pred["p_late"][~gb].mean()


def test_the_probability_of_arriving_within_a_time_matches_the_observed_share(fitted) -> None:
    bundle, test = fitted
    hours = ((test["delivered_at"] - test["created_at"]).dt.total_seconds() / 3600).to_numpy()
    for limit in (36.0, 60.0, 90.0):
        p = bundle.probability_within(test, np.full(len(test), limit))
        assert p.mean() == pytest.approx((hours <= limit).mean(), abs=0.05)


def test_stall_limits_come_from_past_scan_gaps_per_status() -> None:
    from training.progress import scan_gaps

    t0 = pd.Timestamp("2024-01-01T00:00:00Z")
    events = pd.DataFrame(
        {
            "shipment_id": ["a"] * 3 + ["b"] * 3,
            "occurred_at": [t0, t0 + pd.Timedelta(hours=2), t0 + pd.Timedelta(hours=50)] * 2,
            "status": ["picked_up", "in_transit", "delivered"] * 2,
        }
    )
    gaps = scan_gaps(events, make_shipments(2))
    assert gaps["picked_up"] == pytest.approx(2.0) and gaps["in_transit"] == pytest.approx(48.0)
    bundle = fit_bundle(*_small_split(), config=FAST)
    bundle.stall_hours = gaps
    assert bundle.is_stalled("in_transit", 49.0) and not bundle.is_stalled("in_transit", 47.0)
    assert bundle.is_stalled("picked_up", 3.0)


def _small_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    split = time_split(make_shipments(1500, seed=8))
    return split.train, split.calibrate


def request_values(row: pd.Series) -> dict[str, list]:
    return {col: [None if pd.isna(value) else value] for col, value in row.items()}


def test_one_shipment_as_plain_columns_gets_the_frame_prediction(fitted) -> None:
    bundle, test = fitted
    test = test.head(30)
    offline = bundle.predict(test, coverage=0.9)
    for i in range(len(test)):
        single = bundle.predict_columns(shipment_columns(request_values(test.iloc[i]), 1), coverage=0.9)
        for col in offline.columns:
            expected = offline[col].to_numpy()[i]
            got = single[col][0]
            if col in ("eta_p50", "window_start", "window_end", "eta_p10", "eta_p90"):
                got = pd.Timestamp(got, tz="UTC")
            assert got == expected or (pd.isna(got) and pd.isna(expected)), col


def test_models_predict_the_same_from_the_matrix_as_from_the_frame(fitted) -> None:
    bundle, test = fitted
    frame = bundle.features.transform(test)
    matrix = bundle.features.matrix(test)
    for model in [*bundle.quantile_models.values(), bundle.late_model]:
        expected = model.predict(frame, num_threads=1)  # how the models saw their training data
        np.testing.assert_array_equal(model.predict(matrix, num_threads=1), expected)
    one = bundle.predict_matrix(matrix[:1])  # the single-row fast path
    for key, values in bundle.predict_matrix(frame).items():
        assert one[key][0] == values[0]


def test_the_bundle_pickles_after_single_row_predictions(fitted, tmp_path) -> None:
    bundle, test = fitted
    first = bundle.predict(test.head(1))
    loaded = ModelBundle.load(bundle.save(tmp_path))
    pd.testing.assert_frame_equal(loaded.predict(test.head(1)), first)


def test_a_same_day_promise_kept_in_day_precision_data_is_inside_its_window_from_creation() -> None:
    history = make_shipments(4000, seed=11, days=300)
    for col in ("created_at", "promised_at", "delivered_at"):
        history[col] = history[col].dt.floor("D")
    same_day = np.arange(len(history)) % 5 == 0  # a counter service: promised and handed over the same day
    history.loc[same_day, "service"] = "counter"
    history.loc[same_day, ["promised_at", "delivered_at"]] = history.loc[same_day, "created_at"]
    split = time_split(history)
    bundle = fit_bundle(split.train, split.calibrate, config=FAST)
    counter = split.test[split.test["service"] == "counter"]
    pred = bundle.predict(counter)
    created = counter["created_at"].reset_index(drop=True)
    assert len(pred) > 100
    assert (pred["window_start"] == created).all() and (pred["window_end"] >= created).all()
    assert (pred["eta_p50"] - created <= pd.Timedelta(minutes=2)).all()  # the log-hours floor is a minute


def test_the_half_life_is_chosen_short_under_a_trend_and_infinite_without() -> None:
    days = np.repeat(np.arange(400, dtype=float), 3)
    for seed in range(3):
        noise = np.abs(np.random.default_rng(seed).normal(size=len(days)))
        assert choose_half_life(noise * (1 + days / 100), days) < 400
        assert choose_half_life(noise, days) == np.inf


def test_the_p50_keeps_the_models_large_departures_from_the_reference_and_drops_its_small_ones() -> None:
    """A promise kept exactly, except on a tenth of shipments that take e (2.7) times as long: the model
    sees those, with noise everywhere. Dropping departures under a dead zone keeps the signal and removes the
    noise, which no single shrink of every departure can."""
    rng = np.random.default_rng(3)
    n = 4000
    log_ref = np.log(rng.uniform(24, 240, n))
    delayed = rng.random(n) < 0.1
    hours = np.exp(log_ref + delayed)
    departure = delayed + rng.normal(0, 0.2, n)
    (shrink, dead_zone), _ = best_pull(log_ref, departure, hours)
    assert dead_zone >= 0.3 and shrink > 0.5

    def error(s: float, z: float) -> float:
        pulled = s * np.sign(departure) * np.maximum(np.abs(departure) - z, 0.0)
        return float(np.mean(np.abs(np.exp(log_ref + pulled) - hours)))

    assert error(shrink, dead_zone) < 0.5 * min(error(s, 0.0) for s in np.linspace(0, 1, 11))
    bundle = ModelBundle(*([None] * 5), False, None, None, {}, shrink=shrink, dead_zone=dead_zone)
    ratios = np.sort(rng.normal(0, 1, (500, 3)), axis=1)
    pulled = bundle.toward_reference(ratios)
    assert (np.diff(pulled, axis=1) >= 0).all()  # quantiles in order stay in order
    assert (pulled[np.abs(ratios) <= dead_zone] == 0).all()
    assert best_pull(log_ref, np.zeros(n), np.exp(log_ref))[0] == (1.0, 0.0)  # nothing to gain: no pull


def test_the_quantiles_learn_ratios_to_the_promise_only_where_it_predicts_well_on_calibration() -> None:
    """A promise that changed meaning after the training window (a few hours after booking then, 100 h
    since, neither one related to the transit time) is a poor reference: the models learn ratios to the lane
    and carrier history median instead, and beat the promise. A promise kept to within a few percent stays
    the reference."""
    history = make_shipments(3000, seed=11)
    split = time_split(history)
    rng = np.random.default_rng(11)
    hours = rng.uniform(2, 10, len(split.train))
    split.train["promised_at"] = split.train["created_at"] + pd.to_timedelta(hours, unit="h")
    for later in (split.calibrate, split.test):
        later["promised_at"] = later["created_at"] + pd.Timedelta(hours=100)
    windows = [
        validate_shipments(w.assign(delivered_late=pd.NA)).valid  # late: recomputed from the new promise
        for w in (split.train, split.calibrate, split.test)
    ]
    changed = fit_bundle(*windows[:2], config=FAST, later=windows[2])
    assert not changed.promise_reference and changed.metadata["quantile_reference"] == "history median"
    test = windows[2].reset_index(drop=True)

    def hours(moments: pd.Series) -> np.ndarray:
        return ((moments - test["created_at"]).dt.total_seconds() / 3600).to_numpy()

    truth, promised = hours(test["delivered_at"]), hours(test["promised_at"])
    p50 = hours(changed.predict(test)["eta_p50"])
    assert np.abs(p50 - truth).mean() < 0.5 * np.abs(promised - truth).mean()

    kept = history.assign(
        promised_at=history["created_at"] + (history["delivered_at"] - history["created_at"]) * 1.03,
        delivered_late=pd.NA,
    )
    split = time_split(validate_shipments(kept).valid)
    bundle = fit_bundle(split.train, split.calibrate, config=FAST, later=split.test)
    assert bundle.promise_reference and bundle.metadata["quantile_reference"] == "promise"


def test_the_transit_time_given_no_arrival_yet_is_the_distribution_cut_at_the_elapsed_time() -> None:
    ps = np.linspace(0.0, 1.0, 11)  # ten equal steps: hours 10, 20, ... 110, interpolated on the log scale
    xs = np.log(np.linspace(10.0, 110.0, 11))[None, :].repeat(4, axis=0)
    elapsed = np.array([1.0, 60.0, 60.0, 500.0])
    logs, late = survived(xs, ps, elapsed, np.array([0.0, 0.5, 1.0]), np.array([np.nan, 100.0, 50.0, 200.0]))
    hours = np.exp(logs)
    np.testing.assert_allclose(hours[0], [10.0, 60.0, 110.0])  # nothing ruled out yet
    np.testing.assert_allclose(hours[1], [60.0, np.sqrt(80 * 90), 110.0])  # the median of the other half
    np.testing.assert_allclose(hours[3], [500.0] * 3)  # past every point: due at once
    assert np.isnan(late[0]) and late[1] == pytest.approx(0.1 / 0.5) and late[2] == late[3] == 1.0


def test_in_flight_etas_come_from_the_creation_windows_where_those_predict_better() -> None:
    frame = make_shipments(3000, seed=8, days=200)
    promise = np.random.default_rng(8).uniform(24, 240, len(frame)).round(2)  # whole seconds
    frame["promised_at"] = frame["created_at"] + pd.to_timedelta(promise, unit="h")
    frame["delivered_at"] = frame["promised_at"]  # every promise kept: no scan tells more than the promise
    split = time_split(frame)
    bundle = fit_bundle(split.train, split.calibrate, config=TrainConfig(num_boost_round=40))
    assert bundle.progress_from_creation == {"-1"}  # no scan yet
    chosen = evaluate_progress(bundle, split.test, None, 0.8, None)
    test = split.test.head(20)
    moments = test["created_at"].reset_index(drop=True)
    at_creation = bundle.predict_progress(test, handover_events(test), moments)
    columns = ["eta_p50", "window_start", "window_end"]
    pd.testing.assert_frame_equal(at_creation[columns], bundle.predict(test)[columns])  # nothing ruled out
    promised = ((test["promised_at"] - test["created_at"]).dt.total_seconds() / 3600).to_numpy()
    within = bundle.probability_within(test, promised)
    np.testing.assert_allclose(at_creation["p_late"], 1 - within, atol=1e-9)
    bundle.progress_from_creation = frozenset()
    model = evaluate_progress(bundle, split.test, None, 0.8, None)
    assert chosen["mae_hours"] < 0.01 < 1.0 < model["mae_hours"] and chosen["coverage"] > 0.9


def test_a_bundle_saved_before_the_history_was_kept_by_day_is_refused_with_a_reason(fitted, tmp_path) -> None:
    bundle, _ = fitted
    old = copy.deepcopy(bundle)
    del old.features.daily_  # what a bundle saved by an earlier version lacks
    with pytest.raises(TypeError, match="retrain"):
        ModelBundle.load(old.save(tmp_path))
