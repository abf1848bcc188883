"""`make bench`: run every benchmark within the time budget, store each one's figures as JSON, and render
BENCHMARKS.md from the JSON alone (nothing typed by hand).

A benchmark is a module with two functions, listed once in BENCHMARKS below:

- `measure(budget_s: float) -> dict`: measure, staying within `budget_s` seconds where the module can choose
  (repeats, sizes), and return JSON-able figures; run.py stamps them with the machine and saves them to
  `benchmarks/results/<name>.json` (see `benchmarks.record`).
- `render(results: dict) -> str`: the markdown table(s) for those figures.

A benchmark without a budget is not run by `make bench`; its section is rendered from the JSON it saved itself
(with `benchmarks.record.save`) when it ran on its own.

    python -m benchmarks.run                    # all budgeted benchmarks, then BENCHMARKS.md
    python -m benchmarks.run simulate batch     # only these (the others keep their stored figures)
    python -m benchmarks.run --render-only      # BENCHMARKS.md from the stored JSON
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import record

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
BUDGET_S = 20 * 60  # the whole `make bench`, on the project's 2-core machine
RUN = "run"  # results/run.json: the last `make bench` as a whole (machine at start, wall times, failures)


@dataclass(frozen=True)
class Benchmark:
    name: str  # its figures live in benchmarks/results/<name>.json
    module: str  # has measure(budget_s) -> dict and render(results) -> str
    title: str  # the section heading in BENCHMARKS.md
    budget_s: float | None  # its share of BUDGET_S; None: not run by `make bench`, only rendered


BENCHMARKS: list[Benchmark] = [
    Benchmark("quality", "benchmarks.quality", "Accuracy (time split, latest 15% as test)", budget_s=100),
    Benchmark(
        "serving_inprocess",
        "benchmarks.serving_inprocess",
        "In-process serving (one checkout quote, no HTTP)",
        budget_s=60,
    ),
    Benchmark(
        "serving_http",
        "benchmarks.serving_http",
        "HTTP serving (the service beside `mlflow models serve` of the same registered model)",
        budget_s=120,  # serves the bundle the in-process benchmark fitted just before
    ),
    Benchmark(
        "train",
        "benchmarks.train",
        "Training (`python -m training train`, fresh process per run)",
        budget_s=690,  # 3 runs at 100,000 and 3 at 1,000,000 shipments
    ),
    Benchmark(
        "batch",
        "benchmarks.batch",
        "Batch prediction (`python -m training predict`, fresh process per run)",
        budget_s=170,
    ),
    Benchmark(
        "alerts",
        "benchmarks.alerts",
        "Delay notifications (`python -m benchmarks.alerts`: dispatcher throughput; a simulated month "
        "replayed through the API)",
        budget_s=None,  # the 20 minutes are spoken for: run on its own, rendered from its JSON
    ),
    Benchmark(
        "simulate",
        "benchmarks.simulate",
        "Simulator (`python -m training simulate`, fresh process per run, parquet writing included)",
        budget_s=60,
    ),
    Benchmark(
        "dask_10m",
        "benchmarks.dask_scale",
        "Scale-out on a Dask LocalCluster (10,000,000 shipments; run on its own)",
        budget_s=None,
    ),
]


def by_name(name: str) -> Benchmark:
    for b in BENCHMARKS:
        if b.name == name:
            return b
    raise SystemExit(f"unknown benchmark {name!r}; known: {', '.join(b.name for b in BENCHMARKS)}")


def measure(bench: Benchmark) -> float:
    """Run one benchmark and save its stamped figures; returns its wall time."""
    if bench.budget_s is None:
        raise SystemExit(f"{bench.name} has no budget in `make bench`; run its own module instead")
    module = importlib.import_module(bench.module)
    print(f"== {bench.name} (budget {bench.budget_s:.0f} s)", flush=True)
    started = time.perf_counter()
    results = module.measure(bench.budget_s)
    wall = time.perf_counter() - started
    path = record.save(bench.name, results, wall)
    print(f"== {bench.name}: {wall:.0f} s, wrote {path.relative_to(ROOT)}", flush=True)
    return wall


def stamp(stored: dict, header_machine: dict | None) -> str:
    m = stored["machine"]
    line = f"Measured {stored['measured_at']} in {stored['wall_s']:,.0f} s"
    load = m.get("load_average_1m")
    line += "." if load is None else f" (1-minute load average {load} at the end)."
    same = header_machine is not None and all(
        m.get(k) == header_machine.get(k) for k in ("cores", "memory_gib", "cpu", "versions")
    )
    return line if same else f"{line} Machine: {record.describe(m)}."


def section(bench: Benchmark, header_machine: dict | None, directory: Path) -> str:
    stored = record.load(bench.name, directory)
    if stored is None:
        return f"## {bench.title}\n\nNot measured yet (no benchmarks/results/{bench.name}.json).\n"
    module = importlib.import_module(bench.module)
    body = module.render(stored["results"])
    return f"## {bench.title}\n\n{stamp(stored, header_machine)}\n\n{body}\n"


def header(run: dict | None) -> str:
    lines = ["# Benchmarks", ""]
    if run is None:
        return "\n".join([*lines, "`make bench` has not been run on this checkout yet.", ""])
    m = run["machine"]
    within = "within" if run["wall_s"] <= run["budget_s"] else "OVER"
    lines += [
        f"Written by `make bench` (`python -m benchmarks.run`) from the JSON in `benchmarks/results/`; "
        f"last full run started {run['started_at']} and took {run['wall_s'] / 60:.1f} min "
        f"({within} the {run['budget_s'] / 60:.0f}-minute budget).",
        "",
        f"Machine: {record.describe(m)}. 1-minute load average at the start: {m['load_average_1m']} "
        "(the machine is shared: figures are medians of several runs where the table says so, and ratios "
        "are measured side by side in one run).",
    ]
    if run.get("failed"):
        lines += ["", f"Failed in that run (their sections show older figures): {', '.join(run['failed'])}."]
    return "\n".join([*lines, ""])


def render(directory: Path = record.RESULTS) -> str:
    """BENCHMARKS.md from the stored JSON results alone."""
    stored = record.load(RUN, directory)
    run = stored["results"] if stored else None
    header_machine = run["machine"] if run else None
    sections = [section(b, header_machine, directory) for b in BENCHMARKS]
    return "\n".join([header(run), *sections])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="benchmarks to run (default: every one with a budget)")
    p.add_argument("--render-only", action="store_true", help="only write BENCHMARKS.md from stored JSON")
    args = p.parse_args(argv)
    failed: list[str] = []
    if not args.render_only:
        chosen = [by_name(n) for n in args.names] or [b for b in BENCHMARKS if b.budget_s is not None]
        run = {"started_at": record.now(), "machine": record.machine(), "budget_s": BUDGET_S}
        walls: dict[str, float] = {}
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="eta-bench-") as tmp:
            # a throwaway MLflow store: benchmarks never touch the project's own var/mlflow.db
            os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
            for bench in chosen:
                try:
                    walls[bench.name] = round(measure(bench), 1)
                except Exception:  # one broken benchmark must not hide the others' figures
                    traceback.print_exc()
                    failed.append(bench.name)
        run |= {"wall_s": round(time.perf_counter() - started, 1), "benchmarks": walls, "failed": failed}
        if not args.names:  # only a full run speaks for `make bench` as a whole
            record.save(RUN, run, run["wall_s"])
        total = f"total {run['wall_s'] / 60:.1f} min (budget {BUDGET_S / 60:.0f} min)"
        print(f"{total}; failed: {', '.join(failed) or 'none'}")
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
