"""Key facts and work that need the database: what is sealed with a key, re-sealing on rotate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import CursorResult, func, select, update

from deskprov.db.engine import Database, make_engine
from deskprov.db.models import PhoneSettings, ProviderAccount, SipUser
from deskprov.security.keyring import Keyring, LiveKeys
from deskprov.security.secretbox import (
    SecretBox,
    credentials_binding,
    phone_admin_password_binding,
    sip_password_binding,
)
from deskprov.settings import Settings

BATCH = 200

# Every sealed column: the model, the column, and what its values are bound to.
SEALED: list[tuple[Any, Any, Callable[[str], str]]] = [
    (SipUser, SipUser.password_sealed, sip_password_binding),
    (ProviderAccount, ProviderAccount.credentials_sealed, credentials_binding),
    (PhoneSettings, PhoneSettings.admin_password_sealed, phone_admin_password_binding),
]


async def sealed_with(settings: Settings, kid: str) -> int:
    """How many stored secrets are encrypted under key ``kid``."""
    db = Database(make_engine(settings.database_url))
    prefix = f"v1.{kid}.%"
    total = 0
    try:
        async with db.read() as s:
            for _, column, _ in SEALED:
                total += int(await s.scalar(select(func.count()).where(column.like(prefix))) or 0)
    finally:
        await db.close()
    return total


async def reseal(settings: Settings, keys: Keyring) -> int:
    """Re-encrypt every stored secret that is not under the current encryption key; how many.

    Two passes: the second after every running server has taken the new key file (they look
    at it once a second), for secrets they sealed with the old key in the meantime.
    """
    done = await _reseal_pass(settings, keys)
    await asyncio.sleep(LiveKeys.CHECK_EVERY + 0.2)
    return done + await _reseal_pass(settings, keys)


async def _reseal_pass(settings: Settings, keys: Keyring) -> int:
    """Small transactions, so that servers keep writing meanwhile; each row is replaced only if
    it still holds the value that was read (one changed meanwhile is left as it is)."""
    box = SecretBox(keys)
    current = f"v1.{keys.current_encryption.kid}.%"
    db = Database(make_engine(settings.database_url))
    done = 0
    try:
        for model, column, binding in SEALED:
            after = ""
            while True:
                async with db.read() as s:
                    rows = (
                        await s.execute(
                            select(model.id, column)
                            .where(column.is_not(None), ~column.like(current), model.id > after)
                            .order_by(model.id)
                            .limit(BATCH)
                        )
                    ).all()
                if not rows:
                    break
                async with db.write() as s:
                    for row_id, sealed in rows:
                        plain = box.open(sealed, binding=binding(row_id))
                        fresh = box.seal(plain, binding=binding(row_id))
                        result: CursorResult[Any] = await s.execute(  # type: ignore[assignment]
                            update(model)
                            .where(model.id == row_id, column == sealed)
                            .values({column.key: fresh})
                        )
                        done += result.rowcount
                after = rows[-1][0]
    finally:
        await db.close()
    return done
