"""Twilio's REST API (2010-04-01): the account check, SIP domains, credential lists, credentials,
their mappings to domains, and phone numbers (search, buy, fetch, release).

Auth is HTTP Basic with the account SID and auth token; bodies are form-encoded; Twilio answers
JSON, errors as ``{"code": 21232, "message": "...", "more_info": "...", "status": 400}``. Every
call has ``DESKPROV_TWILIO_TIMEOUT`` seconds in all (10 by default): a Twilio that does not answer
by then is a ``502 provider_error``.
A refusal Twilio explains by a code we know is turned into our own error on the field it is
about; any other is a ``ProviderError``. Passwords and the auth token are never logged.

The hand-written client was kept over the official ``twilio`` package (see the README): it is
the ~60 lines of ``TwilioClient`` below on the server's own aiohttp session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from deskprov.errors import Conflict, Invalid, ProviderError
from deskprov.providers.base import (
    NumberOffer,
    OwnedNumber,
    Progress,
    RemoteCredential,
    RemoteDomain,
    RemoteList,
    RemoteState,
)

log = logging.getLogger(__name__)

API_VERSION = "/2010-04-01"
PAGE_SIZE = 1000  # Twilio's largest page
CONCURRENT_READS = 4  # a sync reads each list's credentials and each domain's mappings

# Twilio's rules, ours too for twilio accounts (../shared/reference/README.md).
FRIENDLY_NAME_MAX = 64
DOMAINS_MAX = 100
LISTS_MAX = 100
CREDENTIALS_PER_LIST_MAX = 1000

# Twilio error codes with a meaning of our own.
AUTHENTICATE = 20003
NOT_FOUND = 20404
DOMAIN_LIMIT = 21230
DOMAIN_TAKEN = 21232
INVALID_CREDENTIAL = 21240  # also a credential list's duplicate name
NUMBER_UNAVAILABLE = 21422

MAPPING_PATHS = {
    "registrations": "Auth/Registrations/CredentialListMappings",
    "calls": "Auth/Calls/CredentialListMappings",
}


def voice_url(public_url: str, account_id: str) -> str:
    """The voice webhook deskprov serves for a provider account: Twilio POSTs calls there."""
    return f"{public_url.rstrip('/')}/hooks/twilio/{account_id}/voice"


@asynccontextmanager
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for provider APIs, for use outside the server (the command line)."""
    async with aiohttp.ClientSession() as session:
        yield session


