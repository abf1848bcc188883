"""`python -m serving` runs the API; `dispatch` delivers webhooks; `create-key`, `revoke-key` and `migrate`
manage its database."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from serving.app import create_app
from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.notify.worker import run_dispatcher
from serving.security import Scope, create_key, revoke_key
from serving.settings import Settings


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
    return parser.parse_args(argv)


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
            if revoke_key(session, args.prefix):
                print(f"revoked key {args.prefix}")
                return 0
            print(f"no active key with prefix {args.prefix}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
