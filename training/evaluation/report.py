"""`write_report`: metrics.json, a readable report.md and its plots in one directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from training.evaluation.plots import (
    plot_coverage_by_segment,
    plot_reliability,
    plot_residuals,
    plot_tradeoff,
)

DASH = "–"
Plots = dict[str, Path | None]


def num(value: float | int | None) -> str:
    """A number cell: integers with thousands separators, floats to 3 decimals, None as a dash."""
    if value is None:
        return DASH
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"


# column title -> (metrics key, formatter)
Columns = dict[str, tuple[str, Callable[[Any], str]]]
HEADLINE: Columns = {
    "n": ("n", num),
    "MAE h": ("mae_hours", num),
    "RMSE h": ("rmse_hours", num),
    "MAE d": ("mae_days", num),
    "bias h": ("bias_hours", num),
    "exact day": ("exact_day_accuracy", pct),
    "±1 day": ("within_1_day_accuracy", pct),
}
LATE: Columns = {
    "n": ("n", num),
    "base rate": ("base_rate", pct),
    "mean P(late)": ("mean_predicted", num),
    "ROC-AUC": ("roc_auc", num),
    "PR-AUC": ("pr_auc", num),
    "Brier": ("brier", num),
    "Brier of base rate": ("brier_base_rate", num),
    "log loss": ("log_loss", num),
    "ECE": ("ece", num),
}
TRADEOFF: Columns = {
    "on-time rate": ("on_time_rate", pct),
    "mean promised h": ("mean_promised_hours", num),
    "mean promised d": ("mean_promised_days", num),
}
VERSUS_PROMISE: Columns = {
    "on-time rate at the promise's mean hours": ("on_time_rate_at_equal_hours", pct),
    "gain in on-time rate": ("on_time_rate_gain", pct),
    "promised hours saved at the promise's on-time rate": ("promised_hours_saved_at_equal_on_time", num),
}


def table(labels: dict[str, dict[str, Any]], columns: Columns, first: str) -> list[str]:
    """A markdown table: one row per label, one column per entry of `columns`."""
    header = [first, *columns]
    rows = [[label] + [f(m.get(key)) for key, f in columns.values()] for label, m in labels.items()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _image(plots: Plots, name: str, title: str) -> list[str]:
    path = plots.get(name)
    return [f"![{title}]({path.name})", ""] if path else [f"_{title}: no data to plot._", ""]


def _headline(metrics: dict[str, Any]) -> list[str]:
    overall = metrics["overall"]
    rows = {"model (eta_p50)": overall["model"]}
    rows |= {f"baseline: {name}": m for name, m in overall["baselines"].items()}
    lines = ["## Model vs baselines", "", *table(rows, HEADLINE, "estimate")]
    if not metrics["transit_available"]:
        lines += ["_No delivery timestamps: transit metrics do not apply to this dataset._", ""]
    return lines


def _windows(metrics: dict[str, Any]) -> list[str]:
    model = metrics["overall"]["model"]
    levels = {f"{pct(metrics['coverage_target'])} (stated)": ""}
    levels |= {f"{suffix[1:]}%": suffix for suffix in ("_90", "_95") if f"coverage{suffix}" in model}
    rows = {
        label: {"c": model.get(f"coverage{s}"), "w": model.get(f"width_hours{s}")}
        for label, s in levels.items()
    }
    pinball = {q: {"loss": model.get(f"pinball_{q}")} for q in ("p10", "p50", "p90")}
    return [
        "## Windows and quantiles",
        "",
        *table(rows, {"observed coverage": ("c", pct), "mean width h": ("w", num)}, "target coverage"),
        *table(pinball, {"pinball loss h": ("loss", num)}, "quantile"),
    ]


def _segments(metrics: dict[str, Any], plots: Plots) -> list[str]:
    rows = {}
    for dim, segments in metrics["segments"].items():
        for seg, m in segments.items():
            lane = m["baselines"]["lane_median"]
            extra = {"n": m["n"], "lane_mae": lane["mae_hours"], "auc": m["late_risk"]["roc_auc"]}
            rows[f"{dim}: {seg}"] = m["model"] | extra
    columns: Columns = {
        "n": ("n", num),
        "coverage": ("coverage", pct),
        "width h": ("width_hours", num),
        "model MAE h": ("mae_hours", num),
        "lane-median MAE h": ("lane_mae", num),
        "late ROC-AUC": ("auc", num),
    }
    skipped = [
        f"{dim}: {s['segments']} segment(s), {s['shipments']:,} shipments"
        for dim, s in metrics["segments_skipped"].items()
        if s["segments"]
    ]
    note = f"Segments with fewer than {metrics['min_segment_size']} test shipments are skipped"
    note += (": " + "; ".join(skipped) + ".") if skipped else " (none were)."
    lines = ["## By segment", "", *table(rows, columns, "segment"), note, ""]
    return lines + _image(plots, "coverage_by_segment", "Coverage by segment")


def _late_risk(metrics: dict[str, Any], plots: Plots) -> list[str]:
    lines = ["## Late risk", "", *table({"model p_late": metrics["late_risk"]}, LATE, "score")]
    return lines + _image(plots, "reliability", "Reliability")


def _tradeoff(metrics: dict[str, Any], plots: Plots) -> list[str]:
    t = metrics["tradeoff"]
    points = {"dataset promise": t["dataset_promise"]} if t["dataset_promise"] else {}
    points |= {f"model: {p['policy']}": p for p in t["model"]["points"]}
    versus = {"model": t["model"]} | t["baselines"]
    return [
        "## Promise trade-off",
        "",
        f"{t['n']:,} delivered shipments; promised hours are measured from created_at.",
        "",
        *table(points, TRADEOFF, "promise policy"),
        "Against the dataset's own promise, interpolated along each curve of `estimate + k hours`:",
        "",
        *table(versus, VERSUS_PROMISE, "estimate"),
        *_image(plots, "tradeoff", "Promise trade-off"),
    ]


def _context(metrics: dict[str, Any]) -> list[str]:
    counts = {key: {"v": value} for key, value in metrics["counts"].items()}
    fallbacks = {
        name: {"levels": ", ".join(f"{level} {num(n)}" for level, n in used.items())}
        for name, used in metrics["baseline_fallbacks"].items()
    }
    notes = [f"- **{key}**: {text}" for key, text in metrics["notes"].items()]
    return [
        "## Counts",
        "",
        *table(counts, {"shipments": ("v", num)}, "count"),
        "## Baseline fallbacks (shipments answered at each level)",
        "",
        *table(fallbacks, {"answered by (finest level first)": ("levels", str)}, "baseline"),
        "## Notes",
        "",
        *notes,
        "",
    ]


def render_markdown(metrics: dict[str, Any], plots: Plots) -> str:
    scale = "day-scale" if metrics["day_scale"] else "hour-scale"
    head = [
        "# Evaluation report",
        "",
        f"{metrics['n_test']:,} test shipments, {scale} data; stated window coverage "
        f"{pct(metrics['coverage_target'])}.",
        "",
    ]
    residuals = ["## Residuals", "", *_image(plots, "residuals", "Residuals")]
    sections = [head, _headline(metrics), _windows(metrics), _segments(metrics, plots), residuals]
    sections += [_late_risk(metrics, plots), _tradeoff(metrics, plots), _context(metrics)]
    return "\n".join(line for section in sections for line in section)


def write_report(
    metrics: dict[str, Any], predictions_with_truth: pd.DataFrame | None, out_dir: Path
) -> list[Path]:
    """Write metrics.json, report.md and the PNG plots whose data exist; return the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    plots = {
        "reliability": plot_reliability(metrics["late_risk"], out_dir / "reliability.png"),
        "coverage_by_segment": plot_coverage_by_segment(metrics, out_dir / "coverage_by_segment.png"),
        "residuals": plot_residuals(predictions_with_truth, out_dir / "residuals.png"),
        "tradeoff": plot_tradeoff(metrics["tradeoff"], out_dir / "tradeoff.png"),
    }
    report_path = out_dir / "report.md"
    report_path.write_text(render_markdown(metrics, plots), encoding="utf-8")
    return [metrics_path, report_path, *(path for path in plots.values() if path is not None)]
