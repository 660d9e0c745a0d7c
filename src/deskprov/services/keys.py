"""Key work that needs the database: what is sealed with a key, and rotation.

``rotate`` is all or nothing: every stored secret moves to the new encryption key in one
transaction, or none does and the key file is as it was. The order keeps running servers able
to open every value at every moment:

1. count the secrets (a database that does not answer fails here, before anything changed);
2. write the key file with the new encryption key added but not current: servers learn it (at
   once when they meet its id) and go on sealing with the old one;
3. one transaction re-encrypts every secret under the new key (rows locked: PostgreSQL's
   ``FOR UPDATE``, SQLite's write lock, so nothing changes under it; servers wait for writes,
   never for reads). If it fails, nothing was sealed with the new key, and step 2 is undone;
4. write the key file with the new keys current (new URLs are signed with the new signing key);
5. a second pass, a second later, for secrets a server sealed with the old key before it took
   the new file (there are rarely any; if it fails, the old key still opens them and
   ``keys retire`` refuses the old key until they are re-encrypted by the next rotation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from deskprov.db.engine import Database, make_engine
from deskprov.db.models import PhoneSettings, ProviderAccount, SipUser
from deskprov.security import keyring as keyfile
from deskprov.security.keyring import Keyring, LiveKeys
from deskprov.security.secretbox import (
    SecretBox,
    credentials_binding,
    phone_admin_password_binding,
    sip_password_binding,
)
from deskprov.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 500  # rows per UPDATE statement (and per progress step)

# Every sealed column: the model, the column, and what its values are bound to.
SEALED: list[tuple[Any, Any, Callable[[str], str]]] = [
    (SipUser, SipUser.password_sealed, sip_password_binding),
    (ProviderAccount, ProviderAccount.credentials_sealed, credentials_binding),
    (PhoneSettings, PhoneSettings.admin_password_sealed, phone_admin_password_binding),
]

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Rotation:
    keys: Keyring
    resealed: int


async def sealed_with(settings: Settings, kid: str) -> int:
    """How many stored secrets are encrypted under key ``kid``."""
    db = Database(make_engine(settings.database_url))
    try:
        async with db.read() as s:
            return await _count(s, f"v1.{kid}.%")
    finally:
        await db.close()


async def rotate(settings: Settings, old: Keyring, progress: Progress | None = None) -> Rotation:
    """New signing and encryption keys in place of ``old`` (the key file's, read under its
    lock); every stored secret re-encrypted (see the module)."""
    new = old.rotated()
    pending = Keyring(signing=old.signing, encryption=(*old.encryption, new.current_encryption))
    db = Database(make_engine(settings.database_url))
    try:
        async with db.read() as s:
            total = await _count(s)
        keyfile.write(settings.key_file, pending)
        try:
            resealed = await _reseal(db, new, progress or (lambda done, total: None), total)
        except BaseException:
            keyfile.write(settings.key_file, old)
            raise
        keyfile.write(settings.key_file, new)
        await asyncio.sleep(LiveKeys.CHECK_EVERY + 0.2)
        try:
            resealed += await _reseal(db, new, lambda done, total: None, None)
        except Exception as exc:
            log.warning(
                "new keys in use, but the secrets sealed by servers during the rotation were "
                "not re-encrypted (%s): the old key still opens them",
                exc,
            )
    finally:
        await db.close()
    return Rotation(keys=new, resealed=resealed)


async def _count(s: Any, like: str | None = None) -> int:
    total = 0
    for _, column, _ in SEALED:
        where = column.like(like) if like else column.is_not(None)
        total += int(await s.scalar(select(func.count()).where(where)) or 0)
    return total


async def _reseal(db: Database, keys: Keyring, progress: Progress, total: int | None) -> int:
    """In one transaction, every secret not under the current encryption key moves to it."""
    box = SecretBox(keys)
    current = f"v1.{keys.current_encryption.kid}.%"
    done = 0
    async with db.write() as s:
        for model, column, binding in SEALED:
            rows = (
                await s.execute(
                    select(model.id, column)
                    .where(column.is_not(None), ~column.like(current))
                    .order_by(model.id)
                    .with_for_update()
                )
            ).all()
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                values = [
                    {
                        "id": row_id,
                        column.key: box.seal(
                            box.open(sealed, binding=binding(row_id)), binding=binding(row_id)
                        ),
                    }
                    for row_id, sealed in chunk
                ]
                await s.execute(update(model), values)
                done += len(chunk)
                progress(done, total if total is not None else done)
    return done
