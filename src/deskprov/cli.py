"""The command line: serve, db upgrade, org create, demo, route, sync, keys list|rotate|retire,
kamailio config."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import re
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
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (SO_REUSEPORT)"
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration")

    org = commands.add_parser("org", help="organisations")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    create = org_commands.add_parser("create", help="create an organisation and its first key")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("demo", help="create (or reuse) a demo organisation and print its URLs")

    route = commands.add_parser("route", help="what a call to an extension, user or number reaches")
    route.add_argument("account", help="the provider account id (pa_...)")
    route.add_argument("dialled", help="an extension, a SIP username or a phone number")
    route.add_argument("--from", dest="caller", help="the calling SIP user's username")
    route.add_argument("--json", action="store_true", help="print the route API's JSON")

    keys = commands.add_parser("keys", help="signing and encryption keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("rotate", help="new keys for new URLs and secrets; old ones stay")
    retire = key_commands.add_parser("retire", help="remove an old key")
    retire.add_argument("kid", help="the key id, as `keys list` prints it")
    key_commands.add_parser("list", help="print the key ids, newest first")

    sync = commands.add_parser(
        "sync", help="compare a provider account's SIP objects with the provider's"
    )
    sync.add_argument("account_id", help="the provider account (pa_...)")
    action = sync.add_mutually_exclusive_group()
    action.add_argument("--repair", action="store_true", help="make the provider match deskprov")
    action.add_argument(
        "--import",
        dest="import_",
        action="store_true",
        help="take in what exists only at the provider",
    )

    kamailio = commands.add_parser("kamailio", help="the SIP service of whippy_phone domains")
    kamailio_commands = kamailio.add_subparsers(dest="kamailio_command", required=True)
    config = kamailio_commands.add_parser(
        "config",
        help="print a complete kamailio.cfg for the configured database (and bring the "
        "registrar tables up to date)",
    )
    config.add_argument(
        "--listen", default="0.0.0.0:5060", help="SIP address, UDP and TCP (default 0.0.0.0:5060)"
    )
    config.add_argument(
        "--state-db",
        default="/var/lib/kamailio/deskprov-state.sqlite",
        help="Kamailio's own state file (BLF publications), created if missing",
    )
    config.add_argument(
        "--db-url",
        help="PostgreSQL only: the URL Kamailio uses (postgres://user:pass@host:port/db) instead "
        "of a read-only role created for it",
    )
    config.add_argument(
        "--db-role",
        default="deskprov_kamailio",
        help="PostgreSQL only: the read-only role made for Kamailio (a new password each run)",
    )
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
    try:
        return _run(args, settings)
    except Exception as exc:
        if not _operators_mistake(exc):
            raise
        print(f"deskprov: {exc}", file=sys.stderr)  # (one line, no traceback)
        return 1


def _operators_mistake(exc: Exception) -> bool:
    """A missing or corrupt key file, a database that cannot be written. (Imported here, not at
    the top: the database stack costs every command ~0.7 s to import.)"""
    from deskprov.db.engine import DatabaseUnwritable
    from deskprov.security.keyring import KeyFileError

    return isinstance(exc, KeyFileError | DatabaseUnwritable)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        if args.workers < 1:
            print("deskprov: --workers must be at least 1", file=sys.stderr)
            return 2
        return _serve(settings, args.host, args.port, args.workers)
    if args.command == "db":
        return asyncio.run(_db_upgrade(settings))
    if args.command == "org":
        return asyncio.run(_org_create(settings, args.name, args.json))
    if args.command == "demo":
        return asyncio.run(_demo(settings))
    if args.command == "route":
        return asyncio.run(_route(settings, args.account, args.dialled, args.caller, args.json))
    if args.command == "kamailio":
        return asyncio.run(_kamailio_config(settings, args))
    if args.command == "keys":
        return asyncio.run(_keys(settings, args.keys_command, getattr(args, "kid", None)))
    if args.command == "sync":
        return asyncio.run(_sync(settings, args.account_id, args.repair, args.import_))
    return 2


def _serve(settings: Settings, host: str | None, port: int | None, workers: int) -> int:
    from dataclasses import replace

    if host or port:
        public = settings.public_url
        default_public = f"http://{settings.host}:{settings.port}"
        settings = replace(settings, host=host or settings.host, port=port or settings.port)
        if public == default_public:
            settings = replace(settings, public_url=f"http://{settings.host}:{settings.port}")
    log.info("starting deskprov %s: %s", __version__, settings.describe())
    if workers == 1:
        _run_server(settings, reuse_port=False)
        return 0
    return _run_workers(settings, workers)


def _run_server(settings: Settings, *, reuse_port: bool) -> None:
    from deskprov.app import create_app
    from deskprov.web import server
    from deskprov.web.accesslog import RedactingAccessLogger, batch_access_log
    from deskprov.web.limits import HTTP_LIMITS

    # The cyclic garbage collector, at its defaults, walks the server's long-lived caches (tokens,
    # user agents, rendered files, URL states) often enough to stall the loop for 100-300 ms:
    # p99 of cached fetches at 10,000 phones was 290 ms, 23 ms with the young generation
    # collected every 50,000 allocations instead of 700. Older generations still get collected.
    gc.set_threshold(50_000, 20, 100)
    access_log = logging.getLogger("aiohttp.access")
    if settings.access_log:
        batch_access_log(access_log)
    server.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        access_log=access_log if settings.access_log else None,
        access_log_class=RedactingAccessLogger,
        **HTTP_LIMITS,
    )


def _worker(settings: Settings) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    _run_server(settings, reuse_port=True)
    logging.shutdown()  # a worker ends with os._exit, which skips atexit: write what is buffered


def _run_workers(settings: Settings, workers: int) -> int:
    """N server processes on one port (the kernel spreads connections over them)."""
    import multiprocessing
    import signal

    from deskprov.services.offline import offline_key_file

    # Done once here, so that the workers do not race to create the schema or the key file
    # (the database is needed to decide on a missing key file; PostgreSQL is migrated apart).
    if settings.is_sqlite or not settings.key_file.exists():
        asyncio.run(offline_key_file(settings))
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(settings,)) for _ in range(workers)]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
    return 0 if all(p.exitcode == 0 for p in processes) else 1


async def _db_upgrade(settings: Settings, *, quiet: bool = False) -> int:
    from deskprov.db import migrate
    from deskprov.db.engine import make_engine

    engine = make_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    if not quiet:
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


async def _demo(settings: Settings) -> int:
    from deskprov.services.demo import SIP_PREFIX, demo
    from deskprov.services.offline import offline_deps
    from deskprov.services.registry import Services

    async with offline_deps(settings) as deps:
        result = await demo(Services.build(deps))
    print(f"demo organisation {result.organisation_id}")
    if result.api_key:
        print(f"admin API key (shown once): {result.api_key}")
    print("provisioning URLs (start `deskprov serve`, then fetch what each phone would):")
    for url in result.urls:
        print(f"\n{url.vendor}: {url.url}")
        print(f"  {url.curl()}")
    if result.account_id:
        print(f"\nwhere a key's call goes: deskprov route {result.account_id} 600 --from alice")
    domain = f"{SIP_PREFIX}.sip.{settings.whippy_sip_suffix}"
    print(
        f"\nSIP: these phones register at {domain} as alice (key 102 is a BLF key on bob). "
        "To run the "
        "SIP service on this machine (Kamailio installed, see README, 'Run your own SIP "
        "service'):\n"
        "  deskprov kamailio config --listen 127.0.0.1:5060 --state-db ./kamailio-state.sqlite "
        "> kamailio.cfg && kamailio -f kamailio.cfg -DD -E\n"
        f"then register a SIP client as sip:alice@{domain} through 127.0.0.1:5060 with the "
        "password in alice's files above (or baresip: see the README), and bob the same way: "
        "Kamailio routes their calls as deskprov route says (600 rings the Support queue one "
        "member after the other, 700 the Sales team at once)."
    )
    return 0


async def _route(
    settings: Settings, account_id: str, dialled: str, caller: str | None, as_json: bool
) -> int:
    from deskprov.errors import AppError
    from deskprov.services.offline import offline_deps
    from deskprov.services.routing import Routing

    async with offline_deps(settings) as deps:
        try:
            view = await Routing(deps).route_in_account(account_id, caller, dialled)
        except AppError as exc:
            print(f"deskprov: {exc.message}", file=sys.stderr)
            return 1
    if as_json:
        print(json.dumps(view.model_dump(mode="json")))
        return 0
    print(f"{view.dialled}: {view.kind}{'' if view.reachable else ' (cannot ring)'}")
    print(f"  {view.explanation}")
    if view.targets:
        if view.strategy == "sequential":
            print(f"  targets, one at a time, {view.ring_seconds} s each:")
        else:
            print("  targets, all at once:" if view.strategy else "  target:")
        for target in view.targets:
            print(f"    {target.value}")
    if view.caller_id:
        print(f"  caller ID: {view.caller_id}")
    return 0


async def _keys(settings: Settings, command: str, kid: str | None) -> int:
    from deskprov.security import keyring as keyfile

    with keyfile.locked(settings.key_file):  # (one keys command at a time)
        return await _keys_locked(settings, command, kid)


async def _keys_locked(settings: Settings, command: str, kid: str | None) -> int:
    from deskprov.security import keyring as keyfile
    from deskprov.services.keys import reseal, sealed_with
    from deskprov.services.offline import offline_key_file

    keys = await offline_key_file(settings)
    if command == "list":
        for kind, ring in (("signing", keys.signing), ("encryption", keys.encryption)):
            print(f"{kind}: " + ", ".join(k.kid for k in ring) + "  (newest first)")
        return 0
    if command == "rotate":
        rotated = keys.rotated()
        # The file first: running servers read it again when it changes, so they can open what
        # is re-sealed next; then every stored secret moves to the new encryption key.
        keyfile.write(settings.key_file, rotated)
        resealed = await reseal(settings, rotated)
        print(
            f"new signing key {rotated.current_signing.kid} and encryption key "
            f"{rotated.current_encryption.kid}; {resealed} stored secret(s) re-encrypted. "
            "URLs signed with older keys keep working until those keys are retired."
        )
        return 0
    assert kid is not None
    kid_kind = keys.kind_of(kid)
    if kid_kind == "encryption":
        in_use = await sealed_with(settings, kid)
        if in_use:
            print(f"deskprov: {in_use} stored secret(s) are encrypted with {kid}", file=sys.stderr)
            return 1
    try:
        retired = keys.retired(kid)
    except keyfile.KeyFileError as exc:
        print(f"deskprov: {exc}", file=sys.stderr)
        return 1
    keyfile.write(settings.key_file, retired)
    if kid_kind == "signing":
        print(f"retired signing key {kid}: URLs signed with it no longer work.")
    else:
        print(f"retired encryption key {kid}: no stored secret was sealed with it.")
    return 0


class _Bar:
    """A progress bar on standard error (tqdm), shown only when a run lasts over a second."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, unit="call", delay=1.0, file=sys.stderr, leave=False)

    def grow(self, steps: int) -> None:
        self._bar.total += steps
        self._bar.refresh()

    def advance(self, steps: int = 1) -> None:
        self._bar.update(steps)

    def close(self) -> None:
        self._bar.close()


