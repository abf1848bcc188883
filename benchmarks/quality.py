"""The quality bar: each real dataset (latest 15% by time as test) and a simulated network, trained and
evaluated with the project's own pipeline; writes benchmarks/results/quality.json.

    python -m benchmarks.quality [--shipments 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from training.importers import import_dataset
from training.pipeline import run_train
from training.simulate import SimulationConfig, simulate, write_simulation

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ETA_SHARED_DATA") or ROOT.parent / "shared" / "data")
RESULTS = ROOT / "benchmarks" / "results" / "quality.json"
REAL = {
    "scms": "scms-delivery-history/SCMS_Delivery_History_Dataset.csv",
    "truck-trips": "delivery-truck-trips/vts_data_280820_noPII.csv",
    "amazon-delivery": "amazon-delivery/amazon_delivery.csv",
}


def headline(metrics: dict) -> dict:
    model, base = metrics["overall"]["model"], metrics["overall"]["baselines"]
    late = metrics.get("late_risk") or {}
    return {
        "n_test": metrics["n_test"],
        "model_mae_hours": model.get("mae_hours"),
        "promise_mae_hours": base["promise"].get("mae_hours"),
        "lane_median_mae_hours": base["lane_median"].get("mae_hours"),
        "carrier_median_mae_hours": base["carrier_median"].get("mae_hours"),
        "coverage_80": model.get("coverage"),
        "width_hours_80": model.get("width_hours"),
        "coverage_90": model.get("coverage_90"),
        "coverage_95": model.get("coverage_95"),
        "late_roc_auc": late.get("roc_auc"),
        "late_brier": late.get("brier"),
        "in_transit": metrics.get("in_transit"),
    }


def segment_coverage(metrics: dict) -> dict:
    return {
        dim: {k: {"n": v["model"].get("n"), "coverage": v["model"].get("coverage")} for k, v in seg.items()}
        for dim, seg in metrics["segments"].items()
        if dim in ("carrier", "cross_border")
    }


def train_and_read(history: Path, work: Path, name: str, **kwargs: Path) -> dict:
    report = work / f"report-{name}"
    run_train(history, experiment=f"quality-{name}", out_dir=report, **kwargs)
    return json.loads((report / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shipments", type=int, default=100_000, help="simulated shipments")
    args = parser.parse_args(argv)
    results: dict = {"real": {}, "simulated": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        for fmt, rel in REAL.items():
            if not (DATA / rel).exists():
                print(f"skipping {fmt}: {DATA / rel} not found")
                continue
            history = work / f"{fmt}.parquet"
            import_dataset(fmt, DATA / rel).valid.to_parquet(history)
            results["real"][fmt] = headline(train_and_read(history, work, fmt))
        sim_dir = work / "sim"
        write_simulation(simulate(SimulationConfig(n_shipments=args.shipments, seed=1)), sim_dir)
        metrics = train_and_read(
            sim_dir / "history.parquet", work, "simulated",
            weather_path=sim_dir / "weather.parquet", events_path=sim_dir / "events.parquet",
        )  # fmt: skip
        results["simulated"] = {
            "shipments": args.shipments,
            **headline(metrics),
            "segments": segment_coverage(metrics),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
