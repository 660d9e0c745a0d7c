"""What keeping the registrar tables in step costs, for one whippy_phone account with many SIP
users (the work is done inside the changing transaction, so it is added to every such write).

    .venv/bin/python bench/registrar_sync.py --sip-users 3000 [--database-url URL]

The SIP users are inserted directly (sealed passwords, as the service seals them) and their
subscriber rows derived once; then each change is timed through the real services: a password
change (re-derives one SIP user), a second domain attached and detached (re-derives the whole
account: N rows written, N removed), and a full re-derive that finds nothing to change (what
`deskprov kamailio config` does per account). Prints one JSON line, milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from sqlalchemy import insert  # noqa: E402

from deskprov.db import migrate  # noqa: E402
from deskprov.db.models import SipUser  # noqa: E402
from deskprov.domain.ids import new_id  # noqa: E402
from deskprov.domain.roles import Actor, Role  # noqa: E402
from deskprov.registrar.sync import sync_account  # noqa: E402
from deskprov.schemas import account as acc  # noqa: E402
from deskprov.schemas import organisation as org  # noqa: E402
from deskprov.security.secretbox import sip_password_binding  # noqa: E402
from deskprov.services.base import Scope, utc_now  # noqa: E402
from deskprov.services.offline import offline_deps  # noqa: E402
from deskprov.services.organisation import create_organisation  # noqa: E402
from deskprov.services.registry import Services  # noqa: E402
from deskprov.settings import Settings  # noqa: E402


async def timed(action: Callable[[], Awaitable[Any]], repeat: int = 1) -> float:
    """Median milliseconds of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


async def run(sip_users: int, database_url: str, folder: Path) -> dict[str, Any]:
    settings = Settings(database_url=database_url, key_file=folder / "bench.keys")
    async with offline_deps(settings) as deps:
        await migrate.upgrade(deps.db.engine)  # (SQLite is brought up to date by offline_deps)
        sv = Services.build(deps)
        created = await create_organisation(deps, "registrar bench")
        actor = Actor(org_id=created.organisation_id, key_id="bench", role=Role.admin)
        account = await sv.provider_accounts.create(
            Scope(actor), org.ProviderAccountCreate(name="Big", provider="whippy_phone")
        )
        scope = Scope(actor, account.id)
        domain = await sv.sip_domains.create(scope, acc.SipDomainCreate(name="A", prefix="big"))
        cred_list = await sv.credential_lists.create(scope, acc.CredentialListCreate(name="All"))
        await sv.credential_attachments.create(
            scope,
            acc.CredentialAttachmentCreate(
                sip_domain_id=domain.id, credential_list_id=cred_list.id
            ),
        )
        rows = []
        for n in range(sip_users):
            sip_id = new_id("sip_user")
            rows.append(
                {
                    "id": sip_id,
                    "created_at": utc_now(),
                    "org_id": actor.org_id,
                    "account_id": account.id,
                    "username": f"user{n:05d}",
                    "password_sealed": deps.box.seal(
                        f"Passw0rd-{n:05d}", binding=sip_password_binding(sip_id)
                    ),
                    "credential_list_id": cred_list.id,
                }
            )
        suffix = settings.whippy_sip_suffix
        async with deps.db.write() as s:
            await s.execute(insert(SipUser), rows)
            await sync_account(s, deps.box, suffix, account.id)
        one = rows[0]["id"]
        counter = iter(range(10**6))

        async def change_password() -> None:
            await sv.sip_users.update(
                scope, one, acc.SipUserUpdate(password=f"An0ther-Passw0rd-{next(counter)}")
            )

        async def nothing_to_change() -> None:
            async with deps.db.write() as s:
                assert await sync_account(s, deps.box, suffix, account.id) == 0

        second = await sv.sip_domains.create(scope, acc.SipDomainCreate(name="B", prefix="big2"))
        attachment_ids: list[str] = []

        async def attach() -> None:
            made = await sv.credential_attachments.create(
                scope,
                acc.CredentialAttachmentCreate(
                    sip_domain_id=second.id, credential_list_id=cred_list.id
                ),
            )
            attachment_ids.append(made.id)

        async def detach() -> None:
            await sv.credential_attachments.delete(scope, attachment_ids.pop())

        attach_ms, detach_ms = [], []
        for _ in range(3):
            attach_ms.append(await timed(attach))
            detach_ms.append(await timed(detach))
        return {
            "sip_users": sip_users,
            "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
            "password_change_ms": await timed(change_password, repeat=9),
            "attach_domain_ms": statistics.median(attach_ms),
            "detach_domain_ms": statistics.median(detach_ms),
            "rederive_nothing_changed_ms": await timed(nothing_to_change, repeat=3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sip-users", type=int, default=3000)
    parser.add_argument(
        "--database-url", help="default: a fresh SQLite file; PostgreSQL: an empty database"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        print(json.dumps(asyncio.run(run(args.sip_users, url, Path(folder)))))


if __name__ == "__main__":
    main()
