"""The command line: serve, healthcheck, db upgrade, org create|key, demo, route, sync, keys,
kamailio config.

An operator's error is one line on standard error naming the setting or step and the fix, with
exit status 2 for configuration and 1 for a fault at run time (``deskprov.problems``); the
traceback is logged only with ``--debug`` or ``DESKPROV_LOG_LEVEL=debug``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from deskprov import __version__, logs
from deskprov.problems import CONFIGURATION, RUNTIME, Problem, tell
from deskprov.settings import Settings, SettingsError, is_wildcard

log = logging.getLogger("deskprov")

ROLES = ("admin", "installer", "viewer")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1-64)")
    return int(text)


def _settings_help() -> str:
    import textwrap

    lines = ["settings (environment variables; command-line options win):"]
    for name, default, description in Settings.variables():
        lines.append(f"  {name}  [default: {default}]")
        lines += textwrap.wrap(description, 92, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistaken command line told in one line like every operator error (its
    sub-commands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(CONFIGURATION, f"deskprov: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deskprov", description="Desk-phone provisioning server")
    parser.add_argument("--version", action="version", version=f"deskprov {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="log at debug level, with tracebacks of errors"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the HTTP server",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _listen_options(serve)
    serve.add_argument(
        "--workers", type=_workers, help="server processes sharing the port (DESKPROV_WORKERS)"
    )
    commands.add_parser(
        "healthcheck", help="ask the configured listener's /healthz (exit 0 when healthy)"
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration")

    org = commands.add_parser("org", help="organisations")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    create = org_commands.add_parser("create", help="create an organisation and its first key")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print JSON")
    key = org_commands.add_parser(
        "key", help="a new API key for an organisation (for a lost admin key)"
    )
    key.add_argument("org_id", metavar="ORG_ID")
    key.add_argument("--role", choices=ROLES, default="admin")
    key.add_argument("--name", default="key from the command line")
    key.add_argument("--json", action="store_true", help="print JSON")

    demo = commands.add_parser(
        "demo", help="create (or reuse) a demo organisation and print its URLs"
    )
    _listen_options(demo, "the port `deskprov serve` will use (its URLs point there)")

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


def _listen_options(parser: argparse.ArgumentParser, port_help: str = "") -> None:
    parser.add_argument("--host", help="listen address (DESKPROV_HOST)")
    parser.add_argument("--port", type=_port, help=port_help or "listen port (DESKPROV_PORT)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {k: getattr(args, k, None) for k in ("host", "port", "workers")}
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        logs.configure()
        for line in exc.problems:
            print(f"deskprov: {line}", file=sys.stderr)
        return CONFIGURATION
    debug = args.debug or settings.log_level == "debug"
    logs.configure("debug" if debug else settings.log_level, settings.log_format)
    try:
        status = _run(args, settings, debug)
        sys.stdout.flush()  # (here, where a closed pipe is caught, not at exit)
        return status
    except BrokenPipeError:
        # The reader went away (`deskprov demo | head -2`): nothing more to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return RUNTIME
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        told = tell(exc, settings)
        if told is None:
            raise
        return told


def _run(args: argparse.Namespace, settings: Settings, debug: bool) -> int:
    if args.command == "serve":
        from deskprov.serve import serve

        log.info("version %s starting: %s", __version__, settings.describe())
        return serve(settings, debug=debug)
    if args.command == "healthcheck":
        return _healthcheck(settings)
    if args.command == "db":
        return asyncio.run(_db_upgrade(settings))
    if args.command == "org" and args.org_command == "create":
        return asyncio.run(_org_create(settings, args.name, args.json))
    if args.command == "org":
        return asyncio.run(_org_key(settings, args.org_id, args.role, args.name, args.json))
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
    return CONFIGURATION


def _healthcheck(settings: Settings) -> int:
    """For container health checks: the listener that serves /healthz, as configured."""
    import ssl
    import urllib.request

    host = "127.0.0.1" if is_wildcard(settings.host) else settings.host.strip("[]")
    host = f"[{host}]" if ":" in host else host
    url = f"{'https' if settings.tls else 'http'}://{host}:{settings.port}/healthz"
    context = ssl._create_unverified_context() if settings.tls else None  # (our own listener)
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as answer:
            status = json.load(answer).get("status")
    except OSError as exc:
        raise Problem(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    print(f"{url}: {status}")
    return 0 if status == "ok" else RUNTIME


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

    organisation.organisation_name(name)  # (a refused name creates no database or key file)
    async with offline_deps(settings) as deps:
        created = await organisation.create_organisation(deps, name)
    if as_json:
        print(json.dumps({"organisation_id": created.organisation_id, "api_key": created.api_key}))
    else:
        print(f"organisation {created.organisation_id} created")
        print(f"admin API key (shown once, keep it safe): {created.api_key}")
    return 0


async def _org_key(settings: Settings, org_id: str, role: str, name: str, as_json: bool) -> int:
    from deskprov.services import organisation
    from deskprov.services.offline import offline_deps

    async with offline_deps(settings) as deps:
        created = await organisation.issue_api_key(deps, org_id, role, name)
    if as_json:
        print(json.dumps({"id": created.id, "role": created.role, "api_key": created.key}))
    else:
        print(f"{created.role} API key {created.id} for {org_id} (shown once): {created.key}")
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
    print(
        f"provisioning URLs, served by `deskprov serve` at {settings.public_url}: "
        "start it, then fetch what each phone would:"
    )
    for url in result.urls:
        print(f"\n{url.vendor}: {url.url}")
        print(f"  {url.curl()}")
    if result.urls:
        print("\nasked again with the ETag it was given, a phone gets 304 Not Modified:")
        for line in result.urls[-1].revalidate():
            print(f"  {line}")
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
    from deskprov.services import keys as key_work
    from deskprov.services.offline import offline_key_file

    keys = await offline_key_file(settings)
    if command == "list":
        for kind, ring in (("signing", keys.signing), ("encryption", keys.encryption)):
            print(f"{kind}: " + ", ".join(k.kid for k in ring) + "  (newest first)")
        return 0
    if command == "rotate":
        with _progress("re-encrypting stored secrets") as progress:
            rotation = await key_work.rotate(settings, keys, progress)
        print(
            f"new signing key {rotation.keys.current_signing.kid} and encryption key "
            f"{rotation.keys.current_encryption.kid}; {rotation.resealed} stored secret(s) "
            "re-encrypted. URLs signed with older keys keep working until those keys are retired."
        )
        return 0
    assert kid is not None
    kid_kind = keys.kind_of(kid)
    if kid_kind == "encryption":
        in_use = await key_work.sealed_with(settings, kid)
        if in_use:
            raise Problem(f"{in_use} stored secret(s) are encrypted with {kid}: rotate first")
    try:
        retired = keys.retired(kid)
    except keyfile.KeyFileError as exc:
        raise Problem(str(exc)) from None
    keyfile.write(settings.key_file, retired)
    if kid_kind == "signing":
        print(f"retired signing key {kid}: URLs signed with it no longer work.")
    else:
        print(f"retired encryption key {kid}: no stored secret was sealed with it.")
    return 0


class _progress:
    """A progress bar on standard error when it is a terminal (tqdm), for (done, total)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar: Any = None

    def __enter__(self) -> _progress:
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.what, unit=" secrets", disable=None)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


class _Bar:
    """A progress bar on standard error (tqdm), shown only when a run lasts over a second."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, unit="call", delay=1.0, file=sys.stderr, leave=False)

    def grow(self, steps: int) -> None:
        self._bar.total = (self._bar.total or 0) + steps
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
