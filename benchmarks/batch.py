"""Batch prediction: `python -m training predict` on 1,000,000 simulated shipments, each run in a fresh
process (loading the model from MLflow, reading and validating the history, predicting, writing the
predictions' parquet): shipments/s at the median wall time and the process's peak RSS.

The same command on 1,000 shipments, run beside it, measures the fixed cost (start-up, imports, loading the
model), so the table also shows the throughput once that is paid.

    python -m benchmarks.run batch      # writes benchmarks/results/batch.json
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from benchmarks import process, workspace

SHIPMENTS = 1_000_000
SMALL = 1_000
TRAINED_ON = 100_000
RUNS = 3


def predict_command(model: str, sim: workspace.Simulated, history: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "training", "predict", "--model", model, "--history", str(history),
        "--weather", str(sim.weather), "--out", str(out),
    ]  # fmt: skip


def measure(
    budget_s: float, shipments: int = SHIPMENTS, trained_on: int = TRAINED_ON, runs: int = RUNS
) -> dict:
    """Large and small runs alternate, so both see the same neighbours on a shared machine."""
    model = workspace.model(trained_on)
    sim = workspace.simulated(shipments)
    with tempfile.TemporaryDirectory() as tmp:
        small_history = Path(tmp) / "small.parquet"
        pd.read_parquet(sim.history).iloc[:SMALL].to_parquet(small_history)
        out = Path(tmp) / "predictions.parquet"
        large_cmd = predict_command(model, sim, sim.history, out)
        small_cmd = predict_command(model, sim, small_history, Path(tmp) / "small-predictions.parquet")
        large: list[process.Run] = []
        small: list[process.Run] = []
        started = time.perf_counter()
        while len(large) < runs:
            if large and time.perf_counter() - started + large[-1].wall_s + small[-1].wall_s > budget_s:
                break
            large.append(process.run_fresh(large_cmd, workspace.env()))
            small.append(process.run_fresh(small_cmd, workspace.env()))
        written = pq.read_metadata(out).num_rows
    big, fixed = process.summary(large, work=shipments), process.summary(small, work=SMALL)
    marginal = (shipments - SMALL) / max(big["median_wall_s"] - fixed["median_wall_s"], 1e-9)
    return {
        "command": "python -m training predict --model URI --history H --weather W --out predictions.parquet",
        "model_trained_on": trained_on,
        "shipments": shipments,
        "large": big,
        "small": {"shipments": SMALL, **fixed},
        "predictions_written": written,
        "per_s_after_fixed_cost": round(marginal),
    }


def render(results: dict) -> str:
    large, small = results["large"], results["small"]
    each = ", ".join(f"{w:.1f}" for w in large["wall_s"])
    return "\n".join(
        [
            f"`{results['command']}` with a model trained on {results['model_trained_on']:,} simulated "
            "shipments (default configuration), fresh process per run.",
            "",
            "| shipments | runs | median wall s | each run s | shipments/s | peak RSS MB |",
            "|---|---|---|---|---|---|",
            f"| {results['shipments']:,} | {large['runs']} | {large['median_wall_s']:,.1f} | {each} "
            f"| {large['per_s']:,} | {large['peak_rss_mb']:,} |",
            f"| {small['shipments']:,} (fixed cost: start-up, imports, model load) | {small['runs']} "
            f"| {small['median_wall_s']:,.1f} | {', '.join(f'{w:.1f}' for w in small['wall_s'])} "
            f"| {small['per_s']:,} | {small['peak_rss_mb']:,} |",
            "",
            f"Once the fixed cost is paid: {results['per_s_after_fixed_cost']:,} shipments/s "
            f"(({results['shipments']:,} - {small['shipments']:,}) shipments over the difference of the "
            "median wall times).",
        ]
    )
