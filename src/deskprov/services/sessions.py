"""Admin page sessions, kept in the database so that signing out ends one at once.

The browser's cookie holds a random 256-bit secret; the table holds its SHA-256 digest, the API
key that signed in and when. A session lasts ``LIFETIME`` however busy; signing out deletes its
row, and deleting the API key deletes its sessions. Every page asks the table again (one indexed
read joined with the key, which the page needed anyway for the key's current role).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from deskprov.db.models import AdminSession, ApiKey
from deskprov.domain.roles import Actor, Role
from deskprov.errors import Unauthorized
from deskprov.security import apikeys
from deskprov.services.base import Deps

LIFETIME = timedelta(hours=12)


async def start_session(deps: Deps, actor: Actor) -> str:
    """A new session for ``actor``; the cookie's secret (returned once, stored hashed)."""
    secret = secrets.token_urlsafe(32)
    now = deps.clock()
    async with deps.db.write() as s:
        await s.execute(delete(AdminSession).where(AdminSession.created_at <= now - LIFETIME))
        s.add(
            AdminSession(
                digest=apikeys.digest(secret),
                created_at=now,
                org_id=actor.org_id,
                key_id=actor.key_id,
            )
        )
    return secret


async def session_actor(deps: Deps, secret: str) -> Actor:
    """Who a session cookie signs in, with the key's role now; ``Unauthorized`` when the
    session was ended, is over, or never was."""
    if not 20 <= len(secret) <= 100:
        raise Unauthorized("no session")
    async with deps.db.read() as s:
        found = (
            await s.execute(
                select(AdminSession.created_at, ApiKey.org_id, ApiKey.id, ApiKey.role)
                .join(ApiKey, ApiKey.id == AdminSession.key_id)
                .where(AdminSession.digest == apikeys.digest(secret))
            )
        ).first()
    if found is None or deps.clock() - found[0] >= LIFETIME:
        raise Unauthorized("the session has ended")
    _, org_id, key_id, role = found
    return Actor(org_id=org_id, key_id=key_id, role=Role.parse(role))


async def end_session(deps: Deps, secret: str) -> None:
    async with deps.db.write() as s:
        await s.execute(delete(AdminSession).where(AdminSession.digest == apikeys.digest(secret)))
