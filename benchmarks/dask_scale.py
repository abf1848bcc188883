"""Scale-out on a Dask LocalCluster: a simulated history of millions of shipments, features built partition by
partition, training on the cluster, and the re-scoring of every shipment in flight (then its resumption).

Each phase runs on a fresh LocalCluster (worker processes, one thread each), so each worker's peak resident
memory is the phase's own: read from the workers themselves (`ru_maxrss` of each worker process) when the
phase ends. Training and re-scoring are the real commands, run in a fresh client process against the
cluster's address (`--scheduler`); their client's peak RSS is measured too. Not part of `make bench` (it takes
far longer than its budget); run it on its own, then `python -m benchmarks.run --render-only`:

    python -m benchmarks.dask_scale          # 10,000,000 shipments: benchmarks/results/dask_10m.json
    python -m benchmarks.dask_scale --shipments 200000 --name dask_small --data var/bench/dask_small
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import dask
from distributed import Client, LocalCluster

from benchmarks import process, record
from training.scaleout.data import read_checked, time_windows
from training.scaleout.features import features_as_of, fit_features

ROOT = Path(__file__).resolve().parents[1]
SIM_END = "2026-01-01T00:00:00+00:00"  # the simulator's default period (2024-01-01 + 730 days) ends here


def worker_peak_mb() -> float:
    """This process's peak resident memory (run on each worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cluster_phase(workers: int, run) -> dict:  # type: ignore[no-untyped-def]
    """`run(client, address)` on a fresh LocalCluster; its wall time and each worker's peak RSS."""
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        extra = run(client, cluster.scheduler_address) or {}
        wall = time.perf_counter() - started
        peaks = client.run(worker_peak_mb)
    return {
        "wall_s": round(wall, 1),
        "worker_peak_rss_mb": [round(v) for v in sorted(peaks.values())],
        **extra,
    }


def features_phase(data: Path) -> dict:
    """Fit the feature state on the training window and compute every training shipment's features as of
    its creation, partition by partition (summed on the workers, never gathered)."""

    def run(client: Client, _: str) -> dict:
        from features.build import FeatureBuilder

        history = read_checked(data / "history", "shipments")
        windows = time_windows(history)
        builder = FeatureBuilder()
        histories = fit_features(client, windows.train, builder, use_weather=False)
        X = features_as_of(client, windows.train, builder, histories)
        rows, _ = dask.compute(X.shape[0], X["lane_n"].sum())  # every feature computed, none gathered
        return {
            "rows": int(rows),
            "partitions": windows.train.npartitions,
            "features": len(builder.feature_names_),
        }

    return run


def command_phase(cmd: list[str], env: dict[str, str], keep: dict) -> object:
    """The command run in a fresh client process against the cluster (its address appended)."""

    def run(_: Client, address: str) -> dict:
        done = process.run_fresh([*cmd, "--scheduler", address], env)
        keep["stdout"] = done.stdout
        return {"client_peak_rss_mb": round(done.peak_rss_mb), "command": " ".join(cmd[2:])}

    return run


def measure(
    shipments: int, parts: int, workers: int, sample: float, rounds: int, data: Path, partitions: int
) -> dict:
    py = sys.executable
    results: dict = {"shipments": shipments, "parts": parts, "workers": workers, "threads_per_worker": 1}
    if not (data / "history").exists():
        sim = process.run_fresh(
            [py, "-m", "training", "simulate", "--shipments", str(shipments), "--parts", str(parts),
             "--out", str(data)]
        )  # fmt: skip
        results["simulate"] = {"wall_s": round(sim.wall_s, 1), "peak_rss_mb": round(sim.peak_rss_mb)}
    results["features"] = cluster_phase(workers, features_phase(data))
    with tempfile.TemporaryDirectory(prefix="eta-dask-bench-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{Path(tmp) / 'mlflow.db'}"}
        train = [py, "-m", "training", "train", "--history", str(data / "history"), "--events",
                 str(data / "events"), "--weather", str(data / "weather.parquet"), "--rounds", str(rounds),
                 "--sample", str(sample)]  # fmt: skip
        kept: dict = {}
        results["train"] = cluster_phase(workers, command_phase(train, env, kept))
        uri = kept["stdout"].strip().splitlines()[-1]
        results["train"]["sample"] = sample
        results["train"]["rounds"] = rounds
        out = Path(tmp) / "rescore"
        rescore = [py, "-m", "training", "rescore", "--model", uri, "--history", str(data / "history"),
                   "--events", str(data / "events"), "--weather", str(data / "weather.parquet"),
                   "--out", str(out), "--as-of", SIM_END, "--partitions", str(partitions)]  # fmt: skip
        results["rescore"] = cluster_phase(workers, command_phase(rescore, env, kept))
        results["rescore"]["summary"] = kept["stdout"].strip().splitlines()[-1]
        results["rescore_again"] = cluster_phase(workers, command_phase(rescore, env, kept))
        results["rescore_again"]["summary"] = kept["stdout"].strip().splitlines()[-1]
    return results


def render(results: dict) -> str:
    n = results["shipments"]
    lines = [
        f"{n:,} simulated shipments (`simulate --parts {results['parts']}`) on a LocalCluster of "
        f"{results['workers']} worker processes x {results['threads_per_worker']} thread; each phase on a "
        "fresh cluster, peak RSS read from each worker process. Run with `python -m benchmarks.dask_scale` "
        "(not part of `make bench`).",
        "",
        "| phase | what | wall s | peak RSS per worker MB | client peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    if "simulate" in results:
        s = results["simulate"]
        lines.append(f"| simulate | {n:,} shipments in {results['parts']} parts, one process | "
                     f"{s['wall_s']:,.0f} | – | {s['peak_rss_mb']:,} |")  # fmt: skip
    f = results["features"]
    lines.append(
        f"| features | state from the summed partition summaries, then {f['rows']:,} training shipments' "
        f"{f['features']} features as of creation in {f['partitions']} partitions | {f['wall_s']:,.0f} | "
        f"{', '.join(f'{v:,}' for v in f['worker_peak_rss_mb'])} | – |"
    )
    t = results["train"]
    lines.append(
        f"| train | `{t['command']}`: the lane/carrier history from every shipment, the models fitted on "
        f"{t['sample']:.0%} of them, {t['rounds']} rounds | {t['wall_s']:,.0f} | "
        f"{', '.join(f'{v:,}' for v in t['worker_peak_rss_mb'])} | {t['client_peak_rss_mb']:,} |"
    )
    for key, what in (
        ("rescore", "every shipment in flight"),
        ("rescore_again", "re-run: resumes, all done"),
    ):
        r = results[key]
        lines.append(
            f"| {key.replace('_', ' ')} | {what}: {r['summary']} | {r['wall_s']:,.0f} | "
            f"{', '.join(f'{v:,}' for v in r['worker_peak_rss_mb'])} | {r['client_peak_rss_mb']:,} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shipments", type=int, default=10_000_000)
    p.add_argument("--parts", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--sample", type=float, default=0.1, help="share of shipments the models learn from")
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--partitions", type=int, default=16, help="rescore output partitions")
    p.add_argument("--data", default="var/bench/dask_10m", help="where the simulated parts are kept")
    p.add_argument("--name", default="dask_10m", help="results file: benchmarks/results/NAME.json")
    args = p.parse_args(argv)
    started = time.perf_counter()
    results = measure(
        args.shipments, args.parts, args.workers, args.sample, args.rounds, ROOT / args.data, args.partitions
    )
    path = record.save(args.name, results, time.perf_counter() - started)
    print(render(results))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
