"""HTTPS served directly: the certificate and key files, taken again when they change.

Each handshake is given the newest good context (``sni_callback`` runs for every handshake,
with or without SNI), so a renewed certificate is served without a restart and connections
already open keep theirs. A renewal that cannot be loaded (a half-written file, a key that does
not match) is logged and the previous certificate stays in use.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

log = logging.getLogger(__name__)


class TlsError(RuntimeError):
    """The certificate or key cannot be used; the message names the setting."""


def load_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsError(f"DESKPROV_TLS_CERT/KEY: there is no file {exc.filename}") from exc
    except PermissionError as exc:
        raise TlsError(
            f"DESKPROV_TLS_CERT/KEY: {exc.filename} cannot be read ({exc.strerror})"
        ) from exc
    except ssl.SSLError as exc:
        raise TlsError(
            f"DESKPROV_TLS_CERT={cert} and DESKPROV_TLS_KEY={key} cannot be used together: "
            f"{exc.reason or exc} (a PEM certificate chain and its unencrypted PEM key)"
        ) from exc
    return context


class LiveTls:
    """``context`` is what the listeners are given; ``refresh()`` (called about once a second)
    loads the files again when their size, time or inode changed."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._cert, self._key = cert, key
        self._current = load_context(cert, key)
        self._stamp: tuple[tuple[int, int, int], ...] | None = self._stat()
        self.context = self._current  # (later loads reach connections through the callback)
        self.context.sni_callback = self._choose

    def _choose(self, connection: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        connection.context = self._current

    def _stat(self) -> tuple[tuple[int, int, int], ...]:
        stats = (self._cert.stat(), self._key.stat())
        return tuple((s.st_mtime_ns, s.st_ino, s.st_size) for s in stats)

    def refresh(self) -> bool:
        """Take changed files; whether a new certificate is now served. A bad renewal is
        reported once, not every second, until the files change again."""
        try:
            stamp: tuple[tuple[int, int, int], ...] | None = self._stat()
        except OSError as exc:
            stamp, problem = None, f"{exc.filename}: {exc.strerror}"
        else:
            problem = ""
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        if stamp is not None:
            try:
                self._current = load_context(self._cert, self._key)
            except TlsError as exc:
                problem = str(exc)
        if problem:
            log.error("TLS certificate not reloaded, the previous one stays in use: %s", problem)
            return False
        log.info("TLS certificate %s changed: reloaded", self._cert)
        return True
