"""Simulator speed: `python -m training simulate` in fresh processes (imports and parquet writing included):
median wall time, shipments/s, peak RSS and the tracking events written, per size.

    python -m benchmarks.run simulate      # measures, writes benchmarks/results/simulate.json, renders
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks import process

NAME = "simulate"
SIZES = (100_000, 1_000_000)


def measure(budget_s: float, sizes: Sequence[int] = SIZES, runs: int = 3, seed: int = 1) -> dict:
    """Each size gets an equal share of the budget, at least one run and at most `runs`."""
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "training", "simulate", "--shipments", str(n), "--seed", str(seed)]
            done = process.repeated([*cmd, "--out", tmp], runs, budget_s / len(sizes))
            events = pq.read_metadata(Path(tmp) / "events.parquet").num_rows
        rows.append({"shipments": n, **process.summary(done, work=n), "events": events})
    return {"seed": seed, "sizes": rows}


def render(results: dict) -> str:
    lines = [
        "| shipments | runs | median wall s | shipments/s | peak RSS MB | tracking events written |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["sizes"]:
        lines.append(
            f"| {r['shipments']:,} | {r['runs']} | {r['median_wall_s']:.2f} | {r['per_s']:,} "
            f"| {r['peak_rss_mb']:,} | {r['events']:,} |"
        )
    return "\n".join(lines)
