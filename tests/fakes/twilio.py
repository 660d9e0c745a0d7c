"""A strict local Twilio: an aiohttp server answering Twilio's REST API (2010-04-01) for the
calls deskprov makes, and keeping the state they make.

Every request is checked against Twilio's own OpenAPI description
(``../shared/reference/twilio_api_v2010_sip_numbers.json``, see ``openapi.py``): a path, method,
query parameter or form field it does not allow, a missing required field, a bad enum value or
SID is recorded in ``violations`` (the ``fake_twilio`` fixture fails the test on any) and
answered 400. Every success body is checked against the described response.

The rules the description does not encode are enforced by hand (``../shared/reference/README.md``):
HTTP Basic auth per account, domain names global across all accounts (21232) and at most 100 per
account (21230), names (FriendlyName) of at most 64 characters, at most 100 credential lists per
account with unique names and 1,000 credentials per list (21240), usernames of at most 32
characters unique in their list, password rules (21240), error bodies as Twilio sends them.
Passwords are kept as a SHA-256 digest only, as Twilio keeps only a digest. Stricter than
documented, on purpose: a domain or list that still has mappings cannot be deleted (deskprov
deletes in reverse dependency order).

Modes: ``slow`` (seconds before each answer), ``failing`` (every call 500), ``down`` (every
connection dropped unanswered); ``hold(method, path)`` stops matching calls after their work is
done and before the answer, until released (a Twilio that is slow to answer, or a deskprov that
dies meanwhile); ``fail_next(method, path)`` refuses the next matching call.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, web

from tests.fakes.openapi import Operation, Violation, twilio_spec

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
OTHER_ACCOUNT_SID = "AC" + "fedcba9876543210" * 2
OTHER_AUTH_TOKEN = "e" * 32
FAILING_AREA_CODE = "999"  # searches in this area code are answered 500
DOMAIN_SUFFIX = ".sip.twilio.com"
DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9-]+$")


class TwilioError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def password_problem(password: str) -> str | None:
    if len(password) < 12:
        return "Password must be at least 12 characters long"
    if not (any(c.isdigit() for c in password) and any(c.isupper() for c in password)):
        return "Password must contain at least one digit and mixed case characters"
    if not any(c.islower() for c in password):
        return "Password must contain at least one digit and mixed case characters"
    return None


@dataclass
class Account:
    sid: str
    token: str
    status: str = "active"
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    credentials: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # by list
    digests: dict[str, str] = field(default_factory=dict)  # credential SID -> password digest
    mappings: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Hold:
    method: str
    path: re.Pattern[str]
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    count: int = 0

    def release(self) -> None:
        self.released.set()


@dataclass
class FakeTwilio:
    stock: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "+14155550101": {"locality": "San Francisco", "region": "CA"},
            "+14155550102": {"locality": "San Francisco", "region": "CA"},
            "+12125550100": {"locality": "New York", "region": "NY"},
        }
    )
    accounts: dict[str, Account] = field(
        default_factory=lambda: {
            ACCOUNT_SID: Account(ACCOUNT_SID, AUTH_TOKEN),
            OTHER_ACCOUNT_SID: Account(OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN),
        }
    )
    domain_names: dict[str, str] = field(default_factory=dict)  # global: name -> account SID
    requests: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    slow: float = 0.0
    failing: bool = False
    down: bool = False
    page_cap: int = 1000
    holds: list[Hold] = field(default_factory=list)
    failures: list[tuple[str, re.Pattern[str], int, int]] = field(default_factory=list)

    @property
    def account(self) -> Account:
        return self.accounts[ACCOUNT_SID]

    # --- test controls ----------------------------------------------------------------------
    def hold(self, method: str, path: str) -> Hold:
        held = Hold(method, re.compile(path))
        self.holds.append(held)
        return held

    def fail_next(self, method: str, path: str, status: int = 500, code: int = 20500) -> None:
        self.failures.append((method, re.compile(path), status, code))

    def own_number(
        self, phone_number: str, origin: str = "twilio", account_sid: str = ACCOUNT_SID
    ) -> str:
        """A number already in an account (bought before deskprov, or hosted)."""
        sid = new_sid("PN")
        account = self.accounts[account_sid]
        account.numbers[sid] = self._number(sid, account.sid, phone_number, origin)
        return sid

    def sip_state(self, account_sid: str = ACCOUNT_SID) -> dict[str, Any]:
        """What an account holds, to compare with deskprov's state."""
        account = self.accounts[account_sid]
        return {
            "domains": {
                sid: (d["domain_name"], d["friendly_name"], d["voice_url"], d["sip_registration"])
                for sid, d in account.domains.items()
            },
            "lists": {sid: cl["friendly_name"] for sid, cl in account.lists.items()},
            "credentials": {
                sid: (list_sid, c["username"], account.digests[sid])
                for list_sid, creds in account.credentials.items()
                for sid, c in creds.items()
            },
            "mappings": {
                (domain_sid, list_sid, kind)
                for (domain_sid, kind), mapped in account.mappings.items()
                for list_sid in mapped
            },
        }

    # --- the server -------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path_qs}")
        if self.down:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if self.slow:
            await asyncio.sleep(self.slow)
        spec = twilio_spec()
        try:
            op, path_values = spec.find(request.method, request.path)
            form = dict(await request.post()) if request.method == "POST" else None
            if request.method == "POST" and not request.content_type.endswith("urlencoded"):
                raise Violation(f"Twilio takes form bodies, not {request.content_type}")
            query = dict(request.query)
            if len(query) != len(request.query):
                raise Violation("a query parameter is repeated")
            spec.check_request(op, path_values, query, {k: str(v) for k, v in (form or {}).items()})
        except Violation as exc:
            self.violations.append(str(exc))
            return twilio_error(400, 20001, f"the stand-in refused: {exc}")
        account = self._authenticate(request, path_values)
        if isinstance(account, web.Response):
            return account
        for failure in list(self.failures):
            method, pattern, status, code = failure
            if method == request.method and pattern.search(request.path):
                self.failures.remove(failure)
                return twilio_error(status, code, "Injected failure")
        if self.failing:
            return twilio_error(500, 20500, "Internal Server Error")
        handler = getattr(self, f"op_{op.operation_id}", None)
        if handler is None:
            self.violations.append(f"the stand-in does not implement {op.operation_id}")
            return twilio_error(501, 20500, "not implemented by the stand-in")
        try:
            status, body = await handler(account, path_values, query, form or {})
        except TwilioError as exc:
            return twilio_error(exc.status, exc.code, exc.message)
        self._check_answer(op, status, body)
        for held in self.holds:
            if held.method == request.method and held.path.search(request.path):
                held.count += 1
                held.reached.set()
                await held.released.wait()
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    def _check_answer(self, op: Operation, status: int, body: Any) -> None:
        try:
            twilio_spec().check_answer(op, status, body)
        except Violation as exc:
            self.violations.append(str(exc))

    def _authenticate(
        self, request: web.Request, path_values: dict[str, str]
    ) -> Account | web.Response:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, token = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = token = ""
        account = self.accounts.get(user)
        if scheme != "Basic" or account is None or not secrets.compare_digest(token, account.token):
            return twilio_error(401, 20003, "Authenticate")
        if path_values.get("AccountSid", path_values.get("Sid")) != account.sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        return account

    # --- account ----------------------------------------------------------------------------
    async def op_FetchAccount(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        return 200, {
            "sid": a.sid,
            "friendly_name": "Test account",
            "status": a.status,
            "type": "Full",
            "owner_account_sid": a.sid,
            "auth_token": a.token,
            "date_created": now(),
            "date_updated": now(),
            "uri": f"/2010-04-01/Accounts/{a.sid}.json",
            "subresource_uris": {},
        }

    # --- paging ---------------------------------------------------------------------------
    def _page(self, key: str, items: list[dict[str, Any]], base: str, q: dict[str, str]) -> Any:
        size = min(int(q.get("PageSize", "50")), self.page_cap)
        page = int(q.get("Page", "0"))
        chunk = items[page * size : (page + 1) * size]

        def uri(n: int) -> str:
            return f"{base}?{urlencode({'PageSize': size, 'Page': n, 'PageToken': f'PT{n}'})}"

        more = (page + 1) * size < len(items)
        return {
            key: chunk,
            "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0),
            "page": page,
            "page_size": size,
            "uri": uri(page),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page else None,
        }

    # --- SIP domains ------------------------------------------------------------------------
    def _domain(self, a: Account, sid: str) -> dict[str, Any]:
        if sid not in a.domains:
            raise TwilioError(
                404, 20404, f"The requested resource /SIP/Domains/{sid} was not found"
            )
        return a.domains[sid]

    def _domain_name(self, a: Account, name: str, sid: str | None) -> None:
        label = name.removesuffix(DOMAIN_SUFFIX)
        owner = self.domain_names.get(name.lower())
        if not name.endswith(DOMAIN_SUFFIX) or not DOMAIN_LABEL.match(label) or owner:
            if owner and sid and a.domains.get(sid, {}).get("domain_name") == name:
                return
            raise TwilioError(
                400,
                21232,
                f"Domain {name} is invalid, already in use or a subdomain of a domain you "
                "do not control",
            )

    @staticmethod
    def _friendly(f: dict[str, str], code: int = 21240) -> None:
        if len(f.get("FriendlyName", "")) > 64:
            raise TwilioError(400, code, "FriendlyName must be at most 64 characters long")

    def _set_domain(self, d: dict[str, Any], f: dict[str, str]) -> None:
        for form_name, key in (
            ("FriendlyName", "friendly_name"),
            ("VoiceUrl", "voice_url"),
            ("VoiceMethod", "voice_method"),
        ):
            if form_name in f:
                d[key] = f[form_name]
        if "SipRegistration" in f:
            d["sip_registration"] = f["SipRegistration"] == "true"
        d["date_updated"] = now()

    async def op_CreateSipDomain(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        self._domain_name(a, f["DomainName"], None)
        self._friendly(f, 21232)
        if len(a.domains) >= 100:
            raise TwilioError(400, 21230, "Maximum number of SIP domains reached (100)")
        sid = new_sid("SD")
        base = f"/2010-04-01/Accounts/{a.sid}/SIP/Domains/{sid}"
        d: dict[str, Any] = {
            "sid": sid,
            "account_sid": a.sid,
            "api_version": "2010-04-01",
            "auth_type": "",
            "domain_name": f["DomainName"],
            "friendly_name": f.get("FriendlyName", f["DomainName"]),
            "sip_registration": False,
            "voice_url": None,
            "voice_method": "POST",
            "voice_fallback_url": None,
            "voice_fallback_method": "POST",
            "voice_status_callback_url": None,
            "voice_status_callback_method": "POST",
            "emergency_calling_enabled": False,
            "secure": False,
            "byoc_trunk_sid": None,
            "emergency_caller_sid": None,
            "date_created": now(),
            "uri": base + ".json",
            "subresource_uris": {"credential_list_mappings": base + "/CredentialListMappings.json"},
        }
        self._set_domain(d, f)
        a.domains[sid] = d
        self.domain_names[f["DomainName"].lower()] = a.sid
        return 201, d

    async def op_ListSipDomain(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        base = f"/2010-04-01/Accounts/{a.sid}/SIP/Domains.json"
        return 200, self._page("domains", list(a.domains.values()), base, q)

    async def op_FetchSipDomain(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        return 200, self._domain(a, p["Sid"])

    async def op_UpdateSipDomain(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        d = self._domain(a, p["Sid"])
        self._friendly(f, 21232)
        if "DomainName" in f and f["DomainName"] != d["domain_name"]:
            self._domain_name(a, f["DomainName"], None)
            del self.domain_names[d["domain_name"].lower()]
            self.domain_names[f["DomainName"].lower()] = a.sid
            d["domain_name"] = f["DomainName"]
        self._set_domain(d, f)
        return 200, d

    async def op_DeleteSipDomain(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        d = self._domain(a, p["Sid"])
        if any(mapped for (sid, _), mapped in a.mappings.items() if sid == d["sid"]):
            raise TwilioError(400, 21231, "The domain still has credential list mappings")
        del a.domains[d["sid"]]
        del self.domain_names[d["domain_name"].lower()]
        return 204, None

    # --- credential lists -------------------------------------------------------------------
    def _list(self, a: Account, sid: str) -> dict[str, Any]:
        if sid not in a.lists:
            raise TwilioError(
                404, 20404, f"The requested resource /CredentialLists/{sid} was not found"
            )
        return a.lists[sid]

    def _list_name(self, a: Account, f: dict[str, str], sid: str | None) -> None:
        self._friendly(f)
        name = f["FriendlyName"]
        if any(cl["friendly_name"] == name and s != sid for s, cl in a.lists.items()):
            raise TwilioError(400, 21240, f"A credential list named {name!r} already exists")

    async def op_CreateSipCredentialList(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        self._list_name(a, f, None)
        if len(a.lists) >= 100:
            raise TwilioError(400, 21240, "Maximum number of credential lists reached (100)")
        sid = new_sid("CL")
        base = f"/2010-04-01/Accounts/{a.sid}/SIP/CredentialLists/{sid}"
        a.lists[sid] = {
            "sid": sid,
            "account_sid": a.sid,
            "friendly_name": f["FriendlyName"],
            "date_created": now(),
            "date_updated": now(),
            "uri": base + ".json",
            "subresource_uris": {"credentials": base + "/Credentials.json"},
        }
        a.credentials[sid] = {}
        return 201, a.lists[sid]

    async def op_ListSipCredentialList(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        base = f"/2010-04-01/Accounts/{a.sid}/SIP/CredentialLists.json"
        return 200, self._page("credential_lists", list(a.lists.values()), base, q)

    async def op_FetchSipCredentialList(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return 200, self._list(a, p["Sid"])

    async def op_UpdateSipCredentialList(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        cl = self._list(a, p["Sid"])
        self._list_name(a, f, cl["sid"])
        cl["friendly_name"], cl["date_updated"] = f["FriendlyName"], now()
        return 200, cl

    async def op_DeleteSipCredentialList(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        cl = self._list(a, p["Sid"])
        if any(cl["sid"] in mapped for mapped in a.mappings.values()):
            raise TwilioError(400, 21240, "The credential list is still mapped to a domain")
        for sid in a.credentials.pop(cl["sid"]):
            del a.digests[sid]
        del a.lists[cl["sid"]]
        return 204, None

    # --- credentials ------------------------------------------------------------------------
    def _credential(self, a: Account, list_sid: str, sid: str) -> dict[str, Any]:
        creds = a.credentials[self._list(a, list_sid)["sid"]]
        if sid not in creds:
            raise TwilioError(
                404, 20404, f"The requested resource /Credentials/{sid} was not found"
            )
        return creds[sid]

    @staticmethod
    def _password(f: dict[str, str]) -> None:
        problem = password_problem(f["Password"])
        if problem:
            raise TwilioError(400, 21240, problem)

    async def op_CreateSipCredential(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        creds = a.credentials[self._list(a, p["CredentialListSid"])["sid"]]
        username = f["Username"]
        if not username or len(username) > 32:
            raise TwilioError(400, 21240, "Username must be 1 to 32 characters long")
        if any(c["username"] == username for c in creds.values()):
            raise TwilioError(400, 21240, f"Username {username} already exists in this list")
        if len(creds) >= 1000:
            raise TwilioError(400, 21240, "Maximum number of credentials per list reached (1000)")
        self._password(f)
        sid = new_sid("CR")
        creds[sid] = {
            "sid": sid,
            "account_sid": a.sid,
            "credential_list_sid": p["CredentialListSid"],
            "username": username,
            "date_created": now(),
            "date_updated": now(),
            "uri": f"/2010-04-01/Accounts/{a.sid}/SIP/CredentialLists/"
            f"{p['CredentialListSid']}/Credentials/{sid}.json",
        }
        a.digests[sid] = digest(f["Password"])
        return 201, creds[sid]

    async def op_ListSipCredential(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        creds = a.credentials[self._list(a, p["CredentialListSid"])["sid"]]
        base = f"/2010-04-01/Accounts/{a.sid}/SIP/CredentialLists/{p['CredentialListSid']}"
        return 200, self._page("credentials", list(creds.values()), base + "/Credentials.json", q)

    async def op_FetchSipCredential(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        return 200, self._credential(a, p["CredentialListSid"], p["Sid"])

    async def op_UpdateSipCredential(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        c = self._credential(a, p["CredentialListSid"], p["Sid"])
        if "Password" in f:
            self._password(f)
            a.digests[c["sid"]] = digest(f["Password"])
        c["date_updated"] = now()
        return 200, c

    async def op_DeleteSipCredential(self, a: Account, p: Any, q: Any, f: Any) -> tuple[int, Any]:
        c = self._credential(a, p["CredentialListSid"], p["Sid"])
        del a.credentials[p["CredentialListSid"]][c["sid"]]
        del a.digests[c["sid"]]
        return 204, None

    # --- credential list mappings (Auth/Registrations, Auth/Calls, and domain-wide) ----------
    async def _map(
        self, a: Account, p: dict[str, str], f: dict[str, str], kind: str
    ) -> tuple[int, Any]:
        domain = self._domain(a, p["DomainSid"])
        cl = self._list(a, f["CredentialListSid"])
        mapped = a.mappings.setdefault((domain["sid"], kind), {})
        if cl["sid"] in mapped:
            raise TwilioError(400, 21240, "The credential list is already mapped to this domain")
        mapped[cl["sid"]] = {
            "sid": cl["sid"],
            "account_sid": a.sid,
            "friendly_name": cl["friendly_name"],
            "date_created": now(),
            "date_updated": now(),
        }
        if kind == "domain":
            mapped[cl["sid"]] |= {"domain_sid": domain["sid"], "uri": ""}
        domain["auth_type"] = "CREDENTIAL_LIST"
        return 201, mapped[cl["sid"]]

    def _mapped(self, a: Account, p: dict[str, str], kind: str) -> dict[str, dict[str, Any]]:
        return a.mappings.get((self._domain(a, p["DomainSid"])["sid"], kind), {})

    async def _unmap(self, a: Account, p: dict[str, str], kind: str) -> tuple[int, Any]:
        mapped = self._mapped(a, p, kind)
        if p["Sid"] not in mapped:
            raise TwilioError(404, 20404, "The requested mapping was not found")
        del mapped[p["Sid"]]
        return 204, None

    def _list_mapped(
        self, a: Account, p: dict[str, str], q: dict[str, str], kind: str, key: str, tail: str
    ) -> tuple[int, Any]:
        base = f"/2010-04-01/Accounts/{a.sid}/SIP/Domains/{p['DomainSid']}/{tail}"
        return 200, self._page(key, list(self._mapped(a, p, kind).values()), base, q)

    async def op_CreateSipAuthRegistrationsCredentialListMapping(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return await self._map(a, p, f, "registrations")

    async def op_CreateSipAuthCallsCredentialListMapping(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return await self._map(a, p, f, "calls")

    async def op_DeleteSipAuthRegistrationsCredentialListMapping(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return await self._unmap(a, p, "registrations")

    async def op_DeleteSipAuthCallsCredentialListMapping(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return await self._unmap(a, p, "calls")

    async def op_ListSipAuthRegistrationsCredentialListMapping(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return self._list_mapped(
            a, p, q, "registrations", "contents", "Auth/Registrations/CredentialListMappings.json"
        )

    async def op_ListSipAuthCallsCredentialListMapping(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return self._list_mapped(
            a, p, q, "calls", "contents", "Auth/Calls/CredentialListMappings.json"
        )

    # --- phone numbers ------------------------------------------------------------------------
    async def op_ListAvailablePhoneNumberLocal(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        area = q.get("AreaCode", "")
        if area == FAILING_AREA_CODE:
            raise TwilioError(500, 20500, "Internal Server Error")
        owned = {n["phone_number"] for acc in self.accounts.values() for n in acc.numbers.values()}
        numbers = [
            {
                "friendly_name": f"({n[2:5]}) {n[5:8]}-{n[8:]}",
                "phone_number": n,
                "lata": "722",
                "locality": info["locality"],
                "rate_center": info["locality"].upper(),
                "latitude": 37.77,
                "longitude": -122.41,
                "region": info["region"],
                "postal_code": None,
                "iso_country": "US",
                "address_requirements": "none",
                "beta": False,
                "capabilities": {"voice": True, "SMS": True, "MMS": n.endswith("1")},
            }
            for n, info in self.stock.items()
            if n.startswith(f"+1{area}") and n not in owned
        ]
        base = f"/2010-04-01/Accounts/{a.sid}/AvailablePhoneNumbers/US/Local.json"
        return 200, {"available_phone_numbers": numbers, "uri": base + f"?AreaCode={area}"}

    def _number(self, sid: str, account_sid: str, phone_number: str, origin: str) -> dict[str, Any]:
        return {
            "sid": sid,
            "account_sid": account_sid,
            "phone_number": phone_number,
            "friendly_name": phone_number,
            "origin": origin,
            "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
            "status": "in-use",
            "voice_url": None,
            "voice_method": "POST",
            "voice_application_sid": None,
            "trunk_sid": None,
            "api_version": "2010-04-01",
            "beta": False,
            "date_created": now(),
            "date_updated": now(),
            "uri": f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
        }

    def owned(self, phone_number: str) -> dict[str, Any] | None:
        """The main account's number with this phone number, if it has it."""
        return next(
            (n for n in self.account.numbers.values() if n["phone_number"] == phone_number), None
        )

    async def op_CreateIncomingPhoneNumber(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        number = f.get("PhoneNumber", "")
        owned = {n["phone_number"] for acc in self.accounts.values() for n in acc.numbers.values()}
        if number not in self.stock or number in owned:
            raise TwilioError(400, 21422, f"Phone number {number} is not available for purchase")
        sid = new_sid("PN")
        a.numbers[sid] = self._number(sid, a.sid, number, "twilio")
        self._set_number(a.numbers[sid], {k: v for k, v in f.items() if k != "PhoneNumber"})
        return 201, a.numbers[sid]

    def _set_number(self, n: dict[str, Any], f: dict[str, str]) -> None:
        """Form fields as the number's properties (``VoiceUrl`` -> ``voice_url``). What the
        stand-in does not model (moving a number to another account, an area code instead of
        a number) is a violation: deskprov must not send it unnoticed."""
        for name, value in f.items():
            if name in ("AccountSid", "AreaCode"):
                self.violations.append(f"the stand-in does not implement {name} on numbers")
                raise TwilioError(501, 20500, f"{name} is not implemented by the stand-in")
            key = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            n[key] = value == "true" if name == "VoiceCallerIdLookup" else value
        # Twilio: setting an application drops the trunk, and the other way round.
        if "VoiceApplicationSid" in f:
            n["trunk_sid"] = None
        if "TrunkSid" in f:
            n["voice_application_sid"] = None
        n["date_updated"] = now()

    async def op_ListIncomingPhoneNumber(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        """Filtered as Twilio describes: ``PhoneNumber`` partly, ``*`` for any digit."""
        wanted = re.compile(re.escape(q.get("PhoneNumber", "")).replace(r"\*", r"\d"))
        numbers = [
            n
            for n in a.numbers.values()
            if wanted.search(n["phone_number"])
            and q.get("FriendlyName", n["friendly_name"]) == n["friendly_name"]
            and q.get("Origin", n["origin"]) == n["origin"]
            and (q.get("Beta", "true") == "true" or not n["beta"])
        ]
        base = f"/2010-04-01/Accounts/{a.sid}/IncomingPhoneNumbers.json"
        return 200, self._page("incoming_phone_numbers", numbers, base, q)

    async def op_UpdateIncomingPhoneNumber(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        number = self._owned_number(a, p["Sid"])
        self._set_number(number, f)
        return 200, number

    def _owned_number(self, a: Account, sid: str) -> dict[str, Any]:
        if sid not in a.numbers:
            raise TwilioError(
                404, 20404, f"The requested resource /IncomingPhoneNumbers/{sid} was not found"
            )
        return a.numbers[sid]

    async def op_FetchIncomingPhoneNumber(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        return 200, self._owned_number(a, p["Sid"])

    async def op_DeleteIncomingPhoneNumber(
        self, a: Account, p: Any, q: Any, f: Any
    ) -> tuple[int, Any]:
        number = self._owned_number(a, p["Sid"])
        del a.numbers[number["sid"]]
        self.stock.pop(number["phone_number"], None)  # released: not sold again here
        return 204, None


class Console:
    """Someone changing the Twilio account behind deskprov's back (Twilio's console or API)."""

    def __init__(self, base_url: str, account_sid: str = ACCOUNT_SID) -> None:
        self.base = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}"
        token = OTHER_AUTH_TOKEN if account_sid == OTHER_ACCOUNT_SID else AUTH_TOKEN
        basic = base64.b64encode(f"{account_sid}:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {basic}"}

    async def call(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        async with (
            ClientSession() as http,
            http.request(method, self.base + path, data=form, headers=self.headers) as resp,
        ):
            assert resp.status < 300, await resp.text()
            return await resp.json() if resp.status != 204 else None
