"""Twilio's voice webhooks: whether a request is Twilio's for the account it names, and the TwiML
for the call, from the account's routing plan.

- ``voice``: a new call. From a desk phone (``From`` is a SIP URI): the caller's SIP username and
  the user part of ``To`` go through ``RoutingPlan.route``. From outside (``From`` is a number):
  ``To`` is one of the organisation's numbers, and ``RoutingPlan.inbound`` follows its channel.
- ``refer``: a desk phone's blind transfer (SIP REFER). ``ReferTransferTarget``'s user part is
  routed for the SIP user on the call (``From`` or ``To``, whichever is one of the account's).
- ``next``: a sequential ring's action callback: the call was taken (hang up), or the next target
  rings. Its query names what was routed and the step; Twilio signs it with the rest of the URL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from deskprov.db.models import ProviderAccount
from deskprov.domain.routing import Decision
from deskprov.providers import twilio_voice as twiml
from deskprov.services.accounts import ProviderAccounts
from deskprov.services.base import Deps
from deskprov.services.routing import Routing
from deskprov.services.routing.plan import RoutingPlan

log = logging.getLogger(__name__)

Hook = Literal["voice", "refer", "next"]


@dataclass(frozen=True)
class HookRequest:
    account_id: str
    url: str  # as Twilio requested it: DESKPROV_PUBLIC_URL + path + query
    form: Mapping[str, str]  # the POSTed parameters (a multidict: repeated names are signed too)
    query: Mapping[str, str]
    signature: str  # X-Twilio-Signature


def _is_sip(uri: str) -> bool:
    return uri.strip().lower().startswith(("sip:", "sips:", "<sip:", "<sips:"))


class TwilioVoice:
    def __init__(self, deps: Deps, routing: Routing) -> None:
        self.deps = deps
        self.routing = routing
        self._accounts = ProviderAccounts(deps)

    async def answer(self, hook: Hook, request: HookRequest) -> str | None:
        """TwiML for the call; None when the request is not Twilio's for this account."""
        async with self.deps.db.read() as s:
            account = await s.get(ProviderAccount, request.account_id)
            if account is None or not self._signed(account, request):
                log.warning("twilio %s webhook for %s refused", hook, request.account_id)
                return None
            plan = await self.routing.plan(s, account)
        if hook == "voice":
            return self._voice(plan, request)
        if hook == "refer":
            return self._refer(plan, request)
        return self._next(plan, request)

    def _signed(self, account: ProviderAccount, request: HookRequest) -> bool:
        if account.provider != "twilio":
            return False
        credentials = self._accounts.credentials(account) or {}
        token, sid = credentials.get("auth_token"), credentials.get("account_sid")
        if not token or not sid or request.form.get("AccountSid") != sid:
            return False
        return twiml.signature_ok(token, request.url, request.form, request.signature)

    def _voice(self, plan: RoutingPlan, request: HookRequest) -> str:
        source, to = request.form.get("From", ""), request.form.get("To", "")
        if _is_sip(source):
            caller = twiml.sip_user_part(source) or ""
            dialled = twiml.sip_user_part(to) or to
            return self._render(plan, plan.route(caller, dialled), dialled, caller)
        return self._render(plan, plan.inbound(to), to, None, inbound=True)

    def _refer(self, plan: RoutingPlan, request: HookRequest) -> str:
        target = twiml.sip_user_part(request.form.get("ReferTransferTarget", "")) or ""
        caller = next(
            (
                user
                for uri in (request.form.get("From", ""), request.form.get("To", ""))
                if _is_sip(uri) and (user := twiml.sip_user_part(uri)) and plan.has_sip_user(user)
            ),
            None,
        )
        return self._render(plan, plan.route(caller, target), target, caller)

    def _next(self, plan: RoutingPlan, request: HookRequest) -> str:
        if request.form.get("DialCallStatus") in twiml.ANSWERED:
            return twiml.hang_up()
        query = request.query
        step = query.get("step", "")
        if not step.isdigit():
            return twiml.hang_up()
        inbound = query.get("inbound") == "1"
        routed, caller = query.get("routed", ""), query.get("caller")
        decision = plan.inbound(routed) if inbound else plan.route(caller, routed)
        return self._render(plan, decision, routed, caller, inbound=inbound, step=int(step) + 1)

    def _render(
        self,
        plan: RoutingPlan,
        decision: Decision,
        routed: str,
        caller: str | None,
        *,
        inbound: bool = False,
        step: int = 0,
    ) -> str:
        public = self.deps.settings.public_url
        again = {"routed": routed, **({"caller": caller} if caller is not None else {})}
        if inbound:
            again["inbound"] = "1"

        def next_step(at: int) -> str:
            return (
                twiml.hook_url(public, plan.account_id, "next")
                + "?"
                + urlencode({**again, "step": str(at)})
            )

        links = twiml.Links(
            refer=twiml.hook_url(public, plan.account_id, "refer"), next_step=next_step
        )
        log.info(
            "call in %s from %s to %r: %s, %d target(s)%s",
            plan.account_id,
            caller or "outside",
            routed,
            decision.kind,
            len(decision.targets),
            f", step {step}" if decision.strategy == "sequential" else "",
        )
        return twiml.render(decision, links, step)
