"""Signed provisioning-URL tokens: compact, URL-safe, verified before any database access.

Binary layout, then base64url without padding (54 characters, 59 with an expiry)::

    version:1 | key id:2 | flags+vendor:1 | url id:10 | organisation id:10 | [expiry:4] | tag:16

The tag is HMAC-SHA256 (truncated to 128 bits) under the signing key named by the key id, over
everything before it, with a per-purpose prefix. Ids are the 10 random bytes behind our base32 ids.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.constant_time import bytes_eq

from deskprov.domain.ids import PREFIXES
from deskprov.security.keyring import Keys

VERSION = 1
VENDORS = ("polycom", "yealink", "fanvil")
HAS_EXPIRY = 0x80
TAG_BYTES = 16
PURPOSE = b"deskprov/provisioning-url/v1\x00"
_HEAD = struct.Struct(">BHB10s10s")


class TokenError(ValueError):
    """A token that is malformed, signed with an unknown key, forged or expired.

    ``reason`` is for the audit trail, never for the phone.
    """

    def __init__(self, reason: str, claims: TokenClaims | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claims = claims  # only for a genuine token that has expired


@dataclass(frozen=True)
class TokenClaims:
    url_id: str
    org_id: str
    vendor: str
    expires_at: datetime | None  # naive UTC, as stored
    key_id: str


def _id_bytes(kind: str, value: str) -> bytes:
    prefix = PREFIXES[kind] + "_"
    if not value.startswith(prefix):
        raise ValueError(f"not a {kind} id: {value}")
    raw = base64.b32decode(value[len(prefix) :].upper())
    if len(raw) != 10:
        raise ValueError(f"not a {kind} id: {value}")
    return raw


def _id_text(kind: str, raw: bytes) -> str:
    return f"{PREFIXES[kind]}_{base64.b32encode(raw).decode('ascii').lower()}"


def _kid_number(kid: str) -> int:
    return int(kid[1:], 16)


def _tag(key: bytes, message: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(PURPOSE + message)
    return mac.finalize()[:TAG_BYTES]


def sign(keyring: Keys, claims: TokenClaims) -> str:
    key = keyring.signing_key(claims.key_id)
    if key is None:
        raise ValueError(f"no signing key {claims.key_id}")
    flags = VENDORS.index(claims.vendor)
    tail = b""
    if claims.expires_at is not None:
        flags |= HAS_EXPIRY
        tail = struct.pack(">I", int(claims.expires_at.replace(tzinfo=UTC).timestamp()))
    message = (
        _HEAD.pack(
            VERSION,
            _kid_number(claims.key_id),
            flags,
            _id_bytes("provisioning_url", claims.url_id),
            _id_bytes("organisation", claims.org_id),
        )
        + tail
    )
    raw = message + _tag(key.material.reveal(), message)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def verify(keyring: Keys, token: str, now: datetime) -> TokenClaims:
    """The claims of a genuine, unexpired token; ``TokenError`` otherwise. No database access."""
    if not 40 <= len(token) <= 80:
        raise TokenError("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed") from None
    if len(raw) < _HEAD.size + TAG_BYTES:
        raise TokenError("malformed")
    version, kid_number, flags, url_raw, org_raw = _HEAD.unpack_from(raw)
    expiry_bytes = 4 if flags & HAS_EXPIRY else 0
    vendor_index = flags & ~HAS_EXPIRY
    if (
        version != VERSION
        or vendor_index >= len(VENDORS)
        or len(raw) != _HEAD.size + expiry_bytes + TAG_BYTES
        # base64 that decodes but does not re-encode to the same text is not ours
        or base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != token
    ):
        raise TokenError("malformed")
    key_id = f"s{kid_number:04x}"
    key = keyring.signing_key(key_id)
    if key is None:
        raise TokenError("unknown_key")
    message, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not bytes_eq(_tag(key.material.reveal(), message), tag):
        raise TokenError("forged")
    expires_at = None
    if expiry_bytes:
        (epoch,) = struct.unpack_from(">I", raw, _HEAD.size)
        expires_at = datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)
    claims = TokenClaims(
        url_id=_id_text("provisioning_url", url_raw),
        org_id=_id_text("organisation", org_raw),
        vendor=VENDORS[vendor_index],
        expires_at=expires_at,
        key_id=key_id,
    )
    if expires_at is not None and now >= expires_at:
        raise TokenError("expired", claims)
    return claims
