"""Benchmark the online path in-process: one checkout request through features, models and the quote.

Fits a bundle on the simulator's network (default TrainConfig), then times, over requests made from distinct
test shipments (so no branch predictor learns one request by heart):

- features: `FeatureBuilder.matrix` of one request's columns (the single-row transform),
- models: all models of the bundle on one feature row (P10/P50/P90 and the late risk),
- quote: a full single-option `serving.quotes.quote` (request columns, features, models, calibrated window,
  local delivery dates on the carrier's days, the response objects),
- the features and the models again, as timed inside those quotes (a quote shows no late risk, so its models
  are the three quantiles),
- for reference, the offline `ModelBundle.predict` of a one-row contract frame.

Each stage runs three times in turn; every figure is the median of the three.

    python -m benchmarks.serving_inprocess [--shipments 100000] [--iterations 2000]

Prints a table and writes benchmarks/results/serving_inprocess.json (also run by `make bench`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import record
from features.bundle import ModelBundle
from serving.quotes import QuoteRequest, quote, request_columns
from training.models import fit_bundle
from training.simulate import SimulationConfig, simulate
from training.split import time_split

ROOT = Path(__file__).resolve().parents[1]
NAME = "serving_inprocess"
TARGET_P50_US, TARGET_P99_US = 500.0, 2000.0


@cache
def fitted(n_shipments: int, seed: int) -> tuple[ModelBundle, pd.DataFrame]:
    """A bundle fitted on the simulator's network and its test window (fitted once per process: the HTTP
    benchmark serves the same one)."""
    split = time_split(simulate(SimulationConfig(n_shipments=n_shipments, seed=seed)).history)
    return fit_bundle(split.train, split.calibrate), split.test


def bundle_and_shipments(n_shipments: int, seed: int, saved: Path | None) -> tuple[ModelBundle, pd.DataFrame]:
    """`fitted`, or a saved bundle with freshly simulated shipments to ask about."""
    if saved is None:
        return fitted(n_shipments, seed)
    return ModelBundle.load(saved), simulate(SimulationConfig(n_shipments=5000, seed=seed)).history


def place(row: pd.Series, side: str) -> dict:
    out = {"country": row[f"{side}_country"], "region": row[f"{side}_region"]}
    if pd.notna(row[f"{side}_lat"]):
        out |= {"lat": float(row[f"{side}_lat"]), "lon": float(row[f"{side}_lon"])}
    return {k: v for k, v in out.items() if not (v is None or v is pd.NA)}


def quote_body(row: pd.Series) -> dict:
    """What a checkout page would send for this shipment, with its carrier and service as the one option."""
    attrs = {c.removeprefix("attr_"): row[c] for c in row.index if c.startswith("attr_") and pd.notna(row[c])}
    attrs = {k: v.item() if isinstance(v, np.generic) else v for k, v in attrs.items()}  # JSON's own types
    return {
        "origin": place(row, "origin"),
        "destination": place(row, "destination"),
        "created_at": row["created_at"].isoformat(),
        "weight_kg": float(row["weight_kg"]) if pd.notna(row["weight_kg"]) else None,
        "attributes": attrs,
        "options": [{"carrier": row["carrier"], "service": row["service"]}],
    }


def quote_request(row: pd.Series) -> QuoteRequest:
    return QuoteRequest.model_validate(quote_body(row))


def timed(call: Callable[[int], object], inputs: int, iterations: int, warmup: int = 300) -> dict[str, float]:
    """p50/p99/mean wall time in µs of `call(i)`, cycling i over the inputs."""
    for i in range(warmup):
        call(i % inputs)
    gc.collect()
    spent = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter()
        call(i % inputs)
        spent[i] = time.perf_counter() - start
    return summary(spent)


def summary(spent_s: np.ndarray) -> dict[str, float]:
    us = np.asarray(spent_s) * 1e6
    return {
        "iterations": len(us),
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "mean_us": round(float(us.mean()), 1),
    }


def inside_quotes(
    bundle: ModelBundle, one_quote: Callable[[int], object], inputs: int, iterations: int
) -> dict:
    """The features and the models as timed inside full quotes (with caches and branch predictors as the rest
    of the request leaves them): the two calls are wrapped on this bundle instance for the duration."""
    spent: dict[str, list[float]] = {"quote: features inside": [], "quote: models inside": []}

    def timing(name: str, inner: Callable) -> Callable:
        def call(*args: object) -> object:
            start = time.perf_counter()
            out = inner(*args)
            spent[name].append(time.perf_counter() - start)
            return out

        return call

    bundle.features.matrix = timing("quote: features inside", bundle.features.matrix)  # type: ignore[method-assign]
    bundle.predict_matrix = timing("quote: models inside", bundle.predict_matrix)  # type: ignore[method-assign]
    try:
        timed(one_quote, inputs, iterations)
    finally:
        del bundle.features.matrix, bundle.predict_matrix
    return {name: summary(np.array(values[-iterations:])) for name, values in spent.items()}


def median_summary(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of each figure over several runs (iterations: all of them)."""
    out = {k: round(float(np.median([r[k] for r in runs])), 1) for k in ("p50_us", "p99_us", "mean_us")}
    return {"iterations": sum(r["iterations"] for r in runs), "runs": len(runs), **out}


