"""Twilio's voice webhooks as Twilio calls them: form posts signed as its documentation says
(computed here, not with the twilio package), answered with TwiML read back element by element."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from lxml import etree

from deskprov.providers.twilio import voice_url
from tests.conftest import Api
from tests.factories import make_account, make_sip_user, routing_setup
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN

PUBLIC = "http://deskprov.test"  # DESKPROV_PUBLIC_URL of the test app (tests/conftest.py)
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value, by name))."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(
        hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()


async def post(
    client: TestClient,
    url: str,
    params: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signed_url: str | None = None,
    signature: str | None = None,
) -> ClientResponse:
    if signature is None:
        signature = twilio_signature(token, signed_url or url, params)
    return await client.post(
        url.removeprefix(PUBLIC), data=params, headers={"X-Twilio-Signature": signature}
    )


def call(source: str, to: str, **more: str) -> dict[str, str]:
    return {
        "CallSid": "CA" + "1" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": source,
        "To": to,
        "Direction": "inbound",
        "CallStatus": "ringing",
        **more,
    }


def from_desk(o: dict[str, Any], caller: str, dialled: str) -> dict[str, str]:
    domain = o["domain"]["domain"]
    return call(f"sip:{caller}@{domain}", f"sip:{dialled}@{domain}", SipDomain=domain)


Verb = tuple[str, dict[str, str], list[tuple[str, str]]]


def verbs(body: bytes) -> list[Verb]:
    """The TwiML document as (verb, attributes, [(noun, text)]); a verb's own text (``<Say>``)
    as the noun "text"."""
    root = etree.fromstring(body, PARSER)
    assert root.tag == "Response" and not root.attrib and not (root.text or "").strip()
    found = []
    for verb in root:
        nouns = [(noun.tag, noun.text or "") for noun in verb]
        assert not (nouns and (verb.text or "").strip())
        found.append(
            (verb.tag, dict(verb.attrib), nouns or ([("text", verb.text)] if verb.text else []))
        )
    return found


async def twiml(resp: ClientResponse) -> list[Verb]:
    body = await resp.read()
    assert resp.status == 200, body
    assert resp.content_type == "application/xml"
    return verbs(body)


def hook(pa: str, name: str) -> str:
    return voice_url(PUBLIC, pa).removesuffix("/voice") + "/" + name


def dial(*, refer: str, **attrs: str) -> dict[str, str]:
    return {"answerOnBridge": "true", "referUrl": refer, **attrs}


def sips(*uris: str) -> list[tuple[str, str]]:
    return [("Sip", uri) for uri in uris]


NOT_IN_SERVICE = [
    ("Say", {}, [("text", "The number you dialled is not in service.")]),
    ("Hangup", {}, []),
]
NOBODY = [
    ("Say", {}, [("text", "Nobody can take this call right now. Goodbye.")]),
    ("Hangup", {}, []),
]


async def test_calls_from_desk_phones_ring_the_right_people(api: Api, client: TestClient) -> None:
    o = await routing_setup(api)
    uri, voice, refer = o["uri"], voice_url(PUBLIC, o["pa"]), hook(o["pa"], "refer")
    alice = (uri["alice"], uri["alice-desk"])
    for dialled, rung in (
        ("101", (uri["bob"],)),
        ("102", alice),
        ("200", (uri["bob"], *alice)),
        ("bob", (uri["bob"],)),
    ):
        found = await twiml(await post(client, voice, from_desk(o, "alice", dialled)))
        assert found == [("Dial", dial(refer=refer), sips(*rung))], dialled
    # A number: out to the public network, with the caller's channel number as caller ID.
    found = await twiml(await post(client, voice, from_desk(o, "alice", "900")))
    assert found == [
        ("Dial", dial(refer=refer, callerId="+14155550100"), [("Number", "+14155550199")])
    ]
    found = await twiml(await post(client, voice, from_desk(o, "bob", "4155550123")))
    assert found == [
        ("Dial", dial(refer=refer, callerId="+14155550100"), [("Number", "+14155550123")])
    ]
    # Nothing there: a short apology and the end of the call.
    for caller, dialled in (("alice", "555"), ("mallory", "101")):
        found = await twiml(await post(client, voice, from_desk(o, caller, dialled)))
        assert found == NOT_IN_SERVICE, (caller, dialled)
    # Something there, nobody to answer it.
    await api.patch(f"/teams/{o['team']['id']}", {"member_ids": []})
    assert await twiml(await post(client, voice, from_desk(o, "alice", "200"))) == NOBODY


async def test_a_sequential_queue_rings_one_member_at_a_time(api: Api, client: TestClient) -> None:
    o = await routing_setup(api)
    pa, uri, refer = o["pa"], o["uri"], hook(o["pa"], "refer")
    first = await twiml(await post(client, voice_url(PUBLIC, pa), from_desk(o, "bob", "300")))
    action = hook(pa, "next") + "?routed=300&caller=bob&step=0"
    assert first == [("Dial", dial(refer=refer, timeout="15", action=action), sips(uri["alice"]))]
    rung = [uri["alice"]]
    for status in ("no-answer", "busy"):
        params = {**from_desk(o, "bob", "300"), "DialCallStatus": status}
        found = await twiml(await post(client, action, params))
        ((verb, attrs, nouns),) = found
        assert verb == "Dial" and attrs["timeout"] == "15" and attrs["referUrl"] == refer
        action = attrs["action"]
        assert action.endswith(f"&step={len(rung)}")
        rung += [value for _, value in nouns]
    assert rung == [uri["alice"], uri["alice-desk"], uri["bob"]]
    # Nobody took it: the end. Someone did: hang up once they are done.
    params = {**from_desk(o, "bob", "300"), "DialCallStatus": "no-answer"}
    assert await twiml(await post(client, action, params)) == NOBODY
    params["DialCallStatus"] = "completed"
    first_action = hook(pa, "next") + "?routed=300&caller=bob&step=0"
    assert await twiml(await post(client, first_action, params)) == [("Hangup", {}, [])]


async def test_a_call_to_a_number_follows_its_channels_route(api: Api, client: TestClient) -> None:
    o = await routing_setup(api)
    pa = o["pa"]
    params = call("+15105550000", "+14155550100")
    found = await twiml(await post(client, voice_url(PUBLIC, pa), params))
    action = hook(pa, "next") + "?routed=%2B14155550100&inbound=1&step=0"
    assert found == [
        (
            "Dial",
            dial(refer=hook(pa, "refer"), timeout="15", action=action),
            sips(o["uri"]["alice"]),
        )
    ]
    found = await twiml(await post(client, action, {**params, "DialCallStatus": "no-answer"}))
    assert found[0][2] == sips(o["uri"]["alice-desk"])
    # A route to a team: everyone at once.
    await api.patch(
        f"/channels/{o['desk']['id']}", {"route": {"type": "team", "id": o["team"]["id"]}}
    )
    found = await twiml(await post(client, voice_url(PUBLIC, pa), params))
    assert found == [
        (
            "Dial",
            dial(refer=hook(pa, "refer")),
            sips(o["uri"]["bob"], o["uri"]["alice"], o["uri"]["alice-desk"]),
        )
    ]


async def test_blind_transfer_to_a_key_goes_through_the_plan(api: Api, client: TestClient) -> None:
    o = await routing_setup(api)
    pa, uri, domain = o["pa"], o["uri"], o["domain"]["domain"]
    refer = hook(pa, "refer")
    # Alice called out, then transfers the other party to the Sales key (team).
    params = {
        **call(f"sip:alice@{domain}", f"sip:+14155550199@{domain}"),
        "CallStatus": "in-progress",
        "ReferTransferTarget": f"<sip:200@{domain}>",
    }
    found = await twiml(await post(client, refer, params))
    assert found == [("Dial", dial(refer=refer), sips(uri["bob"], uri["alice"], uri["alice-desk"]))]
    # To a number key: the transferring SIP user's caller ID.
    params["ReferTransferTarget"] = f"<sip:900@{domain};user=phone>"
    found = await twiml(await post(client, refer, params))
    assert found == [
        ("Dial", dial(refer=refer, callerId="+14155550100"), [("Number", "+14155550199")])
    ]
    # An outside caller rang Bob's desk phone; Bob transfers them to the Bob key's... Alice.
    params = {
        **call("+15105550000", f"sip:bob@{domain}"),
        "ReferTransferTarget": f"sip:102@{domain}?X-Reason=transfer",
    }
    found = await twiml(await post(client, refer, params))
    assert found == [("Dial", dial(refer=refer), sips(uri["alice"], uri["alice-desk"]))]


async def test_requests_not_signed_by_twilio_for_this_account_are_refused(
    api: Api, client: TestClient
) -> None:
    o = await routing_setup(api)
    pa = o["pa"]
    voice = voice_url(PUBLIC, pa)
    params = from_desk(o, "alice", "101")
    assert (await post(client, voice, params)).status == 200  # (the control)
    whippy = await routing_setup(api, "whippy_phone", "+14155550101")
    next_url = hook(pa, "next") + "?routed=300&caller=bob&step=0"
    for resp in (
        await post(client, voice, params, signature=""),
        await post(client, voice, params, token="e" * 32),
        await post(client, voice, {**params, "AccountSid": "AC" + "9" * 32}),
        await post(client, voice, params, signed_url=hook(pa, "refer")),
        await post(client, voice, params, signed_url=voice + "?x=1"),
        await post(client, voice, params, signed_url=voice.replace("http:", "https:")),
        await post(
            client,
            voice,
            params,
            signature=twilio_signature(AUTH_TOKEN, voice, {**params, "To": "x"}),
        ),
        await post(client, voice_url(PUBLIC, "pa_doesnotexist"), params),
        await post(client, voice_url(PUBLIC, whippy["pa"]), params),
        await post(
            client,
            next_url.replace("step=0", "step=1"),
            params,
            signed_url=next_url,
        ),
    ):
        assert resp.status == 403 and await resp.read() == b""
    for method in ("GET", "PUT"):
        resp = await client.request(method, voice.removeprefix(PUBLIC))
        assert resp.status == 405 and await resp.read() == b""


async def test_a_webhook_never_reaches_another_organisation(
    api: Api, other_api: Api, client: TestClient
) -> None:
    o = await routing_setup(api)
    token = OTHER_AUTH_TOKEN
    theirs = await routing_setup(
        other_api,
        credentials={"account_sid": OTHER_ACCOUNT_SID, "auth_token": OTHER_AUTH_TOKEN},
    )
    await make_sip_user(other_api, theirs["pa"], theirs["list"]["id"], username="carol")
    voice = voice_url(PUBLIC, o["pa"])
    # Our account, our token: their SIP user and their only extension are unknown here.
    await other_api.patch(f"/teams/{theirs['team']['id']}", {"extension": "777"})
    for dialled in ("carol", "777"):
        found = await twiml(await post(client, voice, from_desk(o, "alice", dialled)))
        assert found == NOT_IN_SERVICE, dialled
    # The same extension in both organisations: ours rings our people only.
    found = await twiml(await post(client, voice, from_desk(o, "alice", "200")))
    assert {value for _, value in found[0][2]} == {
        o["uri"]["bob"],
        o["uri"]["alice"],
        o["uri"]["alice-desk"],
    }
    # Their account with our token, or ours with theirs: refused.
    theirs_voice = voice_url(PUBLIC, theirs["pa"])
    params = {**from_desk(theirs, "alice", "200"), "AccountSid": OTHER_ACCOUNT_SID}
    assert (await post(client, theirs_voice, params)).status == 403
    assert (await post(client, voice, from_desk(o, "alice", "200"), token=token)).status == 403
    found = await twiml(await post(client, theirs_voice, params, token=token))
    assert {value for _, value in found[0][2]} == {
        theirs["uri"]["bob"],
        theirs["uri"]["alice"],
        theirs["uri"]["alice-desk"],
    }


async def test_a_meta_account_has_no_voice_webhook(api: Api, client: TestClient) -> None:
    meta = await make_account(api, "meta")
    resp = await post(client, voice_url(PUBLIC, meta["id"]), call("+15105550000", "+14155550100"))
    assert resp.status == 403 and await resp.read() == b""


def test_the_server_does_not_load_twilios_rest_client(tmp_path: Path) -> None:
    """The webhooks need only twiml and request_validator (~0.8 MB); twilio.rest and requests
    (~5 MB) would sit in every server process for nothing."""
    code = (
        "import sys; from pathlib import Path; from deskprov.app import create_app; "
        "from deskprov.settings import Settings; "
        "create_app(Settings(key_file=Path(sys.argv[1]))); "
        "print(sorted(m for m in sys.modules if m.startswith(('twilio.rest', 'requests'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "keys")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"
