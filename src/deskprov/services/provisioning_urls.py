"""Provisioning URLs: created for a user and a vendor, signed, revocable, previewable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import CredentialAttachment, Device, ProvisioningUrl, SipUser, User
from deskprov.domain.mac import normalise_mac
from deskprov.domain.roles import Role
from deskprov.errors import Conflict, Invalid, NotFound
from deskprov.schemas import provisioning as schema
from deskprov.security import tokens
from deskprov.security.keyring import Keys
from deskprov.services.base import Collection, Deps, Scope, get_referenced, iso, iso_or_none
from deskprov.vendors.render import RenderError

if TYPE_CHECKING:
    from deskprov.services.phone import PhoneService

# An installer's URL without a MAC must be claimed by a phone (its first fetch binds it to that
# phone's MAC) within this time, or it stops working: a URL an installer makes cannot stay open
# to any phone, for anyone holding its install sheet, for good.
INSTALLER_BIND_WITHIN = timedelta(hours=24)
RETIRED_KEY = "signing_key_retired"


class SignedUrl(Protocol):
    """What a URL's token is made of (a stored row or the phone endpoint's UrlState)."""

    @property
    def id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def vendor(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def key_id(self) -> str: ...


def claims_of(row: SignedUrl) -> tokens.TokenClaims:
    """What the URL's token says (a token is a pure function of these and the signing key)."""
    return tokens.TokenClaims(
        url_id=row.id,
        org_id=row.org_id,
        vendor=row.vendor,
        expires_at=row.expires_at,
        key_id=row.key_id,
    )


def token_for(row: SignedUrl, keyring: Keys) -> str:
    return tokens.sign(keyring, claims_of(row))


def url_with(deps: Deps, token: str) -> str:
    return f"{deps.settings.public_url}/p/{token}/"


def url_of(deps: Deps, row: SignedUrl) -> str:
    return url_with(deps, token_for(row, deps.keyring))


def retired_key_message(row: SignedUrl) -> str:
    return (
        f"this URL was signed with key {row.key_id}, which has been retired: phones can no "
        "longer use it (revoke it and make a new one)"
    )


