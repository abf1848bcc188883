"""The fitted model bundle: feature state, models, conformal calibration and metadata.

Training builds and fits it; serving and `python -m training predict` load it and call `predict`, so the
HTTP answer and the offline prediction come from this one code path.
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
from features.progress import progress, status_segments

QUANTILES = (0.1, 0.5, 0.9)
COVERAGE_GRID = np.round(np.arange(0.50, 0.991, 0.01), 2)
DEFAULT_COVERAGE = 0.8
MIN_SEGMENT = 200  # calibration rows a segment needs for its own conformal offsets
BUNDLE_FILE = "bundle.joblib"


def reference_hours(X: pd.DataFrame) -> np.ndarray:
    """What the quantile models predict relative to: the shipment's own promise where it has one, else the
    lane/carrier history median. Learning the ratio lets the model start from the best baseline."""
    promised = X["promised_hours"].to_numpy(dtype=float)
    history = X["history_reference_hours"].to_numpy(dtype=float)
    return np.where(np.isnan(promised), history, np.maximum(promised, 1.0))


def segment_keys(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Conformal segments from finest to coarsest: carrier/service/cross-border, carrier, everything."""
    carrier = frame["carrier"].astype(str).str.lower()
    cross = np.where(frame["origin_country"] != frame["destination_country"], "x", "d")
    fine = carrier + "/" + frame["service"].astype(str).str.lower() + "/" + cross
    return {"segment": fine.to_numpy(dtype=object), "carrier": carrier.to_numpy(dtype=object)}