class TwilioRefusal(ProviderError):
    """Twilio answered with an error status."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        detail = f"{status}, code {code}" if code else str(status)
        super().__init__(f"Twilio refused the request ({detail}): {message}")
        self.status = status
        self.twilio_code = code
        self.twilio_message = message


class TwilioClient:
    """One Twilio account's REST API."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_url: str,
        account_sid: str,
        auth_token: str,
        timeout: float,
    ) -> None:
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._api_url = api_url.rstrip("/")
        self.account_sid = account_sid
        self.base = f"{API_VERSION}/Accounts/{account_sid}"
        token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    async def call(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``path`` from the API's root (``/2010-04-01/...``); ``{}`` for an empty answer."""
        try:
            async with self._http.request(
                method,
                self._api_url + path,
                headers=self._headers,
                data=form,
                params=params,
                timeout=self._timeout,
            ) as resp:
                text = await resp.text()
                body = _json(text)
                if resp.status >= 400:
                    code = body.get("code") if isinstance(body, dict) else None
                    message = body.get("message") if isinstance(body, dict) else None
                    log.warning(
                        "Twilio %s %s answered %s (code %s)", method, path, resp.status, code
                    )
                    raise TwilioRefusal(
                        resp.status, code if isinstance(code, int) else None, str(message or "")
                    )
                if resp.status == 204 or not text:
                    return {}
                if not isinstance(body, dict):
                    raise ProviderError("Twilio answered with something that is not JSON")
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Twilio %s %s failed: %s", method, path, type(exc).__name__)
            refused = isinstance(exc, aiohttp.ClientConnectorError)  # (nothing was sent)
            reason = "timed out" if isinstance(exc, TimeoutError) else "failed"
            raise ProviderError(
                f"Twilio could not be reached: the request {reason}", ambiguous=not refused
            ) from exc

    async def delete(self, path: str) -> None:
        """Delete a resource; one that is gone already is fine."""
        try:
            await self.call("DELETE", path)
        except TwilioRefusal as exc:
            if not _gone(exc):
                raise

    async def each(self, path: str, key: str) -> list[dict[str, Any]]:
        """Every item of a list resource, page after page."""
        items: list[dict[str, Any]] = []
        page = await self.call("GET", path, params={"PageSize": str(PAGE_SIZE)})
        while True:
            items += [i for i in page.get(key) or [] if isinstance(i, dict)]
            following = page.get("next_page_uri")
            if not following:
                return items
            page = await self.call("GET", str(following))


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _gone(exc: TwilioRefusal) -> bool:
    return exc.status == 404 or exc.twilio_code == NOT_FOUND


async def check_account(client: TwilioClient) -> None:
    """Raise ``Invalid`` on ``credentials`` unless Twilio takes them for an active account."""
    try:
        account = await client.call("GET", f"{API_VERSION}/Accounts/{client.account_sid}.json")
    except TwilioRefusal as exc:
        if exc.status in (401, 403, 404) or exc.twilio_code == AUTHENTICATE:
            raise Invalid(
                "Twilio refused these credentials",
                fields={"credentials": "refused by Twilio: check the account SID and auth token"},
            ) from None
        raise
    status = account.get("status")
    if status != "active":
        raise Invalid(
            f"the Twilio account is {status}",
            fields={"credentials": f"the Twilio account is {status}, not active"},
        )


class TwilioSip:
    """The SIP objects of one Twilio account (``SipHost``)."""

    def __init__(self, client: TwilioClient, public_url: str, account_id: str) -> None:
        self.client = client
        self._voice_url = voice_url(public_url, account_id)
        self._sip = f"{client.base}/SIP"

    def domain_name(self, prefix: str) -> str:
        return f"{prefix}.sip.twilio.com"

    def voice_url(self) -> str:
        return self._voice_url

    def _domain_settings(self) -> dict[str, str]:
        return {"SipRegistration": "true", "VoiceUrl": self._voice_url, "VoiceMethod": "POST"}

    async def create_domain(self, prefix: str, name: str) -> str:
        form = {"DomainName": self.domain_name(prefix), "FriendlyName": name}
        try:
            made = await self.client.call(
                "POST", f"{self._sip}/Domains.json", {**form, **self._domain_settings()}
            )
        except TwilioRefusal as exc:
            if exc.twilio_code == DOMAIN_TAKEN:
                raise Conflict(
                    "this domain name is taken at Twilio (domain names are global across all "
                    "Twilio accounts)",
                    fields={"prefix": "already in use at Twilio"},
                ) from None
            if exc.twilio_code == DOMAIN_LIMIT:
                raise Conflict(f"the Twilio account has {DOMAINS_MAX} SIP domains") from None
            raise
        return str(made["sid"])

    async def update_domain(self, sid: str, name: str) -> None:
        await self.client.call(
            "POST",
            f"{self._sip}/Domains/{sid}.json",
            {"FriendlyName": name, **self._domain_settings()},
        )

    async def delete_domain(self, sid: str) -> None:
        await self.client.delete(f"{self._sip}/Domains/{sid}.json")

    async def create_list(self, name: str) -> str:
        made = await self._list_call("POST", f"{self._sip}/CredentialLists.json", name)
        return str(made["sid"])

    async def rename_list(self, sid: str, name: str) -> None:
        await self._list_call("POST", f"{self._sip}/CredentialLists/{sid}.json", name)

    async def _list_call(self, method: str, path: str, name: str) -> dict[str, Any]:
        try:
            return await self.client.call(method, path, {"FriendlyName": name})
        except TwilioRefusal as exc:
            if exc.twilio_code == INVALID_CREDENTIAL:
                raise Conflict(
                    f"Twilio refused the credential list's name: {exc.twilio_message}",
                    fields={"name": "refused by Twilio (list names are unique in an account)"},
                ) from None
            raise

    async def delete_list(self, sid: str) -> None:
        await self.client.delete(f"{self._sip}/CredentialLists/{sid}.json")

    async def create_credential(self, list_sid: str, username: str, password: str) -> str:
        path = f"{self._sip}/CredentialLists/{list_sid}/Credentials.json"
        made = await self._credential_call(path, {"Username": username, "Password": password})
        return str(made["sid"])

    async def set_password(self, list_sid: str, sid: str, password: str) -> None:
        path = f"{self._sip}/CredentialLists/{list_sid}/Credentials/{sid}.json"
        await self._credential_call(path, {"Password": password})

    async def _credential_call(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            return await self.client.call("POST", path, form)
        except TwilioRefusal as exc:
            if exc.twilio_code == INVALID_CREDENTIAL:
                field = (
                    "username"
                    if "Username" in form and "username" in exc.twilio_message.lower()
                    else "password"
                )
                raise Invalid(
                    f"Twilio refused the {field}: {exc.twilio_message}",
                    fields={field: "refused by Twilio"},
                ) from None
            raise

    async def delete_credential(self, list_sid: str, sid: str) -> None:
        await self.client.delete(f"{self._sip}/CredentialLists/{list_sid}/Credentials/{sid}.json")

    async def map(self, domain_sid: str, list_sid: str, kind: str) -> None:
        path = f"{self._sip}/Domains/{domain_sid}/{MAPPING_PATHS[kind]}.json"
        await self.client.call("POST", path, {"CredentialListSid": list_sid})

    async def unmap(self, domain_sid: str, list_sid: str, kind: str) -> None:
        await self.client.delete(
            f"{self._sip}/Domains/{domain_sid}/{MAPPING_PATHS[kind]}/{list_sid}.json"
        )

    async def state(self, progress: Progress) -> RemoteState:
        progress.grow(2)
        domains = await self.client.each(f"{self._sip}/Domains.json", "domains")
        progress.advance()
        lists = await self.client.each(f"{self._sip}/CredentialLists.json", "credential_lists")
        progress.advance()
        progress.grow(len(lists) + len(domains) * len(MAPPING_PATHS))
        gate = asyncio.Semaphore(CONCURRENT_READS)

        async def read(path: str, key: str) -> list[dict[str, Any]]:
            async with gate:
                items = await self.client.each(path, key)
            progress.advance()
            return items

        credentials = await asyncio.gather(
            *(
                read(f"{self._sip}/CredentialLists/{cl['sid']}/Credentials.json", "credentials")
                for cl in lists
            )
        )
        mapped = await asyncio.gather(
            *(
                read(f"{self._sip}/Domains/{d['sid']}/{path}.json", "contents")
                for d in domains
                for path in MAPPING_PATHS.values()
            )
        )
        kinds = list(MAPPING_PATHS)
        mappings = {
            (str(d["sid"]), str(m["sid"]), kinds[k])
            for i, d in enumerate(domains)
            for k in range(len(kinds))
            for m in mapped[i * len(kinds) + k]
        }
        return RemoteState(
            domains=tuple(
                RemoteDomain(
                    sid=str(d["sid"]),
                    domain_name=str(d.get("domain_name") or ""),
                    friendly_name=str(d.get("friendly_name") or ""),
                    voice_url=d.get("voice_url"),
                    voice_method=d.get("voice_method"),
                    sip_registration=bool(d.get("sip_registration")),
                )
                for d in domains
            ),
            lists=tuple(
                RemoteList(sid=str(cl["sid"]), friendly_name=str(cl.get("friendly_name") or ""))
                for cl in lists
            ),
            credentials=tuple(
                RemoteCredential(
                    sid=str(c["sid"]), list_sid=str(cl["sid"]), username=str(c["username"])
                )
                for cl, found in zip(lists, credentials, strict=True)
                for c in found
            ),
            mappings=frozenset(mappings),
        )


def _capability(caps: dict[str, Any], name: str) -> bool:
    # AvailablePhoneNumbers spells them "SMS"/"MMS"/"voice"; IncomingPhoneNumbers "sms"/"mms".
    return any(bool(v) for k, v in caps.items() if k.lower() == name)


def _owned(data: dict[str, Any]) -> OwnedNumber:
    caps = data.get("capabilities") or {}
    sid = data.get("sid")
    if not isinstance(sid, str):
        raise ProviderError("Twilio described a phone number without its SID")
    return OwnedNumber(
        sid=sid,
        phone_number=str(data.get("phone_number") or ""),
        sms=_capability(caps, "sms"),
        mms=_capability(caps, "mms"),
        voice=_capability(caps, "voice"),
        hosted=data.get("origin") == "hosted",
        voice_url=data.get("voice_url"),
        voice_method=data.get("voice_method"),
        calls_taken_by=data.get("voice_application_sid") or data.get("trunk_sid"),
    )


class TwilioMarket:
    """The phone numbers of one Twilio account (``NumberMarket``); bought numbers send their
    calls to deskprov's voice webhook."""

    def __init__(self, client: TwilioClient, public_url: str, account_id: str) -> None:
        self.client = client
        self._voice_url = voice_url(public_url, account_id)
        self._numbers = f"{client.base}/IncomingPhoneNumbers"
        self._calls_here = {"VoiceUrl": self._voice_url, "VoiceMethod": "POST"}

    def voice_url(self) -> str:
        return self._voice_url

    async def search(self, area_code: str) -> list[NumberOffer]:
        data = await self.client.call(
            "GET",
            f"{self.client.base}/AvailablePhoneNumbers/US/Local.json",
            params={"AreaCode": area_code},
        )
        offers = []
        for item in data.get("available_phone_numbers") or []:
            caps = item.get("capabilities") or {}
            offers.append(
                NumberOffer(
                    phone_number=str(item["phone_number"]),
                    sms=_capability(caps, "sms"),
                    mms=_capability(caps, "mms"),
                    voice=_capability(caps, "voice"),
                    locality=item.get("locality"),
                    region=item.get("region"),
                )
            )
        return offers

    async def buy(self, phone_number: str) -> OwnedNumber:
        form = {"PhoneNumber": phone_number, **self._calls_here}
        try:
            return _owned(await self.client.call("POST", f"{self._numbers}.json", form))
        except TwilioRefusal as exc:
            if exc.twilio_code == NUMBER_UNAVAILABLE:
                raise Invalid(
                    f"Twilio cannot sell this number: {exc.twilio_message}",
                    fields={"phone_number": "not available"},
                ) from None
            raise

    async def fetch(self, sid: str) -> OwnedNumber | None:
        try:
            return _owned(await self.client.call("GET", f"{self._numbers}/{sid}.json"))
        except TwilioRefusal as exc:
            if _gone(exc):
                return None
            raise

    async def release(self, sid: str) -> None:
        await self.client.delete(f"{self._numbers}/{sid}.json")

    async def numbers(self) -> list[OwnedNumber]:
        found = await self.client.each(f"{self._numbers}.json", "incoming_phone_numbers")
        return [_owned(n) for n in found]

    async def send_calls_here(self, sid: str) -> None:
        await self.client.call("POST", f"{self._numbers}/{sid}.json", self._calls_here)
