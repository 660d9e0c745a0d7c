"""Provisioning-URL tokens: sign, verify, expire, rotate, tamper."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from deskprov.domain.ids import new_id
from deskprov.security import tokens
from deskprov.security.keyring import Keyring

NOW = datetime(2026, 11, 26, 8, 0, 0)


def claims(keyring: Keyring, vendor: str = "yealink", expires: datetime | None = None):
    return tokens.TokenClaims(
        url_id=new_id("provisioning_url"),
        org_id=new_id("organisation"),
        vendor=vendor,
        expires_at=expires,
        key_id=keyring.current_signing.kid,
    )


@pytest.mark.parametrize("vendor", tokens.VENDORS)
def test_round_trip_is_compact_and_url_safe(vendor: str) -> None:
    keyring = Keyring.generate()
    for expires in (None, NOW + timedelta(days=30)):
        c = claims(keyring, vendor, expires)
        token = tokens.sign(keyring, c)
        assert len(token) <= 64
        assert all(ch.isalnum() or ch in "-_" for ch in token)
        assert tokens.verify(keyring, token, NOW) == c


def test_expired_token_is_refused() -> None:
    keyring = Keyring.generate()
    token = tokens.sign(keyring, claims(keyring, expires=NOW + timedelta(seconds=60)))
    tokens.verify(keyring, token, NOW + timedelta(seconds=59))
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(keyring, token, NOW + timedelta(seconds=60))
    assert err.value.reason == "expired"


def test_every_changed_character_is_refused() -> None:
    keyring = Keyring.generate()
    token = tokens.sign(keyring, claims(keyring))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, ch in enumerate(token):
        other = alphabet[(alphabet.index(ch) + 1) % len(alphabet)]
        forged = token[:i] + other + token[i + 1 :]
        with pytest.raises(tokens.TokenError):
            tokens.verify(keyring, forged, NOW)


@pytest.mark.parametrize(
    "text", ["", "x", "a" * 54, "!" * 54, "../../etc/passwd" * 4, "A" * 200, "AQ==" * 14]
)
def test_malformed_tokens(text: str) -> None:
    with pytest.raises(tokens.TokenError):
        tokens.verify(Keyring.generate(), text, NOW)


def test_another_keyring_cannot_verify() -> None:
    keyring = Keyring.generate()
    token = tokens.sign(keyring, claims(keyring))
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(Keyring.generate(), token, NOW)
    assert err.value.reason in ("unknown_key", "forged")


def test_rotation_keeps_old_tokens_until_retired() -> None:
    old = Keyring.generate()
    old_token = tokens.sign(old, claims(old))
    rotated = old.rotated()
    new_claims = claims(rotated)
    assert new_claims.key_id != old.current_signing.kid
    tokens.verify(rotated, old_token, NOW)
    tokens.verify(rotated, tokens.sign(rotated, new_claims), NOW)
    retired = rotated.retired(old.current_signing.kid)
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(retired, old_token, NOW)
    assert err.value.reason == "unknown_key"
