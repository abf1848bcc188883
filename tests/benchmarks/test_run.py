"""`make bench`: each benchmark measures and renders, the budgets fit, BENCHMARKS.md comes from JSON alone."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import process, quality, record, run, simulate, train, workspace
from tests.factories import make_shipments
from training.evaluation import evaluate


def test_every_registered_benchmark_has_a_measure_and_a_render() -> None:
    for bench in run.BENCHMARKS:
        module = importlib.import_module(bench.module)
        assert callable(module.measure) and callable(module.render), bench.module


def test_the_budgets_of_make_bench_add_up_to_at_most_twenty_minutes() -> None:
    assert sum(b.budget_s or 0 for b in run.BENCHMARKS) <= run.BUDGET_S == 20 * 60


def test_a_measured_benchmark_renders_as_a_table_under_the_machine_it_ran_on(tmp_path: Path) -> None:
    figures = simulate.measure(budget_s=60, sizes=(300,), runs=2, seed=3)
    record.save("simulate", figures, wall_s=1.0, directory=tmp_path)
    whole = {"started_at": record.now(), "machine": record.machine(), "budget_s": run.BUDGET_S}
    whole |= {"wall_s": 61.0, "benchmarks": {"simulate": 1.0}, "failed": []}
    record.save(run.RUN, whole, wall_s=61.0, directory=tmp_path)

    text = run.render(tmp_path)

    assert f"Machine: {record.machine()['cores']} cores" in text
    assert "took 1.0 min (within the 20-minute budget)" in text
    row = next(line for line in text.splitlines() if line.startswith("| 300 |"))
    runs, shipments_per_s = row.split(" | ")[1], row.split(" | ")[3]
    assert runs == "2" and int(shipments_per_s.replace(",", "")) > 0
    assert figures["sizes"][0]["events"] > 300  # every shipment has several tracking events


def test_a_benchmark_without_stored_figures_is_named_as_not_measured(tmp_path: Path) -> None:
    text = run.render(tmp_path)

    assert "`make bench` has not been run on this checkout yet." in text
    assert text.count("Not measured yet") == len(run.BENCHMARKS)


def _metrics(seed: int) -> dict:
    """A real evaluation: the P50 is the promise shifted by noise, the window ±24 h, p_late a noisy score."""
    history = make_shipments(3000, seed=seed)
    train, test = history.iloc[:2400], history.iloc[2400:].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    eta = test["promised_at"] - pd.to_timedelta(rng.normal(20, 6, len(test)), unit="h")
    predictions = pd.DataFrame(
        {
            "shipment_id": test["shipment_id"],
            "eta_p50": eta,
            "window_start": eta - pd.Timedelta(hours=24),
            "window_end": eta + pd.Timedelta(hours=24),
            "coverage": 0.8,
            "p_late": rng.uniform(0, 1, len(test)),
            "prediction_source": "model",
        }
    )
    return evaluate(test, predictions, train, coverage=0.8)


def test_the_accuracy_tables_show_baselines_late_risk_and_the_promise_trade_off() -> None:
    metrics = _metrics(seed=5)
    figures = {
        "data": "shared/data",
        "real": {"dated": quality.headline(metrics, by_time=True)},
        "missing": ["truck-trips"],
        "simulated": {"shipments": 3000, **quality.headline(metrics, by_time=True), "segments": {}},
    }

    text = quality.render(figures)

    point = next(line for line in text.splitlines() if line.startswith("| dated |"))
    model_mae = metrics["overall"]["model"]["mae_hours"]
    assert f"| {model_mae:,.2f} |" in point
    trade = [line for line in text.splitlines() if line.startswith("| dated |") and "| model |" in line]
    saved = metrics["tradeoff"]["model"]["promised_hours_saved_at_equal_on_time"]
    assert len(trade) == 1 and trade[0].rstrip(" |").endswith(f"{saved:,.2f}")
    assert "Not found in shared/data when measured: truck-trips." in text


def test_training_cost_growth_is_the_exponent_of_time_against_size() -> None:
    rows = [
        {"shipments": 100_000, "median_wall_s": 30.0, "peak_rss_mb": 500},
        {"shipments": 1_000_000, "median_wall_s": 300.0, "peak_rss_mb": 2000},
    ]

    (g,) = train.growth(rows)

    assert g == {
        "from": 100_000,
        "to": 1_000_000,
        "time_ratio": 10.0,
        "memory_ratio": 4.0,
        "time_exponent": 1.0,
    }


@pytest.mark.parametrize(("budget_s", "runs"), [(run.by_name("train").budget_s, train.RUNS), (0.0, 1)])
def test_training_runs_each_size_as_often_as_its_share_of_the_budget_allows(
    budget_s: float, runs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a clock that advances by the wall times of the last full run (100,000 shipments: 43 s, 1,000,000:
    177 s), the training budget holds three runs at each size; with no budget each size still runs once."""
    walls, clock = {"100000": 43.0, "1000000": 177.0}, [0.0]

    def run_fresh(cmd: list[str], env: dict[str, str] | None = None) -> process.Run:
        clock[0] += walls[cmd[0]]
        return process.Run(walls[cmd[0]], cpu_s=1.0, peak_rss_mb=1.0, stdout="runs:/1/model")

    fake_time = SimpleNamespace(perf_counter=lambda: clock[0])
    monkeypatch.setattr(train, "time", fake_time)
    monkeypatch.setattr(process, "time", fake_time)
    monkeypatch.setattr(process, "run_fresh", run_fresh)
    monkeypatch.setattr(workspace, "simulated", lambda n: None)
    monkeypatch.setattr(workspace, "train_command", lambda n: [str(n)])
    monkeypatch.setattr(workspace, "_runs", {})
    monkeypatch.setattr(workspace, "_models", {})

    figures = train.measure(budget_s)

    assert [(r["shipments"], r["runs"]) for r in figures["sizes"]] == [(100_000, runs), (1_000_000, runs)]
    assert ("Fewer than" in train.render(figures)) == (runs < train.RUNS)


def test_repeated_runs_stop_once_another_would_overrun_the_budget_but_always_run_once() -> None:
    quick = [sys.executable, "-c", "pass"]

    assert len(process.repeated(quick, runs=4, budget_s=0.0)) == 1
    assert len(process.repeated(quick, runs=3, budget_s=600.0)) == 3


def test_a_failing_command_raises_with_its_output() -> None:
    with pytest.raises(RuntimeError, match="no such shipment"):
        process.run_fresh([sys.executable, "-c", "raise SystemExit('no such shipment')"])
