"""Text, everywhere (issue 16's rendering items, done with issue 15): what no text field may hold
is refused at the edge with a 422 (a lone surrogate used to reach the database and give a 500),
and a user agent's model cannot break a file (a Fanvil model with "--" ended up inside an XML
comment: file invalid, phone 404, preview 500)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from tests import phone_parsers
from tests.api.test_phone import FANVIL_MAC, fetch
from tests.conftest import Api
from tests.factories import phone_setup


async def raw_call(api: Api, method: str, path: str, body: str) -> Any:
    """A body sent as typed: JSON escapes such as "\\ud800" reach the server unchanged."""
    return await api.call(
        method,
        path,
        status=422,
        raw=body.encode("ascii"),
        headers={"Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "escaped",
    ["\\ud800", "\\udfff", "x\\ud83d", "\\u2028", "\\u2029", "\\ufffe", "\\uffff", "\\ufdd0"],
)
async def test_refused_characters_in_any_text_field_are_422(api: Api, escaped: str) -> None:
    s = await phone_setup(api)
    pa = s["pa"]
    cases = [
        ("POST", "/users", '{"name": "A%sB", "email": "a@example.com"}'),
        ("PATCH", f"/users/{s['user']['id']}", '{"name": "A%s"}'),
        ("POST", "/provider-accounts", '{"name": "P%s", "provider": "whippy_phone"}'),
        (
            "PATCH",
            f"/provider-accounts/{pa}/sip-extensions/{s['keys'][0]['id']}",
            '{"label": "L%s"}',
        ),
        (
            "PATCH",
            f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}",
            '{"password": "Sup3rSecret%sPass"}',
        ),
        (
            "PATCH",
            f"/provider-accounts/{pa}",
            '{"credentials": {"account_sid": "AC%s", "auth_token": "x"}}',
        ),
        ("PATCH", f"/provider-accounts/{pa}/phone-settings", '{"language": "fr%s"}'),
        ("POST", "/users", '{"name": "A", "email": "a@example.com", "k%s": 1}'),
    ]
    for method, path, template in cases:
        err = await raw_call(api, method, path, template % escaped)
        assert err["error"]["code"] == "validation_error", (path, err)
        assert err["error"]["fields"], path
        json.dumps(err)  # (the answer itself is valid JSON text)
    assert (await api.get(f"/users/{s['user']['id']}"))["name"] == s["user"]["name"]


async def test_refused_characters_in_query_and_path(api: Api) -> None:
    s = await phone_setup(api)
    path = f"/provider-accounts/{s['pa']}/provisioning-urls/{s['urls']['fanvil']['id']}/preview"
    err = await api.get(f"{path}?file=a%E2%80%A8b", status=422)  # U+2028
    assert "file" in err["error"]["fields"]
    # Bytes that are not UTF-8 in a path or query: refused or not found, never a 500.
    for target in ("/users/%ED%A0%80", "/users/%FF", f"{path}?file=%ED%A0%80"):
        resp = await api.client.get(
            "/api/v1" + target, headers={"Authorization": f"Bearer {api.key}"}
        )
        assert resp.status in (400, 404, 422), target


async def test_passwords_may_not_start_or_end_with_white_space(api: Api) -> None:
    """A Yealink phone trims the value: such a password fails at the registrar (403)."""
    s = await phone_setup(api)
    pa = s["pa"]
    for password in (" Spaced1Password", "Spaced1Password ", "\u3000Spaced1Password"):
        err = await api.patch(
            f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}",
            {"password": password},
            status=422,
        )
        assert err["error"]["fields"] == {"password": "must not start or end with white space"}
    await api.patch(
        f"/provider-accounts/{pa}/sip-users/{s['sip_user']['id']}",
        {"password": "Inner Space1 Password"},
    )


@pytest.mark.parametrize("model", ["X--Y", "X4U--", "A-->B<!--C", "Pro -- 2"])
async def test_a_fanvil_model_with_dashes_still_gets_a_valid_file(
    api: Api, client: TestClient, model: str
) -> None:
    s = await phone_setup(api)
    url = s["urls"]["fanvil"]
    resp = await fetch(client, url, f"{FANVIL_MAC}.cfg", f"Fanvil {model} 2.12.1 {FANVIL_MAC}")
    assert resp.status == 200
    body = await resp.read()
    assert phone_parsers.fanvil(body).lines[1].user == s["sip_user"]["username"]
    comment = next(etree.fromstring(body, parser=phone_parsers.PARSER).itersiblings(preceding=True))
    assert "--" not in comment.text
    preview = await api.get(
        f"/provider-accounts/{s['pa']}/provisioning-urls/{url['id']}/preview"
        f"?file={FANVIL_MAC}.cfg&model={model.replace(' ', '%20').replace('<', '%3C')}"
    )
    assert phone_parsers.fanvil(preview["content"].encode()).lines[1].password == "********"
