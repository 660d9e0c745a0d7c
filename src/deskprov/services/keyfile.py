"""Opening the key file where the database can say whether a missing one matters.

A key file that is missing (a volume not mounted, a path mistyped) is not replaced when the
database holds anything made with keys (sealed SIP passwords and provider credentials, signed
provisioning URLs): a new key would make them unusable, and secrets changed meanwhile would be
sealed under it, to be lost when the real file comes back. It is created only for a database
with nothing of the kind (a new install).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from deskprov.db.engine import Database
from deskprov.db.models import ProviderAccount, ProvisioningUrl, SipUser
from deskprov.security import keyring
from deskprov.security.keyring import KeyFileMissing, Keyring


async def open_key_file(db: Database, path: Path) -> Keyring:
    """The key file's keys; a new file only when nothing in the database needs the old one."""
    try:
        return keyring.load(path)
    except KeyFileMissing:
        pass
    held = await _made_with_keys(db)
    if held:
        raise KeyFileMissing(
            f"the key file {path} is missing, but the database holds {held}: restore the key "
            "file (or mount its volume) and start again; a new key file is not made over them"
        )
    return keyring.create(path)


async def _made_with_keys(db: Database) -> str:
    """What in the database was sealed or signed with keys, in words ('' for nothing)."""
    async with db.read() as s:
        secrets = int(await s.scalar(select(func.count()).select_from(SipUser)) or 0)
        secrets += int(
            await s.scalar(
                select(func.count()).where(ProviderAccount.credentials_sealed.is_not(None))
            )
            or 0
        )
        urls = int(
            await s.scalar(select(func.count()).where(ProvisioningUrl.revoked_at.is_(None))) or 0
        )
    held = []
    if secrets:
        held.append(f"{secrets} sealed secret(s)")
    if urls:
        held.append(f"{urls} signed provisioning URL(s)")
    return " and ".join(held)
