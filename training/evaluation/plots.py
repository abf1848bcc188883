"""Report plots on `matplotlib.figure.Figure` (Agg canvas, no pyplot state); None when data are absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.contract import UTC_TS, to_utc
from training.evaluation.metrics import hours_between

COVERAGE_DIMENSIONS = ("carrier", "service", "cross_border", "month")
MAX_SCATTER_POINTS = 20_000


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path


def plot_reliability(late_risk: dict[str, Any], path: Path) -> Path | None:
    """Observed late rate against mean predicted probability per bin, with the diagonal."""
    bins = [b for b in late_risk.get("reliability", []) if b["count"]]
    if not bins:
        return None
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(
        [b["mean_predicted"] for b in bins], [b["observed_rate"] for b in bins], marker="o", label="model"
    )
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted P(late)", ylabel="observed late rate")
    ax.set_title(f"Late-risk reliability (n={late_risk['n']:,})")
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_coverage_by_segment(metrics: dict[str, Any], path: Path) -> Path | None:
    """Window coverage per carrier, service, cross-border segment and creation month, against the target."""
    panels = []
    for dim in COVERAGE_DIMENSIONS:
        values = {
            seg: m["model"]["coverage"]
            for seg, m in metrics["segments"].get(dim, {}).items()
            if m["model"]["coverage"] is not None
        }
        if values:
            panels.append((dim, values))
    if not panels:
        return None
    fig = Figure(figsize=(4.5 * len(panels), 4.5), layout="constrained")
    target = metrics["coverage_target"]
    for ax, (dim, values) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        ax.bar(list(values), list(values.values()), color="tab:blue")
        ax.axhline(target, color="tab:red", linestyle="--", label=f"target {target:.0%}")
        ax.set(title=dim, ylim=(0, 1.05), ylabel="window coverage")
        ax.tick_params(axis="x", labelrotation=45)
        ax.legend(loc="lower right")
    return _save(fig, path)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return to_utc(frame[name]) if name in frame else pd.Series(pd.NaT, index=frame.index, dtype=UTC_TS)


def plot_residuals(predictions_with_truth: pd.DataFrame | None, path: Path) -> Path | None:
    """Histogram of eta_p50 - delivered_at (hours) and the residual against predicted transit hours."""
    frame = predictions_with_truth
    if frame is None or "eta_p50" not in frame or "delivered_at" not in frame:
        return None
    eta = _column(frame, "eta_p50")
    residual = hours_between(eta, _column(frame, "delivered_at"))
    predicted = hours_between(eta, _column(frame, "created_at"))
    ok = ~np.isnan(residual)
    if not ok.any():
        return None
    fig = Figure(figsize=(10, 4), layout="constrained")
    hist_ax, scatter_ax = fig.subplots(1, 2)
    hist_ax.hist(residual[ok], bins=50, color="tab:blue")
    hist_ax.axvline(0, color="black", linewidth=1)
    hist_ax.set(xlabel="eta_p50 - delivered_at (hours)", ylabel="shipments", title="Residuals")
    both = np.flatnonzero(ok & ~np.isnan(predicted))
    if len(both) > MAX_SCATTER_POINTS:
        both = np.random.default_rng(0).choice(both, MAX_SCATTER_POINTS, replace=False)
    scatter_ax.scatter(predicted[both], residual[both], s=4, alpha=0.3)
    scatter_ax.axhline(0, color="black", linewidth=1)
    scatter_ax.set(xlabel="predicted transit hours (eta_p50 - created_at)", ylabel="residual (hours)")
    scatter_ax.set_title("Residual vs predicted")
    return _save(fig, path)


def plot_tradeoff(tradeoff: dict[str, Any], path: Path) -> Path | None:
    """On-time rate against mean promised hours: model curve and policies, baselines, the dataset promise."""
    model = tradeoff.get("model") or {}
    if not model.get("curve"):
        return None
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    curves = {"model: eta_p50 + k h": model["curve"]}
    curves |= {f"{name} + k h": base["curve"] for name, base in tradeoff["baselines"].items()}
    for i, (label, curve) in enumerate(curves.items()):
        hours = [p["mean_promised_hours"] for p in curve]
        ax.plot(hours, [p["on_time_rate"] for p in curve], linestyle="-" if i == 0 else ":", label=label)
    for point in model["points"]:
        ax.scatter(point["mean_promised_hours"], point["on_time_rate"], marker="o", zorder=3)
        ax.annotate(point["policy"], (point["mean_promised_hours"], point["on_time_rate"]), fontsize=8)
    promise = tradeoff.get("dataset_promise")
    if promise:
        xy = (promise["mean_promised_hours"], promise["on_time_rate"])
        ax.scatter(*xy, marker="*", s=200, color="black", label="dataset promise", zorder=4)
    ax.set(xlabel="mean promised hours (from created_at)", ylabel="on-time rate", ylim=(0, 1.02))
    ax.set_title(f"Promise trade-off (n={tradeoff['n']:,})")
    ax.legend(loc="lower right")
    return _save(fig, path)
