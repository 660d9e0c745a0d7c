"""Provider accounts, SIP domains, credential lists and attachments."""

from __future__ import annotations

from tests.conftest import TWILIO_CREDENTIALS, Api
from tests.factories import attach, make_account, make_domain, make_list, sip_setup


async def test_provider_account_credentials_are_write_only(api: Api) -> None:
    account = await make_account(api)
    assert account["has_credentials"] is True
    assert "credentials" not in account
    assert TWILIO_CREDENTIALS["auth_token"] not in str(await api.get("/provider-accounts"))
    renamed = await api.patch(f"/provider-accounts/{account['id']}", {"name": "Main"})
    assert renamed["name"] == "Main" and renamed["has_credentials"] is True
    meta = await make_account(api, "meta")
    assert meta["has_credentials"] is False


async def test_provider_account_rules(api: Api) -> None:
    err = await api.post("/provider-accounts", {"name": "x", "provider": "twilio"}, status=422)
    assert err["error"]["fields"] == {"credentials": "required"}
    err = await api.post(
        "/provider-accounts",
        {"name": "x", "provider": "twilio", "credentials": {"account_sid": "nope"}},
        status=422,
    )
    assert set(err["error"]["fields"]) == {"credentials.account_sid", "credentials.auth_token"}
    err = await api.post("/provider-accounts", {"name": "x", "provider": "skype"}, status=422)
    assert "provider" in err["error"]["fields"]
    account = await make_account(api)
    err = await api.patch(f"/provider-accounts/{account['id']}", {"provider": "meta"}, status=422)
    assert err["error"]["fields"] == {"provider": "unknown field"}


async def test_sip_domain_final_domain_per_provider(api: Api) -> None:
    twilio = await make_account(api)
    whippy = await make_account(api, "whippy_phone")
    d1 = await make_domain(api, twilio["id"], prefix="acme")
    assert d1["domain"] == "acme.sip.twilio.com" and d1["id"].startswith("sd_")
    d2 = await make_domain(api, whippy["id"], prefix="acme")
    assert d2["domain"] == "acme.sip.whippy.example"
    err = await api.post(
        f"/provider-accounts/{twilio['id']}/sip-domains",
        {"name": "x", "prefix": "acme"},
        status=409,
    )
    assert err["error"]["fields"] == {"prefix": "already taken"}


async def test_sip_domain_prefix_rules(api: Api) -> None:
    pa = (await make_account(api))["id"]
    for prefix in ("-acme", "acme-", "Acme", "a_b", "", "a" * 64, "a.b"):
        err = await api.post(
            f"/provider-accounts/{pa}/sip-domains", {"name": "x", "prefix": prefix}, status=422
        )
        assert "prefix" in err["error"]["fields"], prefix
    ok = await make_domain(api, pa, prefix="a" * 63)
    assert ok["prefix"] == "a" * 63


async def test_sip_domain_patch_changes_name_only(api: Api) -> None:
    pa = (await make_account(api))["id"]
    domain = await make_domain(api, pa, prefix="acme")
    changed = await api.patch(
        f"/provider-accounts/{pa}/sip-domains/{domain['id']}", {"name": "Office"}
    )
    assert changed["name"] == "Office" and changed["prefix"] == "acme"
    err = await api.patch(
        f"/provider-accounts/{pa}/sip-domains/{domain['id']}", {"prefix": "other"}, status=422
    )
    assert err["error"]["fields"] == {"prefix": "unknown field"}


async def test_meta_accounts_have_no_sip(api: Api) -> None:
    pa = (await make_account(api, "meta"))["id"]
    for sub in (
        "sip-domains",
        "credential-lists",
        "sip-users",
        "sip-extensions",
        "credential-attachments",
    ):
        err = await api.get(f"/provider-accounts/{pa}/{sub}", status=422)
        assert err["error"]["code"] == "unsupported_by_provider"
    err = await api.post(
        f"/provider-accounts/{pa}/sip-domains", {"name": "x", "prefix": "x"}, status=422
    )
    assert err["error"]["code"] == "unsupported_by_provider"


async def test_attachments(api: Api) -> None:
    pa = (await make_account(api))["id"]
    domain = await make_domain(api, pa)
    other_domain = await make_domain(api, pa)
    cred_list = await make_list(api, pa)
    att = await attach(api, pa, domain["id"], cred_list["id"])
    assert att["id"].startswith("ca_")
    err = await api.post(
        f"/provider-accounts/{pa}/credential-attachments",
        {"sip_domain_id": domain["id"], "credential_list_id": cred_list["id"]},
        status=409,
    )
    assert err["error"]["code"] == "conflict"
    moved = await api.patch(
        f"/provider-accounts/{pa}/credential-attachments/{att['id']}",
        {"sip_domain_id": other_domain["id"]},
    )
    assert moved["sip_domain_id"] == other_domain["id"]

    # Both ends must belong to this provider account.
    pa2 = (await make_account(api))["id"]
    foreign_list = await make_list(api, pa2)
    err = await api.post(
        f"/provider-accounts/{pa}/credential-attachments",
        {"sip_domain_id": domain["id"], "credential_list_id": foreign_list["id"]},
        status=422,
    )
    assert err["error"]["fields"] == {"credential_list_id": "belongs to another provider account"}


async def test_in_use_deletes_name_every_dependent(api: Api) -> None:
    s = await sip_setup(api)
    pa = s["pa"]
    att_id = (await api.get(f"/provider-accounts/{pa}/credential-attachments"))["items"][0]["id"]

    err = await api.delete(f"/provider-accounts/{pa}/sip-domains/{s['domain']['id']}", status=409)
    assert err["error"]["code"] == "in_use"
    assert err["error"]["dependents"] == [{"type": "credential_attachment", "id": att_id}]

    err = await api.delete(
        f"/provider-accounts/{pa}/credential-lists/{s['list']['id']}", status=409
    )
    assert sorted(d["type"] for d in err["error"]["dependents"]) == [
        "credential_attachment",
        "sip_user",
    ]

    err = await api.delete(f"/users/{s['user']['id']}", status=409)
    assert err["error"]["dependents"] == [{"type": "sip_user", "id": s["sip_user"]["id"]}]

    err = await api.delete(f"/provider-accounts/{pa}", status=409)
    assert {d["type"] for d in err["error"]["dependents"]} >= {
        "sip_domain",
        "credential_list",
        "credential_attachment",
        "sip_user",
    }

    # Nothing changed: everything is still readable.
    await api.get(f"/provider-accounts/{pa}/sip-domains/{s['domain']['id']}")
    await api.get(f"/users/{s['user']['id']}")

    # Taken apart in order, each delete succeeds.
    await api.delete(f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}")
    await api.delete(f"/provider-accounts/{pa}/credential-attachments/{att_id}")
    await api.delete(f"/provider-accounts/{pa}/sip-domains/{s['domain']['id']}")
    await api.delete(f"/provider-accounts/{pa}/credential-lists/{s['list']['id']}")
    await api.delete(f"/users/{s['user']['id']}")
    await api.delete(f"/provider-accounts/{pa}")


async def test_credential_list_counts_sip_users(api: Api) -> None:
    s = await sip_setup(api)
    cred_list = await api.get(f"/provider-accounts/{s['pa']}/credential-lists/{s['list']['id']}")
    assert cred_list["sip_user_count"] == 1
