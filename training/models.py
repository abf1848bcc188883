"""Fit the bundle: LightGBM quantiles conformalised on a later window, and a calibrated late-risk model."""

from __future__ import annotations

from dataclasses import asdict

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from features.build import FeatureBuilder, transit_hours, utc_day
from features.bundle import ConformalOffsets, ModelBundle, reference_hours, segment_keys
from features.conformal import COVERAGE_GRID, MIN_SEGMENT, age_weights
from features.fastpredict import threads
from features.progress import status_segments
from training.boosting import TrainConfig, fit_quantile_models, lgb_dataset, lgb_params, log_hours
from training.progress import fit_progress, handover_events, scan_gaps, snapshots

CHECK_COVERAGES = np.array([0.8, 0.9, 0.95])
HALF_LIFE_SPANS = (2.0, 1.0, 0.5, 0.25)  # candidate half-lives, as fractions of the calibration window
MIN_CHOICE_ROWS = 50  # calibration rows a choice made on them needs (the shrink, an in-flight ETA's source)
SHRINKS = np.round(np.linspace(1, 0, 11), 1)  # candidate shrinks toward the reference, none first
DEAD_ZONES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)  # candidate dead zones (log-ratio), none first
CHOICE_SNAPSHOTS = 3_000  # calibration-window snapshots in flight an in-flight ETA's source is chosen on


def fit_quantiles(
    X: pd.DataFrame,
    hours: np.ndarray,
    Xc: pd.DataFrame,
    calibrate: pd.DataFrame,
    has_promises: bool,
    config: TrainConfig,
) -> tuple[dict[float, lgb.Booster], bool]:
    """Transit quantiles as log-ratios to the reference, and whether that is the promise (see
    `choose_reference`; the P50 is fitted for each candidate, the P10 and P90 for the one chosen); some rows
    lose their promise, as at checkout. `Xc`, `calibrate`: the calibration window's features and shipments."""
    drop = np.random.default_rng(config.seed).random(len(X)) < config.promise_dropout

    def fit(promise: bool, quantiles: tuple[float, ...]) -> dict[float, lgb.Booster]:
        return fit_quantile_models(*quantile_design(X, hours, drop, promise), config, quantiles)

    medians = {promise: fit(promise, (0.5,))[0.5] for promise in references(has_promises)}
    promise = choose_reference(medians, Xc, calibrate)
    return {**fit(promise, (0.1, 0.9)), 0.5: medians[promise]}, promise


def references(has_promises: bool) -> tuple[bool, ...]:
    """The candidate references (`ModelBundle.promise_reference`): the promise and the history median where
    the training window has promises; without any, the history median is the reference either way."""
    return (True, False) if has_promises else (True,)


def choose_reference(medians: dict[bool, lgb.Booster], Xc: pd.DataFrame, calibrate: pd.DataFrame) -> bool:
    """Whether the quantile models learn ratios to the promise (True) or to the lane and carrier history
    median: the reference whose P50 model (`medians`, by reference), pulled toward it as `best_pull` would
    pull it, has the lower mean error on the calibration window. A promise whose meaning changed since the
    training window (a few hours after booking then, days now) is a poor reference; one usually kept to the
    day is the best there is. The promise where the window is too small to tell, or the two tie."""
    hours = transit_hours(calibrate)
    done = ~np.isnan(hours)
    if len(medians) == 1 or done.sum() < MIN_CHOICE_ROWS:
        return True
    errors = {}
    for promise, model in medians.items():
        log_ref = np.log(reference_hours(Xc[done], promise))
        departure = np.asarray(model.predict(Xc[done], num_threads=threads(int(done.sum()))), dtype=float)
        errors[promise] = best_pull(log_ref, departure, hours[done])[1]
    return errors[True] <= errors[False]


def quantile_design(
    X: pd.DataFrame, hours: np.ndarray, drop: np.ndarray, promise: bool
) -> tuple[pd.DataFrame, np.ndarray]:
    """The quantile models' rows and target: the promise removed where `drop`, the log-ratio of the transit
    hours to the reference that remains (the promise only if `promise`)."""
    X = X.copy()
    X.loc[drop, "promised_hours"] = np.nan
    return X, log_hours(hours) - np.log(reference_hours(X, promise))


def late_usable(X: pd.DataFrame, late: np.ndarray, needs_promise: bool) -> np.ndarray:
    """Rows the late-risk model learns from: a known outcome and, where the data have promises, a promise."""
    return ~np.isnan(late) & (~np.isnan(X["promised_hours"].to_numpy()) if needs_promise else True)


def fit_late(X: pd.DataFrame, late: np.ndarray, config: TrainConfig) -> lgb.Booster:
    return lgb.train(
        lgb_params(config, objective="binary"), lgb_dataset(X, late.astype(float)), config.num_boost_round
    )


