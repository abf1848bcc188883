"""What the scale benchmarks share within one process: simulated histories on disk and models trained on them
by `python -m training train`, in one temporary directory with its own MLflow store (never var/mlflow.db).

Each simulated history is written once per size; a model trained by the training benchmark is reused by the
batch benchmark instead of being trained again.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from benchmarks import process
from training.simulate import SimulationConfig, simulate, write_simulation

SEED = 1


@dataclass(frozen=True)
class Simulated:
    history: Path
    events: Path
    weather: Path


@cache
def directory() -> Path:
    path = Path(tempfile.mkdtemp(prefix="eta-bench-work-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def env() -> dict[str, str]:
    """The environment for the project's commands: the workspace's own MLflow store."""
    return os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{directory() / 'mlflow.db'}"}


@cache
def simulated(n: int) -> Simulated:
    out = directory() / f"sim-{n}"
    write_simulation(simulate(SimulationConfig(n_shipments=n, seed=SEED)), out)
    return Simulated(out / "history.parquet", out / "events.parquet", out / "weather.parquet")


_models: dict[int, str] = {}
_runs: dict[int, list[process.Run]] = {}  # every `train_command(n)` run in this process, by size


def train_command(n: int) -> list[str]:
    """`python -m training train` on the simulated history of n shipments, with its weather table."""
    sim = simulated(n)
    return [
        sys.executable, "-m", "training", "train", "--history", str(sim.history),
        "--weather", str(sim.weather), "--experiment", f"bench-{n}",
    ]  # fmt: skip


def trained(run: process.Run, n: int) -> str:
    """Remember a finished `train_command(n)` run and the model it logged (the last line it printed)."""
    uri = run.stdout.strip().splitlines()[-1]
    _models[n] = uri
    _runs.setdefault(n, []).append(run)
    return uri


def training_runs(n: int) -> list[process.Run]:
    """The `train_command(n)` runs made so far in this process (a model trained for another benchmark is a
    training run like any other)."""
    return list(_runs.get(n, []))


def model(n: int) -> str:
    """A model trained on n simulated shipments: one trained earlier in this process, else trained now."""
    if n not in _models:
        trained(process.run_fresh(train_command(n), env()), n)
    return _models[n]
