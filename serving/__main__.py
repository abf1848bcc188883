"""`python -m serving` runs the API and the pages; `dispatch` delivers webhooks; `create-key`, `revoke-key`,
`create-user`, `tracking-link`, `load` and `migrate` manage its database and links."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import secrets
import sys
from pathlib import Path

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.app import create_app
from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.db.tables import Shipment
from serving.errors import Conflict
from serving.load import LoadPlan, load, read_contract
from serving.model_store import ModelHolder
from serving.notify.worker import run_dispatcher
from serving.security import Scope, create_key, revoke_key
from serving.settings import Settings
from serving.signing import tracking_path
from serving.users import Role, create_user, reset_password


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m serving", description="The eta-service API (ETA_* settings)."
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the API on ETA_HOST:ETA_PORT (the default command)")
    commands.add_parser("migrate", help="bring the database to the latest schema")
    commands.add_parser("dispatch", help="deliver webhooks and sweep for stalls until stopped (SIGTERM)")
    key = commands.add_parser("create-key", help="create an API key and print it (shown only once)")
    key.add_argument("--name", required=True, help="who or what the key is for")
    key.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    revoke = commands.add_parser("revoke-key", help="revoke a key by its prefix (eta_<prefix>_…)")
    revoke.add_argument("prefix")
    user = commands.add_parser("create-user", help="create an ops user who signs in to /ops")
    user.add_argument("--username", required=True)
    user.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.OPS.value,
        help="ops: read the dashboard; admin: also promote and roll back the model",
    )
    source = user.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    source.add_argument("--generate-password", action="store_true", help="make one up and print it once")
    user.add_argument("--reset", action="store_true", help="give an existing user the new password")
    loader = commands.add_parser(
        "load", help="register shipments and their scans from contract parquet files, as the API would"
    )
    loader.add_argument("--history", required=True, type=Path)
    loader.add_argument("--events", required=True, type=Path)
    loader.add_argument(
        "--in-flight", type=int, default=LoadPlan.in_flight, help="latest undelivered shipments"
    )
    loader.add_argument(
        "--delivered", type=int, default=LoadPlan.delivered, help="recent deliveries (a sample)"
    )
    loader.add_argument(
        "--shift-to-now", action="store_true", help="move the data by whole weeks to end today"
    )
    link = commands.add_parser("tracking-link", help="print a signed customer tracking link for a shipment")
    link.add_argument(
        "shipment_id", nargs="?", help="default: the in-flight shipment with the highest late risk"
    )
    link.add_argument("--base-url", default="", help="prefix, e.g. https://track.example.com")
    return parser.parse_args(argv)


def _create_user(session: Session, args: argparse.Namespace) -> int:
    if args.generate_password:
        password = secrets.token_urlsafe(12)
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    try:
        if args.reset and reset_password(session, args.username, password):
            done = "reset the password of"
        else:
            create_user(session, args.username, password, args.role)
            done = f"created {args.role} user"
    except (ValueError, Conflict) as exc:
        print(getattr(exc, "detail", str(exc)), file=sys.stderr)
        return 1
    print(f"{done} {args.username}" + (f" with password {password}" if args.generate_password else ""))
    return 0


def _tracking_link(session: Session, settings: Settings, args: argparse.Namespace) -> int:
    shipment_id = args.shipment_id or session.scalar(
        select(Shipment.shipment_id)
        .where(Shipment.delivered_at.is_(None), Shipment.p_late.is_not(None))
        .order_by(Shipment.p_late.desc(), Shipment.shipment_id)
        .limit(1)
    )
    if shipment_id is None:
        print("no in-flight shipment with a prediction: name one", file=sys.stderr)
        return 1
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.tracking_link_days)
    print(
        args.base_url.rstrip("/")
        + tracking_path(settings.secret_key.get_secret_value(), shipment_id, expires)
    )
    return 0


def _load(factory: sessionmaker[Session], settings: Settings, args: argparse.Namespace) -> int:
    holder = ModelHolder(settings.model_uri, settings.mlflow_tracking_uri)
    holder.try_refresh()
    if holder.current is None:
        print(f"no model ({holder.last_error}): shipments are stored without an ETA", file=sys.stderr)
    history, events = read_contract(args.history, args.events)
    plan = LoadPlan(in_flight=args.in_flight, delivered=args.delivered)
    now = dt.datetime.now(dt.UTC) if args.shift_to_now else None
    bundle = holder.current.bundle if holder.current else None
    result = load(factory, history, events, bundle, plan, now, settings.alert_rules())
    print(
        f"registered {result.registered} shipments ({result.skipped} already there), {result.events} events "
        f"({result.rejected_events} rejected); data end {result.data_end:%Y-%m-%d} "
        f"(shifted by {result.shift_days} days)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = Settings()
    if args.command in (None, "serve"):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            workers=1,
            loop="uvloop",
            http="httptools",
            access_log=settings.access_log,
        )
        return 0
    if args.command == "dispatch":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return run_dispatcher(settings)
    upgrade(settings.database_url)
    if args.command == "migrate":
        print("the database is at the latest schema")
        return 0
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            if args.command == "create-key":
                print(create_key(session, args.name, args.scope))
                return 0
            if args.command == "create-user":
                return _create_user(session, args)
            if args.command == "load":
                return _load(session_factory(engine), settings, args)
            if args.command == "tracking-link":
                return _tracking_link(session, settings, args)
            if revoke_key(session, args.prefix):
                print(f"revoked key {args.prefix}")
                return 0
            print(f"no active key with prefix {args.prefix}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
