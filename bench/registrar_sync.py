"""What keeping the registrar tables in step costs, for one whippy_phone account with many SIP
users and keys (the work is done inside the changing transaction, so it is added to every such
write).

    .venv/bin/python bench/registrar_sync.py --sip-users 3000 [--database-url URL]

The SIP users (two per user) and as many keys (each dialling one SIP user) are inserted
directly (sealed passwords, as the service seals them) and their subscriber, route and caller
rows derived once; a team of 25 users (50 SIP users) has an extension, a queue without one has
a key. Then each change is timed through the real services:

- subscriber rows: a password change (re-derives one SIP user's digests; no route changes), a
  second domain attached and detached (re-derives the whole account: N subscriber rows written,
  N removed, and the routes, whose URIs keep the first domain);
- route rows: a key added and deleted, a SIP user added (the account's plan derived again, the
  differences written), a team member removed and put back (organisation-wide: every account
  that dials the team), a team nobody uses renamed (touches no account);
- a full re-derive that finds nothing to change (what `deskprov kamailio config` does per
  account).

Prints one JSON line, milliseconds (medians).
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
from deskprov.db.models import SipExtension, SipUser, TeamMember, User  # noqa: E402
from deskprov.domain.ids import new_id  # noqa: E402
from deskprov.domain.roles import Actor, Role  # noqa: E402
from deskprov.registrar.routes import sync_routes  # noqa: E402
from deskprov.registrar.sync import sync_account  # noqa: E402
from deskprov.schemas import account as acc  # noqa: E402
from deskprov.schemas import organisation as org  # noqa: E402
from deskprov.security.secretbox import sip_password_binding  # noqa: E402
from deskprov.services.base import Scope, utc_now  # noqa: E402
from deskprov.services.offline import offline_db, offline_deps  # noqa: E402
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
    async with offline_db(settings) as db:  # (brings only SQLite up to date itself)
        await migrate.upgrade(db.engine)  # before the key file check reads the tables
    async with offline_deps(settings) as deps:
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
        owners = [
            {
                "id": new_id("user"),
                "created_at": utc_now(),
                "org_id": actor.org_id,
                "name": f"Agent {n}",
                "email": f"agent{n}@example.com",
            }
            for n in range((sip_users + 1) // 2)
        ]
        rows, keys = [], []
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
                    "user_id": owners[n % len(owners)]["id"],
                }
            )
            keys.append(
                {
                    "id": new_id("sip_extension"),
                    "created_at": utc_now(),
                    "org_id": actor.org_id,
                    "account_id": account.id,
                    "extension": str(10000 + n),
                    "label": f"Key {n}",
                    "subtype": "start_new_call",
                    "scope": "provider_account",
                    "type": "memory_key",
                    "target_type": "sip_user",
                    "target_ref": sip_id,
                }
            )
        suffix = settings.whippy_sip_suffix
        async with deps.db.write() as s:
            await s.execute(insert(User), owners)
            await s.execute(insert(SipUser), rows)
            await s.execute(insert(SipExtension), keys)
        team = await sv.teams.create(Scope(actor), org.GroupCreate(name="Sales", extension="500"))
        queue = await sv.queues.create(Scope(actor), org.QueueCreate(name="Night"))
        idle = await sv.teams.create(Scope(actor), org.GroupCreate(name="Idle"))
        async with deps.db.write() as s:
            await s.execute(
                insert(TeamMember),
                [
                    {"team_id": team.id, "user_id": u["id"], "position": i}
                    for i, u in enumerate(owners[:25])
                ],
            )
            await sync_account(s, deps.box, suffix, account.id)
            await sync_routes(s, suffix, account.id)
        await sv.sip_extensions.create(
            scope,
            acc.SipExtensionCreate(
                extension="600",
                label="Night",
                subtype="start_new_call",
                scope="provider_account",
                type="memory_key",
                target=acc.ResourceTarget(type="queue", id=queue.id),
            ),
        )
        one = rows[0]["id"]
        counter = iter(range(10**6))

        async def change_password() -> None:
            await sv.sip_users.update(
                scope, one, acc.SipUserUpdate(password=f"An0ther-Passw0rd-{next(counter)}")
            )

        async def nothing_to_change() -> None:
            async with deps.db.write() as s:
                assert await sync_account(s, deps.box, suffix, account.id) == 0
                assert await sync_routes(s, suffix, account.id) == 0

        key_ids: list[str] = []

        async def add_key() -> None:
            made = await sv.sip_extensions.create(
                scope,
                acc.SipExtensionCreate(
                    extension=str(90000 + next(counter)),
                    label="New",
                    subtype="start_new_call",
                    scope="provider_account",
                    type="memory_key",
                    target=acc.ResourceTarget(type="sip_user", id=one),
                ),
            )
            key_ids.append(made.id)

        async def delete_key() -> None:
            await sv.sip_extensions.delete(scope, key_ids.pop())

        async def add_sip_user() -> None:
            await sv.sip_users.create(
                scope,
                acc.SipUserCreate(
                    username=f"new{next(counter)}",
                    password="Sup3rSecretPass",
                    credential_list_id=cred_list.id,
                ),
            )

        members = [u["id"] for u in owners[:25]]

        async def team_member_out() -> None:
            await sv.teams.update(Scope(actor), team.id, org.GroupUpdate(member_ids=members[1:]))

        async def team_member_in() -> None:
            await sv.teams.update(Scope(actor), team.id, org.GroupUpdate(member_ids=members))

        async def unused_team_renamed() -> None:
            await sv.teams.update(
                Scope(actor), idle.id, org.GroupUpdate(name=f"Idle {next(counter)}")
            )

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

        def pairs(first: Callable[[], Awaitable[Any]], then: Callable[[], Awaitable[Any]]) -> Any:
            async def run_pairs() -> tuple[float, float]:
                firsts, thens = [], []
                for _ in range(3):
                    firsts.append(await timed(first))
                    thens.append(await timed(then))
                return statistics.median(firsts), statistics.median(thens)

            return run_pairs()

        attach_ms, detach_ms = await pairs(attach, detach)
        add_key_ms, delete_key_ms = await pairs(add_key, delete_key)
        member_out_ms, member_in_ms = await pairs(team_member_out, team_member_in)
        return {
            "sip_users": sip_users,
            "keys": len(keys),
            "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
            "password_change_ms": await timed(change_password, repeat=9),
            "attach_domain_ms": attach_ms,
            "detach_domain_ms": detach_ms,
            "add_key_ms": add_key_ms,
            "delete_key_ms": delete_key_ms,
            "add_sip_user_ms": await timed(add_sip_user, repeat=3),
            "team_member_out_ms": member_out_ms,
            "team_member_in_ms": member_in_ms,
            "unused_team_renamed_ms": await timed(unused_team_renamed, repeat=5),
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
