"""The key file: signing and encryption keys, each with a key id, newest first.

The file is JSON, created with mode 0600 on first start::

    {"signing": [{"kid": "s-...", "key": "<base64>"}], "encryption": [{"kid": "e-...", ...}]}

New material is always made with the first (newest) key; older keys keep verifying and decrypting
until they are retired.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from deskprov.settings import Secret

log = logging.getLogger(__name__)

KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """The key file cannot be read or has an unusable shape."""


@dataclass(frozen=True)
class Key:
    kid: str
    material: Secret[bytes]


class Keys(Protocol):
    """What signing and sealing need: the current keys, and older ones by id."""

    @property
    def current_signing(self) -> Key: ...

    @property
    def current_encryption(self) -> Key: ...

    def signing_key(self, kid: str) -> Key | None: ...

    def encryption_key(self, kid: str) -> Key | None: ...


@dataclass(frozen=True)
class Keyring:
    signing: tuple[Key, ...]
    encryption: tuple[Key, ...]

    @property
    def current_signing(self) -> Key:
        return self.signing[0]

    @property
    def current_encryption(self) -> Key:
        return self.encryption[0]

    def signing_key(self, kid: str) -> Key | None:
        return next((k for k in self.signing if k.kid == kid), None)

    def encryption_key(self, kid: str) -> Key | None:
        return next((k for k in self.encryption if k.kid == kid), None)

    @classmethod
    def generate(cls) -> Keyring:
        return cls(signing=(_new_key("s"),), encryption=(_new_key("e"),))

    def rotated(self) -> Keyring:
        """A keyring whose newest keys are fresh; the old ones stay for verifying/decrypting."""
        return Keyring(
            signing=(_new_key("s", self.signing), *self.signing),
            encryption=(_new_key("e", self.encryption), *self.encryption),
        )

    def retired(self, kid: str) -> Keyring:
        """Without key ``kid``; the newest key of each kind cannot be retired."""
        if kid in (self.current_signing.kid, self.current_encryption.kid):
            raise KeyFileError(f"{kid} is a current key: rotate first, then retire it")
        signing = tuple(k for k in self.signing if k.kid != kid)
        encryption = tuple(k for k in self.encryption if k.kid != kid)
        if len(signing) + len(encryption) == len(self.signing) + len(self.encryption):
            raise KeyFileError(f"there is no key {kid}")
        return Keyring(signing=signing, encryption=encryption)

    def to_json(self) -> str:
        def dump(keys: tuple[Key, ...]) -> list[dict[str, str]]:
            return [
                {"kid": k.kid, "key": base64.b64encode(k.material.reveal()).decode()} for k in keys
            ]

        return json.dumps({"signing": dump(self.signing), "encryption": dump(self.encryption)})

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            signing = tuple(_load_key(k) for k in data["signing"])
            encryption = tuple(_load_key(k) for k in data["encryption"])
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"the key file is not in the expected format: {exc}") from exc
        if not signing or not encryption:
            raise KeyFileError("the key file needs at least one signing and one encryption key")
        return cls(signing=signing, encryption=encryption)


def _new_key(kind: str, taken: tuple[Key, ...] = ()) -> Key:
    """A fresh key; its id is the kind's letter and 4 hex digits (2 bytes in a URL token)."""
    used = {k.kid for k in taken}
    while (kid := f"{kind}{secrets.token_hex(2)}") in used:
        pass
    return Key(kid=kid, material=Secret(secrets.token_bytes(KEY_BYTES)))


def _load_key(item: dict[str, str]) -> Key:
    material = base64.b64decode(item["key"], validate=True)
    if len(material) != KEY_BYTES:
        raise ValueError(f"key {item['kid']} is not {KEY_BYTES} bytes")
    return Key(kid=str(item["kid"]), material=Secret(material))


def load_or_create(path: Path) -> Keyring:
    """Read the key file, creating it (mode 0600, never overwriting) when it is absent."""
    if not path.exists():
        keyring = Keyring.generate()
        try:
            write(path, keyring, exclusive=True)
            log.info("created key file %s", path)
            return keyring
        except FileExistsError:
            pass  # another process created it first: read theirs
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("key file %s is readable by others (mode %o); use chmod 600", path, mode)
    return Keyring.from_json(path.read_text(encoding="utf-8"))


def write(path: Path, keyring: Keyring, *, exclusive: bool = False) -> None:
    """Write the key file with mode 0600; replace atomically unless ``exclusive``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = keyring.to_json().encode()
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class LiveKeys:
    """The key file as a running server sees it: read again when it changes, so that
    ``deskprov keys rotate`` and ``keys retire`` take effect in every server without a restart.

    The file's change time is looked at once a second, and at once (at most 20 times a second)
    when asked for a key id it does not know: another process may have just rotated and sealed
    a secret with the new key.
    """

    CHECK_EVERY = 1.0
    MISS_CHECK_EVERY = 0.05

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._clock = clock
        self._keys = load_or_create(path)
        self._stamp = self._stat()
        self._checked = clock()

    def _stat(self) -> tuple[int, int, int]:
        st = self._path.stat()
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def _refresh(self, every: float) -> Keyring:
        now = self._clock()
        if now - self._checked >= every:
            self._checked = now
            try:
                stamp = self._stat()
                if stamp != self._stamp:
                    self._keys, self._stamp = load_or_create(self._path), stamp
                    log.info("key file %s changed: keys reloaded", self._path)
            except (OSError, KeyFileError) as exc:
                # Keep serving with the keys we have; say why the new file was not taken.
                log.error("key file %s could not be read again: %s", self._path, exc)
        return self._keys

    @property
    def current_signing(self) -> Key:
        return self._refresh(self.CHECK_EVERY).current_signing

    @property
    def current_encryption(self) -> Key:
        return self._refresh(self.CHECK_EVERY).current_encryption

    def signing_key(self, kid: str) -> Key | None:
        return self._find(Keyring.signing_key, kid)

    def encryption_key(self, kid: str) -> Key | None:
        return self._find(Keyring.encryption_key, kid)

    def _find(self, find: Callable[[Keyring, str], Key | None], kid: str) -> Key | None:
        key = find(self._refresh(self.CHECK_EVERY), kid)
        return key if key is not None else find(self._refresh(self.MISS_CHECK_EVERY), kid)