def run(
    bundle: ModelBundle, test: pd.DataFrame, iterations: int, n_requests: int, repeats: int = 3
) -> dict[str, dict]:
    """Every stage `repeats` times in turn (so each sees the same neighbours), `iterations` calls a time."""
    rows = test.sample(min(n_requests, len(test)), random_state=0)
    requests = [quote_request(r) for _, r in rows.iterrows()]
    now = dt.datetime.now(dt.UTC)
    columns = [request_columns(r, r.created_at or now) for r in requests]
    matrices = [bundle.features.matrix(c) for c in columns]
    frames = [rows.iloc[[i]] for i in range(len(rows))]
    n = len(requests)

    def one_quote(i: int) -> object:
        return quote(bundle, requests[i], now, 0.8)

    rounds = [
        {
            "features": timed(lambda i: bundle.features.matrix(columns[i]), n, iterations),
            "models": timed(lambda i: bundle.predict_matrix(matrices[i]), n, iterations),
            "quote": timed(one_quote, n, iterations),
            **inside_quotes(bundle, one_quote, n, iterations),
            "offline predict, 1-row frame": timed(
                lambda i: bundle.predict(frames[i]), n, max(iterations // 5, 300)
            ),
        }
        for _ in range(repeats)
    ]
    return {name: median_summary([r[name] for r in rounds]) for name in rounds[0]}


def table(results: dict[str, dict]) -> str:
    lines = [f"{'stage':<30} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9} {'calls':>7}", "-" * 68]
    for name, r in results.items():
        cells = f"{r['p50_us']:>9,.1f} {r['p99_us']:>9,.1f} {r['mean_us']:>9,.1f} {r['iterations']:>7,}"
        lines.append(f"{name:<30} {cells}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shipments", type=int, default=100_000, help="simulated shipments to train on")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--iterations", type=int, default=2000, help="timed calls per stage and run (after warm-up)"
    )
    p.add_argument("--requests", type=int, default=500, help="distinct requests cycled through")
    p.add_argument("--bundle", type=Path, help="time this saved bundle instead of fitting one")
    return p.parse_args(argv)


def measure(
    budget_s: float,
    shipments: int = 100_000,
    seed: int = 1,
    iterations: int = 2000,
    n_requests: int = 500,
    saved: Path | None = None,
) -> dict:
    """Fit once, then time each stage a fixed number of times, three times over (the budget is not divided);
    the figures are the medians of the three."""
    started = time.perf_counter()
    bundle, test = bundle_and_shipments(shipments, seed, saved)
    fit_s = time.perf_counter() - started
    load_before = os.getloadavg()
    results = run(bundle, test, iterations, n_requests)
    load_after = os.getloadavg()
    print(table(results))
    met = results["quote"]["p50_us"] <= TARGET_P50_US and results["quote"]["p99_us"] <= TARGET_P99_US
    target = f"p50 <= {TARGET_P50_US:.0f} µs and p99 <= {TARGET_P99_US:.0f} µs"
    print(f"quote target {target}: {'met' if met else 'NOT met'}")
    return {
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "bundle": {
            "shipments": shipments if saved is None else None,
            "saved": None if saved is None else str(saved),
            "fit_s": round(fit_s, 1),
            "features": len(bundle.features.feature_names_),
            "trees_per_model": bundle.quantile_models[0.5].num_trees() if bundle.quantile_models else None,
            "models": (3 if bundle.quantile_models else 0) + (bundle.late_model is not None),
        },
        "target": {"quote_p50_us": TARGET_P50_US, "quote_p99_us": TARGET_P99_US, "met": met},
        "results": results,
    }


def render(report: dict) -> str:
    bundle, target = report["bundle"], report["target"]
    lines = [
        (
            f"Bundle fitted on {bundle['shipments']:,} simulated shipments: "
            if bundle.get("shipments")
            else f"Saved bundle {bundle['saved']}: "
        )
        + f"{bundle['models']} models x "
        f"{bundle['trees_per_model']} trees, {bundle['features']} features. "
        f"Target for a single-option quote: p50 <= {target['quote_p50_us']:.0f} µs, "
        f"p99 <= {target['quote_p99_us']:.0f} µs "
        f"({'met' if target['met'] else 'not met'}). Each figure is the median of the runs; a quote runs the "
        "three quantile models (it shows no late risk). 1-minute load average "
        f"{report['load_average_1m']['before']} before, {report['load_average_1m']['after']} after.",
        "",
        "| stage | calls (runs) | p50 µs | p99 µs |",
        "|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        calls = f"{r['iterations']:,} ({r.get('runs', 1)})"
        lines.append(f"| {name} | {calls} | {r['p50_us']:,.0f} | {r['p99_us']:,.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = measure(0.0, args.shipments, args.seed, args.iterations, args.requests, args.bundle)
    print(f"wrote {record.save(NAME, report, time.perf_counter() - started)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
