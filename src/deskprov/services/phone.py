"""The phone endpoint's use cases: serve a vendor's file for a signed URL, take uploads.

Order of checks: the token's signature and expiry (no database), the file name against the
vendor's profile, then the stored URL (revoked, expired, vendor, bound MAC). Every refusal is an
empty 404 to the phone; when the organisation is known it is also an audit event and the
device's ``last_result``, so an installer can see why a phone did not provision.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import Device, DeviceUpload, ProvisioningUrl
from deskprov.domain.ids import new_id
from deskprov.security import tokens
from deskprov.services.base import Deps, record
from deskprov.services.phone_data import phone_data
from deskprov.services.provisioning_urls import token_for
from deskprov.vendors.layout import lay_out
from deskprov.vendors.profile import FileMatch, Profile, UserAgent, identify
from deskprov.vendors.render import Renderer

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PhoneRequest:
    token: str
    filename: str
    user_agent: str
    address: str
    if_none_match: str | None = None


@dataclass(frozen=True)
class PhoneAnswer:
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    refused: str | None = None  # why, for the bad-token limiter and logs; never sent
    vendor: str | None = None


NOT_SERVED = PhoneAnswer(404)


def refused(reason: str) -> PhoneAnswer:
    return PhoneAnswer(404, refused=reason)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return etag in candidates or "*" in candidates


@dataclass
class _Visit:
    """What one request says about the phone, gathered before the database is touched."""

    claims: tokens.TokenClaims
    profile: Profile
    match: FileMatch | None
    agent: UserAgent | None
    mac: str | None
    expired: bool = False  # a genuine token past its expiry: refused, but worth recording


class PhoneService:
    def __init__(self, deps: Deps, renderer: Renderer) -> None:
        self.deps = deps
        self.renderer = renderer
        self.profiles = renderer.profiles

    def _visit(self, req: PhoneRequest) -> _Visit | PhoneAnswer:
        expired = False
        try:
            claims = tokens.verify(self.deps.keyring, req.token, self.deps.clock())
        except tokens.TokenError as exc:
            if exc.claims is None:
                log.info("refused %s from %s: %s token", req.filename[:64], req.address, exc.reason)
                return refused(exc.reason)
            claims, expired = exc.claims, True
        profile = self.profiles[claims.vendor]
        match = profile.match_file(req.filename)
        agent = identify(self.profiles, req.user_agent) if req.user_agent else None
        mac = (match.mac if match else None) or (agent.mac if agent else None)
        return _Visit(claims, profile, match, agent, mac, expired)

    async def fetch(self, req: PhoneRequest) -> PhoneAnswer:
        visit = self._visit(req)
        if isinstance(visit, PhoneAnswer):
            return visit
        async with self.deps.db.write() as s:
            url, answer = await self._admit(s, req, visit, method="GET")
            if answer is not None:
                return answer
            assert url is not None and visit.match is not None
            rule = visit.match.rule
            if rule.serve != "render" or rule.template is None:
                await self._device(s, url, visit, req, result="not_served")
                return NOT_SERVED
            model = visit.profile.model(visit.agent.model if visit.agent else None)
            data = await phone_data(
                s,
                self.deps.box,
                org_id=url.org_id,
                account_id=url.account_id,
                user_id=url.user_id,
                whippy_suffix=self.deps.settings.whippy_sip_suffix,
            )
            config = lay_out(visit.profile.vendor, model, data, visit.mac or url.mac)
            rendered = self.renderer.render(
                visit.profile, rule.template, model, config, self._url(url)
            )
            etag = etag_of(rendered.body)
            fresh = etag_matches(req.if_none_match, etag)
            await self._device(s, url, visit, req, result="not_modified" if fresh else "ok")
        if fresh:
            return PhoneAnswer(304, etag=etag)
        return PhoneAnswer(
            200, rendered.body, rendered.content_type, etag, vendor=visit.profile.vendor
        )

    async def upload(self, req: PhoneRequest, body: bytes) -> PhoneAnswer:
        visit = self._visit(req)
        if isinstance(visit, PhoneAnswer):
            return visit
        async with self.deps.db.write() as s:
            url, answer = await self._admit(s, req, visit, method="PUT")
            if answer is not None:
                return answer
            assert url is not None and visit.match is not None
            if visit.match.rule.serve != "upload" or visit.match.mac is None:
                return NOT_SERVED
            if len(body) > MAX_UPLOAD_BYTES:
                return PhoneAnswer(413)
            await self._store_upload(s, url.org_id, visit.match.mac, req.filename.lower(), body)
            await self._device(s, url, visit, req, result="uploaded")
        return PhoneAnswer(204)

    def _url(self, url: ProvisioningUrl) -> str:
        return f"{self.deps.settings.public_url}/p/{token_for(url, self.deps.keyring)}/"

    async def _admit(
        self, s: AsyncSession, req: PhoneRequest, visit: _Visit, method: str
    ) -> tuple[ProvisioningUrl | None, PhoneAnswer | None]:
        """The stored URL when this phone may have this file; else the answer to give."""
        claims = visit.claims
        url = await s.scalar(
            select(ProvisioningUrl).where(
                ProvisioningUrl.id == claims.url_id, ProvisioningUrl.org_id == claims.org_id
            )
        )
        now = self.deps.clock()
        reason = None
        if url is None:
            reason = "unknown"
        elif url.revoked_at is not None:
            reason = "revoked"
        elif visit.expired or (url.expires_at is not None and now >= url.expires_at):
            reason = "expired"
        elif url.vendor != claims.vendor or (visit.agent and visit.agent.vendor != url.vendor):
            reason = "wrong_vendor"
        elif (
            visit.match
            and visit.match.mac
            and visit.agent
            and visit.agent.mac
            not in (
                None,
                visit.match.mac,
            )
        ):
            reason = "mac_mismatch"
        elif url.mac and visit.mac and visit.mac != url.mac:
            reason = "other_mac"
        if url is None:
            log.info("refused %s from %s: unknown URL", req.filename[:64], req.address)
            return None, refused(reason or "unknown")
        if reason is None and visit.match is None:
            await self._device(s, url, visit, req, result="not_served")
            return None, NOT_SERVED
        if reason is None and visit.match and visit.match.rule.secrets and visit.mac is None:
            reason = "no_mac"
        if reason is None and url.mac is None and visit.mac is not None:
            reason = await self._bind(s, url, visit.mac)
        if reason is not None:
            await self._refuse(s, url, visit, req, reason, method)
            return None, refused(reason)
        return url, None

    async def _bind(self, s: AsyncSession, url: ProvisioningUrl, mac: str) -> str | None:
        """Bind an unbound URL to the first MAC that fetches it; exactly one phone wins."""
        result = await s.execute(
            update(ProvisioningUrl)
            .where(ProvisioningUrl.id == url.id, ProvisioningUrl.mac.is_(None))
            .values(mac=mac)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            url.mac = mac
            await record(
                s,
                self.deps,
                url.org_id,
                f"device:{mac}",
                "provisioning_url.bind",
                "provisioning_url",
                url.id,
                {"mac": mac},
            )
            return None
        await s.refresh(url)
        return None if url.mac == mac else "other_mac"

    async def _refuse(
        self,
        s: AsyncSession,
        url: ProvisioningUrl,
        visit: _Visit,
        req: PhoneRequest,
        reason: str,
        method: str,
    ) -> None:
        log.info(
            "refused %s %s for %s from %s: %s",
            method,
            req.filename[:64],
            url.id,
            req.address,
            reason,
        )
        actor = f"device:{visit.mac}" if visit.mac else "anonymous"
        detail = {"reason": reason, "file": req.filename[:64], "ip": req.address}
        await record(
            s,
            self.deps,
            url.org_id,
            actor,
            "provisioning.refused",
            "provisioning_url",
            url.id,
            detail,
        )
        await self._device(s, url, visit, req, result=f"refused:{reason}")

    async def _device(
        self, s: AsyncSession, url: ProvisioningUrl, visit: _Visit, req: PhoneRequest, result: str
    ) -> None:
        """Record what this phone just did (nothing when it did not say its MAC)."""
        if visit.mac is None:
            return
        now: datetime = self.deps.clock()
        values: dict[str, object] = {
            "vendor": visit.profile.vendor,
            "last_seen": now,
            "last_ip": req.address[:64],
            "last_file": req.filename[:255],
            "last_result": result,
            "user_id": url.user_id,
            "provisioning_url_id": url.id,
        }
        if visit.agent is not None:
            values.update(
                vendor=visit.agent.vendor,
                model=(visit.agent.model or "")[:64] or None,
                firmware=(visit.agent.firmware or "")[:64] or None,
            )
        device = await s.scalar(
            select(Device).where(Device.org_id == url.org_id, Device.mac == visit.mac)
        )
        if device is not None:
            for name, value in values.items():
                setattr(device, name, value)
            return
        try:
            async with s.begin_nested():
                s.add(
                    Device(
                        id=new_id("device"),
                        created_at=now,
                        org_id=url.org_id,
                        mac=visit.mac,
                        **values,
                    )
                )
        except IntegrityError:  # another request of the same phone inserted it first
            await s.execute(
                update(Device)
                .where(Device.org_id == url.org_id, Device.mac == visit.mac)
                .values(**values)
            )

    async def _store_upload(
        self, s: AsyncSession, org_id: str, mac: str, filename: str, body: bytes
    ) -> None:
        now = self.deps.clock()
        row = await s.scalar(
            select(DeviceUpload).where(
                DeviceUpload.org_id == org_id,
                DeviceUpload.mac == mac,
                DeviceUpload.filename == filename,
            )
        )
        if row is None:
            s.add(
                DeviceUpload(
                    id=new_id("device_upload"),
                    created_at=now,
                    org_id=org_id,
                    mac=mac,
                    filename=filename,
                    body=body,
                    updated_at=now,
                )
            )
        else:
            row.body, row.updated_at = body, now
