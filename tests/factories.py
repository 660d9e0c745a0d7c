"""Plain async factories: each makes one resource through the API and returns its JSON."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import TWILIO_CREDENTIALS, Api

_n = itertools.count(1)


def _next() -> int:
    return next(_n)


async def make_user(api: Api, **overrides: Any) -> Any:
    n = _next()
    return await api.post(
        "/users", {"name": f"User {n}", "email": f"user{n}@example.com", **overrides}
    )


async def make_account(api: Api, provider: str = "twilio", **overrides: Any) -> Any:
    body: dict[str, Any] = {"name": f"{provider} account", "provider": provider}
    if provider == "twilio":
        body["credentials"] = TWILIO_CREDENTIALS
    return await api.post("/provider-accounts", {**body, **overrides})


async def make_domain(api: Api, pa: str, **overrides: Any) -> Any:
    n = _next()
    return await api.post(
        f"/provider-accounts/{pa}/sip-domains",
        {"name": f"Domain {n}", "prefix": f"acme-{n}", **overrides},
    )


async def make_list(api: Api, pa: str, **overrides: Any) -> Any:
    return await api.post(
        f"/provider-accounts/{pa}/credential-lists", {"name": f"List {_next()}", **overrides}
    )


async def attach(api: Api, pa: str, domain: str, cred_list: str) -> Any:
    return await api.post(
        f"/provider-accounts/{pa}/credential-attachments",
        {"sip_domain_id": domain, "credential_list_id": cred_list},
    )


async def make_sip_user(api: Api, pa: str, cred_list: str, **overrides: Any) -> Any:
    body = {
        "username": f"sip{_next()}",
        "password": "Sup3rSecretPass",
        "credential_list_id": cred_list,
        **overrides,
    }
    return await api.post(f"/provider-accounts/{pa}/sip-users", body)


async def make_extension(api: Api, pa: str, target: dict[str, Any], **overrides: Any) -> Any:
    body = {
        "extension": str(100 + _next()),
        "label": "Key",
        "subtype": "start_new_call",
        "scope": "provider_account",
        "type": "memory_key",
        "target": target,
        **overrides,
    }
    return await api.post(f"/provider-accounts/{pa}/sip-extensions", body)


async def sip_setup(api: Api, provider: str = "twilio") -> dict[str, Any]:
    """An account with a domain, a list attached to it, a user and a SIP user they own."""
    account = await make_account(api, provider)
    pa = account["id"]
    domain = await make_domain(api, pa)
    cred_list = await make_list(api, pa)
    await attach(api, pa, domain["id"], cred_list["id"])
    user = await make_user(api)
    sip_user = await make_sip_user(api, pa, cred_list["id"], user_id=user["id"])
    return {
        "pa": pa,
        "account": account,
        "domain": domain,
        "list": cred_list,
        "user": user,
        "sip_user": sip_user,
    }