async def _sync(settings: Settings, account_id: str, repair: bool, import_: bool) -> int:
    from dataclasses import replace

    from deskprov.errors import AppError
    from deskprov.providers.twilio import http_session
    from deskprov.schemas.account import ProviderSyncAction
    from deskprov.services.base import Scope
    from deskprov.services.offline import offline_deps
    from deskprov.services.provider_sync import ProviderSync, cli_actor

    bar = _Bar()
    try:
        async with http_session() as http, offline_deps(settings) as deps:
            deps = replace(deps, http=http)
            sync = ProviderSync(deps)
            scope = Scope(await cli_actor(deps, account_id), account_id)
            if repair or import_:
                body = ProviderSyncAction.model_validate({"repair": repair, "import": import_})
                report = await sync.act(scope, body, bar)
            else:
                report = await sync.report(scope, bar)
    except AppError as exc:
        bar.close()
        print(f"deskprov: {exc.message}", file=sys.stderr)
        for field, problem in exc.fields.items():
            print(f"  {field}: {problem}", file=sys.stderr)
        return 1
    bar.close()
    print(json.dumps(report.model_dump(mode="json"), indent=2))
    drift = report.missing_at_provider or report.unknown_at_provider or report.different
    return 3 if drift else 0


async def _kamailio_config(settings: Settings, args: argparse.Namespace) -> int:
    """The kamailio.cfg on standard output; what was done for it on standard error."""
    from pathlib import Path

    from deskprov.db import migrate
    from deskprov.registrar import config as kc
    from deskprov.registrar.sync import sync_all
    from deskprov.services.offline import offline_deps

    state_db = Path(args.state_db).absolute()
    try:
        kc.parse_host_port(args.listen, "--listen")  # refused before anything is done
        rpc_host, rpc_port = kc.rpc_address(settings.kamailio_rpc_url)
        if args.db_url and not re.match(r"^postgres://[^\s\"]+$", args.db_url):
            raise kc.ConfigError("--db-url must look like postgres://user:pass@host:port/db")
        async with offline_deps(settings) as deps:
            if not await migrate.is_current(deps.db.engine):
                raise kc.ConfigError(
                    "the database schema is not current: run `deskprov db upgrade`"
                )
            changed = await sync_all(deps.db, deps.box, settings.whippy_sip_suffix)
            if settings.is_sqlite:
                db = kc.sqlite_db(settings.database_url)
            elif args.db_url:
                db = kc.KamailioDb("postgresql", args.db_url)
            else:
                password = await kc.grant_read_only_role(deps.db.engine, args.db_role)
                db = kc.postgres_db(settings.database_url, args.db_role, password)
        config = kc.for_settings(settings, listen=args.listen, db=db, state_db=state_db)
        text = config.render()
        kc.ensure_state_db(state_db)
    except (kc.ConfigError, OSError) as exc:
        print(f"deskprov: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    notes = [f"registrar tables up to date ({changed} row(s) changed)"]
    if db.kind == "postgresql" and not args.db_url:
        notes.append(f"Kamailio reads as the role {args.db_role} (SELECT on its tables only)")
    if not settings.kamailio_rpc_url:
        notes.append(
            f"for deskprov to show registrations, set "
            f"DESKPROV_KAMAILIO_RPC_URL=http://{rpc_host}:{rpc_port}/RPC"
        )
    print("deskprov: " + "; ".join(notes), file=sys.stderr)
    return 0
