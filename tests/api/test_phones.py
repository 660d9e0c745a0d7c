"""Provider phones: Twilio through a local server speaking its API, whippy_phone inventory, meta."""

from __future__ import annotations

from typing import Any

from tests.conftest import TWILIO_CREDENTIALS, Api
from tests.factories import make_account
from tests.fakes.twilio import ACCOUNT_SID, FAILING_AREA_CODE

MANUAL_SID = "PN" + "ab" * 16


async def test_twilio_search_buy_and_release(api: Api, fake_twilio: Any) -> None:
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
    owned = fake.owned("+14155550101")
    assert owned is not None and phone["sid"] == owned["sid"]
    # Calls to the number go to deskprov's voice webhook for this account.
    assert owned["voice_url"] == f"http://deskprov.test/hooks/twilio/{pa}/voice"
    assert owned["voice_method"] == "POST"
    assert phone["capabilities"] == {"sms": True, "mms": False, "voice": True}
    assert phone["id"].startswith("pp_")
    # Bought phones are not editable.
    err = await api.patch(
        f"/provider-accounts/{pa}/phones/{phone['id']}", {"hosted": True}, status=409
    )
    assert err["error"]["code"] == "conflict"

    # Deleting it releases the number at Twilio (it is no longer billed).
    await api.delete(f"/provider-accounts/{pa}/phones/{phone['id']}")
    assert fake.owned("+14155550101") is None
    assert any(
        r.startswith(f"DELETE /2010-04-01/Accounts/{ACCOUNT_SID}/Incoming") for r in fake.requests
    )


async def test_releasing_when_twilio_fails_keeps_the_phone(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    pa = (await make_account(api))["id"]
    phone = await api.post(
        f"/provider-accounts/{pa}/phones", {"setup_type": "bought", "phone_number": "+14155550102"}
    )
    fake.failing = True
    err = await api.delete(f"/provider-accounts/{pa}/phones/{phone['id']}", status=502)
    assert err["error"]["code"] == "provider_error"
    await api.get(f"/provider-accounts/{pa}/phones/{phone['id']}")
    assert fake.owned("+14155550102") is not None


async def test_twilio_refusal_saves_nothing(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    pa = (await make_account(api))["id"]
    err = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "bought", "phone_number": "+14155559999"},
        status=422,
    )
    assert err["error"]["fields"] == {"phone_number": "not available"}
    assert "21422" not in str(err) and "not available" in err["error"]["message"]
    assert (await api.get(f"/provider-accounts/{pa}/phones"))["items"] == []
    err = await api.get(
        f"/provider-accounts/{pa}/available-phone-numbers?area_code={FAILING_AREA_CODE}",
        status=502,
    )
    assert err["error"]["code"] == "provider_error"
    fake.failing = True
    err = await api.post(
        f"/provider-accounts/{pa}/phones",
        {"setup_type": "bought", "phone_number": "+14155550101"},
        status=502,
    )
    assert err["error"]["code"] == "provider_error"
    assert fake.owned("+14155550101") is None
    assert (await api.get(f"/provider-accounts/{pa}/phones"))["items"] == []


async def test_twilio_bad_credentials_are_refused_when_set(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    wrong = {"account_sid": ACCOUNT_SID, "auth_token": "wrong-token"}
    err = await api.post(
        "/provider-accounts",
        {"name": "x", "provider": "twilio", "credentials": wrong},
        status=422,
    )
    assert err["error"]["fields"] == {
        "credentials": "refused by Twilio: check the account SID and auth token"
    }
    assert "wrong-token" not in str(err)
    assert (await api.get("/provider-accounts"))["items"] == []
    fake.accounts[ACCOUNT_SID].status = "suspended"
    err = await api.post(
        "/provider-accounts",
        {"name": "x", "provider": "twilio", "credentials": TWILIO_CREDENTIALS},
        status=422,
    )
    assert err["error"]["fields"] == {"credentials": "the Twilio account is suspended, not active"}
    fake.accounts[ACCOUNT_SID].status = "active"
    pa = (await make_account(api))["id"]
    err = await api.patch(f"/provider-accounts/{pa}", {"credentials": wrong}, status=422)
    assert "credentials" in err["error"]["fields"]


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


async def test_twilio_manual_phone_sid_is_confirmed(api: Api, fake_twilio: Any) -> None:
    fake, _ = fake_twilio
    hosted_sid = fake.own_number("+14155550777", origin="hosted")
    other_sid = fake.own_number("+14155550778")
    pa = (await make_account(api))["id"]
    path = f"/provider-accounts/{pa}/phones"
    err = await api.post(
        path,
        {"setup_type": "manual", "phone_number": "+14155550777", "sid": MANUAL_SID},
        status=422,
    )
    assert err["error"]["fields"] == {"sid": "no such number in the provider account"}
    err = await api.post(
        path, {"setup_type": "manual", "phone_number": "+14155550777", "sid": other_sid}, status=422
    )
    assert err["error"]["fields"] == {"sid": "belongs to +14155550778"}
    err = await api.post(
        path,
        {
            "setup_type": "manual",
            "phone_number": "+14155550777",
            "sid": hosted_sid,
            "hosted": False,
        },
        status=422,
    )
    assert err["error"]["fields"] == {"hosted": "filled by the provider"}
    phone = await api.post(
        path, {"setup_type": "manual", "phone_number": "+14155550777", "sid": hosted_sid}
    )
    # Capabilities and hosted come from Twilio's answer.
    assert phone["hosted"] is True
    assert phone["capabilities"] == {"sms": True, "mms": False, "voice": True}
    err = await api.patch(f"{path}/{phone['id']}", {"sid": other_sid}, status=422)
    assert err["error"]["fields"] == {"sid": "belongs to +14155550778"}
    # A manual number is only forgotten: it stays in the Twilio account.
    await api.delete(f"{path}/{phone['id']}")
    assert hosted_sid in fake.account.numbers


async def test_manual_phones(api: Api) -> None:
    pa = (await make_account(api, "whippy_phone"))["id"]
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
    pa2 = (await make_account(api, "meta"))["id"]
    await api.post(
        f"/provider-accounts/{pa2}/phones",
        {"setup_type": "manual", "phone_number": "+14155550300", "sid": "1234567"},
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
