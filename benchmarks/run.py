"""`make bench`: run the benchmarks, write BENCHMARKS.md from their JSON results (nothing typed by hand)."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from benchmarks import simulate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LIBRARIES = ("numpy", "pandas", "pyarrow", "lightgbm", "scikit-learn", "mlflow", "fastapi")


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(f"{lib} {metadata.version(lib)}" for lib in LIBRARIES)
    return (
        f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}; {versions}"
    )


def simulator_section(results: dict) -> list[str]:
    lines = [
        "## Simulator (`python -m training simulate`, fresh process per run, parquet writing included)",
        "",
        "| shipments | runs | median wall s | shipments/s | peak RSS MB | events written |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["results"]:
        lines.append(
            f"| {r['shipments']:,} | {r['runs']} | {r['median_wall_s']:.2f} | {r['shipments_per_s']:,} "
            f"| {r['peak_rss_mb']:,} | {r['events']:,} |"
        )
    return lines


def main() -> int:
    simulate.main([])
    results = json.loads((RESULTS / "simulate.json").read_text())
    text = ["# Benchmarks", "", f"Machine: {machine()}.", "", *simulator_section(results), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(text))
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
