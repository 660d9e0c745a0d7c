"""Phone settings of a provider account: read, change, and the phones' admin password (generated
on first use, sealed like SIP passwords, revealed and rotated only through its endpoints).

No stored row means the defaults, which work as they are: UTC, pool.ntp.org, UDP without SRTP,
a check for changes every hour, NAT keep-alive every 30 seconds. Every change bumps the
organisation's data version, so phones get it on their next fetch.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import PhoneSettings as PhoneSettingsRow
from deskprov.domain.config import PhoneSettings, Srtp, Transport
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Role
from deskprov.domain.timezones import zone_rules
from deskprov.schemas import phone_settings as schema
from deskprov.security.secretbox import SecretBox, phone_admin_password_binding
from deskprov.services.base import Collection, Scope, bump_data_version, changed, record

DEFAULT_TIMEZONE = "UTC"
DEFAULT_NTP_SERVERS = ("pool.ntp.org",)
DEFAULT_TRANSPORT: Transport = "udp"
DEFAULT_SRTP: Srtp = "off"
DEFAULT_POLL_MINUTES = 60
DEFAULT_NAT_KEEPALIVE_SECONDS = 30
ADMIN_PASSWORD_LENGTH = 16
ADMIN_PASSWORD_ALPHABET = string.ascii_letters + string.digits  # typeable on a phone's keypad


def new_admin_password() -> str:
    """Random letters and digits, with at least one of each kind."""
    while True:
        password = "".join(
            secrets.choice(ADMIN_PASSWORD_ALPHABET) for _ in range(ADMIN_PASSWORD_LENGTH)
        )
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


@dataclass(frozen=True)
class StoredSettings:
    """What the account's row says, defaults filled in; the admin password still sealed."""

    row_id: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    ntp_servers: tuple[str, ...] = DEFAULT_NTP_SERVERS
    language: str | None = None
    voicemail_number: str | None = None
    transport: Transport = DEFAULT_TRANSPORT
    srtp: Srtp = DEFAULT_SRTP
    poll_minutes: int = DEFAULT_POLL_MINUTES
    nat_keepalive_seconds: int = DEFAULT_NAT_KEEPALIVE_SECONDS
    firmware: Mapping[str, str] = field(default_factory=dict)
    admin_password_sealed: str | None = None

    def for_phone(self, box: SecretBox, timezone: str | None, year: int) -> PhoneSettings:
        """What a phone's templates see (``timezone``: its URL's own zone, if it has one)."""
        assert self.row_id is not None and self.admin_password_sealed is not None
        return PhoneSettings(
            zone=zone_rules(timezone or self.timezone, year),
            ntp_servers=self.ntp_servers,
            language=self.language,
            voicemail_number=self.voicemail_number,
            transport=self.transport,
            srtp=self.srtp,
            poll_minutes=self.poll_minutes,
            nat_keepalive_seconds=self.nat_keepalive_seconds,
            firmware=self.firmware,
            admin_password=box.open(
                self.admin_password_sealed, binding=phone_admin_password_binding(self.row_id)
            ),
        )


# The columns read, in this order, by ``stored_settings`` (the phone path reads them with Core).
COLUMNS = (
    PhoneSettingsRow.id,
    PhoneSettingsRow.timezone,
    PhoneSettingsRow.ntp_servers,
    PhoneSettingsRow.language,
    PhoneSettingsRow.voicemail_number,
    PhoneSettingsRow.transport,
    PhoneSettingsRow.srtp,
    PhoneSettingsRow.poll_minutes,
    PhoneSettingsRow.nat_keepalive_seconds,
    PhoneSettingsRow.firmware,
    PhoneSettingsRow.admin_password_sealed,
)


def stored_settings(row: Any | None) -> StoredSettings:
    """A row of ``COLUMNS`` (or None: no settings stored) with the defaults filled in."""
    if row is None:
        return StoredSettings()
    (row_id, zone, ntp, language, voicemail, transport, srtp, poll, keepalive, fw, sealed) = row
    return StoredSettings(
        row_id=row_id,
        timezone=zone or DEFAULT_TIMEZONE,
        ntp_servers=tuple(ntp) if ntp else DEFAULT_NTP_SERVERS,
        language=language,
        voicemail_number=voicemail,
        transport=cast(Transport, transport or DEFAULT_TRANSPORT),
        srtp=cast(Srtp, srtp or DEFAULT_SRTP),
        poll_minutes=poll if poll is not None else DEFAULT_POLL_MINUTES,
        nat_keepalive_seconds=(
            keepalive if keepalive is not None else DEFAULT_NAT_KEEPALIVE_SECONDS
        ),
        firmware=dict(fw or {}),
        admin_password_sealed=sealed,
    )


