"""The fitted model bundle: feature state, models, conformal calibration and metadata.

Training builds and fits it; `python -m training predict` calls `predict` (a frame of shipments), a
checkout quote calls `predict_columns` (the request's plain columns), and `predict` is `predict_columns` in
a frame: the HTTP answer and the offline prediction come from this one code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import FeatureBuilder
from features.columns import Columns, as_columns, n_rows
from features.conformal import COVERAGE_GRID, AdaptiveCoverage, ConformalOffsets
from features.dates import DeliveryCalendar
from features.fastpredict import OneThreadPredictor, threads
from features.localtime import add_hours, hours_between
from features.progress import progress, status_segments

__all__ = [
    "COVERAGE_GRID", "AdaptiveCoverage", "ConformalOffsets", "ModelBundle", "reference_hours", "segment_keys",
]  # fmt: skip

QUANTILES = (0.1, 0.5, 0.9)
DEFAULT_COVERAGE = 0.8
BUNDLE_FILE = "bundle.joblib"
STAMPS = ("eta_p50", "window_start", "window_end", "eta_p10", "eta_p90")
FLOOR_HOURS = 1 / 60  # a minute: transit times are learned on log(max(hours, a minute))
LOG_FLOOR = float(np.log(FLOOR_HOURS))


def _reference(promised: np.ndarray, history: np.ndarray, promise: bool) -> np.ndarray:
    if not promise:
        return history
    return np.where(np.isnan(promised), history, np.maximum(promised, FLOOR_HOURS))


def hours_from_log(log_hours: np.ndarray) -> np.ndarray:
    """Hours from log-hours; at or below the floor means "within a minute", which is no time at all (a
    same-day delivery in day-precision data is 0 hours, and a window must be able to start at creation)."""
    return np.where(log_hours <= LOG_FLOOR, 0.0, np.exp(log_hours))


def _distribution(
    log_lo: np.ndarray, log_mid: np.ndarray, log_hi: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the distribution function of log hours as points (rows x points) and their probabilities:
    the raw log-hour quantiles with their conformal offsets at every coverage on the grid (rows x grid), the
    window ends at coverage c being the (1 ± c)/2 quantiles, in a monotone rearrangement."""
    xs = np.hstack([log_lo[:, None] - offsets, log_mid[:, None], log_hi[:, None] + offsets])
    ps = np.concatenate([(1 - COVERAGE_GRID) / 2, [0.5], (1 + COVERAGE_GRID) / 2])
    return np.sort(xs, axis=1), np.sort(ps)  # monotone rearrangement keeps it a distribution function


