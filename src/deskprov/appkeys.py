"""Every ``web.AppKey`` of the application, in one place."""

from __future__ import annotations

from aiohttp import web

from deskprov.security.keyring import Keys
from deskprov.services.registry import Services
from deskprov.settings import Settings
from deskprov.web.limits import ClientAddresses, FailureLimiter, KeyFailures
from deskprov.web.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
KEYRING = web.AppKey("keyring", Keys)
SERVICES = web.AppKey("services", Services)
API_KEY_FAILURES = web.AppKey("api_key_failures", KeyFailures)
BAD_TOKENS = web.AppKey("bad_tokens", FailureLimiter)
METRICS = web.AppKey("metrics", Metrics)
CLIENTS = web.AppKey("clients", ClientAddresses)
