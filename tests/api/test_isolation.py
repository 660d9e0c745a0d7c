"""Every organisation sees only its own data, also through ids inside bodies."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import make_user, sip_setup


async def test_other_organisations_ids_are_not_found(api: Api, other_api: Api) -> None:
    mine = await sip_setup(api)
    pa = mine["pa"]
    for path in (
        f"/users/{mine['user']['id']}",
        f"/provider-accounts/{pa}",
        f"/provider-accounts/{pa}/sip-domains/{mine['domain']['id']}",
        f"/provider-accounts/{pa}/sip-users/{mine['sip_user']['id']}",
        f"/provider-accounts/{pa}/sip-domains",
    ):
        err = await other_api.get(path, status=404)
        assert err["error"]["code"] == "not_found"
    await other_api.delete(f"/users/{mine['user']['id']}", status=404)
    await other_api.patch(f"/users/{mine['user']['id']}", {"name": "x"}, status=404)
    assert (await other_api.get("/users"))["items"] == []
    assert (await other_api.get("/provider-accounts"))["items"] == []
    assert (await other_api.get("/audit-events"))["items"] != []  # its own org creation only
    assert all(e["target_id"] != pa for e in (await other_api.get("/audit-events"))["items"])


async def test_other_organisations_ids_inside_bodies_are_not_found(
    api: Api, other_api: Api
) -> None:
    mine = await sip_setup(api)
    theirs = await sip_setup(other_api)
    # A SIP user in my account that points at their credential list, channel or user.
    base = {"username": "intruder", "password": "Sup3rSecretPass"}
    path = f"/provider-accounts/{mine['pa']}/sip-users"
    err = await api.post(path, {**base, "credential_list_id": theirs["list"]["id"]}, status=404)
    assert err["error"]["fields"] == {"credential_list_id": "not found"}
    err = await api.post(
        path,
        {**base, "credential_list_id": mine["list"]["id"], "user_id": theirs["user"]["id"]},
        status=404,
    )
    assert err["error"]["fields"] == {"user_id": "not found"}
    other_user = await make_user(other_api)
    err = await api.post(
        f"/provider-accounts/{mine['pa']}/sip-extensions",
        {
            "extension": "500",
            "label": "x",
            "subtype": "start_new_call",
            "scope": "user",
            "type": "memory_key",
            "target": {"type": "agent", "id": other_user["id"]},
            "owner_id": mine["user"]["id"],
        },
        status=404,
    )
    assert err["error"]["fields"] == {"target.id": "not found"}
    err = await api.post(
        f"/provider-accounts/{mine['pa']}/credential-attachments",
        {"sip_domain_id": theirs["domain"]["id"], "credential_list_id": mine["list"]["id"]},
        status=404,
    )
    assert err["error"]["fields"] == {"sip_domain_id": "not found"}
