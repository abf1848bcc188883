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
    extra_s = big["median_wall_s"] - fixed["median_wall_s"]  # not positive only when the noise swamps it
    marginal = round((shipments - SMALL) / extra_s) if extra_s > 0 else None
    return {
        "command": "python -m training predict --model URI --history H --weather W --out predictions.parquet",
        "model_trained_on": trained_on,
        "shipments": shipments,
        "large": big,
        "small": {"shipments": SMALL, **fixed},
        "predictions_written": written,
        "per_s_after_fixed_cost": marginal,
    }


def _row(label: str, r: dict) -> str:
    each = ", ".join(f"{w:.1f}" for w in r["wall_s"])
    cells = [label, str(r["runs"]), f"{r['median_wall_s']:,.1f}", each, f"{r['median_cpu_s']:,.1f}"]
    return "| " + " | ".join([*cells, f"{r['per_s']:,}", f"{r['peak_rss_mb']:,}"]) + " |"


def render(results: dict) -> str:
    large, small = results["large"], results["small"]
    marginal = results["per_s_after_fixed_cost"]
    lines = [
        f"`{results['command']}` with a model trained on {results['model_trained_on']:,} simulated "
        "shipments (default configuration), fresh process per run; the small runs alternate with the large "
        "ones.",
        "",
        "| shipments | runs | median wall s | each run s | median CPU s | shipments/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
        _row(f"{results['shipments']:,}", large),
        _row(f"{small['shipments']:,} (the fixed cost: start-up, imports, model load)", small),
        "",
    ]
    if marginal is None:
        lines.append("The fixed cost could not be separated: the small runs took as long as the large ones.")
    else:
        lines.append(
            f"Once the fixed cost is paid: {marginal:,} shipments/s "
            f"({results['shipments'] - small['shipments']:,} shipments over the difference of the median "
            "wall times)."
        )
    return "\n".join(lines)
