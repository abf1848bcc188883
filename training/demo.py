"""`make demo`: the main job on an embedded default: simulate a history, train, evaluate, register."""

from __future__ import annotations

import json
from pathlib import Path

from training.pipeline import run_evaluate, run_train
from training.simulate import SimulationConfig, simulate, write_simulation

MODEL_NAME = "eta"


def run_demo(out: Path, n_shipments: int, seed: int) -> int:
    sim = simulate(SimulationConfig(n_shipments=n_shipments, seed=seed))
    write_simulation(sim, out)
    print(sim.describe())
    uri = run_train(
        out / "history.parquet",
        weather_path=out / "weather.parquet",
        register=MODEL_NAME,
        experiment="simulated",
        out_dir=out / "report",
    )
    metrics = run_evaluate(
        f"models:/{MODEL_NAME}@champion", out / "history.parquet", out / "evaluation", out / "weather.parquet"
    )
    model = metrics["overall"]["model"]
    baselines = {k: v.get("mae_hours") for k, v in metrics["overall"]["baselines"].items()}
    print(
        json.dumps(
            {
                "candidate": uri,
                "champion_p50_mae_hours": model.get("mae_hours"),
                "window_coverage": model.get("coverage"),
                "baselines_mae_hours": baselines,
            },
            indent=2,
        )
    )
    print(f"report: {out / 'report' / 'report.md'}")
    return 0
