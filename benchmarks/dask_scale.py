"""Scale-out on a Dask LocalCluster: a simulated history of millions of shipments, features built partition by
partition, training on the cluster, and the re-scoring of every shipment in flight (then its resumption).

Each phase runs on a fresh LocalCluster (worker processes, one thread each). Each worker samples its own
resident memory five times a second (a worker plugin) and reports its peak when the phase ends; `ru_maxrss`
would not do, as a process started by fork and exec inherits its parent's peak. Training and re-scoring are
the real commands, run in a fresh client process against the cluster's address (`--scheduler`), whose
resident memory is sampled the same way from outside. Not part of `make bench` (it takes
far longer than its budget); run it on its own, then `python -m benchmarks.run --render-only`:

    python -m benchmarks.dask_scale          # 10,000,000 shipments: benchmarks/results/dask_10m.json
    python -m benchmarks.dask_scale --shipments 200000 --name dask_small --data var/bench/dask_small
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dask
import psutil
from distributed import Client, LocalCluster, WorkerPlugin

from benchmarks import record
from features.build import FeatureBuilder
from training.scaleout.data import read_checked, time_windows
from training.scaleout.features import features_as_of, fit_features

ROOT = Path(__file__).resolve().parents[1]
SIM_END = "2026-01-01T00:00:00+00:00"  # the simulator's default period (2024-01-01 + 730 days) ends here


SAMPLE_S = 0.2


class PeakMemory(WorkerPlugin):
    """Samples the worker process's resident memory in a thread; `peak` is the largest seen (bytes)."""

    name = "peak-memory"

    def setup(self, worker) -> None:  # type: ignore[no-untyped-def]
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, name="peak-memory", daemon=True).start()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(SAMPLE_S):
            self.peak = max(self.peak, me.memory_info().rss)

    def teardown(self, worker) -> None:  # type: ignore[no-untyped-def]
        self._stop.set()


def worker_peak_mb(dask_worker) -> float:  # type: ignore[no-untyped-def]
    return dask_worker.plugins[PeakMemory.name].peak / 2**20


def run_sampled(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run `cmd` from the repository root; its wall seconds, peak resident MB (sampled) and output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        watched, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                peak = max(peak, watched.memory_info().rss)
            time.sleep(SAMPLE_S)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{text[-3000:]}")
    return time.perf_counter() - started, peak / 2**20, text


def cluster_phase(workers: int, run: Phase) -> dict:
    """`run(client, address)` on a fresh LocalCluster; its wall time and each worker's peak RSS."""
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(PeakMemory())
        started = time.perf_counter()
        extra = run(client, cluster.scheduler_address)
        wall = time.perf_counter() - started
        peaks = client.run(worker_peak_mb)
    return {
        "wall_s": round(wall, 1),
        "worker_peak_rss_mb": [round(v) for v in sorted(peaks.values())],
        **extra,
    }


Phase = Callable[[Client, str], dict]


def features_phase(data: Path) -> Phase:
    """Fit the feature state on the training window and compute every training shipment's features as of
    its creation, partition by partition (summed on the workers, never gathered)."""

    def run(client: Client, address: str) -> dict:
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


def command_phase(cmd: list[str], env: dict[str, str], keep: dict) -> Phase:
    """The command run in a fresh client process against the cluster (its address appended)."""

    def run(client: Client, address: str) -> dict:
        _, peak_mb, keep["stdout"] = run_sampled([*cmd, "--scheduler", address], env)
        return {"client_peak_rss_mb": round(peak_mb), "command": " ".join(cmd[2:])}

    return run


def measure(
    shipments: int,
    parts: int,
    workers: int,
    sample: float,
    rounds: int,
    data: Path,
    partitions: int,
    save: Callable[[dict], object] = lambda results: None,
) -> dict:
    """`data`: relative to the repository root (the commands run there and show it as given). `save` is
    called with the figures so far after each phase (a long run keeps what it measured)."""
    py = sys.executable
    results: dict = {"shipments": shipments, "parts": parts, "workers": workers, "threads_per_worker": 1}
    if not (ROOT / data / "history").exists():
        sim = [py, "-m", "training", "simulate", "--shipments", str(shipments), "--parts", str(parts),
               "--out", str(data)]  # fmt: skip
        wall, peak_mb, _ = run_sampled(sim, dict(os.environ))
        results["simulate"] = {"wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb)}
        save(results)
    results["features"] = cluster_phase(workers, features_phase(ROOT / data))
    save(results)
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
        save(results)
        out = Path(tmp) / "rescore"  # written by the workers
        rescore = [py, "-m", "training", "rescore", "--model", uri, "--history", str(data / "history"),
                   "--events", str(data / "events"), "--weather", str(data / "weather.parquet"),
                   "--out", str(out), "--as-of", SIM_END, "--partitions", str(partitions)]  # fmt: skip
        results["rescore"] = cluster_phase(workers, command_phase(rescore, env, kept))
        results["rescore"]["summary"] = kept["stdout"].strip().splitlines()[-1]
        save(results)
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
    f = results.get("features")
    if f is None:
        return "\n".join(lines)
    lines.append(
        f"| features | state from the summed partition summaries, then {f['rows']:,} training shipments' "
        f"{f['features']} features as of creation in {f['partitions']} partitions | {f['wall_s']:,.0f} | "
        f"{', '.join(f'{v:,}' for v in f['worker_peak_rss_mb'])} | – |"
    )
    t = results.get("train")
    if t is None:
        stopped = "Training and re-scoring did not complete at this size in this run (it was stopped first); "
        return "\n".join([*lines, "", stopped + "the tests run both on a two-worker LocalCluster."])
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

    def save(results: dict) -> Path:
        return record.save(args.name, results, time.perf_counter() - started)

    results = measure(
        args.shipments,
        args.parts,
        args.workers,
        args.sample,
        args.rounds,
        Path(args.data),
        args.partitions,
        save,
    )
    path = save(results)
    print(render(results))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