class ProvisioningUrls(Collection[ProvisioningUrl, schema.ProvisioningUrlView]):
    kind = "provisioning_url"
    model = ProvisioningUrl
    in_account = True
    searchable = ("label", "mac")
    filters = ("user_id",)
    needs_sip = True
    write_role = Role.installer

    phone: PhoneService  # set by the registry

    def url(self, row: ProvisioningUrl) -> str | None:
        """The URL, or None when its signing key was retired (no token can be made)."""
        if self.deps.keyring.signing_key(row.key_id) is None:
            return None
        return url_of(self.deps, row)

    async def view(self, s: AsyncSession, row: ProvisioningUrl) -> schema.ProvisioningUrlView:
        return self._view(row)

    def _view(self, row: ProvisioningUrl) -> schema.ProvisioningUrlView:
        url = self.url(row)
        return schema.ProvisioningUrlView(
            id=row.id,
            url=url,
            url_unavailable=RETIRED_KEY if url is None else None,
            vendor=row.vendor,
            user_id=row.user_id,
            mac=row.mac,
            expires_at=iso_or_none(row.expires_at),
            revoked=row.revoked_at is not None,
            revoked_at=iso_or_none(row.revoked_at),
            label=row.label,
            timezone=row.timezone,
            bind_before=iso_or_none(row.bind_before),
            created_at=iso(row.created_at),
        )

    def redact(self, scope: Scope, view: schema.ProvisioningUrlView) -> schema.ProvisioningUrlView:
        # A URL hands out SIP passwords: viewers see that it exists, not what it is.
        return view if scope.actor.role >= Role.installer else view.model_copy(update={"url": None})

    async def check_user_has_a_line(self, s: AsyncSession, scope: Scope, user_id: str) -> None:
        sip_users = list(
            (
                await s.scalars(
                    select(SipUser.credential_list_id).where(
                        SipUser.account_id == scope.account_id, SipUser.user_id == user_id
                    )
                )
            ).all()
        )
        if not sip_users:
            raise Invalid(
                "the user owns no SIP user in this provider account: create one for them first",
                fields={"user_id": "owns no SIP user in this provider account"},
            )
        attached = await s.scalar(
            select(CredentialAttachment.id)
            .where(CredentialAttachment.credential_list_id.in_(sip_users))
            .limit(1)
        )
        if attached is None:
            raise Invalid(
                "none of the user's SIP users is in a credential list attached to a SIP domain: "
                "attach the list to a domain first",
                fields={"user_id": "no SIP user in a credential list attached to a domain"},
            )

    async def create(
        self, scope: Scope, body: schema.ProvisioningUrlCreate
    ) -> schema.ProvisioningUrlView:
        scope.actor.require(self.write_role)
        mac = None
        if body.mac is not None:
            mac = normalise_mac(body.mac)
            if mac is None:
                raise Invalid("the MAC address is not valid", fields={"mac": "12 hex digits"})
        async with self.deps.db.write() as s:
            await self.account(s, scope)
            await get_referenced(s, User, scope.actor.org_id, body.user_id, "user", "user_id")
            await self.check_user_has_a_line(s, scope, body.user_id)
            now = self.deps.clock().replace(microsecond=0)
            expires_at = now + timedelta(seconds=body.expires_in) if body.expires_in else None
            bind_before = None
            if mac is None and scope.actor.role < Role.admin:
                bind_before = now + INSTALLER_BIND_WITHIN
            row = self.new_row(
                scope,
                user_id=body.user_id,
                vendor=body.vendor,
                mac=mac,
                expires_at=expires_at,
                label=body.label,
                timezone=body.timezone,
                key_id=self.deps.keyring.current_signing.kid,
                bind_before=bind_before,
            )
            s.add(row)
            await self.flush(s)
            await self.audit(s, scope, "create", row.id, vendor=body.vendor, mac=mac)
            return self._view(row)

    async def delete(self, scope: Scope, row_id: str) -> None:
        """``DELETE`` revokes at once; the record stays for the devices that used it."""
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            if row.revoked_at is None:
                row.revoked_at = self.deps.clock()
                await self.audit(s, scope, "revoke", row.id)

    async def preview(
        self, scope: Scope, row_id: str, query: schema.PreviewQuery
    ) -> schema.PreviewView:
        scope.actor.require(Role.admin if query.reveal else Role.installer)
        async with self.deps.db.read() as s:
            row = await self.load(s, scope, row_id)
            model_name = query.model
            if model_name is None and row.mac:
                model_name = await s.scalar(
                    select(Device.model).where(Device.org_id == row.org_id, Device.mac == row.mac)
                )
        profile = self.phone.profiles[row.vendor]
        match = profile.match_file(query.file)
        if match is None or match.rule.serve != "render" or match.rule.template is None:
            raise NotFound(
                f"a {row.vendor} phone is not served a file named {query.file}",
                fields={"file": "not served to this vendor's phones"},
            )
        if self.deps.keyring.signing_key(row.key_id) is None:
            raise Conflict(retired_key_message(row))
        state = await self.phone.hot.url_state(row.id, row.org_id)
        assert state is not None
        model = profile.model(model_name)
        try:
            rendered = await self.phone.render(
                state, profile, match.rule.template, model, mask=not query.reveal
            )
        except RenderError as exc:
            if exc.field is None:
                raise
            raise Invalid(
                f"this file cannot be written for a {row.vendor} phone: {exc}",
                fields={exc.field: "cannot be written in this vendor's file; change it"},
            ) from exc
        if query.reveal:
            async with self.deps.db.write() as s:
                await self.audit(s, scope, "reveal_preview", row.id, file=query.file)
        return schema.PreviewView(
            file=query.file,
            content_type=rendered.content_type,
            model=model.name,
            content=rendered.body.decode("utf-8"),
            dropped_keys=[
                schema.DroppedKey(id=k.source_id, extension=k.extension, label=k.label)
                for k in rendered.config.dropped
            ],
        )
