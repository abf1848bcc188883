"""`make bench`: run the benchmarks, write BENCHMARKS.md from their JSON results (nothing typed by hand)."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from benchmarks import quality, simulate

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


def _fmt(value: float | None, pattern: str = "{:,.2f}") -> str:
    return "–" if value is None else pattern.format(value)


def quality_section(results: dict) -> list[str]:
    lines = [
        "## Accuracy (`python -m benchmarks.quality`; time split, latest 15% as test)",
        "",
        "| dataset | test n | P50 MAE h | promise MAE h | lane median MAE h | carrier median MAE h "
        "| 80% coverage | 90% | 95% | 80% width h | late ROC-AUC | late Brier |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = {**results["real"], f"simulated ({results['simulated']['shipments']:,})": results["simulated"]}
    pct = "{:.1%}"
    for name, r in rows.items():
        hours = [_fmt(r[k]) for k in ("model_mae_hours", "promise_mae_hours", "lane_median_mae_hours")]
        hours.append(_fmt(r["carrier_median_mae_hours"]))
        cover = [_fmt(r[k], pct) for k in ("coverage_80", "coverage_90", "coverage_95")]
        late = [_fmt(r["late_roc_auc"], "{:.3f}"), _fmt(r["late_brier"], "{:.3f}")]
        cells = [name, f"{r['n_test']:,}", *hours, *cover, _fmt(r["width_hours_80"]), *late]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "80% window coverage on the simulated test window, by segment:",
        "",
        "| segment | n | coverage |",
        "|---|---|---|",
    ]
    for dim, segments in results["simulated"]["segments"].items():
        for key, v in segments.items():
            lines.append(f"| {dim}: {key} | {v['n']:,} | {_fmt(v['coverage'], pct)} |")
    return lines


def main() -> int:
    simulate.main([])
    quality.main([])
    sim = json.loads((RESULTS / "simulate.json").read_text())
    acc = json.loads((RESULTS / "quality.json").read_text())
    text = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}.",
        "",
        *quality_section(acc),
        "",
        *simulator_section(sim),
        "",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(text))
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
