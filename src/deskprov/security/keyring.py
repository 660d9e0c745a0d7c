"""The key file: signing and encryption keys, each with a key id, newest first.

The file is JSON, created with mode 0600 on first start::

    {"signing": [{"kid": "s-...", "key": "<base64>"}], "encryption": [{"kid": "e-...", ...}]}

New material is always made with the first (newest) key; older keys keep verifying and decrypting
until they are retired. A missing file is created only when nothing depends on keys yet (the
caller decides: ``services.keyfile``); changes to it are made under an exclusive lock (``locked``),
so two ``keys`` commands at once run one after the other.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from deskprov.settings import Secret

log = logging.getLogger(__name__)

KEY_BYTES = 32


class KeyFileError(RuntimeError):
    """The key file cannot be read or has an unusable shape (the message says which file and
    why, in one line for the operator)."""


class KeyFileMissing(KeyFileError):
    """There is no key file where one is expected."""


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

    def refresh(self) -> None:
        """Take any change to where the keys come from now (nothing to do for fixed keys)."""


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

    def refresh(self) -> None:
        pass  # fixed keys

    @classmethod
    def generate(cls) -> Keyring:
        return cls(signing=(_new_key("s"),), encryption=(_new_key("e"),))

    def rotated(self) -> Keyring:
        """A keyring whose newest keys are fresh; the old ones stay for verifying/decrypting."""
        return Keyring(
            signing=(_new_key("s", self.signing), *self.signing),
            encryption=(_new_key("e", self.encryption), *self.encryption),
        )

    def kind_of(self, kid: str) -> str | None:
        """``signing``, ``encryption``, or None for a key id this file does not have."""
        if self.signing_key(kid) is not None:
            return "signing"
        return "encryption" if self.encryption_key(kid) is not None else None

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
    def from_json(cls, text: str | bytes) -> Keyring:
        try:
            data = json.loads(text)  # (bytes: UTF-8 expected; anything else is a ValueError)
            signing = tuple(_load_key(k) for k in data["signing"])
            encryption = tuple(_load_key(k) for k in data["encryption"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyFileError(f"the key file is not in the expected format ({exc})") from None
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


def load(path: Path) -> Keyring:
    """Read the key file: ``KeyFileMissing`` when there is none, ``KeyFileError`` when it cannot
    be read or is not a key file (binary, truncated, another format)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileMissing(f"there is no key file at {path}") from None
    except OSError as exc:
        raise KeyFileError(f"the key file {path} cannot be read: {exc.strerror}") from None
    if mode & 0o077:
        log.warning("key file %s is readable by others (mode %o); use chmod 600", path, mode)
    try:
        return Keyring.from_json(data)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def create(path: Path) -> Keyring:
    """A new key file (mode 0600, never overwriting one: if another process made it first,
    theirs is read)."""
    keyring = Keyring.generate()
    try:
        write(path, keyring, exclusive=True)
    except FileExistsError:
        return load(path)
    log.info("created key file %s", path)
    return keyring


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the key file's lock (``<file>.lock``, an exclusive ``flock``) for a read, change
    and write of it; another holder is waited for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (closing releases the lock)


def write(path: Path, keyring: Keyring, *, exclusive: bool = False) -> None:
    """Write the key file with mode 0600; replace atomically unless ``exclusive``. Callers
    that change an existing file hold ``locked(path)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = keyring.to_json().encode()
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:  # (mkstemp makes it 0600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class LiveKeys:
    """The key file as a running server sees it: read again when it changes, so that
    ``deskprov keys rotate`` and ``keys retire`` take effect in every server without a restart.

    The file's change time is looked at once a second, and at once (at most 20 times a second)
    when asked for a key id it does not know: another process may have just rotated and sealed
    a secret with the new key. ``refresh`` looks at once (the PostgreSQL phone path does, once
    per batch of fetches, so that a retired key is refused on the very next fetch).
    """

    CHECK_EVERY = 1.0
    MISS_CHECK_EVERY = 0.05

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._clock = clock
        self._keys = load(path)
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
                    self._keys, self._stamp = load(self._path), stamp
                    log.info("key file %s changed: keys reloaded", self._path)
            except (OSError, KeyFileError) as exc:
                # Keep serving with the keys we have; say why the new file was not taken.
                log.error("key file %s could not be read again: %s", self._path, exc)
        return self._keys

    def refresh(self) -> None:
        self._refresh(0.0)

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