class PhoneSettingsService(Collection[PhoneSettingsRow, schema.PhoneSettingsView]):
    kind = "phone_settings"
    model = PhoneSettingsRow
    in_account = True
    needs_sip = True

    async def _row(self, s: AsyncSession, account_id: str) -> PhoneSettingsRow | None:
        row: PhoneSettingsRow | None = await s.scalar(
            select(PhoneSettingsRow).where(PhoneSettingsRow.account_id == account_id)
        )
        return row

    @staticmethod
    def _view(stored: StoredSettings) -> schema.PhoneSettingsView:
        return schema.PhoneSettingsView(
            timezone=stored.timezone,
            ntp_servers=list(stored.ntp_servers),
            language=stored.language,
            voicemail_number=stored.voicemail_number,
            transport=stored.transport,
            srtp=stored.srtp,
            poll_minutes=stored.poll_minutes,
            nat_keepalive_seconds=stored.nat_keepalive_seconds,
            firmware=dict(stored.firmware),
            has_admin_password=stored.admin_password_sealed is not None,
        )

    @staticmethod
    def _stored(row: PhoneSettingsRow | None) -> StoredSettings:
        if row is None:
            return StoredSettings()
        return stored_settings(tuple(getattr(row, c.key) for c in COLUMNS))

    async def read(self, scope: Scope) -> schema.PhoneSettingsView:
        scope.actor.require(self.read_role)
        async with self.deps.db.read() as s:
            await self.account(s, scope)
            return self._view(self._stored(await self._row(s, scope.account_id or "")))

    async def change(
        self, scope: Scope, body: schema.PhoneSettingsUpdate
    ) -> schema.PhoneSettingsView:
        scope.actor.require(self.write_role)
        fields = changed(body)
        async with self.deps.db.write() as s:
            await self.account(s, scope)
            row = await self._row(s, scope.account_id or "")
            if row is None:
                row = self.new_row(scope)
                s.add(row)
            for name, value in fields.items():
                setattr(row, name, value)
            await self.flush(s)
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return self._view(self._stored(row))

    async def reveal_admin_password(self, scope: Scope) -> schema.AdminPassword:
        scope.actor.require(Role.admin)
        async with self.deps.db.read() as s:
            await self.account(s, scope)
        await self.ensure_admin_password(scope.actor.org_id, scope.account_id or "")
        async with self.deps.db.write() as s:
            row = await self._row(s, scope.account_id or "")
            assert row is not None and row.admin_password_sealed is not None
            await self.audit(s, scope, "reveal_admin_password", row.id)
            return schema.AdminPassword(password=self._open(row))

    async def rotate_admin_password(self, scope: Scope) -> schema.PhoneSettingsView:
        """A new password, sent to every phone of the account on its next fetch."""
        scope.actor.require(Role.admin)
        async with self.deps.db.write() as s:
            await self.account(s, scope)
            row = await self._row(s, scope.account_id or "")
            if row is None:
                row = self.new_row(scope)
                s.add(row)
                await self.flush(s)
            row.admin_password_sealed = self._seal(row.id, new_admin_password())
            await bump_data_version(s, scope.actor.org_id)
            await self.audit(s, scope, "rotate_admin_password", row.id)
            return self._view(self._stored(row))

    def _seal(self, row_id: str, password: str) -> str:
        return self.deps.box.seal(password, binding=phone_admin_password_binding(row_id))

    def _open(self, row: PhoneSettingsRow) -> str:
        assert row.admin_password_sealed is not None
        return self.deps.box.open(
            row.admin_password_sealed, binding=phone_admin_password_binding(row.id)
        )

    async def ensure_admin_password(self, org_id: str, account_id: str) -> None:
        """Generate the account's admin password if it has none yet (its first use: the first
        file rendered for one of its phones, or a reveal). Safe against a race with another
        process: the first one's password stays. Nothing rendered before carried one, so no
        data version needs bumping."""
        try:
            async with self.deps.db.write() as s:
                row = await self._row(s, account_id)
                if row is not None and row.admin_password_sealed is not None:
                    return
                if row is None:
                    row = PhoneSettingsRow(
                        id=new_id(self.kind),
                        created_at=self.deps.clock(),
                        org_id=org_id,
                        account_id=account_id,
                    )
                    row.admin_password_sealed = self._seal(row.id, new_admin_password())
                    s.add(row)
                    await s.flush()
                else:
                    await s.execute(
                        update(PhoneSettingsRow)
                        .where(
                            PhoneSettingsRow.id == row.id,
                            PhoneSettingsRow.admin_password_sealed.is_(None),
                        )
                        .values(admin_password_sealed=self._seal(row.id, new_admin_password()))
                    )
                await record(
                    s,
                    self.deps,
                    org_id,
                    "deskprov",
                    "phone_settings.generate_admin_password",
                    self.kind,
                    row.id,
                )
        except IntegrityError:  # another process made the row first (PostgreSQL): its password
            return
