"""Facts about keys that need the database."""

from __future__ import annotations

from sqlalchemy import func, select

from deskprov.db.engine import Database, make_engine
from deskprov.db.models import ProviderAccount, SipUser
from deskprov.settings import Settings


async def sealed_with(settings: Settings, kid: str) -> int:
    """How many stored secrets are encrypted under key ``kid``."""
    db = Database(make_engine(settings.database_url))
    prefix = f"v1.{kid}.%"
    try:
        async with db.read() as s:
            users = await s.scalar(select(func.count()).where(SipUser.password_sealed.like(prefix)))
            accounts = await s.scalar(
                select(func.count()).where(ProviderAccount.credentials_sealed.like(prefix))
            )
    finally:
        await db.close()
    return int(users or 0) + int(accounts or 0)
