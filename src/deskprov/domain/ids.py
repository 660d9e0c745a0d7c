"""Opaque, unguessable ids with a type prefix (``us_4f3k...``)."""

from __future__ import annotations

import base64
import secrets

PREFIXES = {
    "organisation": "org",
    "api_key": "ak",
    "user": "us",
    "channel": "ch",
    "team": "tm",
    "queue": "qu",
    "provider_account": "pa",
    "sip_domain": "sd",
    "credential_list": "cl",
    "credential_attachment": "ca",
    "sip_user": "su",
    "sip_extension": "ex",
    "provider_phone": "pp",
    "inventory_number": "ni",
    "provisioning_url": "pu",
    "device": "dv",
    "device_upload": "du",
    "audit_event": "ev",
    "pending_change": "pc",
    "phone_settings": "ps",
}


def new_id(kind: str) -> str:
    """A new id for a resource of ``kind``: its prefix and 80 random bits in base32."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return f"{PREFIXES[kind]}_{raw}"
