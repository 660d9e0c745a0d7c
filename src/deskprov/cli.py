"""The command line: serve, db upgrade, org create (keys rotate and demo come with provisioning)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from deskprov import __version__
from deskprov.settings import Settings, SettingsError

log = logging.getLogger("deskprov")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deskprov", description="Desk-phone provisioning server")
    parser.add_argument("--version", action="version", version=f"deskprov {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="listen address (default DESKPROV_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default DESKPROV_PORT or 8080)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration")

    org = commands.add_parser("org", help="organisations")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    create = org_commands.add_parser("create", help="create an organisation and its first key")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"deskprov: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    if args.command == "db":
        return asyncio.run(_db_upgrade(settings))
    if args.command == "org":
        return asyncio.run(_org_create(settings, args.name, args.json))
    return 2


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    from dataclasses import replace

    from aiohttp import web

    from deskprov.app import create_app
    from deskprov.web.accesslog import RedactingAccessLogger

    if host or port:
        public = settings.public_url
        default_public = f"http://{settings.host}:{settings.port}"
        settings = replace(settings, host=host or settings.host, port=port or settings.port)
        if public == default_public:
            settings = replace(settings, public_url=f"http://{settings.host}:{settings.port}")
    log.info("starting deskprov %s: %s", __version__, settings.describe())
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=RedactingAccessLogger,
        print=None,
    )
    return 0


async def _db_upgrade(settings: Settings) -> int:
    from deskprov.db import migrate
    from deskprov.db.engine import make_engine

    engine = make_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    print("database is up to date")
    return 0


async def _org_create(settings: Settings, name: str, as_json: bool) -> int:
    from deskprov.services import organisation
    from deskprov.services.offline import offline_deps

    name = name.strip()
    if not name or len(name) > 100:
        print("deskprov: the organisation name must be 1 to 100 characters", file=sys.stderr)
        return 2
    async with offline_deps(settings) as deps:
        created = await organisation.create_organisation(deps, name)
    if as_json:
        print(json.dumps({"organisation_id": created.organisation_id, "api_key": created.api_key}))
    else:
        print(f"organisation {created.organisation_id} created")
        print(f"admin API key (shown once, keep it safe): {created.api_key}")
    return 0
