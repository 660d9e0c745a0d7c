"""Listening sockets, made before anything else starts: a taken port fails at once, and a
supervisor keeps them for the workers it starts and restarts. (No aiohttp here: the supervisor
imports this, and only this, of the server.)"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from deskprov.problems import CONFIGURATION, Problem
from deskprov.settings import Settings

BACKLOG = 128  # (aiohttp's default)


@dataclass(frozen=True)
class Listeners:
    """Bound, listening sockets: the phones' and, when separate, the management side's."""

    phones: list[socket.socket]
    admin: list[socket.socket]


def bind(settings: Settings, *, reuse_port: bool = False) -> Listeners:
    """The sockets ``settings`` asks for; ``Problem`` when one cannot be had."""
    phones = bind_one(settings.host, settings.port, "DESKPROV_PORT", reuse_port=reuse_port)
    admin: list[socket.socket] = []
    if settings.admin_port is not None:
        admin = bind_one(
            settings.admin_listen_host,
            settings.admin_port,
            "DESKPROV_ADMIN_PORT",
            reuse_port=reuse_port,
        )
    return Listeners(phones, admin)


def refuse_taken(settings: Settings) -> None:
    """``Problem`` when another process listens on a port we want. Workers bind with
    SO_REUSEPORT, which would let a second server share the port silently; this plain bind
    (closed at once) fails if anything is listening there, SO_REUSEPORT or not."""
    for host, port, name in _wanted(settings):
        for sock in bind_one(host, port, name, reuse_port=False):
            sock.close()


def _wanted(settings: Settings) -> list[tuple[str, int, str]]:
    wanted = [(settings.host, settings.port, "DESKPROV_PORT")]
    if settings.admin_port is not None:
        wanted.append((settings.admin_listen_host, settings.admin_port, "DESKPROV_ADMIN_PORT"))
    return wanted


def bind_one(host: str, port: int, setting: str, *, reuse_port: bool) -> list[socket.socket]:
    """One listening socket per address ``host`` stands for (as asyncio's create_server)."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise Problem(
            f"cannot listen on {host}: {exc.strerror} ({_host_setting(setting)})",
            status=CONFIGURATION,
        ) from exc
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _bind_problem(exc, host, port, setting) from exc
    return sockets


def _bind_problem(exc: OSError, host: str, port: int, setting: str) -> Problem:
    where = f"cannot listen on {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return Problem(
            f"{where}: the port is taken (another deskprov?): stop that server, or choose "
            f"another port ({setting})"
        )
    if exc.errno == errno.EACCES:
        return Problem(
            f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; "
            f"{setting})",
            status=CONFIGURATION,
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return Problem(
            f"{where}: {host} is not an address of this machine ({_host_setting(setting)})",
            status=CONFIGURATION,
        )
    return Problem(f"{where}: {exc.strerror}")


def _host_setting(port_setting: str) -> str:
    return port_setting.replace("PORT", "HOST")
