"""Twilio's voice webhooks: the signature on what Twilio sends, the SIP URIs in its parameters,
and TwiML, the rendering of a routing decision that Twilio executes.

Only ``twilio.request_validator`` and ``twilio.twiml`` are imported (~0.5 MB in a server
process); the REST client (``twilio.rest``, ~4 MB with requests) stays out of the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from deskprov.domain.routing import Decision

HOOKS = "/hooks/twilio"  # below the public URL: /hooks/twilio/{account id}/{voice|refer|next}
NOT_IN_SERVICE = "The number you dialled is not in service."
CANNOT_ANSWER = "Nobody can take this call right now. Goodbye."
ANSWERED = frozenset({"completed", "answered"})  # DialCallStatus of a call that was taken


def hook_url(public_url: str, account_id: str, name: str) -> str:
    return f"{public_url}{HOOKS}/{account_id}/{name}"


def signature_ok(auth_token: str, url: str, params: Mapping[str, Any], signature: str) -> bool:
    """Whether ``signature`` (X-Twilio-Signature) is Twilio's for this URL and these form
    parameters: base64(HMAC-SHA1(auth token, URL + each name and value sorted by name))."""
    return bool(signature) and bool(RequestValidator(auth_token).validate(url, params, signature))


def sip_user_part(uri: str) -> str | None:
    """The user of a SIP URI as Twilio passes it (``sip:104@acme.sip.twilio.com``,
    ``<sip:104@host;user=phone>``, ``sip:%23100@host?X-h=v``); None when it is not one."""
    uri = uri.strip().removeprefix("<").split(">", 1)[0]
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips", "tel"):
        return None
    if "@" in rest:
        user = rest.split("@", 1)[0]
    elif scheme.lower() == "tel":
        user = rest
    else:
        return None
    return unquote(user.split(";", 1)[0].split("?", 1)[0]) or None


@dataclass(frozen=True)
class Links:
    """Where Twilio sends what happens next: transfers, and the end of one sequential ring."""

    refer: str
    next_step: Callable[[int], str]  # the action URL after ``step`` rang unanswered


def render(decision: Decision, links: Links, step: int = 0) -> str:
    """TwiML for a decision. ``step``: the target a sequential ring is at. Every ``<Dial>``
    carries ``referUrl``, so a desk phone on either end can transfer with REFER."""
    response = VoiceResponse()
    if not decision.reachable:
        response.say(NOT_IN_SERVICE if decision.reaches is None else CANNOT_ANSWER)
        response.hangup()
        return str(response)
    targets = decision.targets
    dial_options: dict[str, Any] = {"answer_on_bridge": True, "refer_url": links.refer}
    if decision.caller_id is not None and any(t.type == "number" for t in targets):
        dial_options["caller_id"] = decision.caller_id
    if decision.ring_seconds is not None:
        dial_options["timeout"] = decision.ring_seconds
    if decision.strategy == "sequential":
        if step >= len(targets):
            response.say(CANNOT_ANSWER)
            response.hangup()
            return str(response)
        dial_options["action"] = links.next_step(step)
        targets = (targets[step],)
    dial = response.dial(**dial_options)
    for target in targets:
        if target.type == "sip":
            dial.sip(target.value)
        else:
            dial.number(target.value)
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
