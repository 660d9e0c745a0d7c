"""A local HTTP server that answers as Twilio's REST API (2010-04-01) does, for the calls we make.

It checks HTTP Basic auth against one account, serves AvailablePhoneNumbers/US/Local.json from a
small stock, and sells those numbers through IncomingPhoneNumbers.json. Errors have Twilio's
documented shape: {"code", "message", "more_info", "status"}.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from aiohttp import web

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
FAILING_AREA_CODE = "999"  # the fake answers 500 for searches in this area code


def twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


@dataclass
class FakeTwilio:
    stock: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "+14155550101": {"locality": "San Francisco", "region": "CA"},
            "+14155550102": {"locality": "San Francisco", "region": "CA"},
            "+12125550100": {"locality": "New York", "region": "NY"},
        }
    )
    bought: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        base = "/2010-04-01/Accounts/{sid}"
        app.router.add_get(base + "/AvailablePhoneNumbers/{country}/Local.json", self.search)
        app.router.add_post(base + "/IncomingPhoneNumbers.json", self.buy)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        self.requests.append(f"{request.method} {request.path_qs}")
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return twilio_error(401, 20003, "Authenticate")
        if request.match_info.get("sid") != ACCOUNT_SID:
            return twilio_error(404, 20404, "The requested resource was not found")
        return await handler(request)

    async def search(self, request: web.Request) -> web.Response:
        area = request.query.get("AreaCode", "")
        if area == FAILING_AREA_CODE:
            return twilio_error(500, 20500, "Internal Server Error")
        numbers = [
            {
                "friendly_name": f"({n[2:5]}) {n[5:8]}-{n[8:]}",
                "phone_number": n,
                "lata": "722",
                "locality": info["locality"],
                "rate_center": info["locality"].upper(),
                "region": info["region"],
                "postal_code": None,
                "iso_country": "US",
                "address_requirements": "none",
                "beta": False,
                "capabilities": {"voice": True, "SMS": True, "MMS": n.endswith("1")},
            }
            for n, info in self.stock.items()
            if n.startswith(f"+1{area}") and n not in self.bought
        ]
        return web.json_response({"available_phone_numbers": numbers, "uri": request.path_qs})

    async def buy(self, request: web.Request) -> web.Response:
        form = await request.post()
        number = str(form.get("PhoneNumber", ""))
        if number not in self.stock or number in self.bought:
            return twilio_error(400, 21422, f"Phone number {number} is not available for purchase")
        sid = "PN" + secrets.token_hex(16)
        self.bought[number] = sid
        return web.json_response(
            {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "phone_number": number,
                "friendly_name": number,
                "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
                "status": "in-use",
            },
            status=201,
        )
