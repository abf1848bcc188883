"""Training cost: `python -m training train` on simulated histories of growing size, each run in a fresh
process (reading the history, the split, fitting every model, evaluating on the test window, logging to
MLflow): median wall time, peak RSS, and how the cost grows with the number of shipments.

    python -m benchmarks.run train      # writes benchmarks/results/train.json
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from benchmarks import process, workspace

SIZES = (100_000, 1_000_000)
RUNS = 3


def measure(budget_s: float, sizes: Sequence[int] = SIZES, runs: int = RUNS) -> dict:
    """Each size at least once and at most `runs` times, the smallest first, each with an equal share of what
    is left of the budget (the quick small sizes leave most of theirs to the large ones). Runs made earlier in
    this process (a model another benchmark trained) count."""
    started = time.perf_counter()
    rows = []
    ordered = sorted(sizes)
    for i, n in enumerate(ordered):
        workspace.simulated(n)  # simulated outside the timing
        cmd = workspace.train_command(n)
        share = (budget_s - (time.perf_counter() - started)) / (len(ordered) - i)
        before = workspace.training_runs(n)
        for run in process.repeated(cmd, runs, share, workspace.env(), done=before)[len(before) :]:
            workspace.trained(run, n)
        rows.append({"shipments": n, **process.summary(workspace.training_runs(n), work=n)})
    command = "python -m training train --history H --weather W"
    return {"command": command, "seed": workspace.SEED, "sizes": rows, "growth": growth(rows)}


def growth(rows: list[dict]) -> list[dict]:
    """Between consecutive sizes: the ratio of wall times and peak RSS, and the exponent b of time ~ n^b."""
    out = []
    for small, large in zip(rows, rows[1:], strict=False):
        size_ratio = large["shipments"] / small["shipments"]
        time_ratio = large["median_wall_s"] / small["median_wall_s"]
        out.append(
            {
                "from": small["shipments"],
                "to": large["shipments"],
                "time_ratio": round(time_ratio, 2),
                "memory_ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2),
                "time_exponent": round(math.log(time_ratio) / math.log(size_ratio), 2),
            }
        )
    return out


def render(results: dict) -> str:
    lines = [
        f"`{results['command']}` on the simulator's histories (seed {results['seed']}), default "
        "configuration, fresh process per run (reading, split, every model, evaluation on the test window "
        "and MLflow logging to a temporary store included).",
        "",
        "| shipments | runs | median wall s | each run s | median CPU s | shipments/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["sizes"]:
        each = ", ".join(f"{w:.1f}" for w in r["wall_s"])
        lines.append(
            f"| {r['shipments']:,} | {r['runs']} | {r['median_wall_s']:,.1f} | {each} "
            f"| {r['median_cpu_s']:,.1f} | {r['per_s']:,} | {r['peak_rss_mb']:,} |"
        )
    for g in results["growth"]:
        lines += [
            "",
            f"From {g['from']:,} to {g['to']:,} shipments: {g['time_ratio']:.2f}x the time "
            f"(time grows as n^{g['time_exponent']:.2f}) and {g['memory_ratio']:.2f}x the peak memory.",
        ]
    short = [f"{r['shipments']:,}" for r in results["sizes"] if r["runs"] < RUNS]
    if short:
        lines += ["", f"Fewer than {RUNS} runs at {', '.join(short)} shipments: the budget allowed no more."]
    return "\n".join(lines)
