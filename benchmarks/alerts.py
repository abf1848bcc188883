"""Benchmark the delay notifications: dispatcher throughput, and how early a simulated month's late
shipments are alerted when their traffic is replayed through the API.

- throughput: notifications already in the outbox, one endpoint at a local receiver (its own process, 204 to
  every request), one dispatcher (`serving.notify.dispatcher.Dispatcher`, the code `python -m serving
  dispatch` runs) draining them with its default concurrency; SQLite and, when reachable, PostgreSQL.
- replay: the simulator's history; a bundle fitted on the shipments delivered before the replayed month
  (and their scans); then a sample of the month's shipments replayed hour by hour through the API
  (`POST /v1/shipments`, `POST /v1/shipments/{id}/events` with the scans of each hour) with the service's
  clock set to the simulated hour, and the stall/promise sweep every 6 simulated hours (as the dispatcher
  runs it). For each late shipment (delivered after its promise): was an alert raised before the promise
  passed, and how many hours before; how many on-time shipments were alerted (false alarms).

    python -m benchmarks.alerts [--notifications 2000] [--shipments 12000] [--sample 250]

Prints the figures and writes benchmarks/results/alerts.json, which `make bench` renders into BENCHMARKS.md
(it does not run it: its 20-minute budget is spoken for).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import insert, select

from benchmarks import record
from serving.app import create_app
from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.db.tables import Alert, Delivery, Notification, Shipment, WebhookEndpoint
from serving.notify.dispatcher import Dispatcher
from serving.notify.signing import new_message_id, new_secret
from serving.security import create_key
from serving.settings import Settings
from serving.tracking import sweep
from training.models import TrainConfig, fit_bundle
from training.simulate import SimulationConfig, simulate
from training.split import time_split

NAME = "alerts"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
MONTH = pd.Timedelta(days=30)
TAIL = pd.Timedelta(days=15)  # the replay goes on after the month until its shipments are delivered
SWEEP_EVERY_H = 6


# ---- a receiver in its own process ---------------------------------------------------------------------
class _Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve_receiver() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_receiver() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.alerts", "--receive"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/hooks"


# ---- throughput ----------------------------------------------------------------------------------------
def fill_outbox(url: str, receiver_url: str, n: int) -> None:
    """n notifications of realistic size, each owed to one endpoint at the receiver."""
    now = dt.datetime.now(dt.UTC)
    message = "Shipment x will probably arrive after its promised date. Now expected around 2026-12-03."
    reason = {"code": "weather", "message": "Severe weather on the route is slowing deliveries."}
    data = {"shipment_id": "x", "level": 2, "message": message, "reasons": [reason]}
    body = json.dumps({"type": "shipment.delay_predicted", "timestamp": now.isoformat(), "data": data})
    ids = [new_message_id() for _ in range(n)]
    endpoint = {
        "id": "ep_bench", "url": receiver_url, "events": ["shipment.delay_predicted"], "secret": new_secret(),
        "enabled": True, "created_at": now,
    }  # fmt: skip
    shipments = [
        {"shipment_id": f"b{i}", "carrier": "c", "service": "s", "origin_country": "DE",
         "destination_country": "FR", "created_at": now, "attributes": {}, "stalled": False,
         "updated_at": now}
        for i in range(n)
    ]  # fmt: skip
    notes = [
        {"id": m, "type": "shipment.delay_predicted", "shipment_id": f"b{i}", "dedupe_key": m, "body": body,
         "created_at": now}
        for i, m in enumerate(ids)
    ]  # fmt: skip
    owed = [
        {"notification_id": m, "endpoint_id": "ep_bench", "status": "pending", "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for m in ids
    ]  # fmt: skip
    engine = make_engine(url)
    with engine.begin() as c:
        for table, rows in ((WebhookEndpoint, [endpoint]), (Shipment, shipments), (Notification, notes),
                            (Delivery, owed)):  # fmt: skip
            c.execute(insert(table), rows)
    engine.dispose()


def drain(url: str, receiver_url: str, n: int) -> dict:
    upgrade(url)
    fill_outbox(url, receiver_url, n)
    engine = make_engine(url)
    settings = Settings(database_url=url, webhook_allow_loopback=True, model_uri="unused")
    dispatcher = Dispatcher(session_factory(engine), settings)
    started = time.perf_counter()
    rounds = 0
    while dispatcher.run_once():
        rounds += 1
    wall = time.perf_counter() - started
    dispatcher.close()
    with session_factory(engine)() as session:
        delivered = sum(1 for s in session.scalars(select(Delivery.status)) if s == "delivered")
    engine.dispose()
    return {
        "notifications": n, "delivered": delivered, "rounds": rounds, "wall_s": round(wall, 2),
        "per_s": round(delivered / wall, 1), "batch": settings.dispatch_batch,
        "concurrency": settings.dispatch_concurrency,
    }  # fmt: skip


def postgres_url() -> tuple[str, str] | None:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            name = f"eta_bench_{uuid.uuid4().hex[:10]}"
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError:
        return None
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def throughput(n: int, tmp: Path) -> dict:
    receiver, receiver_url = start_receiver()
    out: dict = {}
    try:
        out["sqlite"] = drain(f"sqlite:///{tmp / 'throughput.db'}", receiver_url, n)
        pg = postgres_url()
        if pg is not None:
            try:
                out["postgresql"] = drain(pg[1], receiver_url, n)
            finally:
                drop_postgres(pg[0])
    finally:
        receiver.terminate()
        receiver.wait(10)
    return out


# ---- replaying a simulated month -----------------------------------------------------------------------
def _iso(t: pd.Timestamp) -> str:
    return t.isoformat()


def shipment_body(row: pd.Series) -> dict:
    def place(side: str) -> dict:
        out = {"country": row[f"{side}_country"], "region": row[f"{side}_region"]}
        return out | {"lat": row[f"{side}_lat"], "lon": row[f"{side}_lon"]}

    return {
        "shipment_id": row["shipment_id"], "carrier": row["carrier"], "service": row["service"],
        "origin": place("origin"), "destination": place("destination"),
        "created_at": _iso(row["created_at"]), "promised_at": _iso(row["promised_at"]),
        "weight_kg": row["weight_kg"], "distance_km": row["distance_km"],
        "attributes": {"parcel_type": row["attr_parcel_type"]},
    }  # fmt: skip


def event_body(row: pd.Series) -> dict:
    out = {"event_id": row["event_id"], "occurred_at": _iso(row["occurred_at"]), "status": row["status"]}
    return out | {k: row[k] for k in ("region", "country", "description") if pd.notna(row[k])}


def replay(n_shipments: int, sample: int, seed: int, tmp: Path) -> dict:
    config = SimulationConfig(n_shipments=n_shipments, seed=seed, days=240, start=date(2024, 5, 1))
    sim = simulate(config)  # its replayed month is the peak season (mid-November to mid-December)
    history, events = sim.history, sim.events
    end = pd.Timestamp(sim.config.end, tz="UTC")
    month_start = end - TAIL - MONTH
    known = history[history["delivered_at"] < month_start]  # outcomes known when the month starts
    split = time_split(known)
    started = time.perf_counter()
    bundle = fit_bundle(
        split.train, split.calibrate, events=events[events["occurred_at"] < month_start],
        config=TrainConfig(num_boost_round=100, seed=seed),
    )  # fmt: skip
    fit_s = time.perf_counter() - started
    bundle.save(tmp / "model")
    in_month = history[(history["created_at"] >= month_start) & (history["created_at"] < month_start + MONTH)]
    chosen = in_month.sample(min(sample, len(in_month)), random_state=seed).sort_values("created_at")
    scans = events[events["shipment_id"].isin(chosen["shipment_id"])].sort_values(["occurred_at", "event_id"])
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'replay.db'}", model_uri=str(tmp / "model"), model_poll_seconds=0,
        mlflow_tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
    )  # fmt: skip
    app = create_app(settings)
    clock = [month_start.to_pydatetime()]
    app.state.clock = lambda: clock[0]
    requests, replay_started = 0, time.perf_counter()
    with TestClient(app) as client:
        with app.state.session_factory() as session:
            headers = {"Authorization": f"Bearer {create_key(session, 'replay', ['ingest'])}"}
        tick = lambda t: t.ceil("h")  # noqa: E731  the end of the simulated hour an action falls in
        actions = pd.concat([
            pd.DataFrame({"at": chosen["created_at"].map(tick), "kind": 0, "i": np.arange(len(chosen))}),
            pd.DataFrame({"at": scans["occurred_at"].map(tick), "kind": 1, "i": np.arange(len(scans))}),
        ]).sort_values(["at", "kind", "i"], kind="stable")  # fmt: skip
        last_sweep = month_start
        for at, group in actions.groupby("at", sort=True):
            while at - last_sweep >= pd.Timedelta(hours=SWEEP_EVERY_H):  # the sweeps the dispatcher would run
                last_sweep += pd.Timedelta(hours=SWEEP_EVERY_H)
                run_sweep(app, bundle, last_sweep.to_pydatetime(), settings)
            clock[0] = at.to_pydatetime()
            for i in group.loc[group["kind"] == 0, "i"]:
                r = client.post("/v1/shipments", json=shipment_body(chosen.iloc[i]), headers=headers)
                assert r.status_code == 201, r.text
                requests += 1
            batch = scans.iloc[group.loc[group["kind"] == 1, "i"].to_numpy()]
            for shipment_id, part in batch.groupby("shipment_id", sort=False):
                payload = {"events": [event_body(row) for _, row in part.iterrows()]}
                r = client.post(f"/v1/shipments/{shipment_id}/events", json=payload, headers=headers)
                assert r.status_code == 200, r.text
                requests += 1
        with app.state.session_factory() as session:
            alerts = pd.DataFrame(
                session.execute(
                    select(Alert.shipment_id, Alert.level, Alert.raised_at, Alert.conditions)
                ).all(),
                columns=["shipment_id", "level", "raised_at", "conditions"],
            )
    replay_s = time.perf_counter() - replay_started
    return {
        "simulated_shipments": n_shipments, "trained_on": len(split.train), "fit_s": round(fit_s, 1),
        "month": [_iso(month_start), _iso(month_start + MONTH)], "replayed": len(chosen),
        "scans": len(scans), "requests": requests, "replay_s": round(replay_s, 1),
        "requests_per_s": round(requests / replay_s, 1), **outcomes(chosen, alerts),
    }  # fmt: skip


def run_sweep(app: object, bundle: object, now: dt.datetime, settings: Settings) -> None:
    with app.state.session_factory() as session:  # type: ignore[attr-defined]
        while sweep(session, bundle, now, settings.alert_rules(), limit=500) == 500:  # type: ignore[arg-type]
            pass


def _share(flags: pd.Series) -> float | None:
    return round(float(flags.mean()), 3) if len(flags) else None


def _round(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 1)


def outcomes(chosen: pd.DataFrame, alerts: pd.DataFrame) -> dict:
    """Late shipments alerted before their promise passed, and how early; on-time shipments alerted."""
    done = chosen[chosen["delivered_at"].notna() & chosen["promised_at"].notna()].set_index("shipment_id")
    late = done["delivered_at"] > done["promised_at"]
    out: dict = {"delivered": len(done), "late": int(late.sum())}
    for name, min_level in (("any_level", 1), ("likely_or_late", 2)):
        first = alerts[alerts["level"] >= min_level].groupby("shipment_id")["raised_at"].min()
        raised = pd.to_datetime(first.reindex(done.index), utc=True)
        before_delivery = raised < done["delivered_at"]
        before_promise = raised < done["promised_at"]
        lead_h = ((done["promised_at"] - raised).dt.total_seconds() / 3600)[late & before_promise]
        firsts = alerts[alerts["level"] >= min_level].sort_values("raised_at").groupby("shipment_id").head(1)
        on_time_first = firsts[firsts["shipment_id"].isin(done.index[~late & before_delivery.to_numpy()])]
        out[name] = {
            "on_time_first_alert_conditions": on_time_first["conditions"].value_counts().to_dict(),
            "late_alerted_before_promise": _share(before_promise[late]),
            "lead_hours_median": _round(lead_h.median()),
            "lead_hours_p25": _round(lead_h.quantile(0.25)),
            "lead_hours_p75": _round(lead_h.quantile(0.75)),
            "on_time_alerted": _share(before_delivery[~late]),
            "alerted_that_were_late": _share(late[before_delivery]),
        }
    return out


# ---- the benchmark -------------------------------------------------------------------------------------
def measure(
    budget_s: float, notifications: int = 2000, shipments: int = 12_000, sample: int = 250, seed: int = 3
) -> dict:
    """The replay dominates the time: within a budget (`make bench`) it replays fewer shipments (about two per
    second of budget beyond the first minute, which the simulation and the fit take); 0: no budget."""
    if budget_s > 0:
        sample = min(sample, max(60, int((budget_s - 60) * 2)))
    with tempfile.TemporaryDirectory(prefix="eta-alerts-") as tmp:
        return {
            "throughput": throughput(notifications, Path(tmp)),
            "replay": replay(shipments, sample, seed, Path(tmp)),
        }


def render(results: dict) -> str:
    lines = [
        "Dispatcher throughput: notifications in the outbox, one endpoint at a local receiver (its own "
        "process, answering 204), one dispatcher with its default batch and concurrency.",
        "",
        "| database | notifications | wall s | delivered per s | batch | concurrency |",
        "|---|---|---|---|---|---|",
    ]
    for db, r in results["throughput"].items():
        cells = [db, f"{r['notifications']:,}", f"{r['wall_s']:.2f}", f"{r['per_s']:,.0f}"]
        lines.append("| " + " | ".join([*cells, str(r["batch"]), str(r["concurrency"])]) + " |")
    r = results["replay"]
    lines += [
        "",
        f"Replay of a simulated month through the API: {r['replayed']:,} shipments of the month "
        f"{r['month'][0][:10]} to {r['month'][1][:10]} ({r['scans']:,} scans, {r['requests']:,} requests in "
        f"{r['replay_s']:,.0f} s, {r['requests_per_s']:,.0f} requests/s with the service's clock set to the "
        f"simulated hour), model fitted on {r['trained_on']:,} shipments delivered before the month; "
        f"{r['late']:,} of {r['delivered']:,} delivered shipments were late.",
        "",
        "| first alert at | late alerted before the promise | lead hours (median, P25-P75) "
        "| on-time shipments alerted | alerted shipments that were late |",
        "|---|---|---|---|---|",
    ]
    pct = "{:.1%}"
    for name, label in (("any_level", "any level (watch)"), ("likely_or_late", "likely or late")):
        a = r[name]
        share = (
            "–" if a["late_alerted_before_promise"] is None else pct.format(a["late_alerted_before_promise"])
        )
        lead = "–" if a["lead_hours_median"] is None else (
            f"{a['lead_hours_median']:.0f} ({a['lead_hours_p25']:.0f}-{a['lead_hours_p75']:.0f})"
        )  # fmt: skip
        precision = "–" if a["alerted_that_were_late"] is None else pct.format(a["alerted_that_were_late"])
        on_time = "–" if a["on_time_alerted"] is None else pct.format(a["on_time_alerted"])
        lines.append(f"| {label} | {share} | {lead} | {on_time} | {precision} |")
    causes = r["any_level"].get("on_time_first_alert_conditions")
    if causes:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(causes.items(), key=lambda kv: -kv[1]))
        lines += [
            "",
            f"What first alerted the on-time shipments that were alerted (conditions: shipments): {listed}.",
        ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notifications", type=int, default=2000)
    p.add_argument("--shipments", type=int, default=12_000, help="simulated over 240 days")
    p.add_argument("--sample", type=int, default=250, help="shipments of the month replayed")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.receive:
        serve_receiver()
        return 0
    started = time.perf_counter()
    report = measure(0, args.notifications, args.shipments, args.sample, args.seed)
    print(render(report))
    print(f"wrote {record.save(NAME, report, time.perf_counter() - started)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
