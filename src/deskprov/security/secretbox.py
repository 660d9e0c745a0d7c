"""Secrets encrypted at rest with AES-256-GCM under a key id.

A sealed value reads ``v1.<kid>.<base64url(nonce | ciphertext+tag)>``. The associated data binds it
to its purpose and row (``sip_user:su_...``), so a ciphertext copied to another row does not open.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deskprov.security.keyring import Keys

VERSION = "v1"
NONCE_BYTES = 12


def sip_password_binding(sip_user_id: str) -> str:
    return f"sip_user:{sip_user_id}"


def credentials_binding(account_id: str) -> str:
    return f"provider_account:{account_id}"


def phone_admin_password_binding(phone_settings_id: str) -> str:
    return f"phone_settings:{phone_settings_id}:admin_password"


class SecretBoxError(RuntimeError):
    """A sealed value cannot be opened (unknown key id, tampered, wrong binding)."""


class SecretBox:
    def __init__(self, keyring: Keys) -> None:
        self._keyring = keyring

    def seal(self, plaintext: str, *, binding: str) -> str:
        key = self._keyring.current_encryption
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key.material.reveal()).encrypt(
            nonce, plaintext.encode("utf-8"), binding.encode("utf-8")
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{VERSION}.{key.kid}.{body}"

    def open(self, sealed: str, *, binding: str) -> str:
        try:
            version, kid, body = sealed.split(".", 2)
        except ValueError:
            raise SecretBoxError("not a sealed value") from None
        key = self._keyring.encryption_key(kid)
        if version != VERSION or key is None:
            raise SecretBoxError(f"no encryption key {kid!r} for this value")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            plain = AESGCM(key.material.reveal()).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding.encode("utf-8")
            )
        except InvalidTag:
            raise SecretBoxError("sealed value does not open (tampered or wrong row)") from None
        return plain.decode("utf-8")

    def key_id_of(self, sealed: str) -> str:
        return sealed.split(".", 2)[1]
