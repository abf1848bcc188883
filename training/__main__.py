"""Command line: `python -m training {import,simulate,train,evaluate,predict,rescore,demo}`
(see ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_import(args: argparse.Namespace) -> int:
    from training.importers import import_dataset

    result = import_dataset(args.format, Path(args.raw_path))
    print(result.summary(f"{args.format} shipments"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.valid.to_parquet(out, index=False)
    if args.rejected:
        result.rejected.astype({"reason": "string"}).to_parquet(args.rejected, index=False)
    print(f"wrote {out}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from training.simulate import SimulationConfig, simulate, write_parts, write_simulation

    config = SimulationConfig(n_shipments=args.shipments, seed=args.seed)
    if args.parts > 1:
        for p in write_parts(config, args.parts, Path(args.out)):
            print(f"wrote {p}")
        return 0
    sim = simulate(config)
    paths = write_simulation(sim, Path(args.out))
    print(sim.describe())
    for p in paths:
        print(f"wrote {p}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from training.models import TrainConfig
    from training.pipeline import run_train

    common = {
        "weather_path": Path(args.weather) if args.weather else None,
        "events_path": Path(args.events) if args.events else None,
        "register": args.register,
        "experiment": args.experiment,
        "out_dir": Path(args.report) if args.report else None,
        "config": TrainConfig(num_boost_round=args.rounds),
        "coverage": args.coverage,
    }
    if args.cluster or args.scheduler:
        from training.scaleout.train import run_train_on_cluster

        cluster = {"scheduler": args.scheduler, "workers": args.workers, "fraction": args.sample}
        uri = run_train_on_cluster(Path(args.history), **common, **cluster)  # type: ignore[arg-type]
    else:
        uri = run_train(Path(args.history), **common)  # type: ignore[arg-type]
    print(uri)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from training.pipeline import run_evaluate

    weather = Path(args.weather) if args.weather else None
    run_evaluate(args.model, Path(args.history), Path(args.out), weather_path=weather, coverage=args.coverage)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from training.pipeline import run_predict

    weather = Path(args.weather) if args.weather else None
    run_predict(args.model, Path(args.history), Path(args.out), weather_path=weather, coverage=args.coverage)
    return 0


def _cmd_rescore(args: argparse.Namespace) -> int:
    import pandas as pd

    from training import registry
    from training.pipeline import read_weather
    from training.scaleout.cluster import connect
    from training.scaleout.rescore import Job, RescoreIncomplete, rescore

    bundle = registry.load_bundle(args.model)
    as_of = pd.Timestamp(args.as_of) if args.as_of else pd.Timestamp.now(tz="UTC").floor("s")
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    version = str(bundle.metadata.get("version", ""))
    job = Job(args.model, version, as_of.isoformat(), args.coverage, args.partitions)
    with connect(args.scheduler, args.workers) as client:
        weather = read_weather(Path(args.weather) if args.weather else None)
        try:
            totals = rescore(
                client, Path(args.history), Path(args.events), bundle, job, Path(args.out), weather
            )
        except RescoreIncomplete as failed:
            print(failed, file=sys.stderr)
            return 1
    print(
        f"rescored {totals['shipments']:,} shipments in flight at {job.as_of} in {totals['partitions']} "
        f"partitions ({totals['written_now']} written now): {totals['alerts']:,} alerts; "
        f"{totals['closed_by_scan']:,} skipped (delivered or returned by their scans); wrote {args.out}"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from training.demo import run_demo

    return run_demo(Path(args.out), n_shipments=args.shipments, seed=args.seed)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a share in (0, 1], not {text}")
    return value


def _cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler (default: DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    p.add_argument(
        "--workers", type=int, help="worker processes of the local cluster (default: one per core)"
    )


def build_parser() -> argparse.ArgumentParser:
    from training.importers import FORMATS

    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="map a raw dataset onto the shipment contract")
    p.add_argument("format", choices=sorted(FORMATS))
    p.add_argument("raw_path")
    p.add_argument("--out", required=True, help="history parquet to write")
    p.add_argument("--rejected", help="also write the rejected rows with their reasons to this parquet")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("simulate", help="simulate a shipment network's history")
    p.add_argument("--shipments", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="directory for history/events/weather parquet files")
    p.add_argument(
        "--parts",
        type=int,
        default=1,
        help="simulate in this many independent runs (seeds S, S+1, …) into history/ and events/ parts",
    )
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "train", help="fit, evaluate against baselines, log to MLflow; prints the model URI last"
    )
    p.add_argument("--history", required=True)
    p.add_argument("--events", help="tracking events parquet (for the in-transit model)")
    p.add_argument("--weather", help="weather table parquet")
    p.add_argument(
        "--register", help="registered model name; the champion alias moves only if the new one wins"
    )
    p.add_argument("--experiment", help="MLflow experiment (default: the history file's name)")
    p.add_argument("--report", help="also keep the evaluation report in this directory")
    p.add_argument("--rounds", type=int, default=300, help="boosting rounds per model")
    p.add_argument("--coverage", type=float, default=0.8)
    p.add_argument(
        "--cluster",
        action="store_true",
        help="train on a Dask cluster (history and events may be directories of parquet parts)",
    )
    _cluster_options(p)
    p.add_argument(
        "--sample",
        type=_fraction,
        default=1.0,
        help="with --cluster: fit on this share of the shipments (the lane/carrier history counts all)",
    )
    p.set_defaults(func=_cmd_train)

    for name, help_text in (
        ("evaluate", "metrics.json and a report with plots"),
        ("predict", "predictions.parquet"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument(
            "--model", required=True, help="models:/NAME@champion, models:/NAME/N, runs:/… or a path"
        )
        p.add_argument("--history", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--weather", help="weather table parquet, when the model was trained with one")
        p.add_argument("--coverage", type=float, default=0.8)
        p.set_defaults(func=_cmd_evaluate if name == "evaluate" else _cmd_predict)

    p = sub.add_parser(
        "rescore", help="re-predict the shipments in flight and their alerts, partition by partition (Dask)"
    )
    p.add_argument("--model", required=True, help="models:/NAME@champion, models:/NAME/N, runs:/… or a path")
    p.add_argument("--history", required=True, help="shipments parquet (a file or a directory of parts)")
    p.add_argument("--events", required=True, help="scan events parquet (a file or a directory of parts)")
    p.add_argument("--out", required=True, help="directory for predictions/, alerts/ and manifest.json")
    p.add_argument("--as-of", help="the moment to predict at (ISO timestamp, UTC if no zone; default: now)")
    p.add_argument("--coverage", type=float, default=0.8)
    p.add_argument("--partitions", type=int, default=16, help="output partitions (fixed for a resumed run)")
    p.add_argument("--weather", help="weather table parquet, when the model was trained with one")
    _cluster_options(p)
    p.set_defaults(func=_cmd_rescore)

    p = sub.add_parser("demo", help="run the main job end to end on the embedded default")
    p.add_argument("--out", default="var/demo")
    p.add_argument("--shipments", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
