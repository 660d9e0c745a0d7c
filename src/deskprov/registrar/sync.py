"""The registrar tables follow deskprov's data, inside the transaction that changes it.

``follow`` is called by every audited change (``services.base.Collection.audit``): when the
change can alter what Kamailio must know, the rows of the ``whippy_phone`` accounts it touches
are derived again and only the differences are written.

- Subscriber rows (who may register): a SIP user's own change re-derives that user's rows, an
  attachment the account's.
- Route and caller rows (``registrar.routes``: the routing plan's decisions): an attachment or
  a number re-derives its account; a SIP user (its name, list, owner or channel: not its
  password) or a key the routes through it; a team, queue, channel or user the routes through
  it in the accounts of its organisation that have some (``routes.accounts_using``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.engine import Database
from deskprov.db.models import CredentialAttachment, ProviderAccount, SipDomain, SipUser
from deskprov.providers.base import provider_for
from deskprov.registrar import routes
from deskprov.registrar.tables import PROVIDER, KamailioSubscriber
from deskprov.security.secretbox import SecretBox, sip_password_binding

log = logging.getLogger(__name__)


# Changes that can alter a subscriber row. Deleting a domain or a list is refused while an
# attachment or a SIP user uses it, and their PATCH changes names only: neither matters here.
FOLLOWED_KINDS = frozenset({"sip_user", "credential_attachment"})
# Changes inside an account that can alter its routes, and organisation-wide ones.
ROUTED_KINDS = frozenset({"sip_user", "credential_attachment", "sip_extension", "provider_phone"})
ORG_ROUTED_KINDS = frozenset({"team", "queue", "channel", "user"})
CALLER_KINDS = frozenset({"channel"})  # (caller IDs: a channel's number)
# A SIP user's fields the plan reads (a password change alters its digests only).
ROUTED_SIP_USER_FIELDS = frozenset({"username", "credential_list_id", "user_id", "channel_id"})


@dataclass(frozen=True)
class Subscriber:
    username: str
    domain: str
    ha1: str
    ha1b: str
    sip_user_id: str
    sealed_ref: str


def digests(username: str, domain: str, password: str) -> tuple[str, str]:
    """``ha1`` and ``ha1b`` of RFC 2617 digest authentication, the realm being the domain."""

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    return md5(f"{username}:{domain}:{password}"), md5(f"{username}@{domain}:{domain}:{password}")


def sealed_ref(sealed: str) -> str:
    """Which sealed password a row was made from (every seal is new: a new random nonce)."""
    return hashlib.sha256(sealed.encode("ascii")).hexdigest()[:32]


async def follow(
    s: AsyncSession,
    box: SecretBox,
    suffix: str,
    *,
    kind: str,
    action: str,
    org_id: str,
    account_id: str | None,
    row_id: str | None,
    fields: Collection[str] | None = None,
) -> None:
    """Bring the registrar rows up to date after ``action`` on a ``kind`` (inside its
    transaction). ``fields``: what an update changed (None: not said, so anything)."""
    if kind in ORG_ROUTED_KINDS:
        await s.flush()  # the change itself first: the derivation reads it back
        # A deleted user leaves its teams and queues, whose explanations count members: the
        # accounts are derived again whole. Otherwise only the routes through the change.
        through = None if kind == "user" and action == "delete" else row_id
        for using in await routes.accounts_using(s, org_id, kind, row_id, action):
            await routes.sync_routes(
                s, suffix, using, through=through, callers=kind in CALLER_KINDS
            )
        return
    if account_id is None or kind not in FOLLOWED_KINDS | ROUTED_KINDS:
        return
    await s.flush()
    provider = await s.scalar(
        select(ProviderAccount.provider).where(ProviderAccount.id == account_id)
    )
    if provider != PROVIDER:
        return
    if kind in FOLLOWED_KINDS:
        only = row_id if kind == "sip_user" else None
        await sync_account(s, box, suffix, account_id, sip_user_id=only)
    if kind == "sip_extension":  # a key: the routes of its old and new extension
        await routes.sync_routes(s, suffix, account_id, through=row_id, callers=False)
    elif kind == "sip_user":  # the routes that rang it, and those that ring it now
        if action != "update" or fields is None or ROUTED_SIP_USER_FIELDS.intersection(fields):
            await routes.sync_routes(s, suffix, account_id, through=row_id)
    else:  # an attachment moves every URI of a list; a number changes caller IDs
        await routes.sync_routes(s, suffix, account_id)


async def sync_account(
    s: AsyncSession,
    box: SecretBox,
    suffix: str,
    account_id: str,
    *,
    sip_user_id: str | None = None,
) -> int:
    """Make the account's subscriber rows (or one SIP user's) what its data says, writing only
    the differences; a password is decrypted only for rows that must be made anew.

    Returns how many rows were written or removed."""
    table = cast(Table, KamailioSubscriber.__table__)  # Core: no ORM objects per row
    where = [table.c.account_id == account_id]
    if sip_user_id is not None:
        where.append(table.c.sip_user_id == sip_user_id)
    have: dict[tuple[str, str], tuple[int, Subscriber]] = {}
    for row_id, username, domain, ha1, ha1b, owner, ref in await s.execute(
        select(
            table.c.id,
            table.c.username,
            table.c.domain,
            table.c.ha1,
            table.c.ha1b,
            table.c.sip_user_id,
            table.c.sealed_ref,
        ).where(*where)
    ):
        have[(username, domain)] = (row_id, Subscriber(username, domain, ha1, ha1b, owner, ref))

    wanted: dict[tuple[str, str], Subscriber] = {}
    passwords: dict[str, str] = {}
    for user_id, username, sealed, domain in await _lines(s, suffix, account_id, sip_user_id):
        ref = sealed_ref(sealed)
        kept = have.get((username, domain))
        if kept and kept[1].sip_user_id == user_id and kept[1].sealed_ref == ref:
            wanted[(username, domain)] = kept[1]
            continue
        if user_id not in passwords:
            passwords[user_id] = box.open(sealed, binding=sip_password_binding(user_id))
        ha1, ha1b = digests(username, domain, passwords[user_id])
        wanted[(username, domain)] = Subscriber(username, domain, ha1, ha1b, user_id, ref)

    stale = [row_id for key, (row_id, row) in have.items() if wanted.get(key) != row]
    fresh = [row for key, row in wanted.items() if key not in have or have[key][1] != row]
    if stale:
        await s.execute(delete(table).where(table.c.id.in_(stale)))
    if fresh:
        await s.execute(
            insert(table),
            [
                {
                    "username": r.username,
                    "domain": r.domain,
                    "ha1": r.ha1,
                    "ha1b": r.ha1b,
                    "account_id": account_id,
                    "sip_user_id": r.sip_user_id,
                    "sealed_ref": r.sealed_ref,
                }
                for r in fresh
            ],
        )
    return len(stale) + len(fresh)


async def _lines(
    s: AsyncSession, suffix: str, account_id: str, sip_user_id: str | None
) -> list[tuple[str, str, str, str]]:
    """(SIP user id, username, sealed password, domain): one per SIP user and domain its
    credential list is attached to."""
    stmt = (
        select(SipUser.id, SipUser.username, SipUser.password_sealed, SipDomain.prefix)
        .join(
            CredentialAttachment,
            CredentialAttachment.credential_list_id == SipUser.credential_list_id,
        )
        .join(SipDomain, SipDomain.id == CredentialAttachment.sip_domain_id)
        # (a SIP user with no password, imported from another provider, cannot register)
        .where(SipUser.account_id == account_id, SipUser.password_sealed.is_not(None))
    )
    if sip_user_id is not None:
        stmt = stmt.where(SipUser.id == sip_user_id)
    provider = provider_for(PROVIDER)
    return [
        (user_id, username, sealed or "", provider.domain_for(prefix, suffix))
        for user_id, username, sealed, prefix in await s.execute(stmt)
    ]


async def sync_all(db: Database, box: SecretBox, suffix: str) -> int:
    """Every ``whippy_phone`` account, one transaction each: for data from before the tables
    existed, or after ``DESKPROV_WHIPPY_SIP_SUFFIX`` changed. Returns the rows changed."""
    async with db.read() as s:
        accounts = list(
            (
                await s.scalars(
                    select(ProviderAccount.id)
                    .where(ProviderAccount.provider == PROVIDER)
                    .order_by(ProviderAccount.id)
                )
            ).all()
        )
    changed = 0
    for account_id in accounts:
        async with db.write() as s:
            changed += await sync_account(s, box, suffix, account_id)
            changed += await routes.sync_routes(s, suffix, account_id)
    log.info("registrar tables: %d account(s) checked, %d row(s) changed", len(accounts), changed)
    return changed
