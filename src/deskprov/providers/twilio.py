"""Twilio's REST API (2010-04-01): AvailablePhoneNumbers search and IncomingPhoneNumbers purchase.

Auth is HTTP Basic with the account SID and auth token. Twilio answers errors as JSON
``{"code": 21452, "message": "...", "more_info": "...", "status": 400}``.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import aiohttp

from deskprov.errors import ProviderError
from deskprov.providers.base import BoughtNumber, NumberOffer

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=15)


def _capability(caps: dict[str, Any], name: str) -> bool:
    # AvailablePhoneNumbers spells them "SMS"/"MMS"/"voice"; IncomingPhoneNumbers "sms"/"mms".
    return any(bool(v) for k, v in caps.items() if k.lower() == name)


class TwilioMarket:
    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, account_sid: str, auth_token: str
    ) -> None:
        self._http = http
        self._base = f"{base_url}/2010-04-01/Accounts/{account_sid}"
        token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}

    async def search(self, area_code: str) -> list[NumberOffer]:
        data = await self._call(
            "GET", "/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": area_code}
        )
        offers = []
        for item in data.get("available_phone_numbers") or []:
            caps = item.get("capabilities") or {}
            offers.append(
                NumberOffer(
                    phone_number=str(item["phone_number"]),
                    sms=_capability(caps, "sms"),
                    mms=_capability(caps, "mms"),
                    voice=_capability(caps, "voice"),
                    locality=item.get("locality"),
                    region=item.get("region"),
                )
            )
        return offers

    async def buy(self, phone_number: str) -> BoughtNumber:
        data = await self._call(
            "POST", "/IncomingPhoneNumbers.json", data={"PhoneNumber": phone_number}
        )
        caps = data.get("capabilities") or {}
        sid = data.get("sid")
        if not isinstance(sid, str):
            raise ProviderError("Twilio answered the purchase without a phone number SID")
        return BoughtNumber(
            sid=sid,
            sms=_capability(caps, "sms"),
            mms=_capability(caps, "mms"),
            voice=_capability(caps, "voice"),
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http.request(
                method, self._base + path, headers=self._headers, timeout=TIMEOUT, **kwargs
            ) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                if resp.status >= 400 or not isinstance(body, dict):
                    message = body.get("message") if isinstance(body, dict) else None
                    code = body.get("code") if isinstance(body, dict) else None
                    log.warning(
                        "Twilio %s %s answered %s (code %s)", method, path, resp.status, code
                    )
                    raise ProviderError(
                        f"Twilio refused the request ({resp.status}"
                        f"{f', code {code}' if code else ''}): {message or 'no message'}"
                    )
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Twilio %s %s failed: %s", method, path, type(exc).__name__)
            raise ProviderError("Twilio could not be reached") from exc


def voice_url(public_url: str, account_id: str) -> str:
    """Where Twilio sends the account's calls (the VoiceUrl of its SIP domains and numbers)."""
    return f"{public_url}/hooks/twilio/{account_id}/voice"
