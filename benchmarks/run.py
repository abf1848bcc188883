"""`make bench`: run the benchmarks, write BENCHMARKS.md from their JSON results (nothing typed by hand)."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from benchmarks import quality, serving_inprocess, simulate

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


def serving_section(results: dict) -> list[str]:
    bundle, target = results["bundle"], results["target"]
    lines = [
        "## In-process serving (`python -m benchmarks.serving_inprocess`)",
        "",
        f"Bundle fitted on {bundle['shipments']:,} simulated shipments: {bundle['models']} models x "
        f"{bundle['trees_per_model']} trees, {bundle['features']} features. "
        f"Target for a single-option quote: p50 <= {target['quote_p50_us']:.0f} µs, "
        f"p99 <= {target['quote_p99_us']:.0f} µs "
        f"({'met' if target['met'] else 'not met'}).",
        "",
        "| stage | iterations | p50 µs | p99 µs |",
        "|---|---|---|---|",
    ]
    for name, r in results["results"].items():
        lines.append(f"| {name} | {r['iterations']:,} | {r['p50_us']:,.0f} | {r['p99_us']:,.0f} |")
    return lines


def render() -> str:
    """BENCHMARKS.md from the JSON results the benchmarks wrote."""
    sim = json.loads((RESULTS / "simulate.json").read_text())
    acc = json.loads((RESULTS / "quality.json").read_text())
    srv = json.loads((RESULTS / "serving_inprocess.json").read_text())
    lines = ["# Benchmarks", "", f"Machine: {machine()}.", ""]
    for section in (quality_section(acc), serving_section(srv), simulator_section(sim)):
        lines += [*section, ""]
    return "\n".join(lines)


def main() -> int:
    simulate.main([])
    quality.main([])
    serving_inprocess.main([])
    (ROOT / "BENCHMARKS.md").write_text(render())
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
