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


async def make_url(api: Api, pa: str, user_id: str, vendor: str, **overrides: Any) -> Any:
    return await api.post(
        f"/provider-accounts/{pa}/provisioning-urls",
        {"user_id": user_id, "vendor": vendor, **overrides},
    )


async def phone_setup(api: Api) -> dict[str, Any]:
    """sip_setup plus a colleague to watch (BLF), keys of each kind, and one URL per vendor.
    On a whippy_phone account: its registrar answers dialog subscriptions, so a key to a SIP
    user is BLF (on twilio it is a speed dial: tests/api/test_routing.py)."""
    s = await sip_setup(api, "whippy_phone")
    pa = s["pa"]
    bob = await make_user(api, name="Bob Builder")
    bob_sip = await make_sip_user(api, pa, s["list"]["id"], username="bob", user_id=bob["id"])
    queue = await api.post("/queues", {"name": "Support", "extension": "600"})
    s["keys"] = [
        await make_extension(
            api,
            pa,
            {"type": "sip_user", "id": bob_sip["id"]},
            extension="101",
            label="Bob",
            position=1,
        ),
        await make_extension(
            api,
            pa,
            {"type": "queue", "id": queue["id"]},
            extension="600",
            label="Support",
            subtype="blind_transfer",
            position=2,
        ),
        await make_extension(
            api,
            pa,
            {"type": "phone_number", "value": "+14155550199"},
            extension="900",
            label="Mobile",
            position=3,
        ),
        await make_extension(
            api,
            pa,
            {"type": "phone_number", "value": "+14155550198"},
            extension="901",
            label="Mine",
            scope="user",
            owner_id=s["user"]["id"],
            position=4,
        ),
    ]
    s["bob_sip"] = bob_sip
    s["urls"] = {
        v: await make_url(api, pa, s["user"]["id"], v) for v in ("polycom", "yealink", "fanvil")
    }
    return s


async def routing_setup(
    api: Api,
    provider: str = "twilio",
    number: str = "+14155550100",
    credentials: dict[str, str] = TWILIO_CREDENTIALS,
) -> dict[str, Any]:
    """An office to route calls in: Alice (SIP users alice and alice-desk, on the front desk
    channel), Bob (SIP user bob); a team Sales (Bob, Alice), a sequential queue Support (Alice,
    Bob, 15 s), the front desk's number (a voice number of the account) routed to Support; keys
    101 Bob, 102 agent Alice, 200 Sales, 300 Support, 400 front desk, 900 a mobile number."""
    twilio = {"credentials": credentials} if provider == "twilio" else {}
    account = await make_account(api, provider, **twilio)
    pa = account["id"]
    domain = await make_domain(api, pa)
    cred_list = (await make_list(api, pa))["id"]
    await attach(api, pa, domain["id"], cred_list)
    alice, bob = await make_user(api, name="Alice"), await make_user(api, name="Bob")
    team = await api.post("/teams", {"name": "Sales", "member_ids": [bob["id"], alice["id"]]})
    queue = await api.post(
        "/queues",
        {
            "name": "Support",
            "member_ids": [alice["id"], bob["id"]],
            "strategy": "sequential",
            "ring_seconds": 15,
        },
    )
    desk = await api.post(
        "/channels",
        {
            "name": "Front desk",
            "phone_number": number,
            "route": {"type": "queue", "id": queue["id"]},
        },
    )
    phone: dict[str, Any] = {"setup_type": "manual", "phone_number": number}
    if provider == "twilio":  # a number the Twilio account already has (Twilio says it has voice)
        assert api.twilio is not None
        phone["sid"] = api.twilio.own_number(number, account_sid=credentials["account_sid"])
    else:
        phone.update(sid="PN" + "0" * 32, capabilities={"voice": True})
    await api.post(f"/provider-accounts/{pa}/phones", phone)
    sip = {
        "alice": await make_sip_user(
            api, pa, cred_list, username="alice", user_id=alice["id"], channel_id=desk["id"]
        ),
        "alice-desk": await make_sip_user(
            api, pa, cred_list, username="alice-desk", user_id=alice["id"]
        ),
        "bob": await make_sip_user(api, pa, cred_list, username="bob", user_id=bob["id"]),
    }
    keys = {
        "101": {"type": "sip_user", "id": sip["bob"]["id"]},
        "102": {"type": "agent", "id": alice["id"]},
        "200": {"type": "team", "id": team["id"]},
        "300": {"type": "queue", "id": queue["id"]},
        "400": {"type": "channel", "id": desk["id"]},
        "900": {"type": "phone_number", "value": "+14155550199"},
    }
    for extension, target in keys.items():
        await make_extension(api, pa, target, extension=extension, label=f"Key {extension}")
    return {
        "pa": pa,
        "account": account,
        "domain": domain,
        "list": {"id": cred_list},
        "alice": alice,
        "bob": bob,
        "team": team,
        "queue": queue,
        "desk": desk,
        "sip": sip,
        "uri": {name: f"sip:{name}@{domain['domain']}" for name in sip},
    }