def _probability_within(
    log_lo: np.ndarray, log_mid: np.ndarray, log_hi: np.ndarray, offsets: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """P(duration <= hours) per row (see `_distribution`)."""
    xs, ps = _distribution(log_lo, log_mid, log_hi, offsets)
    return _row_cdf(xs, ps, np.log(np.maximum(hours, 1e-6)))


def survived(
    xs: np.ndarray, ps: np.ndarray, elapsed_hours: np.ndarray, probs: np.ndarray, promised_hours: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The transit time given that it has already lasted `elapsed_hours` (per row, a `_distribution`): its
    quantiles at `probs` in log hours (rows x probs; never before the elapsed time) and the probability that
    it runs past `promised_hours` (NaN without a promise; 1 once the promise has passed). Before the lowest
    point of the distribution nothing is ruled out yet; past the highest, the delivery is due at once. The
    distribution function is read as `_probability_within` reads it (`_row_cdf`), so at creation the late risk
    is one minus the probability of arriving within the promise."""
    log_elapsed = np.log(np.maximum(elapsed_hours, 1e-6))
    done = np.where(log_elapsed < xs[:, 0], 0.0, _row_cdf(xs, ps, log_elapsed))
    targets = done[:, None] + (1 - done[:, None]) * probs[None, :]
    quantiles = np.maximum(_row_quantiles(xs, ps, targets), log_elapsed[:, None])
    kept = _row_cdf(xs, ps, np.log(np.maximum(np.nan_to_num(promised_hours, nan=1.0), 1e-6)))
    passed = promised_hours <= elapsed_hours
    left = np.divide(1 - kept, 1 - done, out=np.ones(len(xs)), where=done < 1)
    late = np.where(passed, 1.0, np.clip(left, 0.0, 1.0))
    return quantiles, np.where(np.isnan(promised_hours), np.nan, late)


def _row_cdf(xs: np.ndarray, ps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each row's distribution function (points `xs`, shared probabilities `ps`) at its value, interpolated
    as `np.interp` does (held at the first and last probability beyond the points)."""
    rows, last = np.arange(len(xs)), xs.shape[1] - 1
    k = (xs <= values[:, None]).sum(axis=1)
    lo, hi = np.clip(k - 1, 0, last), np.clip(k, 0, last)
    x0, x1 = xs[rows, lo], xs[rows, hi]
    share = np.divide(values - x0, x1 - x0, out=np.zeros(len(xs)), where=x1 > x0)
    return np.where(k == 0, ps[0], np.where(k > last, ps[-1], ps[lo] + share * (ps[hi] - ps[lo])))


def _row_quantiles(xs: np.ndarray, ps: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each row's quantiles at its target probabilities (rows x targets), interpolated between the points and
    held at the lowest and highest point beyond them."""
    last = len(ps) - 1
    k = np.searchsorted(ps, targets, side="right")
    lo, hi = np.clip(k - 1, 0, last), np.clip(k, 0, last)
    p0, p1 = ps[lo], ps[hi]
    share = np.divide(targets - p0, p1 - p0, out=np.zeros(targets.shape), where=p1 > p0)
    rows = np.arange(len(xs))[:, None]
    return xs[rows, lo] + share * (xs[rows, hi] - xs[rows, lo])


def reference_hours(X: pd.DataFrame, promise: bool) -> np.ndarray:
    """What the quantile models predict relative to: the shipment's own promise where it has one (if
    `promise`, see `ModelBundle.promise_reference`), else the lane/carrier history median. Learning the ratio
    lets the model start from the best baseline."""
    promised = X["promised_hours"].to_numpy(dtype=float)
    return _reference(promised, X["history_reference_hours"].to_numpy(dtype=float), promise)


def segment_keys(data: pd.DataFrame | Columns) -> dict[str, np.ndarray]:
    """Conformal segments from finest to coarsest: carrier/service/cross-border, carrier, everything."""
    c = as_columns(data)
    carrier = [str(v).lower() for v in c["carrier"]]
    rows = zip(carrier, c["service"], c["origin_country"], c["destination_country"], strict=True)
    fine = [f"{k}/{str(s).lower()}/{'x' if o != d else 'd'}" for k, s, o, d in rows]
    return {"segment": np.array(fine, dtype=object), "carrier": np.array(carrier, dtype=object)}


@dataclass
class ModelBundle:
    features: FeatureBuilder
    quantile_models: dict[float, lgb.Booster] | None
    conformal: ConformalOffsets | None
    late_model: lgb.Booster | None
    late_calibration: tuple[np.ndarray, np.ndarray] | None  # isotonic map: raw score -> probability
    late_needs_promise: bool
    progress_models: dict[float, lgb.Booster] | None
    progress_conformal: ConformalOffsets | None
    metadata: dict[str, Any]
    # how far the quantiles move away from the reference (both chosen on calibration data): a log-ratio to
    # the reference within `dead_zone` of it is taken as the reference itself, the rest moves `shrink` times
    # as far as it goes beyond
    shrink: float = 1.0
    dead_zone: float = 0.0
    # whether the quantile models learn ratios to the promise (where there is one) or always to the lane and
    # carrier history median: the reference with the lower P50 error on calibration data
    promise_reference: bool = True
    # latest statuses (`status_segments` keys) whose in-flight ETA is the creation-time distribution given
    # that the shipment has not arrived yet, where that beat the in-transit model on calibration data
    progress_from_creation: frozenset[str] = frozenset()
    # the usual longest wait for the next scan, by status (hours)
    stall_hours: dict[str, float] = field(default_factory=dict)

    def is_stalled(self, status: str | None, hours_since_scan: float) -> bool:
        """Silent for longer than 95% of past shipments waited after this status (never without history)."""
        limit = self.stall_hours.get(status or "", self.stall_hours.get("*"))
        return limit is not None and hours_since_scan > limit

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / BUNDLE_FILE
        joblib.dump(self, path, compress=3)
        return path

    @staticmethod
    def load(path: Path) -> ModelBundle:
        path = Path(path)
        bundle = joblib.load(path / BUNDLE_FILE if path.is_dir() else path)
        if not isinstance(bundle, ModelBundle):
            raise TypeError(f"{path} does not hold a model bundle")
        if not hasattr(bundle.features, "daily_"):
            raise TypeError(f"{path} holds a bundle saved before the history was kept day by day: retrain it")
        return bundle

    # ---- prediction ---------------------------------------------------------------------------------
    def predict_columns(
        self,
        shipments: pd.DataFrame | Columns,
        coverage: float = DEFAULT_COVERAGE,
        weather: pd.DataFrame | None = None,
        late_risk: bool = True,
        read_at: np.ndarray | None = None,
        online: AdaptiveCoverage | None = None,
        within_hours: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The `predictions.parquet` columns (plus the raw P10/P90) as arrays, timestamps as datetime64[ns] in
        UTC: the code behind `predict`, for plain columns (a checkout request) as for a frame of shipments.
        `late_risk=False` skips the late-risk model for a caller that does not use it (`p_late` is NaN).
        `online`: the online calibration levels the windows are read at (see `AdaptiveCoverage.effective`);
        `read_at`, where given, is instead the coverage each row's offsets are read at.
        `within_hours`: also `p_within`, P(transit <= these hours) per row, from the same windows at every
        coverage on the grid (see `probability_within`)."""
        cols = as_columns(shipments)
        X = self.features.matrix(cols, weather)
        raw = self.predict_matrix(X, late_risk)
        n = len(X)
        if read_at is None and online is not None and online.levels and self.conformal is not None:
            read_at = online.effective(self.window_pools(cols), coverage)
        lo, p50, hi = self._model_quantiles(raw, cols, np.full(n, coverage) if read_at is None else read_at)
        use_fb = np.isnan(p50)  # no transit model (too little delivered history) or no moment to predict from
        if use_fb.any():
            fb = self._fallback_quantiles(X)
            lo, p50, hi = (np.where(use_fb, f, m) for f, m in zip(fb, (lo, p50, hi), strict=True))
        missing = np.full(n, np.nan)
        raw_q = [hours_from_log(raw[k]) if k in raw else missing for k in ("log_q10", "log_q90")]
        stamps = add_hours(cols["created_at"], np.array([p50, lo, hi, *raw_q]))  # to the second
        within = {}
        if within_hours is not None:
            within["p_within"] = missing
            if "log_q50" in raw and self.conformal is not None:
                offsets = self.conformal.grids(segment_keys(cols), n, online)
                within["p_within"] = _probability_within(
                    raw["log_q10"], raw["log_q50"], raw["log_q90"], offsets, within_hours
                )
        return {
            "shipment_id": cols["shipment_id"],
            **dict(zip(("eta_p50", "window_start", "window_end"), stamps[:3], strict=True)),
            "coverage": np.full(n, coverage),
            "p_late": raw.get("p_late", missing),
            "prediction_source": np.where(use_fb, "fallback", "model"),  # a fallback without history abstains
            "eta_p10": stamps[3],
            "eta_p90": stamps[4],
            "model_version": np.full(n, str(self.metadata.get("version", "")), dtype=object),
            **within,
        }

    def predict(
        self,
        shipments: pd.DataFrame,
        coverage: float = DEFAULT_COVERAGE,
        weather: pd.DataFrame | None = None,
        read_at: np.ndarray | None = None,
        online: AdaptiveCoverage | None = None,
    ) -> pd.DataFrame:
        """One row per shipment in the `predictions.parquet` contract (plus the raw P10/P90)."""
        out = pd.DataFrame(self.predict_columns(shipments, coverage, weather, read_at=read_at, online=online))
        for col in STAMPS:
            out[col] = out[col].dt.tz_localize("UTC")
        return out

    def predict_matrix(self, X: pd.DataFrame | np.ndarray, late_risk: bool = True) -> dict[str, np.ndarray]:
        """Raw, sorted quantiles (hours) and the calibrated late probability (unless `late_risk` is False) for
        a feature matrix (columns in `features.feature_names_` order); a request's rows on one thread."""
        x = X.to_numpy(dtype=np.float64) if isinstance(X, pd.DataFrame) else X
        out: dict[str, np.ndarray] = {}
        if self.quantile_models is not None:
            ratios = np.array([self._predictor(q).predict(x) for q in QUANTILES]).T
            ref = _reference(
                self._feature(x, "promised_hours"),
                self._feature(x, "history_reference_hours"),
                self.promise_reference,
            )
            logs = np.sort(self.toward_reference(ratios), axis=1) + np.log(ref)[:, None]  # never cross
            for j, q in enumerate(QUANTILES):
                out[f"log_q{int(q * 100)}"] = logs[:, j]
        if late_risk and self.late_model is not None and self.late_calibration is not None:
            p = np.interp(self._predictor("late").predict(x), *self.late_calibration)
            if self.late_needs_promise:
                p = np.where(np.isnan(self._feature(x, "promised_hours")), np.nan, p)
            out["p_late"] = p
        return out

    def toward_reference(self, ratios: np.ndarray) -> np.ndarray:
        """The models' log-ratios to the reference, shrunk toward it (soft-thresholded by `dead_zone`, then
        scaled by `shrink`): monotone, so quantiles in order stay in order."""
        if self.dead_zone == 0.0:
            return ratios * self.shrink
        return np.sign(ratios) * np.maximum(np.abs(ratios) - self.dead_zone, 0.0) * self.shrink

    def probability_within(
        self,
        shipments: pd.DataFrame | Columns,
        hours: np.ndarray,
        weather: pd.DataFrame | None = None,
        online: AdaptiveCoverage | None = None,
    ) -> np.ndarray:
        """P(transit <= hours) per shipment, read off the windows at every coverage on the grid (window ends
        at coverage c are the (1 ± c)/2 quantiles), at the `online` calibration levels if given; NaN without
        a transit model."""
        return self.predict_columns(
            shipments, weather=weather, late_risk=False, online=online, within_hours=hours
        )["p_within"]

    def window_rows(self, shipments: pd.DataFrame | Columns) -> np.ndarray:
        """The name of the conformal offsets row each shipment's window is read from (its segment)."""
        assert self.conformal is not None
        cols = as_columns(shipments)
        return self.conformal.row_names(self.conformal.rows(segment_keys(cols), n_rows(cols)))

    def window_pools(self, shipments: pd.DataFrame | Columns) -> np.ndarray:
        """The online calibration pool each shipment's window is read at (see `ConformalOffsets.pools`)."""
        assert self.conformal is not None
        cols = as_columns(shipments)
        return self.conformal.pools(segment_keys(cols), n_rows(cols))

    def window_scores(
        self, shipments: pd.DataFrame | Columns, hours: np.ndarray, weather: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Delivered shipments' CQR scores, as at their creation: how far (log hours) each transit time fell
        outside the raw P10-P90 (negative inside). Online calibration learns from them, judged by each
        shipment's `window_rows` offsets, in its `window_pools` pool."""
        assert self.conformal is not None and self.quantile_models is not None
        raw = self.predict_matrix(self.features.matrix(shipments, weather), late_risk=False)
        y = np.log(np.maximum(np.asarray(hours, dtype=float), FLOOR_HOURS))
        return np.maximum(raw["log_q10"] - y, y - raw["log_q90"])

    def _model_quantiles(
        self, raw: dict[str, np.ndarray], cols: Columns, coverage: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(coverage)
        if "log_q50" not in raw or self.conformal is None:
            return (np.full(n, np.nan),) * 3
        q = self.conformal.offsets(segment_keys(cols), coverage)
        return hours_from_log(raw["log_q10"] - q), hours_from_log(raw["log_q50"]), np.exp(raw["log_q90"] + q)

    def _fallback_quantiles(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lane, then carrier/service, then carrier history quantiles; NaN (abstain) when none has data.

        The history keeps P10/P50/P90, so the fallback window is the P10–P90 range at any coverage asked.
        """
        groups = ("lane", "carrier_service", "carrier")
        names = [f"{g}_{stat}" for stat in ("n", "p10", "p50", "p90") for g in groups]
        values = X[:, [self.features.column(c) for c in names]].reshape(len(X), 4, len(groups))
        enough = (values[:, 0] >= 20) & ~np.isnan(values[:, 2])  # rows x groups
        first = np.argmax(enough, axis=1)  # the first group with enough history
        picked = values[np.arange(len(X)), 1:, first]  # rows x (p10, p50, p90)
        lo, mid, hi = np.where(enough.any(axis=1)[:, None], picked, np.nan).T
        return lo, mid, hi

    def _feature(self, X: np.ndarray, name: str) -> np.ndarray:
        return X[:, self.features.column(name)]

    def delivery_calendar(self) -> DeliveryCalendar:
        """The carriers' delivery days per country, made on first use and kept out of the pickled bundle."""
        calendar = self.__dict__.get("_delivery_calendar")
        if calendar is None:
            features = self.features
            calendar = DeliveryCalendar(features.calendar_, features.delivery_weekdays_)
            self.__dict__["_delivery_calendar"] = calendar
        return calendar

    def _predictor(self, model: float | str) -> OneThreadPredictor:
        """A model's one-thread predictor, made on first use and kept out of the pickled bundle."""
        booster = self.late_model if model == "late" else self.quantile_models[model]  # type: ignore[index]
        cache: dict = self.__dict__.setdefault("_predictors", {})
        if model not in cache or cache[model].booster is not booster:
            cache[model] = OneThreadPredictor(booster)  # type: ignore[arg-type]
        return cache[model]

    def __getstate__(self) -> dict:
        caches = ("_predictors", "_delivery_calendar")  # rebuilt on use
        return {k: v for k, v in self.__dict__.items() if k not in caches}

    def predict_progress(
        self,
        shipments: pd.DataFrame,
        events: pd.DataFrame,
        now: pd.Timestamp | pd.Series,
        coverage: float = DEFAULT_COVERAGE,
        weather: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Re-predicted ETAs for shipments in flight at `now` (one moment, or one per row) from the events
        seen so far; the creation-time prediction where there is no in-transit model.

        The late risk in flight is the probability that the remaining time runs past the promise, read off
        the in-transit model's calibrated windows at every coverage on the grid (as `probability_within`
        does for a quote); 1 once the promise has passed undelivered. For a latest status in
        `progress_from_creation`, the ETA, window and late risk come instead from the creation-time windows
        given that the shipment has not arrived by then (see `survived`).
        """
        if self.progress_models is None or self.progress_conformal is None:
            return self.predict(shipments, coverage, weather)
        moment, Z = self._progress_design(shipments, events, now, weather)
        n_threads = threads(len(Z))
        logs = np.sort(
            np.column_stack([self.progress_models[q].predict(Z, num_threads=n_threads) for q in QUANTILES]), 1
        )
        segments = status_segments(Z)
        q = self.progress_conformal.offsets(segments, np.full(len(Z), coverage))
        out = self.predict(shipments, coverage, weather)

        def stamp(log_hours: np.ndarray) -> pd.Series:
            return pd.Series(moment + pd.to_timedelta(np.exp(log_hours), unit="h")).dt.round("s")

        out["eta_p50"] = stamp(logs[:, 1])
        out["window_start"] = stamp(logs[:, 0] - q)
        out["window_end"] = stamp(logs[:, 2] + q)
        out["eta_p10"], out["eta_p90"] = stamp(logs[:, 0]), stamp(logs[:, 2])
        promised = pd.to_datetime(shipments["promised_at"], utc=True).reset_index(drop=True)
        allowed = ((promised - moment).dt.total_seconds() / 3600).to_numpy(dtype=float, na_value=np.nan)
        offsets = self.progress_conformal.grids(segments, len(Z))
        within = _probability_within(logs[:, 0], logs[:, 1], logs[:, 2], offsets, np.maximum(allowed, 0))
        out["p_late"] = np.where(np.isnan(allowed), np.nan, np.where(allowed <= 0, 1.0, 1.0 - within))
        from_creation = np.isin(segments["status"], list(self.progress_from_creation))
        if from_creation.any():
            X = Z[self.features.feature_names_].to_numpy(dtype=np.float64)[from_creation]
            self._not_yet_arrived(out, shipments, X, moment, from_creation, coverage)
        return out

    def _not_yet_arrived(
        self,
        out: pd.DataFrame,
        shipments: pd.DataFrame,
        X: np.ndarray,
        moment: pd.Series,
        rows: np.ndarray,
        coverage: float,
    ) -> None:
        """`out`'s ETA, window and late risk on `rows` (creation features `X`) from the creation-time windows,
        given no arrival yet."""
        assert self.conformal is not None
        cols = as_columns(shipments.iloc[np.flatnonzero(rows)])
        raw = self.predict_matrix(X, late_risk=False)
        offsets = self.conformal.grids(segment_keys(cols), int(rows.sum()))
        xs, ps = _distribution(raw["log_q10"], raw["log_q50"], raw["log_q90"], offsets)
        elapsed = hours_between(cols["created_at"], moment[rows].dt.tz_convert(None).to_numpy())
        promised = hours_between(cols["created_at"], cols["promised_at"])
        probs = np.array([(1 - coverage) / 2, 0.1, 0.5, 0.9, (1 + coverage) / 2])
        logs, late = survived(xs, ps, elapsed, probs, promised)
        stamps = add_hours(cols["created_at"], np.exp(logs.T))
        for j, col in enumerate(("window_start", "eta_p10", "eta_p50", "eta_p90", "window_end")):
            out.loc[rows, col] = pd.to_datetime(stamps[j], utc=True)
        out.loc[rows, "p_late"] = late

    def _progress_design(
        self,
        shipments: pd.DataFrame,
        events: pd.DataFrame,
        now: pd.Timestamp | pd.Series,
        weather: pd.DataFrame | None,
    ) -> tuple[pd.Series, pd.DataFrame]:
        """Each row's moment and the in-transit model's matrix: creation features beside progress features."""
        X = self.features.transform(shipments, weather).reset_index(drop=True)
        moment = now.to_numpy() if isinstance(now, pd.Series) else now
        snaps = pd.DataFrame(
            {
                "shipment_id": shipments["shipment_id"].to_numpy(),
                "moment": moment,
                "created_at": shipments["created_at"].to_numpy(),
            }
        )
        return pd.to_datetime(snaps["moment"], utc=True), pd.concat([X, progress(events, snaps)], axis=1)

    def contributions(
        self,
        shipments: pd.DataFrame,
        events: pd.DataFrame | None = None,
        now: pd.Timestamp | pd.Series | None = None,
        weather: pd.DataFrame | None = None,
    ) -> tuple[list[str], np.ndarray] | None:
        """Feature contributions (LightGBM `pred_contrib`, expected value last) towards a later delivery:
        of the in-transit P90 (log remaining hours) for shipments with scans when there is an in-transit
        model, else of the late-risk score (log-odds). None without either model."""
        if events is not None and now is not None and self.progress_models is not None:
            _, Z = self._progress_design(shipments, events, now, weather)
            model = self.progress_models[QUANTILES[-1]]
            return list(Z.columns), np.asarray(model.predict(Z, num_threads=1, pred_contrib=True))
        if self.late_model is None:
            return None
        X = self.features.matrix(shipments, weather)
        contrib = self.late_model.predict(X, num_threads=1, pred_contrib=True)
        return list(self.features.feature_names_), np.asarray(contrib)