def late_outcome(frame: pd.DataFrame) -> np.ndarray:
    """1.0 late, 0.0 on time, NaN unknown (in flight, or no promise)."""
    return frame["delivered_late"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def fit_bundle(
    train: pd.DataFrame,
    calibrate: pd.DataFrame,
    weather: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    config: TrainConfig | None = None,
    metadata: dict | None = None,
    later: pd.DataFrame | None = None,
) -> ModelBundle:
    """The models learn from `train`, are calibrated on `calibrate`, and the lane and carrier history also
    learns the outcomes of `calibrate` and of `later` (the test window), each from the day after it happened,
    so that every later shipment sees the history as of its own creation day."""
    config = config or TrainConfig()
    builder = FeatureBuilder(window_days=config.window_days)
    X = builder.fit_transform(train, weather)
    late = late_outcome(train)
    needs_promise = bool(train["promised_at"].notna().any())
    usable = late_usable(X, late, needs_promise)
    late_model = fit_late(X[usable], late[usable], config) if len(np.unique(late[usable])) == 2 else None
    builder.add_history(builder.daily_counts(calibrate if later is None else pd.concat([calibrate, later])))
    Xc = builder.transform(calibrate, weather)
    hours = transit_hours(train)
    done = ~np.isnan(hours)
    quantile_models, promise = None, True
    if done.sum() >= 100:
        quantile_models, promise = fit_quantiles(X[done], hours[done], Xc, calibrate, needs_promise, config)
    bundle = new_bundle(builder, quantile_models, late_model, needs_promise, config, metadata, promise)
    calibrate_bundle(bundle, Xc, calibrate)
    fit_in_transit(bundle, X, train, Xc, calibrate, events, config)
    return bundle


def new_bundle(
    builder: FeatureBuilder,
    quantile_models: dict[float, lgb.Booster] | None,
    late_model: lgb.Booster | None,
    late_needs_promise: bool,
    config: TrainConfig,
    metadata: dict | None,
    promise_reference: bool,
) -> ModelBundle:
    """A bundle of fitted models, not yet calibrated."""
    reference = "promise" if promise_reference else "history median"
    return ModelBundle(
        features=builder,
        quantile_models=quantile_models,
        conformal=None,
        late_model=late_model,
        late_calibration=None,
        late_needs_promise=late_needs_promise,
        progress_models=None,
        progress_conformal=None,
        metadata={"train_config": asdict(config), "quantile_reference": reference, **(metadata or {})},
        promise_reference=promise_reference,
    )


def calibrate_bundle(bundle: ModelBundle, Xc: pd.DataFrame, calibrate: pd.DataFrame) -> None:
    """Shrink, conformal windows and the late-risk map, on the calibration window (`Xc` its features)."""
    if bundle.quantile_models is not None:
        bundle.shrink, bundle.dead_zone = choose_shrink(bundle, Xc, calibrate)
        bundle.conformal = calibrate_windows(bundle, Xc, calibrate)
    if bundle.late_model is not None:
        needs_promise = bundle.late_needs_promise
        bundle.late_calibration = calibrate_late(
            bundle.late_model, Xc, late_outcome(calibrate), needs_promise
        )


def fit_in_transit(
    bundle: ModelBundle,
    X: pd.DataFrame,
    train: pd.DataFrame,
    Xc: pd.DataFrame,
    calibrate: pd.DataFrame,
    events: pd.DataFrame | None,
    config: TrainConfig,
) -> None:
    """The in-transit model and the stall limits (where there is a transit model): `X` the features of the
    `train` shipments as of their creation, `events` the scans of the train and calibrate shipments."""
    if bundle.quantile_models is None:
        return
    fitted = fit_progress(X, train, Xc, calibrate, events, config)
    if fitted is not None:
        bundle.progress_models, bundle.progress_conformal = fitted
        bundle.progress_from_creation = choose_progress_source(bundle, calibrate, events, config)
    bundle.stall_hours = scan_gaps(events, train)


def choose_progress_source(
    bundle: ModelBundle, calibrate: pd.DataFrame, events: pd.DataFrame | None, config: TrainConfig
) -> frozenset[str]:
    """The latest statuses whose in-flight ETA is better taken from the creation-time windows given that the
    shipment has not arrived yet than from the in-transit model: those where its P50 error is lower on the
    calibration window's in-flight snapshots (about CHOICE_SNAPSHOTS at most; at least MIN_CHOICE_ROWS of
    a status). Where a status tells the in-transit model nothing the creation-time model did not know (no
    scan at all, say), it usually is."""
    if len(calibrate) > CHOICE_SNAPSHOTS // 3:  # plenty for the choice, at a bounded cost
        calibrate = calibrate.sample(CHOICE_SNAPSHOTS // 3, random_state=config.seed).sort_index()
    cal = snapshots(calibrate, events, config.seed + 1)
    shipments = calibrate.iloc[cal["row"].to_numpy()].reset_index(drop=True)
    moments = cal["moment"].reset_index(drop=True)
    scans = events if events is not None else handover_events(calibrate)
    scans = scans[scans["shipment_id"].isin(calibrate["shipment_id"])]
    statuses = status_segments(cal)["status"]
    errors = {}
    for source, chosen in (("model", frozenset()), ("creation", frozenset(np.unique(statuses)))):
        bundle.progress_from_creation = chosen
        eta = bundle.predict_progress(shipments, scans, moments)["eta_p50"]
        errors[source] = (eta - shipments["delivered_at"]).dt.total_seconds().abs().to_numpy()
    return frozenset(
        str(status)
        for status in np.unique(statuses)
        if (statuses == status).sum() >= MIN_CHOICE_ROWS
        and errors["creation"][statuses == status].mean() < errors["model"][statuses == status].mean()
    )


def choose_shrink(bundle: ModelBundle, Xc: pd.DataFrame, calibrate: pd.DataFrame) -> tuple[float, float]:
    """How far toward the reference the model's departures from it are pulled (`shrink`, `dead_zone` of
    `ModelBundle.toward_reference`): the pair on a grid with the lowest P50 error on the calibration window.
    Where the reference is already good (a promise that is usually kept exactly) the model moves less; where
    only its large departures carry signal, the small ones are dropped."""
    hours = transit_hours(calibrate)
    done = ~np.isnan(hours)
    if done.sum() < MIN_CHOICE_ROWS:
        return 1.0, 0.0
    log_ref = np.log(reference_hours(Xc[done], bundle.promise_reference))
    bundle.shrink, bundle.dead_zone = 1.0, 0.0
    departure = bundle.predict_matrix(Xc[done])["log_q50"] - log_ref
    return best_pull(log_ref, departure, hours[done])[0]


def best_pull(
    log_ref: np.ndarray, departure: np.ndarray, hours: np.ndarray
) -> tuple[tuple[float, float], float]:
    """The (shrink, dead zone) on the grid whose P50s, exp(log_ref + pulled departure), are closest to `hours`
    on average (the first candidate, no pull, wins ties), and that mean error."""
    best, best_error = (1.0, 0.0), np.inf
    for dead_zone in DEAD_ZONES:
        beyond = np.sign(departure) * np.maximum(np.abs(departure) - dead_zone, 0.0)
        for shrink in SHRINKS:
            error = float(np.mean(np.abs(np.exp(log_ref + shrink * beyond) - hours)))
            if error < best_error:
                best, best_error = (float(shrink), dead_zone), error
    return best, best_error


def calibrate_windows(bundle: ModelBundle, Xc: pd.DataFrame, calibrate: pd.DataFrame) -> ConformalOffsets:
    """CQR scores on the calibration window: how far outside [P10, P90] each delivery fell (log hours),
    weighted by age with the half-life that `choose_half_life` picks on the window itself."""
    y = log_hours(transit_hours(calibrate))
    done = ~np.isnan(transit_hours(calibrate))
    raw = bundle.predict_matrix(Xc[done])
    scores = np.maximum(raw["log_q10"] - y[done], y[done] - raw["log_q90"])
    segments = {k: v[done] for k, v in segment_keys(calibrate).items()}
    days = utc_day(calibrate["created_at"])[done]
    half_life = choose_half_life(scores, days)
    bundle.metadata["conformal_half_life_days"] = half_life if np.isfinite(half_life) else None
    return ConformalOffsets.fit(scores, segments, age_weights(days, half_life))


def choose_half_life(scores: np.ndarray, days: np.ndarray) -> float:
    """The age half-life of the conformal weights, chosen inside the calibration window: offsets from its
    earlier half, weighted with each candidate, are checked on its later half at 80/90/95% coverage; the
    candidate closest to nominal wins, but a shorter half-life only when it is closer by more than the check's
    sampling error (so a steady window keeps equal weights). Candidates are fractions of the window's span."""
    known = ~np.isnan(days)
    if known.sum() < 2 * MIN_SEGMENT:
        return float("inf")
    order = np.argsort(days[known], kind="stable")
    s, d = scores[known][order], days[known][order]
    half = len(s) // 2
    span = max(float(d[-1] - d[0]), 1.0)
    levels = np.searchsorted(COVERAGE_GRID, CHECK_COVERAGES)
    noise = float(np.sqrt(0.8 * 0.2 / (len(s) - half)))  # standard error of an 80% coverage on the check half
    best, best_loss = float("inf"), np.inf
    for half_life in (float("inf"), *(f * span for f in HALF_LIFE_SPANS)):
        offsets = ConformalOffsets.grid(s[:half], age_weights(d[:half], half_life))[levels]
        covered = (s[half:, None] <= offsets[None, :]).mean(axis=0)
        loss = float(np.mean(np.abs(covered - CHECK_COVERAGES)))
        if loss < best_loss - (noise if np.isfinite(best_loss) else 0.0):
            best, best_loss = half_life, loss
    return best


def calibrate_late(
    model: lgb.Booster, Xc: pd.DataFrame, late: np.ndarray, needs_promise: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic map from the raw score to a probability, fitted on the calibration window."""
    known = ~np.isnan(late)
    if needs_promise:
        known &= ~np.isnan(Xc["promised_hours"].to_numpy())
    raw = model.predict(Xc[known], num_threads=threads(int(known.sum())))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, late[known])
    return np.asarray(iso.X_thresholds_, dtype=float), np.asarray(iso.y_thresholds_, dtype=float)
