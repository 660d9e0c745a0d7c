"""Provider phones: Twilio through a local server speaking its API, whippy_phone inventory, meta."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.factories import make_account
from tests.fakes.twilio import FAILING_AREA_CODE

MANUAL_SID = "PN" + "ab" * 16


async def test_twilio_search_and_buy(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    pa = (await make_account(api))["id"]
    found = await api.get(f"/provider-accounts/{pa}/available-phone-numbers?area_code=415")
    assert [n["phone_number"] for n in found["items"]] == ["+14155550101", "+14155550102"]
    first = found["items"][0]
    assert first["capabilities"] == {"sms": True, "mms": True, "voice": True}
    assert first["locality"] == "San Francisco" and first["region"] == "CA"
    assert any("AreaCode=415" in r for r in fake.requests)

    phone = await api.post(
        f"/provider-accounts/{pa}/phones", {"setup_type": "bought", "phone_number": "+14155550101"}
    )
    assert phone["sid"] == fake.bought["+14155550101"]
    assert phone["capabilities"] == {"sms": True, "mms": False, "voice": True}
    assert phone["id"].startswith("pp_")
    # Bought phones are not editable.
    err = await api.patch(
        f"/provider-accounts/{pa}/phones/{phone['id']}", {"hosted": True}, status=409
    )
    assert err["error"]["code"] == "conflict"


async def test_twilio_refusal_saves_nothing(api: Api) -> None:
    pa = (await make_account(api))["id"]
    err = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "bought", "phone_number": "+14155559999"},
        status=502,
    )
    assert err["error"]["code"] == "provider_error"
    assert "21422" in err["error"]["message"]
    assert (await api.get(f"/provider-accounts/{pa}/phones"))["items"] == []
    err = await api.get(
        f"/provider-accounts/{pa}/available-phone-numbers?area_code={FAILING_AREA_CODE}",
        status=502,
    )
    assert err["error"]["code"] == "provider_error"


async def test_twilio_bad_credentials_are_a_provider_error(api: Api) -> None:
    pa = (
        await make_account(api, credentials={"account_sid": "AC" + "1" * 32, "auth_token": "wrong"})
    )["id"]
    err = await api.get(
        f"/provider-accounts/{pa}/available-phone-numbers?area_code=415", status=502
    )
    assert err["error"]["code"] == "provider_error"
    assert "wrong" not in str(err)


async def test_unreachable_twilio_is_a_provider_error(api: Api, fake_twilio: Any) -> None:
    _, server = fake_twilio
    pa = (await make_account(api))["id"]
    await server.close()
    err = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "bought", "phone_number": "+14155550101"},
        status=502,
    )
    assert err["error"]["code"] == "provider_error"
    assert (await api.get(f"/provider-accounts/{pa}/phones"))["items"] == []


async def test_manual_phones(api: Api) -> None:
    pa = (await make_account(api))["id"]
    path = f"/provider-accounts/{pa}/phones"
    err = await api.post(path, {"setup_type": "manual", "phone_number": "+14155550300"}, status=422)
    assert err["error"]["fields"] == {"sid": "required"}
    err = await api.post(
        path, {"setup_type": "manual", "phone_number": "+14155550300", "sid": "PN123"}, status=422
    )
    assert "sid" in err["error"]["fields"]
    phone = await api.post(
        path,
        {
            "setup_type": "manual",
            "phone_number": "+14155550300",
            "sid": MANUAL_SID,
            "capabilities": {"sms": True, "mms": False, "voice": True},
        },
    )
    assert phone["capabilities"] == {"sms": True, "mms": False, "voice": True}
    assert phone["hosted"] is False
    edited = await api.patch(f"{path}/{phone['id']}", {"hosted": True, "sid": "PN" + "cd" * 16})
    assert edited["hosted"] is True and edited["sid"] == "PN" + "cd" * 16
    err = await api.post(
        path,
        {"setup_type": "manual", "phone_number": "+14155550300", "sid": MANUAL_SID},
        status=409,
    )
    assert err["error"]["fields"] == {"phone_number": "already taken"}
    # Unique across the organisation, not only the account.
    pa2 = (await make_account(api))["id"]
    await api.post(
        f"/provider-accounts/{pa2}/phones",
        {"setup_type": "manual", "phone_number": "+14155550300", "sid": MANUAL_SID},
        status=409,
    )
    await api.delete(f"{path}/{phone['id']}")


async def test_whippy_inventory_and_buying(api: Api) -> None:
    pa = (await make_account(api, "whippy_phone"))["id"]
    inv = f"/provider-accounts/{pa}/number-inventory"
    added = await api.post(inv, {"phone_numbers": ["+14155550401", "+14155550402", "+12125550400"]})
    assert [n["assigned"] for n in added["items"]] == [False, False, False]
    err = await api.post(inv, {"phone_numbers": ["+14155550401"]}, status=409)
    assert err["error"]["fields"] == {"phone_numbers.0": "already in the inventory"}

    found = await api.get(f"/provider-accounts/{pa}/available-phone-numbers?area_code=415")
    assert [n["phone_number"] for n in found["items"]] == ["+14155550401", "+14155550402"]

    phone = await api.post(
        f"/provider-accounts/{pa}/phones", {"setup_type": "bought", "phone_number": "+14155550401"}
    )
    assert phone["sid"].startswith("PN") and len(phone["sid"]) == 34
    listed = {n["phone_number"]: n for n in (await api.get(inv))["items"]}
    assert listed["+14155550401"]["assigned"] is True
    err = await api.delete(f"{inv}/{listed['+14155550401']['id']}", status=409)
    assert err["error"]["dependents"] == [{"type": "provider_phone", "id": phone["id"]}]

    err = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "bought", "phone_number": "+19995550000"},
        status=422,
    )
    assert err["error"]["fields"] == {"phone_number": "not available"}

    # Deleting the phone hands the number back to the inventory.
    await api.delete(f"/provider-accounts/{pa}/phones/{phone['id']}")
    listed = {n["phone_number"]: n for n in (await api.get(inv))["items"]}
    assert listed["+14155550401"]["assigned"] is False


async def test_inventory_is_admin_only_and_whippy_only(api: Api) -> None:
    whippy = (await make_account(api, "whippy_phone"))["id"]
    viewer = api.as_key((await api.post("/api-keys", {"name": "v", "role": "viewer"}))["key"])
    await viewer.get(f"/provider-accounts/{whippy}/number-inventory", status=403)
    twilio = (await make_account(api))["id"]
    err = await api.post(
        f"/provider-accounts/{twilio}/number-inventory",
        {"phone_numbers": ["+14155550401"]},
        status=422,
    )
    assert err["error"]["code"] == "unsupported_by_provider"


async def test_meta_takes_manual_phones_only(api: Api) -> None:
    pa = (await make_account(api, "meta"))["id"]
    err = await api.get(
        f"/provider-accounts/{pa}/available-phone-numbers?area_code=415", status=422
    )
    assert err["error"]["code"] == "unsupported_by_provider"
    err = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "bought", "phone_number": "+14155550500"},
        status=422,
    )
    assert err["error"]["code"] == "unsupported_by_provider"
    phone = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "manual", "phone_number": "+14155550500", "sid": "123456789012345"},
    )
    assert phone["setup_type"] == "manual"


async def test_area_code_is_validated(api: Api) -> None:
    pa = (await make_account(api))["id"]
    for query in ("", "?area_code=41", "?area_code=abc"):
        err = await api.get(f"/provider-accounts/{pa}/available-phone-numbers{query}", status=422)
        assert "area_code" in err["error"]["fields"]
