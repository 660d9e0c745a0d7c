"""The phone endpoint's use cases: serve a vendor's file for a signed URL, take uploads.

Order of checks: the token's signature and expiry (no database), the file name against the
vendor's profile, then the stored URL (revoked, expired, vendor, bound MAC) read fresh on every
request. Every refusal is an empty 404 to the phone; when the URL is genuine it is also counted
into an audit event (``services.refusals``, written behind the request) and the device's
``last_result``, so an installer can see why a phone did not provision. An upload's token and
URL are checked before its body is read.

Rendered files are cached by URL, file, model and the organisation's data version: a change
through the API bumps the version, so the very next fetch renders anew (in every process: the
version comes with the URL's state, read again after any commit). A file whose template reads
no phone data is cached once for every URL that asks for it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from deskprov.db.hot import HotStore, UrlState
from deskprov.db.models import DeviceUpload
from deskprov.domain.config import PhoneData, PhoneSettings
from deskprov.domain.ids import new_id
from deskprov.security import tokens
from deskprov.security.redaction import redact
from deskprov.services.base import Deps
from deskprov.services.caches import Lru, SharingLru
from deskprov.services.device_log import DeviceLog, DeviceNote
from deskprov.services.phone_data import AccountView, account_view, phone_data
from deskprov.services.phone_settings import PhoneSettingsService
from deskprov.services.provisioning_urls import claims_of, url_of, url_with
from deskprov.services.refusals import Refusal, RefusalLog
from deskprov.vendors.layout import lay_out
from deskprov.vendors.output import joined
from deskprov.vendors.profile import FileMatch, Model, Profile, UserAgent, identify
from deskprov.vendors.render import Rendered, Renderer, RenderError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 1024 * 1024  # enforced where the body is read (web/phone.py)
RENDER_CACHE_BYTES = 64 * 1024 * 1024
ACCOUNT_CACHE_ENTRIES = 1024
CALLER_CACHE_ENTRIES = 30_000  # about 10,000 phones' boot sequences (~600 bytes each)
TOKEN_CACHE_ENTRIES = 20_000
AGENT_CACHE_ENTRIES = 20_000
URL_ADDRESS_ENTRIES = 20_000
DEAD_URL_ENTRIES = 20_000
# Refusals that stay true: a revoked or expired URL, or an unbound one past its binding deadline.
FINAL = frozenset({"revoked", "expired", "unclaimed"})

# (The request and answer are plain slotted classes, not frozen ones: they are made for every
# fetch, and a frozen dataclass sets each field through object.__setattr__.)


@dataclass(slots=True)
class PhoneRequest:
    token: str
    filename: str
    user_agent: str
    address: str
    if_none_match: str | None = None
    method: str = "GET"


@dataclass(slots=True)
class PhoneAnswer:
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    refused: str | None = None  # why, for the bad-token limiter and logs; never sent
    vendor: str | None = None
    cached: bool = False


NOT_SERVED = PhoneAnswer(404)


def refused(reason: str) -> PhoneAnswer:
    return PhoneAnswer(404, refused=reason)


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header == etag:  # what phones send: the one tag they were given
        return True
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return etag in candidates or "*" in candidates


@dataclass(frozen=True, slots=True)
class CachedFile:
    """A rendered file as it is served: no more (the laid-out config it was rendered from
    weighed more than the file itself, once per cached file). Kept in its parts (see
    ``Rendered``): the fragments in it are the same objects in every file of their model or
    account, held once for all of them."""

    parts: tuple[bytes, ...]
    content_type: str
    etag: str
    failed: str | None = None  # the field that could not be written: nothing to serve

    @property
    def body(self) -> bytes:
        return joined(self.parts)

    def own_weight(self) -> int:
        """Its own bytes (the even parts) and what holding it costs besides."""
        return sum(map(len, self.parts[::2])) + 512 + 8 * len(self.parts)

    def shared(self) -> tuple[bytes, ...]:
        return self.parts[1::2]


@dataclass(frozen=True, slots=True)
class _Caller:
    """What a request's token, file name and user agent say: the same for every request that
    repeats all three, so worked out once (the token verified, the file name and user agent
    parsed) and kept."""

    claims: tokens.TokenClaims
    profile: Profile
    match: FileMatch | None
    agent: UserAgent | None
    mac: str | None


@dataclass(slots=True)
class _Visit:
    """What one request says about the phone, gathered before the database is touched."""

    claims: tokens.TokenClaims
    profile: Profile
    match: FileMatch | None
    agent: UserAgent | None
    mac: str | None
    now: datetime  # one clock reading for the whole request
    expired: bool = False  # a genuine token past its expiry: refused, but worth recording


@dataclass(slots=True)
class Upload:
    """An upload whose token and URL passed: its body may be read now."""

    url: UrlState
    visit: _Visit
    req: PhoneRequest
    mac: str


class PhoneService:
    def __init__(
        self,
        deps: Deps,
        renderer: Renderer,
        hot: HotStore,
        devices: DeviceLog,
        phone_settings: PhoneSettingsService,
        refusals: RefusalLog,
    ) -> None:
        self.deps = deps
        self.phone_settings = phone_settings
        self.renderer = renderer
        self.profiles = renderer.profiles
        self.hot = hot
        self.devices = devices
        self.refusals = refusals
        self.files: SharingLru[tuple[object, ...], CachedFile] = SharingLru(
            RENDER_CACHE_BYTES, CachedFile.own_weight, CachedFile.shared
        )
        self.accounts: Lru[tuple[str, int], AccountView] = Lru(ACCOUNT_CACHE_ENTRIES)
        self.reading: dict[tuple[str, int], asyncio.Future[AccountView]] = {}
        # Verifying a token and parsing a file name and a user agent cost more than the rest
        # of a cached fetch; a genuine token's claims never change (its expiry and its signing
        # key are checked on every use).
        self.callers: Lru[tuple[str, str, str], _Caller] = Lru(CALLER_CACHE_ENTRIES)
        self.tokens: Lru[str, tokens.TokenClaims] = Lru(TOKEN_CACHE_ENTRIES)
        self.agents: Lru[str, UserAgent | None] = Lru(AGENT_CACHE_ENTRIES)
        # A URL's own address (written into its files) never changes: signing it again for
        # every render was a twentieth of a boot storm.
        self.addresses: Lru[str, str] = Lru(URL_ADDRESS_ENTRIES)
        # URLs refused for good, by id: refused again without the database, in the time a
        # forged token takes (on PostgreSQL the read was most of the difference).
        self.dead: Lru[str, UrlState] = Lru(DEAD_URL_ENTRIES)

    # --- the two requests -------------------------------------------------------------------
    async def fetch(self, req: PhoneRequest) -> PhoneAnswer:
        visit = self._visit(req)
        if isinstance(visit, PhoneAnswer):
            return visit
        url, answer = await self._admit(req, visit, method="GET")
        if answer is not None:
            return answer
        assert url is not None and visit.match is not None
        rule = visit.match.rule
        if rule.serve != "render" or rule.template is None:
            self._note(url, visit, req, "not_served")
            return NOT_SERVED
        model = visit.profile.model(visit.agent.model if visit.agent else None)
        key = self._file_key(url, visit.profile, rule.template, model)
        cached = self.files.get(key)
        hit = cached is not None
        if cached is None:
            self._learn_address(url, visit.claims, req.token)
            cached = await self._render(url, visit.profile, rule.template, model, req.filename)
            self.files.put(key, cached)
        if cached.failed is not None:
            self._note(url, visit, req, "render_failed")
            return NOT_SERVED
        fresh = etag_matches(req.if_none_match, cached.etag)
        self._note(url, visit, req, "not_modified" if fresh else "ok")
        if fresh:
            return PhoneAnswer(304, etag=cached.etag, vendor=url.vendor, cached=hit)
        return PhoneAnswer(
            200,
            cached.body,
            cached.content_type,
            cached.etag,
            vendor=url.vendor,
            cached=hit,
        )

    async def admit_upload(self, req: PhoneRequest) -> Upload | PhoneAnswer:
        """Whether this phone may upload this file: asked before its body is read."""
        visit = self._visit(req)
        if isinstance(visit, PhoneAnswer):
            return visit
        url, answer = await self._admit(req, visit, method="PUT")
        if answer is not None:
            return answer
        assert url is not None and visit.match is not None
        if visit.match.rule.serve != "upload" or visit.match.mac is None:
            return NOT_SERVED
        return Upload(url, visit, req, visit.match.mac)

    async def upload(self, upload: Upload, body: bytes) -> PhoneAnswer:
        url, req = upload.url, upload.req
        await self._store_upload(url.org_id, upload.mac, req.filename.lower(), body)
        self._note(url, upload.visit, req, "uploaded")
        return PhoneAnswer(204)

    # --- steps ------------------------------------------------------------------------------
    def _visit(self, req: PhoneRequest) -> _Visit | PhoneAnswer:
        now = self.deps.clock()
        key = (req.token, req.filename, req.user_agent)
        caller = self.callers.get(key)
        # (a known token stops working as soon as its signing key is retired)
        if caller is None or self.deps.keyring.signing_key(caller.claims.key_id) is None:
            found = self._caller(req, now)
            if isinstance(found, PhoneAnswer):
                return found
            caller = found
            self.callers.put(key, caller)
        claims = caller.claims
        expired = claims.expires_at is not None and now >= claims.expires_at
        return _Visit(claims, caller.profile, caller.match, caller.agent, caller.mac, now, expired)

    def _caller(self, req: PhoneRequest, now: datetime) -> _Caller | PhoneAnswer:
        claims = self.tokens.get(req.token)  # (a phone asks for several files with one token)
        if claims is None or self.deps.keyring.signing_key(claims.key_id) is None:
            try:
                claims = tokens.verify(self.deps.keyring, req.token, now)
            except tokens.TokenError as exc:
                if exc.claims is None:
                    self.refusals.note(
                        Refusal(req.address, exc.reason, req.method, redact(req.filename[:64]), now)
                    )
                    return refused(exc.reason)
                claims = exc.claims  # genuine but expired: refused later, and recorded
            self.tokens.put(req.token, claims)
        profile = self.profiles[claims.vendor]
        match = profile.match_file(req.filename)
        agent = self.agents.get(req.user_agent)
        if agent is None and req.user_agent:
            agent = identify(self.profiles, req.user_agent)
            self.agents.put(req.user_agent, agent)
        mac = (match.mac if match else None) or (agent.mac if agent else None)
        return _Caller(claims, profile, match, agent, mac)

    def _reason(self, url: UrlState, visit: _Visit) -> str | None:
        """Why this request may not have this URL's files (None: it may)."""
        if url.revoked_at is not None:
            return "revoked"
        if visit.expired or (url.expires_at is not None and visit.now >= url.expires_at):
            return "expired"
        if url.mac is None and url.bind_before is not None and visit.now >= url.bind_before:
            return "unclaimed"  # an installer's URL no phone took in time
        if url.vendor != visit.claims.vendor or (visit.agent and visit.agent.vendor != url.vendor):
            return "wrong_vendor"
        match, agent = visit.match, visit.agent
        if match and match.mac and agent and agent.mac not in (None, match.mac):
            return "mac_mismatch"
        if url.mac and visit.mac and visit.mac != url.mac:
            return "other_mac"
        if match and match.rule.secrets and visit.mac is None:
            return "no_mac"
        return None

    async def _admit(
        self, req: PhoneRequest, visit: _Visit, method: str
    ) -> tuple[UrlState | None, PhoneAnswer | None]:
        """The URL's state when this phone may have this file; else the answer to give."""
        url = self.dead.get(visit.claims.url_id)
        if url is None:
            url = await self.hot.url_state(visit.claims.url_id, visit.claims.org_id)
        if url is None:
            self.refusals.note(
                Refusal(req.address, "unknown", method, redact(req.filename[:64]), visit.now)
            )
            return None, refused("unknown")
        if self.deps.keyring.signing_key(visit.claims.key_id) is None:
            # Retired since the token was checked: the PostgreSQL store looks at the key file
            # again with each batch's check, so this fetch is refused as a later one would be.
            self.refusals.note(
                Refusal(req.address, "unknown_key", method, redact(req.filename[:64]), visit.now)
            )
            return None, refused("unknown_key")
        reason = self._reason(url, visit)
        if reason is None and visit.match is None:
            self._note(url, visit, req, "not_served")
            return None, NOT_SERVED
        if reason is None and url.mac is None and visit.mac is not None:
            reason = await self._bind(url, visit.mac)
        if reason is not None:
            if reason in FINAL:
                self.dead.put(url.id, url)
            self._refuse(url, visit, req, reason, method)
            return None, refused(reason)
        return url, None

    async def _bind(self, url: UrlState, mac: str) -> str | None:
        """Bind an unbound URL to the first MAC that fetches it; exactly one phone wins."""
        event = {
            "id": new_id("audit_event"),
            "created_at": self.deps.clock(),
            "org_id": url.org_id,
            "actor": f"device:{mac}",
            "action": "provisioning_url.bind",
            "target_type": "provisioning_url",
            "target_id": url.id,
            "detail": {"mac": mac},
        }
        bound = await self.hot.bind(url.id, mac, event)
        return None if bound == mac else "other_mac"

    def _refuse(
        self, url: UrlState, visit: _Visit, req: PhoneRequest, reason: str, method: str
    ) -> None:
        """Counted, not written: see ``services.refusals``. The device's record shows it too;
        a phone not seen before gets one only with the first refusal of its URL, address and
        reason in a window (a holder of a revoked URL inventing MACs adds no rows)."""
        opened = self.refusals.note(
            Refusal(
                req.address,
                reason,
                method,
                redact(req.filename[:64]),
                visit.now,
                org_id=url.org_id,
                url_id=url.id,
                actor=f"device:{visit.mac}" if visit.mac else "anonymous",
            )
        )
        if visit.mac is not None and (opened or self.devices.knows(url.org_id, visit.mac)):
            self._note(url, visit, req, f"refused:{reason}")

    def _file_key(
        self, url: UrlState, profile: Profile, template: str, model: Model
    ) -> tuple[object, ...]:
        """What a rendered file depends on. A template that reads neither ``config`` nor
        ``provisioning_url`` is rendered once for every URL (once per model), or, if it reads
        ``settings``, once per account and time zone: in a boot storm the Polycom master file
        and the Yealink common file were rendered, with a database read and every password
        decrypted, once per phone."""
        reads = self.renderer.reads(profile, template, model)
        per_url = "config" in reads or "provisioning_url" in reads
        per_account = "settings" in reads and not per_url
        return (
            profile.vendor,
            template,
            model.name,
            url.id if per_url else None,
            (url.account_id, url.timezone) if per_account else None,
            url.data_version if "config" in reads or "settings" in reads else None,
        )

    async def _render(
        self, url: UrlState, profile: Profile, template: str, model: Model, filename: str
    ) -> CachedFile:
        try:
            rendered = await self.render(url, profile, template, model)
        except RenderError as exc:
            if exc.field is None:
                raise  # a template bug: the phone endpoint answers 404 and logs the traceback
            # Stored text that this vendor's format cannot carry: said once (the failure is
            # cached like a file, until the data changes), never served.
            log.warning(
                "cannot render %s for provisioning URL %s (%s): %s",
                filename[:64],
                url.id,
                profile.vendor,
                exc,
            )
            return CachedFile((b"",), profile.content_type, "", failed=exc.field)
        return CachedFile(rendered.parts, rendered.content_type, rendered.etag)

    async def render(
        self, url: UrlState, profile: Profile, template: str, model: Model, *, mask: bool = False
    ) -> Rendered:
        """The file as this URL's phone gets it (``mask``: passwords hidden, for previews)."""
        reads = self.renderer.reads(profile, template, model)
        settings = None
        if "config" in reads or "settings" in reads:
            account = await self._account(url)
            if "settings" in reads:
                settings = self._settings(account, url)
        if "config" in reads:
            config = lay_out(profile.vendor, model, await self._phone_data(url, account), url.mac)
        else:  # (the file may be shared between URLs: nothing of this one goes in)
            config = lay_out(profile.vendor, model, PhoneData((), (), url.data_version), None)
        address = self._address(url) if "provisioning_url" in reads else ""
        return self.renderer.render(
            profile, template, model, config, address, settings, mask_passwords=mask
        )

    def _settings(self, account: AccountView, url: UrlState) -> PhoneSettings:
        try:
            return account.settings_for(self.deps.box, url.timezone, self.deps.clock().year)
        except ValueError as exc:  # a zone the time-zone database no longer knows
            raise RenderError(str(exc), field="timezone") from exc

    def _learn_address(self, url: UrlState, claims: tokens.TokenClaims, token: str) -> None:
        """When the phone's token says what the URL's row says, it is the one ``url_of`` would
        sign: the first render of each phone in a boot storm need not sign it again."""
        if claims == claims_of(url) and self.addresses.get(url.id) is None:
            self.addresses.put(url.id, url_with(self.deps, token))

    def _address(self, url: UrlState) -> str:
        address = self.addresses.get(url.id)
        if address is None:
            address = url_of(self.deps, url)
            self.addresses.put(url.id, address)
        return address

    async def _account(self, url: UrlState) -> AccountView:
        """What every phone of the URL's account shares, read once per data version however
        many phones ask at once (where reads wait for the database, PostgreSQL, a boot storm's
        first phones each read it, dozens of times). The account's phone admin password is
        made here on its first use."""
        key = (url.account_id, url.data_version)
        account = self.accounts.get(key)
        if account is not None:
            return account
        reading = self.reading.get(key)
        if reading is None:
            reading = self.reading[key] = asyncio.ensure_future(self._read_account(url))
            reading.add_done_callback(lambda done: self._read(key, done))
        return await asyncio.shield(reading)

    async def _read_account(self, url: UrlState) -> AccountView:
        account = await self._account_view(url.account_id)
        if account.settings.admin_password_sealed is None:
            await self.phone_settings.ensure_admin_password(url.org_id, url.account_id)
            account = await self._account_view(url.account_id)
        self.accounts.put((url.account_id, url.data_version), account)
        return account

    async def _account_view(self, account_id: str) -> AccountView:
        async with self.hot.reader() as reader:
            return await account_view(reader, account_id, self.deps.settings.whippy_sip_suffix)

    def _read(self, key: tuple[str, int], done: asyncio.Future[AccountView]) -> None:
        self.reading.pop(key, None)
        if not done.cancelled():
            done.exception()  # (retrieved: when every asker has gone, nobody else will)

    async def _phone_data(self, url: UrlState, account: AccountView) -> PhoneData:
        async with self.hot.reader() as reader:
            return await phone_data(
                reader,
                self.deps.box,
                account,
                account_id=url.account_id,
                user_id=url.user_id,
                data_version=url.data_version,
            )

    def _note(self, url: UrlState, visit: _Visit, req: PhoneRequest, result: str) -> None:
        """Record what this phone just did (nothing when it did not say its MAC)."""
        if visit.mac is None:
            return
        self.devices.note(
            DeviceNote(
                org_id=url.org_id,
                mac=visit.mac,
                vendor=visit.agent.vendor if visit.agent else visit.profile.vendor,
                model=visit.agent.model if visit.agent else None,
                firmware=visit.agent.firmware if visit.agent else None,
                user_id=url.user_id,
                provisioning_url_id=url.id,
                at=visit.now,
                ip=req.address,
                file=req.filename,
                result=result,
            )
        )

    async def _store_upload(self, org_id: str, mac: str, filename: str, body: bytes) -> None:
        now = self.deps.clock()
        async with self.deps.db.write() as s:
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