@dataclass
class ConformalOffsets:
    """Split-conformal (CQR) offsets on the log-hours scale, per segment, for every coverage on the grid."""

    by_level: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    overall: np.ndarray = field(default_factory=lambda: np.zeros(len(COVERAGE_GRID)))
    counts: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def grid(scores: np.ndarray) -> np.ndarray:
        """Finite-sample conformal quantile of the scores at each coverage on the grid."""
        s = np.sort(scores)
        n = len(s)
        ranks = np.minimum(np.ceil((n + 1) * COVERAGE_GRID).astype(int), n) - 1
        return s[ranks]

    @classmethod
    def fit(cls, scores: np.ndarray, segments: dict[str, np.ndarray]) -> ConformalOffsets:
        out = cls(overall=cls.grid(scores), counts={"overall": len(scores)})
        for level, keys in segments.items():
            out.by_level[level] = {}
            for key in np.unique(keys):
                mask = keys == key
                if mask.sum() >= MIN_SEGMENT:
                    out.by_level[level][str(key)] = cls.grid(scores[mask])
                    out.counts[f"{level}={key}"] = int(mask.sum())
        return out

    def offsets(self, segments: dict[str, np.ndarray], coverage: np.ndarray) -> np.ndarray:
        """Offset per row: the finest segment that had enough calibration data, else the overall one."""
        n = len(coverage)
        table = np.tile(self.overall, (n, 1))
        filled = np.zeros(n, dtype=bool)
        for level, keys in segments.items():  # finest first
            for key, grid in self.by_level.get(level, {}).items():
                rows = (keys == key) & ~filled
                table[rows] = grid
                filled |= rows
        pos = np.interp(coverage, COVERAGE_GRID, np.arange(len(COVERAGE_GRID), dtype=float))
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, len(COVERAGE_GRID) - 1)
        w, r = pos - i0, np.arange(n)
        return table[r, i0] * (1 - w) + table[r, i1] * w


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
    shrink: float = 1.0  # how far the quantiles move away from the reference (chosen on calibration data)
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
        return bundle

    # ---- prediction ---------------------------------------------------------------------------------
    def predict_matrix(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw, sorted quantiles (hours) and the calibrated late probability for a feature matrix."""
        out: dict[str, np.ndarray] = {}
        if self.quantile_models is not None:
            ratios = np.column_stack([self.quantile_models[q].predict(X, num_threads=1) for q in QUANTILES])
            logs = np.sort(ratios * self.shrink, axis=1) + np.log(reference_hours(X))[:, None]  # never cross
            for j, q in enumerate(QUANTILES):
                out[f"log_q{int(q * 100)}"] = logs[:, j]
        if self.late_model is not None and self.late_calibration is not None:
            raw = self.late_model.predict(X, num_threads=1)
            p = np.interp(raw, *self.late_calibration)
            if self.late_needs_promise:
                p = np.where(np.isnan(X["promised_hours"].to_numpy()), np.nan, p)
            out["p_late"] = p
        return out

    def predict(
        self, shipments: pd.DataFrame, coverage: float = DEFAULT_COVERAGE, weather: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """One row per shipment in the `predictions.parquet` contract (plus the raw P10/P90)."""
        X = self.features.transform(shipments, weather)
        raw = self.predict_matrix(X)
        created = shipments["created_at"]
        out = pd.DataFrame({"shipment_id": shipments["shipment_id"].to_numpy()}, index=shipments.index)
        cov = np.full(len(X), coverage)
        lo, p50, hi = self._model_quantiles(raw, shipments, cov)
        fb = self._fallback_quantiles(X, coverage)
        use_fb = np.isnan(p50)  # no transit model (too little delivered history) or no moment to predict from
        lo, p50, hi = (np.where(use_fb, f, m) for f, m in zip(fb, (lo, p50, hi), strict=True))
        source = np.where(use_fb, "fallback", "model")  # a fallback without history abstains: no dates

        def stamp(hours: np.ndarray) -> pd.Series:  # to the second: ETAs carry no finer meaning
            return (created + pd.to_timedelta(hours, unit="h")).dt.round("s")

        out["eta_p50"] = stamp(p50)
        out["window_start"] = stamp(lo)
        out["window_end"] = stamp(hi)
        out["coverage"] = coverage
        out["p_late"] = raw.get("p_late", np.full(len(X), np.nan))
        out["prediction_source"] = source
        out["eta_p10"] = stamp(np.exp(raw["log_q10"])) if "log_q10" in raw else pd.NaT
        out["eta_p90"] = stamp(np.exp(raw["log_q90"])) if "log_q90" in raw else pd.NaT
        out["model_version"] = str(self.metadata.get("version", ""))
        return out.reset_index(drop=True)

    def probability_within(
        self, shipments: pd.DataFrame, hours: np.ndarray, weather: pd.DataFrame | None = None
    ) -> np.ndarray:
        """P(transit <= hours) per shipment, read off the calibrated windows at every coverage on the grid
        (window ends at coverage c are the (1 ± c)/2 quantiles); NaN without a transit model."""
        raw = self.predict_matrix(self.features.transform(shipments, weather))
        if "log_q50" not in raw or self.conformal is None:
            return np.full(len(shipments), np.nan)
        segments = segment_keys(shipments)
        n = len(shipments)
        offsets = np.column_stack([self.conformal.offsets(segments, np.full(n, c)) for c in COVERAGE_GRID])
        xs = np.hstack(
            [raw["log_q10"][:, None] - offsets, raw["log_q50"][:, None], raw["log_q90"][:, None] + offsets]
        )
        ps = np.concatenate([(1 - COVERAGE_GRID) / 2, [0.5], (1 + COVERAGE_GRID) / 2])
        xs, ps = np.sort(xs, axis=1), np.sort(ps)  # monotone rearrangement keeps it a distribution function
        target = np.log(np.maximum(hours, 1e-6))
        return np.array([np.interp(t, x, ps) for t, x in zip(target, xs, strict=True)])

    def _model_quantiles(
        self, raw: dict[str, np.ndarray], shipments: pd.DataFrame, coverage: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(coverage)
        if "log_q50" not in raw or self.conformal is None:
            return (np.full(n, np.nan),) * 3
        q = self.conformal.offsets(segment_keys(shipments), coverage)
        return np.exp(raw["log_q10"] - q), np.exp(raw["log_q50"]), np.exp(raw["log_q90"] + q)

    @staticmethod
    def _fallback_quantiles(X: pd.DataFrame, coverage: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lane, then carrier/service, then carrier history quantiles; NaN (abstain) when none has data.

        The history keeps P10/P50/P90, so the fallback window is the P10–P90 range at any coverage asked.
        """
        lo, mid, hi = (np.full(len(X), np.nan) for _ in range(3))
        for group in ("lane", "carrier_service", "carrier"):
            enough = np.isnan(mid) & (X[f"{group}_n"].to_numpy() >= 20)
            lo = np.where(enough, X[f"{group}_p10"], lo)
            mid = np.where(enough, X[f"{group}_p50"], mid)
            hi = np.where(enough, X[f"{group}_p90"], hi)
        return lo, mid, hi

    def predict_progress(
        self,
        shipments: pd.DataFrame,
        events: pd.DataFrame,
        now: pd.Timestamp | pd.Series,
        coverage: float = DEFAULT_COVERAGE,
        weather: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Re-predicted ETAs for shipments in flight at `now` (one moment, or one per row) from the events
        seen so far; the creation-time prediction where there is no in-transit model."""
        if self.progress_models is None or self.progress_conformal is None:
            return self.predict(shipments, coverage, weather)
        X = self.features.transform(shipments, weather).reset_index(drop=True)
        moment = now.to_numpy() if isinstance(now, pd.Series) else now
        snaps = pd.DataFrame(
            {
                "shipment_id": shipments["shipment_id"].to_numpy(),
                "moment": moment,
                "created_at": shipments["created_at"].to_numpy(),
            }
        )
        Z = pd.concat([X, progress(events, snaps)], axis=1)
        logs = np.sort(
            np.column_stack([self.progress_models[q].predict(Z, num_threads=1) for q in QUANTILES]), 1
        )
        q = self.progress_conformal.offsets(status_segments(Z), np.full(len(Z), coverage))
        out = self.predict(shipments, coverage, weather)

        def stamp(log_hours: np.ndarray) -> pd.Series:
            return pd.Series(snaps["moment"] + pd.to_timedelta(np.exp(log_hours), unit="h")).dt.round("s")

        out["eta_p50"] = stamp(logs[:, 1])
        out["window_start"] = stamp(logs[:, 0] - q)
        out["window_end"] = stamp(logs[:, 2] + q)
        out["eta_p10"], out["eta_p90"] = stamp(logs[:, 0]), stamp(logs[:, 2])
        return out
