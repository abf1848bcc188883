"""Benchmark `python -m training simulate`: wall time, shipments/s, peak RSS and events written per size.

Each run is a fresh subprocess (imports and parquet writing included); peak RSS is the child's `ru_maxrss`,
read from `os.wait4` so every run is measured on its own.

    python benchmarks/simulate.py                      # 100k x 3 runs, 1M x 1 run
    python benchmarks/simulate.py 100000 1000000 --repeat-large 2
    python benchmarks/simulate.py 20000 --repeat 1 --out benchmarks/results/simulate-small.json

Writes the table as JSON to benchmarks/results/simulate.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "simulate.json"
LARGE = 1_000_000  # sizes from here on use --repeat-large


def run_once(n: int, seed: int) -> dict[str, float]:
    """One CLI run in a fresh process; returns wall seconds, peak RSS in MB and the events written."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "training", "simulate", "--shipments", str(n), "--seed", str(seed)]
        start = time.perf_counter()
        proc = subprocess.Popen([*cmd, "--out", tmp], cwd=ROOT, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"simulate --shipments {n} failed with exit code {proc.returncode}")
        events = pq.read_metadata(Path(tmp) / "events.parquet").num_rows
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "events": events}


def bench(n: int, repeat: int, seed: int) -> dict[str, object]:
    runs = [run_once(n, seed) for _ in range(repeat)]
    wall = statistics.median(r["wall_s"] for r in runs)
    return {
        "shipments": n,
        "runs": repeat,
        "median_wall_s": round(wall, 2),
        "wall_s": [round(r["wall_s"], 2) for r in runs],
        "shipments_per_s": round(n / wall),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "events": int(runs[0]["events"]),
    }


HEADER = (
    f"{'shipments':>10} {'runs':>4} {'median s':>9} {'shipments/s':>12} {'peak RSS MB':>12} {'events':>12}"
)


def table_row(r: dict) -> str:
    return (
        f"{r['shipments']:>10,} {r['runs']:>4} {r['median_wall_s']:>9.2f} {r['shipments_per_s']:>12,} "
        f"{r['peak_rss_mb']:>12,} {r['events']:>12,}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000], help="shipment counts")
    p.add_argument("--repeat", type=int, default=3, help=f"runs per size below {LARGE:,}")
    p.add_argument("--repeat-large", type=int, default=1, help=f"runs per size of {LARGE:,} or more")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(HEADER, "-" * len(HEADER), sep="\n", flush=True)
    rows = []
    for n in args.sizes:
        rows.append(bench(n, args.repeat_large if n >= LARGE else args.repeat, args.seed))
        print(table_row(rows[-1]), flush=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "simulate", "machine": machine, "results": rows}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
