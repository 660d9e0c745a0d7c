"""Key file, secret box and API-key hashing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from deskprov.security import apikeys, keyring
from deskprov.security.keyring import KeyFileError, Keyring
from deskprov.security.secretbox import SecretBox, SecretBoxError
from deskprov.settings import Secret


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "deskprov.keys"
    first = keyring.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keyring.load(path)
    assert again.current_signing.kid == first.current_signing.kid
    assert again.current_encryption.material == first.current_encryption.material


def test_key_file_garbage_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deskprov.keys"
    path.write_text("{}")
    with pytest.raises(KeyFileError):
        keyring.load(path)


def test_seal_and_open_round_trip_bound_to_row() -> None:
    box = SecretBox(Keyring.generate())
    sealed = box.seal("Sup3rSecretPass", binding="sip_user:su_1")
    assert "Sup3rSecretPass" not in sealed and sealed.startswith("v1.")
    assert box.open(sealed, binding="sip_user:su_1") == "Sup3rSecretPass"
    with pytest.raises(SecretBoxError):
        box.open(sealed, binding="sip_user:su_2")  # copied onto another row
    tampered = sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")
    with pytest.raises(SecretBoxError):
        box.open(tampered, binding="sip_user:su_1")


def test_same_plaintext_seals_differently() -> None:
    box = SecretBox(Keyring.generate())
    assert box.seal("x", binding="b") != box.seal("x", binding="b")


def test_rotated_keyring_still_opens_old_values() -> None:
    old = Keyring.generate()
    sealed = SecretBox(old).seal("secret", binding="b")
    rotated = old.rotated()
    box = SecretBox(rotated)
    assert box.open(sealed, binding="b") == "secret"
    assert box.key_id_of(box.seal("secret", binding="b")) == rotated.current_encryption.kid
    assert rotated.current_encryption.kid != old.current_encryption.kid
    with pytest.raises(SecretBoxError):
        SecretBox(Keyring.generate()).open(sealed, binding="b")


def test_secret_repr_hides_value() -> None:
    secret = Secret(b"do-not-print")
    assert "do-not-print" not in repr(secret) and "do-not-print" not in str(secret)
    assert "do-not-print" not in repr(Keyring.generate())


def test_api_keys_are_random_and_hashed() -> None:
    a, b = apikeys.new_api_key(), apikeys.new_api_key()
    assert a != b and apikeys.looks_like_key(a)
    assert apikeys.digest(a) != apikeys.digest(b) and len(apikeys.digest(a)) == 64
